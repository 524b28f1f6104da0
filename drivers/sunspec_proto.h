/* sunspec_proto: pure SunSpec decoding: the "SunS" marker, the model-chain walker, the model
 * layouts (data, in sunspec_models.c) and the decoders of models 1, 101-103, 111-113, 120, 160, 203
 * and 213. No I/O: registers come through a read callback or as arrays. Protocol facts:
 * shared/reference/protocols.md §4 and the official model JSON (sunspec/models @ 7abdf898). */
#ifndef SITEWATCH_SUNSPEC_PROTO_H
#define SITEWATCH_SUNSPEC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SUNSPEC_MARKER_HI 0x5375 /* "Su" */
#define SUNSPEC_MARKER_LO 0x6E53 /* "nS" */
#define SUNSPEC_END_ID 0xFFFF
#define SUNSPEC_CHAIN_MAX 48
#define SUNSPEC_MPPT_MAX 16
#define SUNSPEC_READ_MAX 125 /* registers per Modbus read (function 3) */

/* Point types of the model JSON. */
enum sunspec_type {
    SUNSPEC_T_U16,
    SUNSPEC_T_I16,
    SUNSPEC_T_ACC16,
    SUNSPEC_T_ENUM16,
    SUNSPEC_T_BF16,
    SUNSPEC_T_COUNT,
    SUNSPEC_T_SF,
    SUNSPEC_T_PAD,
    SUNSPEC_T_U32,
    SUNSPEC_T_I32,
    SUNSPEC_T_ACC32,
    SUNSPEC_T_ENUM32,
    SUNSPEC_T_BF32,
    SUNSPEC_T_F32,
    SUNSPEC_T_STR,
};

/* One point of a model: offset from the model's ID register, size in registers, the offset of
 * its scale factor point (-1: none). Scale factors always sit in the fixed part of a model. */
struct sunspec_point {
    const char *name;
    uint16_t offset;
    uint16_t size;
    enum sunspec_type type;
    int16_t sf_offset;
};

/* A model layout. The fixed part includes ID and L; a repeating group (model 160's modules)
 * follows it, group_len registers per instance, its offsets relative to the instance start. */
struct sunspec_layout {
    uint16_t id;
    const char *name;
    uint16_t fixed_len;
    const struct sunspec_point *points;
    size_t npoints;
    const struct sunspec_point *group;
    size_t ngroup;
    uint16_t group_len;
};

/* The generated tables (sunspec_models.c). */
extern const struct sunspec_layout sunspec_layouts[];
extern const size_t sunspec_layouts_len;

/* The layout of model id, or NULL. */
const struct sunspec_layout *sunspec_layout_find(uint16_t id);

/* Reads n registers at protocol address addr into out: 0 or -errno. */
typedef int (*sunspec_read_fn)(void *ctx, uint32_t addr, uint16_t n, uint16_t *out);

/* True when the two registers are "SunS". */
bool sunspec_is_marker(const uint16_t regs[2]);

/* One model of a chain: its ID, its length L as the device reported it, and the protocol address
 * of its ID register. */
struct sunspec_model_ref {
    uint16_t id;
    uint16_t len;
    uint32_t addr;
};

enum sunspec_chain_end {
    SUNSPEC_END_MARKER, /* ID 0xFFFF */
    SUNSPEC_END_ERROR,  /* the device answered a header read with an error (SMA does) */
    SUNSPEC_END_LIMIT,  /* too many models, or past register 65535 */
};

struct sunspec_chain {
    uint32_t base; /* address of "SunS" */
    size_t n;
    struct sunspec_model_ref m[SUNSPEC_CHAIN_MAX];
    enum sunspec_chain_end end;
};

/* Walks the chain at base: checks "SunS", then reads each model header and steps by the length
 * the device reports (never by the length of the layout: Fronius model 1 is 65, SMA's 66).
 * Stops at 0xFFFF, at a read error after the first model, or at a limit. Returns 0, -ENODEV when
 * base holds no marker, the read error when the marker or the first header cannot be read. */
int sunspec_walk(sunspec_read_fn read, void *ctx, uint32_t base, struct sunspec_chain *out);

/* The first model of the chain with one of the ids (in the chain's order), or NULL. */
const struct sunspec_model_ref *sunspec_chain_find(const struct sunspec_chain *c,
                                                   const uint16_t *ids, size_t nids);

