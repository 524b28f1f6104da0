/* test_scale: values are exactly what the device sent. Every decimal a device can send in its wire
 * units (an integer count of 10^exp units) becomes the double nearest to that decimal, the one
 * strtod gives for its text ("13200" mV → strtod("13.200")), through util_scale_decimal and through
 * each driver's own conversion (the VE.Direct label and HEX tables, SunSpec scale factors, VE.Bus
 * RAM scales); and util_format_double prints it back as the device's decimal ("13.2"). */
#include "core/util.h"
#include "drivers/sunspec_proto.h"
#include "drivers/vebus_proto.h"
#include "drivers/vedirect_fields.h"
#include "drivers/vedirect_hex.h"
#include "test.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>

/* The decimal text of raw × 10^exp10 written by integer arithmetic only: "13.200" for 13200 at
 * -3 (full), and its shortest form "13.2" (trailing zeros and a bare point dropped). */
static void decimal_text(int64_t raw, int exp10, char *full, size_t n, char *shortest, size_t sn)
{
    uint64_t mag = raw < 0 ? (uint64_t)0 - (uint64_t)raw : (uint64_t)raw;
    char digits[32];
    int nd = snprintf(digits, sizeof(digits), "%" PRIu64, mag);
    char out[64];
    size_t o = 0;
    if (raw < 0)
        out[o++] = '-';
    if (exp10 >= 0) {
        memcpy(out + o, digits, (size_t)nd);
        o += (size_t)nd;
        for (int i = 0; i < exp10 && mag; i++)
            out[o++] = '0';
    } else {
        int frac = -exp10;
        int whole = nd - frac;
        if (whole <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -whole; i++)
                out[o++] = '0';
            memcpy(out + o, digits, (size_t)nd);
            o += (size_t)nd;
        } else {
            memcpy(out + o, digits, (size_t)whole);
            o += (size_t)whole;
            out[o++] = '.';
            memcpy(out + o, digits + whole, (size_t)frac);
            o += (size_t)frac;
        }
    }
    out[o] = '\0';
    snprintf(full, n, "%s", out);
    if (strchr(out, '.')) {
        while (o > 0 && out[o - 1] == '0')
            out[--o] = '\0';
        if (o > 0 && out[o - 1] == '.')
            out[--o] = '\0';
    }
    if (strcmp(out, "-0") == 0)
        snprintf(out, sizeof(out), "0");
    snprintf(shortest, sn, "%s", out);
}

/* Failures are counted and the first few printed, so a broken conversion shows examples rather
 * than a million lines. */
static long mismatches;

static void expect_value(const char *what, int64_t raw, int exp10, double got)
{
    char full[64], shortest[64];
    decimal_text(raw, exp10, full, sizeof(full), shortest, sizeof(shortest));
    double want = strtod(full, NULL);
    if (got == want)
        return;
    if (mismatches++ < 8)
        printf("    %s: %" PRId64 " × 10^%d = %.17g, but strtod(\"%s\") = %.17g\n", what, raw,
               exp10, got, full, want);
}

/* util_scale_decimal gives strtod's double, and util_format_double prints it as the decimal's
 * shortest text (exponents of -1..-3 never reach %g's exponent notation for these magnitudes). */
static void check_one(int64_t raw, int exp10, bool check_text)
{
    char full[64], shortest[64], buf[UTIL_DOUBLE_MAX];
    decimal_text(raw, exp10, full, sizeof(full), shortest, sizeof(shortest));
    double want = strtod(full, NULL);
    double got = util_scale_decimal(raw, exp10);
    int n = util_format_double(buf, sizeof(buf), got);
    bool ok = got == want && n > 0 && strtod(buf, NULL) == got;
    if (ok && check_text)
        ok = strcmp(buf, shortest) == 0;
    if (!ok && mismatches++ < 8)
        printf("    %" PRId64 " × 10^%d: scaled %.17g, printed \"%s\"; expected strtod(\"%s\") = "
               "%.17g, printed \"%s\"\n",
               raw, exp10, got, buf, full, want, shortest);
}

static uint64_t rng_state = 0x5eed14ULL; /* fixed seed: the same samples on every run */

static uint64_t rng_next(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_state >> 17;
}

