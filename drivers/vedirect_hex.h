/* vedirect_hex: the HEX registers the driver reads, as data, and the daily-history record layout.
 */
#ifndef SITEWATCH_VEDIRECT_HEX_H
#define SITEWATCH_VEDIRECT_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One register polled with Get: id, value width, signedness, the conversion to the published unit
 * (raw × mul × 10^exp10, computed exactly: util_scale_decimal), the classes it is read on, the
 * Venus-style path, and the raw value meaning "not available". */
struct ved_hex_reg {
    uint16_t reg;
    uint8_t width;
    bool is_signed;
    int8_t exp10;
    uint8_t mul;
    unsigned classes;
    const char *path;
    const char *unit;
    uint32_t na_raw; /* 0 = none */
};

extern const struct ved_hex_reg ved_hex_regs[];
extern const size_t ved_hex_regs_len;

/* MPPT daily history: registers 0x1050 (today) .. 0x106E; the driver reads days 0..N-1. */
#define VED_HIST_REG_FIRST 0x1050
#define VED_HIST_DAYS 7
#define VED_HIST_RECORD_LEN 34

/* One field of a daily-history record: byte offset, width, conversion (raw × mul × 10^exp10) and
 * path under History/Daily/<day>/. */
struct ved_hist_field {
    uint8_t offset;
    uint8_t width;
    int8_t exp10;
    uint8_t mul;
    const char *name;
    const char *unit;
};

extern const struct ved_hist_field ved_hist_fields[];
extern const size_t ved_hist_fields_len;

/* Finds the table row for a register on a class, or NULL. */
const struct ved_hex_reg *ved_hex_reg_find(uint16_t reg, unsigned cls);

/* Decodes a register value of the row's width into *out (scaled). 1 = value, 0 = not available,
 * -EINVAL = wrong length. */
int ved_hex_reg_value(const struct ved_hex_reg *r, const uint8_t *val, size_t len, double *out);

/* The value of one history field in a record of VED_HIST_RECORD_LEN bytes. */
double ved_hist_field_value(const struct ved_hist_field *h, const uint8_t *record);

#endif
