/* mbmap: the GX-compatible SCADA register map (etc/modbus-map.csv, rows of Victron's
 * attributes.csv): loading, lookups by service class and register, value <-> register conversion
 * exactly like a GX, and the register sheet (csv, md, html) printed from the same table. Pure: no
 * store, no sockets. */
#ifndef SITEWATCH_MBMAP_H
#define SITEWATCH_MBMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum mbmap_type {
    MBMAP_INT16,
    MBMAP_UINT16,
    MBMAP_INT32,
    MBMAP_UINT32,
    MBMAP_UINT64,
    MBMAP_STRING,   /* string[n]: 2 characters per register, first in the high byte, 0-padded */
    MBMAP_RESERVED, /* reserved[n] and INTERNAL[n]: hold the place, read as 0xFFFF */
};

/* What an invalid (unset, stale, na) value reads as. */
enum mbmap_invalid {
    MBMAP_INVALID_SENTINEL, /* SunSpec style: 0xFFFF, 0x8000, 0xFFFFFFFF, 0x80000000 */
    MBMAP_INVALID_ZERO,     /* strict GX behaviour: 0 */
};

/* One row of the map. Strings are owned by the map. */
struct mbmap_entry {
    char *line;    /* the CSV row as written in the file */
    char *service; /* service class without "com.victronenergy." ("system", "vebus") */
    char *path;    /* D-Bus path without the leading slash; "" for RESERVED */
    char *dbus_type;
    char *text; /* unit or enum text */
    uint16_t reg;
    uint16_t nregs;
    enum mbmap_type type;
    double scale; /* 1 when the column is empty */
    bool writable;
};

struct mbmap;

/* Parses the map text (name is used in messages). Lines starting with '#' and blank lines are
 * skipped. 0, or -EINVAL with "name:line: what" in err. *out is freed with mbmap_free. */
int mbmap_parse(const char *name, const char *text, struct mbmap **out, char *err, size_t errlen);
/* Reads and parses a map file. 0 or -errno / -EINVAL (err says why). */
int mbmap_load(const char *path, struct mbmap **out, char *err, size_t errlen);
void mbmap_free(struct mbmap *m);

size_t mbmap_count(const struct mbmap *m);
/* The i-th row in file order. */
const struct mbmap_entry *mbmap_at(const struct mbmap *m, size_t i);
/* The row of a service class whose registers cover reg (reg .. reg + nregs - 1), or NULL. */
const struct mbmap_entry *mbmap_find(const struct mbmap *m, const char *service, unsigned reg);
/* The register table of one service class (owned by the map), or NULL when the map has none;
 * mbmap_service_find is then an O(1) lookup for the server's reads. */
struct mbmap_service;
const struct mbmap_service *mbmap_service(const struct mbmap *m, const char *service);
const struct mbmap_entry *mbmap_service_find(const struct mbmap_service *sv, unsigned reg);
/* The registers a service class covers: *lo .. *hi - 1 (gaps included). */
void mbmap_service_range(const struct mbmap_service *sv, unsigned *lo, unsigned *hi);
/* The first row of any service class covering reg, or NULL: tells "unknown address" (0x02)
 * from "no such service at this unit" (0x0A). */
const struct mbmap_entry *mbmap_find_any(const struct mbmap *m, unsigned reg);

/* Type name as in the CSV ("int16", "string[8]") into buf. */
const char *mbmap_type_name(const struct mbmap_entry *e, char *buf, size_t len);

/* Encodes a value into e->nregs registers like a GX: raw = round(value x scale) (a negative
 * scale flips the sign, a fractional one coarsens), 32/64-bit high word first, saturated to the
 * type's range. With valid = false, or a value that is not finite, writes the invalid pattern:
 * sentinels (unsigned all ones, signed 0x8000.. ) or zeros. In sentinel mode valid values
 * saturate short of the sentinel so that they can never read as invalid. Strings and reserved
 * rows: see mbmap_encode_string; reserved rows read 0xFFFF. */
void mbmap_encode(const struct mbmap_entry *e, bool valid, double value, enum mbmap_invalid inv,
                  uint16_t *regs);
/* Encodes text into e->nregs registers (2 characters each, high byte first, 0-padded, cut at
 * 2 x nregs characters). */
void mbmap_encode_string(const struct mbmap_entry *e, const char *text, uint16_t *regs);
/* Decodes a written register value (16-bit types only) into D-Bus units: raw / scale, raw taken
 * as signed for int16. 0, or -EINVAL for other types. */
int mbmap_decode16(const struct mbmap_entry *e, uint16_t raw, double *out);

/* The enum label of value in e->text ("1=On;4=Off" and 4 → "Off") into buf; NULL when none. */
const char *mbmap_enum_label(const struct mbmap_entry *e, long value, char *buf, size_t len);

/* Prints the register sheet in format "csv", "md" or "html". 0, or -EINVAL for another format. */
int mbmap_print(const struct mbmap *m, const char *format, FILE *f);

/* `sitewatch modbus-map [--format csv|md|html] [--map FILE]`: prints the sheet of FILE (default:
 * mbmap_default_path from default_map, else etc/modbus-map.csv below the current directory) on
 * stdout. Returns the exit code. */
int mbmap_sheet_main(int argc, char **argv, const char *default_map);

/* Where `make install` puts the map. */
#define MBMAP_DEFAULT_PATH "/etc/sitewatch/modbus-map.csv"

/* The source tree compiled in (SITEWATCH_SOURCE_DIR): "" in a package build. */
const char *mbmap_built_source_dir(void);

/* The map to use when none is configured (`map = auto`), the first readable of: installed (e.g.
 * MBMAP_DEFAULT_PATH); source_dir/etc/modbus-map.csv, the tree the binary was built from (NULL:
 * the one compiled in as SITEWATCH_SOURCE_DIR, none in packages; "": skip); modbus-map.csv beside
 * the configuration file conf_path (NULL: skip). Writes it into out and returns 0; else -ENOENT
 * with the places tried, comma-separated, in tried. */
int mbmap_default_path(const char *installed, const char *source_dir, const char *conf_path,
                       char *out, size_t n, char *tried, size_t triedlen);

#endif