/* Every integer of -100000..100000 at 10^-1, 10^-2, 10^-3 (the VE.Direct, VE.Bus and SunSpec
 * units: 0.1 %, 0.01 kWh, mV, mA ...), then 200,000 random 32-bit raws at exponents -1..-6. */
static void test_scale_decimal_property(void)
{
    mismatches = 0;
    for (int e = -3; e <= -1; e++)
        for (int64_t raw = -100000; raw <= 100000; raw++)
            check_one(raw, e, true);
    for (int k = 0; k < 200000; k++) {
        int64_t raw = (int64_t)(int32_t)(uint32_t)rng_next();
        int e = -1 - (int)(rng_next() % 6);
        check_one(raw, e, e >= -4);
    }
    /* positive exponents and the integer scale */
    for (int64_t raw = -1000; raw <= 1000; raw++)
        for (int e = 0; e <= 3; e++)
            check_one(raw, e, true);
    TEST_EQ_LONG(mismatches, 0);
}

/* The examples of the issue. */
static void test_scale_examples(void)
{
    char buf[UTIL_DOUBLE_MAX];
    TEST_CHECK(util_scale_decimal(13200, -3) == 13.2);
    TEST_CHECK(util_format_double(buf, sizeof(buf), util_scale_decimal(13200, -3)) == 4);
    TEST_STREQ(buf, "13.2");
    util_format_double(buf, sizeof(buf), util_scale_decimal(25284, -3));
    TEST_STREQ(buf, "25.284");
    util_format_double(buf, sizeof(buf), 0.1 + 0.2); /* not a device value: needs 17 digits */
    TEST_STREQ(buf, "0.30000000000000004");
    util_format_double(buf, sizeof(buf), 1e21);
    TEST_STREQ(buf, "1e+21");
    util_format_double(buf, sizeof(buf), -2316.635);
    TEST_STREQ(buf, "-2316.635");
    TEST_CHECK(util_format_double(buf, 4, 13.2) == -ENOSPC);
}

/* Each VE.Direct text label with a number: its table row's conversion equals strtod of the
 * decimal, over the label's plausible raw range (exhaustive near 0, sampled beyond). */
static void test_vedirect_text_fields(void)
{
    mismatches = 0;
    size_t rows = 0;
    for (size_t k = 0; k < ved_map_len; k++) {
        const struct ved_map *m = &ved_map[k];
        if (m->conv != VED_CONV_NUM && m->conv != VED_CONV_TTG)
            continue;
        rows++;
        for (int64_t i = -20000; i <= 60000; i++) {
            int64_t raw = i < 40000 ? i : (int64_t)(int32_t)(uint32_t)rng_next();
            if (m->conv == VED_CONV_TTG && raw < 0)
                continue;
            char text[32];
            snprintf(text, sizeof(text), "%" PRId64, raw);
            double got = NAN;
            if (ved_field_value(m, text, &got) != 1) {
                if (mismatches++ < 8)
                    printf("    %s = %s did not convert\n", m->label, text);
                continue;
            }
            /* TTG is minutes on the wire: the decimal is raw × 60 s */
            expect_value(m->label, m->conv == VED_CONV_TTG ? raw * 60 : raw, m->exp10, got);
        }
    }
    TEST_CHECK(rows > 40);
    TEST_EQ_LONG(mismatches, 0);
}

