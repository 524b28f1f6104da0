/* emu_ved_hex: a device's values and its answers to VE.Direct HEX requests (no I/O).
 *
 * Protocol facts (protocols.md §2, checked against the go-victron transcripts in testdata):
 *   ping ":154" → ":5" + u16 LE 0x4000 | firmware (":51641F9" is firmware 1.16 + the 0x4 type
 *   nibble; a 250/70 with FW 161 answers ":56141AE"); product id ":451" → ":1" + PID LE;
 *   Get ":7" REG LE + flags → ":7" REG flags value LE; unknown REG → flags 0x01 and no value
 *   (":777770060" → ":77777015F"); Get 0x0100 → 00, PID lo, PID hi, FF.
 * Unknown commands get ":3" (no payload) and undecodable frames the frame error ":4AAAAFD". */
#include "emu_ved_hex.h"

#include "core/util.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define HEX_REG_HISTORY_FIRST 0x1050 /* today */
#define HEX_REG_HISTORY_LAST 0x106E  /* 30 days ago */
#define HEX_DAY_RECORD_LEN 34
#define HEX_STRING_MAX 32
#define HEX_PING_TYPE 0x4000 /* the "application" type nibble of the ping reply */
#define HEX_DAY_ZERO SIZE_MAX
#define DAY_FIELD(f) offsetof(struct emu_day, f)

/* The 34-byte daily history record, verified on the async 0x1050 frames in
 * karioja_bluesolar_1.23.dump (e.g. battery max 12.61 V, min 12.22 V, bulk 194 min, max power
 * 11 W, max current 0.9 A, max PV 35.28 V, day 274). HEX_DAY_ZERO rows are always zero. */
static const struct {
    size_t offset; /* into struct emu_day */
    uint8_t width;
    double scale;
} day_layout[] = {
    {HEX_DAY_ZERO,            1, 0  }, /* reserved */
    {DAY_FIELD(yield_kwh),    4, 100}, /* 0.01 kWh */
    {DAY_FIELD(consumed_kwh), 4, 100}, /* 0.01 kWh */
    {DAY_FIELD(bat_v_max),    2, 100}, /* 0.01 V */
    {DAY_FIELD(bat_v_min),    2, 100}, /* 0.01 V */
    {HEX_DAY_ZERO,            1, 0  }, /* error database */
    {HEX_DAY_ZERO,            4, 0  }, /* errors 0..3 */
    {DAY_FIELD(bulk_min),     2, 1  }, /* min */
    {DAY_FIELD(abs_min),      2, 1  }, /* min */
    {DAY_FIELD(float_min),    2, 1  }, /* min */
    {DAY_FIELD(p_max_w),      4, 1  }, /* W */
    {DAY_FIELD(bat_i_max),    2, 10 }, /* 0.1 A */
    {DAY_FIELD(pv_v_max),     2, 100}, /* 0.01 V */
    {DAY_FIELD(seq),          2, 1  }, /* day sequence number */
};