/* Value of the point name of a model whose registers (from its ID register on) are regs[n],
 * scaled by its scale factor. Returns 1 with *out set, 0 when the device says "not implemented"
 * (the type's sentinel, or a scale factor of 0x8000), -ENOENT for an unknown point, -ERANGE when
 * the point lies past n (the device's model is shorter). */
int sunspec_value(const struct sunspec_layout *l, const uint16_t *regs, size_t n, const char *name,
                  double *out);
/* Same for the point name of instance idx of the repeating group. */
int sunspec_group_value(const struct sunspec_layout *l, const uint16_t *regs, size_t n, size_t idx,
                        const char *name, double *out);
/* A string point, NUL padding removed; "" when not implemented (all 0x0000). 0 or -errno. */
int sunspec_string(const struct sunspec_layout *l, const uint16_t *regs, size_t n, const char *name,
                   char *out, size_t outlen);

/* Model 1 (common). */
struct sunspec_common {
    char manufacturer[33];
    char model[33];
    char options[17];
    char version[17];
    char serial[33];
    double device_address; /* NaN when not implemented */
};
int sunspec_decode_common(const uint16_t *regs, size_t n, struct sunspec_common *out);

/* St (operating state) values of the inverter models. */
enum sunspec_state {
    SUNSPEC_ST_OFF = 1,
    SUNSPEC_ST_SLEEPING,
    SUNSPEC_ST_STARTING,
    SUNSPEC_ST_MPPT,
    SUNSPEC_ST_THROTTLED,
    SUNSPEC_ST_SHUTTING_DOWN,
    SUNSPEC_ST_FAULT,
    SUNSPEC_ST_STANDBY,
};

/* Models 101-103 (int+SF) and 111-113 (float). NaN = not available. Energy in Wh. */
struct sunspec_inverter {
    uint16_t model;
    int phases; /* model id % 10 */
    double a, aph[3], phv[3], w, hz, va, var, pf, wh, dca, dcv, dcw, tmp_cab;
    double st, st_vnd, evt1;
};
/* 0, or -EINVAL for a model that is not an inverter, -ERANGE when n is too short for W. */
int sunspec_decode_inverter(uint16_t model, const uint16_t *regs, size_t n,
                            struct sunspec_inverter *out);
/* Fronius sends an all-zero frame with St = 7 (FAULT) when the data manager lost the inverter on
 * Solar Net (dbus-fronius sunspec_updater.cpp FroniusNullFrame): it carries no data. */
bool sunspec_is_null_frame(const struct sunspec_inverter *v);
/* The Venus/Fronius status code of a SunSpec St (dbus-fronius): sleeping/standby/shutting down
 * 8, starting 3, MPPT 11, throttled 12, fault 10, off 7; -1 for none. */
int sunspec_status_code(double st);

/* Model 120: the rated AC power in W (NaN when not implemented). */
int sunspec_decode_nameplate(const uint16_t *regs, size_t n, double *wrtg);

/* Model 160: per-module DC values (NaN = not available). */
struct sunspec_mppt {
    size_t n; /* modules decoded (<= SUNSPEC_MPPT_MAX) */
    struct {
        double a, v, w, st;
    } mod[SUNSPEC_MPPT_MAX];
};
int sunspec_decode_mppt(const uint16_t *regs, size_t n, struct sunspec_mppt *out);

/* Models 203 (int+SF) and 213 (float) wye meters. Energies in Wh. */
struct sunspec_meter {
    uint16_t model;
    double a, aph[3], phv[3], hz, w, wph[3], exp_wh, imp_wh;
};
int sunspec_decode_meter(uint16_t model, const uint16_t *regs, size_t n, struct sunspec_meter *out);

/* A register image: registers base..base+n-1, valid[i] false for a register the device refused.
 */
struct sunspec_image {
    uint32_t base;
    size_t n;
    uint16_t *regs;
    bool *valid;
};
/* Parses a dump in the format of the shared/testdata/sunspec dumps ("ADDR HEX DEC" lines, "----"
 * for an unreadable register, '#' comments). Addresses must be consecutive. 0 or -EINVAL / -ENOMEM.
 * Free with sunspec_image_free. */
int sunspec_image_parse(const char *text, size_t len, struct sunspec_image *out);
void sunspec_image_free(struct sunspec_image *img);
/* A sunspec_read_fn over an image (ctx): -EIO for an unreadable register, -ENXIO outside it. */
int sunspec_image_read(void *ctx, uint32_t addr, uint16_t n, uint16_t *out);

#endif
