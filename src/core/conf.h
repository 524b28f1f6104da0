/* conf: the INI configuration, parsed with libinih and validated strictly (file:line errors).
 *
 * Sections: [daemon], [http], [device NAME], and the section types other modules register in
 * src/core/sections.def (e.g. [alarm NAME], [modbus_server]). Besides the main file, every
 * <dir of the main file>/alarms.d/NAME.conf is read, in name order. */
#ifndef SITEWATCH_CONF_H
#define SITEWATCH_CONF_H

#include "driver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf_kv {
    char *key;
    char *value;
    const char *file; /* owned by the conf */
    int line;
};

struct conf_device {
    char *name;
    const struct driver *drv;
    const char *file;
    int line;
    int instance;      /* as configured; -1 = automatic */
    int auto_instance; /* the one to use: instance, or the automatic number (conf.c) */
    struct conf_kv *kv;
    size_t nkv;
};

struct conf_section;

/* A section type: [type] or [type NAME]. keys validate names and value syntax; check (optional)
 * validates meaning once the whole section is read and reports through conf_error_at. */
struct conf_error {
    const char *file; /* where, set by conf_error_at */
    int line;
    char msg[400];
};
struct conf_section_type {
    const char *type;
    bool named; /* [type NAME], any number of them; else at most one [type] */
    const struct drv_key *keys;
    int (*check)(const struct conf_section *s, struct conf_error *e); /* 0 or -EINVAL */
};

struct conf_section {
    const struct conf_section_type *type;
    char *name; /* NULL for unnamed sections */
    const char *file;
    int line;
    struct conf_kv *kv;
    size_t nkv;
};

struct conf {
    char *path;
    char **files; /* every file read, for kv->file */
    size_t nfiles;
    /* [daemon] */
    char *state_dir;
    int log_level;
    char *site_name;
    /* [http] */
    char *http_listen;
    char *web_root;
    char *tls_cert; /* "" = plain HTTP */
    char *tls_key;
    /* [device NAME] */
    struct conf_device *devices;
    size_t ndevices;
    /* every other section, in file order */
    struct conf_section *sections;
    size_t nsections;
};

/* Parses and validates path (and alarms.d/NAME.conf beside it). On error returns -EINVAL (or -errno
 * when the file can't be read) and writes every error found, sorted by file and line, one
 * "file:line: what is wrong" per line (at most 20, then a count of the others), into err. */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen);
/* Same for an in-memory text (no alarms.d); name is used in messages. */
int conf_parse_string(const char *name, const char *text, struct conf **out, char *err,
                      size_t errlen);
void conf_free(struct conf *c);

/* The configured value of key in a device section, or NULL. */
const char *conf_device_value(const struct conf_device *d, const char *key);
/* True when two device sections would run the same way (used on reload). */
bool conf_device_equal(const struct conf_device *a, const struct conf_device *b);

/* Sections of one type: the n-th (0-based) section of that type, or NULL. */
const struct conf_section *conf_section_nth(const struct conf *c, const char *type, size_t n);
/* A section's value for key: the configured one, else the key's default (NULL if neither). */
const char *conf_get(const struct conf_section *s, const char *key);
const struct conf_kv *conf_get_kv(const struct conf_section *s, const char *key);
bool conf_get_bool(const struct conf_section *s, const char *key);
int64_t conf_get_ms(const struct conf_section *s, const char *key);
long conf_get_long(const struct conf_section *s, const char *key);
double conf_get_double(const struct conf_section *s, const char *key);
/* For check callbacks: records msg at kv (or at the section header when kv is NULL) in e and
 * returns -EINVAL; the caller reports it as "file:line: msg". */
int conf_error_at(struct conf_error *e, const struct conf_section *s, const struct conf_kv *kv,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Keys of a registered section type ("daemon", "http", ...); NULL for an unknown type. */
const struct drv_key *conf_section_keys(const char *type);
const struct conf_section_type *conf_section_type_find(const char *type);
extern const struct drv_key conf_device_keys[];
/* The allowed range of a number or duration key as text ("1..65535", "100ms..10m"): its own or its
 * type's default; NULL for other types. */
const char *conf_key_range(const struct drv_key *k);
/* That range as numbers (milliseconds for durations). 0, or -EINVAL for a malformed range. */
int conf_key_limits(const struct drv_key *k, double *min, double *max);

#endif