/* Every HEX register and daily-history field over its whole raw range (16-bit exhaustively). */
static void test_vedirect_hex_registers(void)
{
    mismatches = 0;
    for (size_t k = 0; k < ved_hex_regs_len; k++) {
        const struct ved_hex_reg *r = &ved_hex_regs[k];
        uint32_t top = r->width == 1 ? 0xFF : 0xFFFF;
        for (uint32_t i = 0; i <= top + 20000; i++) {
            uint32_t raw = i <= top ? i : (uint32_t)rng_next();
            uint8_t val[4] = {(uint8_t)raw, (uint8_t)(raw >> 8), (uint8_t)(raw >> 16),
                              (uint8_t)(raw >> 24)};
            if (i > top && r->width < 4)
                continue;
            double got;
            int rc = ved_hex_reg_value(r, val, r->width, &got);
            uint32_t wire = r->width == 1 ? raw & 0xFF : r->width == 2 ? raw & 0xFFFF : raw;
            if (rc != 1)
                continue; /* the "not available" raw */
            int64_t v = wire;
            if (r->is_signed)
                v = r->width == 2 ? (int16_t)wire : r->width == 1 ? (int8_t)wire : (int32_t)wire;
            expect_value(r->path, v * r->mul, r->exp10, got);
        }
    }
    for (size_t k = 0; k < ved_hist_fields_len; k++) {
        const struct ved_hist_field *h = &ved_hist_fields[k];
        for (uint32_t raw = 0; raw <= 0xFFFF; raw++) {
            uint8_t rec[VED_HIST_RECORD_LEN] = {0};
            for (unsigned b = 0; b < h->width && b < 2; b++)
                rec[h->offset + b] = (uint8_t)(raw >> (8 * b));
            uint32_t wire = h->width == 1 ? raw & 0xFF : raw;
            expect_value(h->name, (int64_t)wire * h->mul, h->exp10, ved_hist_field_value(h, rec));
        }
    }
    TEST_EQ_LONG(mismatches, 0);
}

/* SunSpec: a model 101 point with its scale factor at -1, -2, -3, every 16-bit raw. */
static void test_sunspec_scale_factors(void)
{
    mismatches = 0;
    const struct sunspec_layout *l = sunspec_layout_find(101);
    TEST_CHECK(l != NULL);
    if (!l)
        return;
    static const char *const names[] = {"PhVphA", "A", "W", "Hz"};
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(names); k++) {
        const struct sunspec_point *p = NULL;
        for (size_t i = 0; i < l->npoints; i++)
            if (strcmp(l->points[i].name, names[k]) == 0)
                p = &l->points[i];
        TEST_CHECK(p != NULL && p->sf_offset >= 0);
        if (!p || p->sf_offset < 0)
            continue;
        uint16_t regs[128] = {0};
        for (int sf = -3; sf <= -1; sf++) {
            regs[p->sf_offset] = (uint16_t)(int16_t)sf;
            for (uint32_t raw = 0; raw <= 0xFFFF; raw++) {
                regs[p->offset] = (uint16_t)raw;
                double got;
                if (sunspec_value(l, regs, UTIL_ARRAY_SIZE(regs), names[k], &got) != 1)
                    continue; /* 0xFFFF / 0x8000: not implemented */
                bool sgn = p->type == SUNSPEC_T_I16;
                expect_value(names[k], sgn ? (int16_t)raw : (int64_t)raw, sf, got);
            }
        }
    }
    TEST_EQ_LONG(mismatches, 0);
}

/* VE.Bus: RAM variables scaled 1/10, 1/100, 1/1000 (scale fields 0x7FF6, 0x7F9C, 0x7C18), signed
 * and not, and the charge state in percent at 1/200. */
static void test_vebus_ram_scales(void)
{
    mismatches = 0;
    static const struct {
        uint16_t sc;
        int exp10;
    } cases[] = {
        {0x7FF6, -1},
        {0x7F9C, -2},
        {0x7C18, -3},
        {0x8064, -2}, /* signed 1/100 */
    };
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(cases); k++) {
        struct vebus_scale s;
        vebus_scale_from_raw(cases[k].sc, 0, &s);
        for (uint32_t raw = 0; raw <= 0xFFFF; raw++) {
            int64_t v = s.is_signed ? (int16_t)raw : (int64_t)raw;
            expect_value("vebus", v, cases[k].exp10, vebus_scale_apply(&s, raw, 16));
        }
    }
    struct vebus_scale soc;
    vebus_scale_from_raw(0x7F38, 0, &soc);    /* 1/200 */
    for (uint32_t raw = 0; raw <= 200; raw++) /* raw/200 × 100 % = raw × 5 × 10^-1 % */
        expect_value("vebus soc", (int64_t)raw * 5, -1, vebus_scale_percent(&soc, raw, 16));
    TEST_EQ_LONG(mismatches, 0);
}

int main(void)
{
    TEST_RUN(test_scale_examples);
    TEST_RUN(test_scale_decimal_property);
    TEST_RUN(test_vedirect_text_fields);
    TEST_RUN(test_vedirect_hex_registers);
    TEST_RUN(test_sunspec_scale_factors);
    TEST_RUN(test_vebus_ram_scales);
    return test_summary();
}
