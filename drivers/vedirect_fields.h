/* vedirect_fields: the VE.Direct label table (syntax, scale, Venus path per service class). */
#ifndef SITEWATCH_VEDIRECT_FIELDS_H
#define SITEWATCH_VEDIRECT_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Service classes a VE.Direct product can have; bit flags so one table row can serve several. */
enum ved_class {
    VED_CLS_BATTERY = 1 << 0,
    VED_CLS_SOLAR = 1 << 1,
    VED_CLS_INVERTER = 1 << 2,
    VED_CLS_CHARGER = 1 << 3,
    VED_CLS_DCDC = 1 << 4,
    VED_CLS_ALL = 0x1f,
};

/* How a raw value becomes a published number. */
enum ved_conv {
    VED_CONV_NUM,   /* decimal integer × 10^exp10; "---" is not available */
    VED_CONV_ONOFF, /* ON → 1, OFF → 0 */
    VED_CONV_ALARM, /* ON → 2 (alarm), OFF → 0: the Venus alarm convention */
    VED_CONV_TTG,   /* minutes → seconds; -1 (infinite) is not available */
    VED_CONV_HEX,   /* 0x-prefixed hexadecimal */
};

/* One published quantity: label, the classes it applies to, Venus path, unit, and the decimal
 * exponent of the wire unit (-3: the wire counts thousandths, so 13200 is 13.2). */
struct ved_map {
    const char *label;
    unsigned classes;
    const char *path;
    const char *unit;
    int8_t exp10;
    enum ved_conv conv;
};

/* An alarm-reason bit (AR/WARN) and the Venus alarm path it raises. */
struct ved_alarm_bit {
    uint32_t bit;
    unsigned classes;
    const char *path;
};

extern const struct ved_map ved_map[];
extern const size_t ved_map_len;
extern const struct ved_alarm_bit ved_alarm_bits[];
extern const size_t ved_alarm_bits_len;

/* Syntax check of one field: 0 when the label is unknown (ignored later) or its value parses for
 * the label's kind, -EINVAL otherwise. */
int ved_field_check(const char *label, const char *value);

/* True when the label table is strictly sorted (its lookup is a binary search). */
bool ved_labels_sorted(void);

/* True when label is in the protocol's label table. */
bool ved_label_known(const char *label);

/* Converts a field value by a map row. Returns 1 with *out set, 0 when the device says "not
 * available" ("---", TTG -1), or -EINVAL when it does not parse. */
int ved_field_value(const struct ved_map *m, const char *value, double *out);

/* Parses integer/hex field values strictly (whole string). 0 or -EINVAL. */
int ved_parse_int(const char *s, long *out);
int ved_parse_hex(const char *s, unsigned long *out);

/* Firmware text: "0308" or "150" (16-bit, v3.08 / v1.50) and FWE "0342FF" / "316FF" (24-bit, last
 * two digits the release type). Writes "3.08" style text; 0 or -EINVAL. */
int ved_firmware_text(const char *fw, bool extended, char *out, size_t outlen);

#endif