static void put_le(uint8_t *p, uint32_t v, size_t width)
{
    for (size_t i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static size_t day_encode(const struct emu_day *day, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(day_layout); i++) {
        uint32_t v = 0;
        if (day_layout[i].offset != HEX_DAY_ZERO) {
            double x;
            memcpy(&x, (const char *)day + day_layout[i].offset, sizeof(x));
            double max = day_layout[i].width == 4   ? 4294967295.0
                         : day_layout[i].width == 2 ? 65535.0
                                                    : 255.0;
            x = round(x * day_layout[i].scale);
            v = (uint32_t)(x < 0 ? 0 : x > max ? max : x);
        }
        put_le(out + o, v, day_layout[i].width);
        o += day_layout[i].width;
    }
    return o;
}

void emu_hex_values(const struct emu_hex_dev *d, struct emu_values *vals)
{
    const struct emu_kind *k = d->kind;
    emu_site_view(d->site, k->role, d->index, vals);
    for (size_t i = 0; i < k->n_regs; i++)
        if (k->regs[i].reg == 0x0200)
            vals->q[EMU_Q_DEV_MODE] = d->settings[i];
    vals->q[EMU_Q_UPTIME_S] = floor((double)(util_mono_ms() - d->start_ms) / 1000.0);
    if (k->aux != EMU_AUX_STARTER) {
        vals->q[EMU_Q_AUX_V] = NAN;
        vals->q[EMU_Q_H15_V] = 0;
        vals->q[EMU_Q_H16_V] = 0;
    }
}

/* Wire value of a numeric quantity; "not available" as real devices send it. */
static uint32_t reg_wire(const struct emu_reg *r, double q)
{
    bool is_signed = r->type == EMU_R_S16 || r->type == EMU_R_S32;
    size_t width = emu_reg_width(r->type);
    double max = width == 1 ? 255.0 : width == 2 ? 65535.0 : 4294967295.0;
    if (is_signed) {
        double smax = width == 2 ? 32767.0 : 2147483647.0;
        if (isnan(q))
            return (uint32_t)smax;
        double x = round(q * r->scale);
        x = x < -smax - 1 ? -smax - 1 : x > smax ? smax : x;
        return (uint32_t)(int32_t)x;
    }
    if (isnan(q) || q < 0)
        return (uint32_t)max;
    double x = round(q * r->scale);
    return (uint32_t)(x > max ? max : x);
}

/* Writes register r's value bytes into out (room for HEX_STRING_MAX + 1); returns the count. */
static size_t reg_value(const struct emu_hex_dev *d, const struct emu_reg *r, size_t row,
                        uint8_t *out)
{
    switch (r->type) {
    case EMU_R_PRODUCT:
        out[0] = 0x00;
        out[1] = (uint8_t)(d->pid & 0xFF);
        out[2] = (uint8_t)(d->pid >> 8);
        out[3] = 0xFF;
        return 4;
    case EMU_R_SERIAL:
    case EMU_R_MODEL: {
        const char *s = r->type == EMU_R_SERIAL ? d->serial : d->model;
        size_t n = strnlen(s, HEX_STRING_MAX);
        memcpy(out, s, n);
        out[n] = 0; /* real devices terminate the string */
        return n + 1;
    }
    case EMU_R_U8:
    case EMU_R_U16:
    case EMU_R_S16:
    case EMU_R_U32:
    case EMU_R_S32:
        break;
    }
    size_t width = emu_reg_width(r->type);
    uint32_t v;
    if (r->writable && row != SIZE_MAX) {
        v = (uint32_t)d->settings[row];
    } else {
        struct emu_values vals;
        emu_hex_values(d, &vals);
        v = reg_wire(r, vals.q[r->q]);
    }
    put_le(out, v, width);
    return width;
}

/* Encodes cmd + reg + flags + value as a frame. */
static size_t reply_reg(uint8_t cmd, uint16_t reg, uint8_t flags, const uint8_t *val, size_t vlen,
                        char *out, size_t outlen)
{
    uint8_t p[VED_HEX_MAX];
    if (3 + vlen > sizeof(p))
        return 0;
    put_le(p, reg, 2);
    p[2] = flags;
    if (vlen)
        memcpy(p + 3, val, vlen);
    return ved_hex_encode(cmd, p, 3 + vlen, out, outlen);
}

static size_t hex_get(struct emu_hex_dev *d, uint16_t reg, char *out, size_t outlen)
{
    uint8_t val[HEX_DAY_RECORD_LEN + HEX_STRING_MAX];
    if (d->kind->daily_history && reg >= HEX_REG_HISTORY_FIRST && reg <= HEX_REG_HISTORY_LAST) {
        struct emu_day day;
        if (emu_site_day(d->site, d->index, (unsigned)(reg - HEX_REG_HISTORY_FIRST), &day) != 0)
            memset(&day, 0, sizeof(day));
        size_t n = day_encode(&day, val);
        return reply_reg(VED_CMD_GET, reg, VED_FLAG_OK, val, n, out, outlen);
    }
    size_t row;
    const struct emu_reg *r = emu_kind_reg(d->kind, reg, &row);
    if (!r)
        return reply_reg(VED_CMD_GET, reg, VED_FLAG_UNKNOWN_ID, NULL, 0, out, outlen);
    size_t n = reg_value(d, r, row, val);
    return reply_reg(VED_CMD_GET, reg, VED_FLAG_OK, val, n, out, outlen);
}

static bool setting_ok(const struct emu_reg *r, int64_t v)
{
    if (v < r->min || v > r->max)
        return false;
    if (r->allowed && (v >= 32 || !(r->allowed & (1u << v))))
        return false;
    return true;
}

/* What a Set does beyond storing the value. 0 or -errno (the device lacks that output). */
static int apply_effect(struct emu_hex_dev *d, const struct emu_reg *r, int32_t v)
{
    switch (r->effect) {
    case EMU_EFF_MODE:
        return emu_site_set_enabled(d->site, d->kind->role, d->index, v != 4);
    case EMU_EFF_LOAD:
        return emu_site_set_load(d->site, d->index, v);
    case EMU_EFF_NONE:
        break;
    }
    return 0;
}

static size_t hex_set(struct emu_hex_dev *d, const struct ved_hex_frame *req, char *out,
                      size_t outlen)
{
    uint16_t reg = (uint16_t)ved_le_u32(req->data, 2);
    size_t row;
    const struct emu_reg *r = emu_kind_reg(d->kind, reg, &row);
    bool history =
        d->kind->daily_history && reg >= HEX_REG_HISTORY_FIRST && reg <= HEX_REG_HISTORY_LAST;
    if (!r && !history)
        return reply_reg(VED_CMD_SET, reg, VED_FLAG_UNKNOWN_ID, NULL, 0, out, outlen);
    if (history || !r->writable || row == SIZE_MAX)
        return reply_reg(VED_CMD_SET, reg, VED_FLAG_NOT_SUPPORTED, NULL, 0, out, outlen);
    size_t width = emu_reg_width(r->type);
    if (req->len != 3 + width)
        return reply_reg(VED_CMD_SET, reg, VED_FLAG_PARAM_ERROR, NULL, 0, out, outlen);
    bool is_signed = r->type == EMU_R_S16 || r->type == EMU_R_S32;
    int64_t v = is_signed ? (int64_t)ved_le_s32(req->data + 3, width)
                          : (int64_t)ved_le_u32(req->data + 3, width);
    if (!setting_ok(r, v) || apply_effect(d, r, (int32_t)v) != 0)
        return reply_reg(VED_CMD_SET, reg, VED_FLAG_PARAM_ERROR, NULL, 0, out, outlen);
    d->settings[row] = (int32_t)v;
    uint8_t val[4];
    put_le(val, (uint32_t)v, width);
    return reply_reg(VED_CMD_SET, reg, VED_FLAG_OK, val, width, out, outlen);
}

size_t emu_hex_frame_error(char *out, size_t outlen)
{
    static const uint8_t frame_error[] = {0xAA, 0xAA};
    return ved_hex_encode(VED_RSP_ERROR, frame_error, sizeof(frame_error), out, outlen);
}

size_t emu_hex_answer(struct emu_hex_dev *d, const struct ved_hex_frame *req, char *out,
                      size_t outlen)
{
    uint8_t p[2];
    switch (req->cmd) {
    case VED_CMD_PING:
        put_le(p, HEX_PING_TYPE | (d->version & 0x0FFF), 2);
        return ved_hex_encode(VED_RSP_PING, p, 2, out, outlen);
    case VED_CMD_APP_VERSION:
        put_le(p, HEX_PING_TYPE | (d->version & 0x0FFF), 2);
        return ved_hex_encode(VED_RSP_DONE, p, 2, out, outlen);
    case VED_CMD_PRODUCT_ID:
        put_le(p, d->pid, 2);
        return ved_hex_encode(VED_RSP_DONE, p, 2, out, outlen);
    case VED_CMD_RESTART:
        return 0;
    case VED_CMD_GET:
        if (req->len < 2)
            return emu_hex_frame_error(out, outlen);
        return hex_get(d, (uint16_t)ved_le_u32(req->data, 2), out, outlen);
    case VED_CMD_SET:
        if (req->len < 2)
            return emu_hex_frame_error(out, outlen);
        return hex_set(d, req, out, outlen);
    default:
        return ved_hex_encode(VED_RSP_UNKNOWN, NULL, 0, out, outlen);
    }
}

size_t emu_hex_async_today(struct emu_hex_dev *d, char *out, size_t outlen)
{
    if (!d->kind->daily_history)
        return 0;
    struct emu_day day;
    uint8_t val[HEX_DAY_RECORD_LEN];
    if (emu_site_day(d->site, d->index, 0, &day) != 0)
        return 0;
    size_t n = day_encode(&day, val);
    return reply_reg(VED_CMD_ASYNC, HEX_REG_HISTORY_FIRST, VED_FLAG_OK, val, n, out, outlen);
}
