/* test_mbmap: the SCADA register map: the committed etc/modbus-map.csv against Victron's
 * attributes.csv, lookups, and the GX value <-> register conversions (16/32-bit, negative and
 * fractional scales, strings, sentinels, saturation). */
#include "core/util.h"
#include "modbus/mbmap.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static const char *reference_root(void)
{
    const char *r = getenv("SITEWATCH_REFERENCE");
    return r && *r ? r : "../shared/reference";
}

static struct mbmap *load_map(void)
{
    struct mbmap *m = NULL;
    char err[300];
    int rc = mbmap_load("etc/modbus-map.csv", &m, err, sizeof(err));
    if (rc != 0)
        printf("    %s\n", err);
    TEST_EQ_LONG(rc, 0);
    return m;
}

static const char *const test_classes[] = {"system", "battery",    "solarcharger",
                                           "vebus",  "inverter",   "charger",
                                           "dcdc",   "pvinverter", "grid"};

static bool test_class_published(const char *service_col)
{
    const char *prefix = "com.victronenergy.";
    if (strncmp(service_col, prefix, strlen(prefix)) != 0)
        return false;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(test_classes); i++)
        if (strcmp(service_col + strlen(prefix), test_classes[i]) == 0)
            return true;
    return false;
}

/* Every row of attributes.csv of a published class is in the map, unchanged and in order, and the
 * map holds nothing else. */
static void test_map_matches_attributes(void)
{
    struct mbmap *m = load_map();
    if (!m)
        return;
    char path[512];
    snprintf(path, sizeof(path), "%s/gx-modbus/attributes.csv", reference_root());
    char *text;
    size_t len;
    TEST_EQ_LONG(util_read_file(path, 1u << 20, &text, &len), 0);
    if (!text) {
        mbmap_free(m);
        return;
    }
    size_t k = 0, nref = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r')
            line[ll - 1] = '\0';
        char service[64];
        const char *comma = strchr(line, ',');
        size_t sl = comma ? (size_t)(comma - line) : 0;
        if (sl && sl < sizeof(service)) {
            memcpy(service, line, sl);
            service[sl] = '\0';
            if (test_class_published(service)) {
                nref++;
                const struct mbmap_entry *e = mbmap_at(m, k++);
                TEST_CHECK(e != NULL);
                if (e && strcmp(e->line, line) != 0) {
                    printf("    map row %zu: %s\n    attributes: %s\n", k, e->line, line);
                    TEST_CHECK(0);
                }
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    TEST_EQ_LONG(mbmap_count(m), nref);
    TEST_CHECK(nref > 500);
    free(text);
    mbmap_free(m);
}

static void test_lookup(void)
{
    struct mbmap *m = load_map();
    if (!m)
        return;
    const struct mbmap_entry *e = mbmap_find(m, "system", 843);
    TEST_CHECK(e && strcmp(e->path, "Dc/Battery/Soc") == 0 && e->scale == 1);
    e = mbmap_find(m, "battery", 266);
    TEST_CHECK(e && strcmp(e->path, "Soc") == 0 && e->scale == 10);
    /* second register of an int32 */
    e = mbmap_find(m, "system", 871);
    TEST_CHECK(e && e->reg == 870 && e->type == MBMAP_INT32 && e->nregs == 2);
    /* inside a reserved block */
    e = mbmap_find(m, "system", 829);
    TEST_CHECK(e && e->type == MBMAP_RESERVED && e->reg == 827);
    /* a string */
    e = mbmap_find(m, "solarcharger", 3745);
    TEST_CHECK(e && e->type == MBMAP_STRING && e->nregs == 8 && e->reg == 3740);
    /* the register exists, but for another class */
    TEST_CHECK(mbmap_find(m, "system", 771) == NULL);
    TEST_CHECK(mbmap_find_any(m, 771) != NULL);
    /* nobody's register: the gap the discovery block uses */
    TEST_CHECK(mbmap_find_any(m, 1400) == NULL);
    TEST_CHECK(mbmap_find_any(m, 65535) == NULL);
    e = mbmap_find(m, "solarcharger", 774);
    TEST_CHECK(e && e->writable);
    char buf[32];
    TEST_STREQ(mbmap_enum_label(e, 4, buf, sizeof(buf)), "Off");
    TEST_CHECK(mbmap_enum_label(e, 2, buf, sizeof(buf)) == NULL);
    mbmap_free(m);
}

static struct mbmap_entry entry(enum mbmap_type t, uint16_t n, double scale)
{
    return (struct mbmap_entry){.type = t, .nregs = n, .scale = scale};
}

static void test_encode_16(void)
{
    uint16_t r[4];
    struct mbmap_entry u = entry(MBMAP_UINT16, 1, 100);
    mbmap_encode(&u, true, 26.314, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 2631);
    mbmap_encode(&u, true, 26.315, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 2632); /* round half away from zero like qRound */
    struct mbmap_entry s = entry(MBMAP_INT16, 1, 10);
    mbmap_encode(&s, true, -12.34, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], (uint16_t)-123);
    /* negative scale: ConsumedAmphours -10 holds -12.3 Ah as 123 in a uint16 */
    struct mbmap_entry ah = entry(MBMAP_UINT16, 1, -10);
    mbmap_encode(&ah, true, -12.3, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 123);
    /* fractional scale: TimeToGo 0.01 counts hundreds of seconds */
    struct mbmap_entry ttg = entry(MBMAP_UINT16, 1, 0.01);
    mbmap_encode(&ttg, true, 36000, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 360);
    mbmap_encode(&ttg, true, 149, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 1);
}

static void test_encode_32(void)
{
    uint16_t r[4];
    struct mbmap_entry u = entry(MBMAP_UINT32, 2, 1);
    mbmap_encode(&u, true, 70000, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 1); /* high word first */
    TEST_EQ_LONG(r[1], 70000 - 65536);
    struct mbmap_entry s = entry(MBMAP_INT32, 2, 10);
    mbmap_encode(&s, true, -7000.5, MBMAP_INVALID_SENTINEL, r);
    /* -70005 = 0xFFFEEE8B */
    TEST_EQ_LONG(r[0], 0xFFFE);
    TEST_EQ_LONG(r[1], 0xEE8B);
    /* uint32 with scale -1 (register 330) */
    struct mbmap_entry n = entry(MBMAP_UINT32, 2, -1);
    mbmap_encode(&n, true, -123456, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(((uint32_t)r[0] << 16) | r[1], 123456);
    struct mbmap_entry q = entry(MBMAP_UINT64, 4, 1);
    mbmap_encode(&q, true, 4294967296.0 * 3 + 5, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 0);
    TEST_EQ_LONG(r[1], 3);
    TEST_EQ_LONG(r[2], 0);
    TEST_EQ_LONG(r[3], 5);
}

static void test_sentinels_and_zero(void)
{
    uint16_t r[4];
    const struct {
        enum mbmap_type t;
        uint16_t n;
        uint16_t expect[4];
    } cases[] = {
        {MBMAP_UINT16, 1, {0xFFFF}                        },
        {MBMAP_INT16,  1, {0x8000}                        },
        {MBMAP_UINT32, 2, {0xFFFF, 0xFFFF}                },
        {MBMAP_INT32,  2, {0x8000, 0x0000}                },
        {MBMAP_UINT64, 4, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}},
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        struct mbmap_entry e = entry(cases[i].t, cases[i].n, 10);
        mbmap_encode(&e, false, 12, MBMAP_INVALID_SENTINEL, r);
        for (unsigned w = 0; w < cases[i].n; w++)
            TEST_EQ_LONG(r[w], cases[i].expect[w]);
        mbmap_encode(&e, true, NAN, MBMAP_INVALID_SENTINEL, r);
        for (unsigned w = 0; w < cases[i].n; w++)
            TEST_EQ_LONG(r[w], cases[i].expect[w]);
        r[0] = r[1] = 0x1234;
        mbmap_encode(&e, false, 12, MBMAP_INVALID_ZERO, r);
        for (unsigned w = 0; w < cases[i].n; w++)
            TEST_EQ_LONG(r[w], 0);
    }
    /* reserved rows read 0xFFFF in both modes */
    struct mbmap_entry res = entry(MBMAP_RESERVED, 3, 1);
    mbmap_encode(&res, true, 1, MBMAP_INVALID_ZERO, r);
    TEST_EQ_LONG(r[0], 0xFFFF);
    TEST_EQ_LONG(r[2], 0xFFFF);
}

static void test_saturation(void)
{
    uint16_t r[2];
    struct mbmap_entry u = entry(MBMAP_UINT16, 1, 1);
    /* sentinel mode keeps valid values off the sentinel */
    mbmap_encode(&u, true, 70000, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 0xFFFE);
    mbmap_encode(&u, true, 70000, MBMAP_INVALID_ZERO, r);
    TEST_EQ_LONG(r[0], 0xFFFF);
    mbmap_encode(&u, true, -5, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 0);
    struct mbmap_entry s = entry(MBMAP_INT16, 1, 10);
    mbmap_encode(&s, true, -4000, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 0x8001);
    mbmap_encode(&s, true, -4000, MBMAP_INVALID_ZERO, r);
    TEST_EQ_LONG(r[0], 0x8000);
    mbmap_encode(&s, true, 4000, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 0x7FFF);
    struct mbmap_entry s32 = entry(MBMAP_INT32, 2, 1);
    mbmap_encode(&s32, true, -1e12, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 0x8000);
    TEST_EQ_LONG(r[1], 0x0001);
    struct mbmap_entry u32 = entry(MBMAP_UINT32, 2, 1);
    mbmap_encode(&u32, true, 1e12, MBMAP_INVALID_SENTINEL, r);
    TEST_EQ_LONG(r[0], 0xFFFF);
    TEST_EQ_LONG(r[1], 0xFFFE);
}

static void test_strings_and_decode(void)
{
    uint16_t r[4];
    struct mbmap_entry e = entry(MBMAP_STRING, 4, 1);
    mbmap_encode_string(&e, "HQ221", r);
    TEST_EQ_LONG(r[0], ('H' << 8) | 'Q');
    TEST_EQ_LONG(r[1], ('2' << 8) | '2');
    TEST_EQ_LONG(r[2], ('1' << 8) | 0);
    TEST_EQ_LONG(r[3], 0);
    mbmap_encode_string(&e, "0123456789", r); /* cut at 8 characters */
    TEST_EQ_LONG(r[3], ('6' << 8) | '7');
    double v;
    struct mbmap_entry s = entry(MBMAP_INT16, 1, 10);
    TEST_EQ_LONG(mbmap_decode16(&s, 0xFF85, &v), 0);
    TEST_NEAR(v, -12.3, 1e-9);
    struct mbmap_entry u32 = entry(MBMAP_UINT32, 2, 1);
    TEST_EQ_LONG(mbmap_decode16(&u32, 1, &v), -EINVAL);
}

static void test_bad_maps(void)
{
    struct mbmap *m = NULL;
    char err[300];
    TEST_EQ_LONG(mbmap_parse("x.csv", "# c\ncom.victronenergy.system,/A,d,W,800,uint16,1,R\n", &m,
                             err, sizeof(err)),
                 0);
    TEST_EQ_LONG(mbmap_count(m), 1);
    mbmap_free(m);
    const char *bad[] = {
        "com.victronenergy.system,/A,d,W,800,uint17,1,R\n",
        "com.victronenergy.system,/A,d,W,70000,uint16,1,R\n",
        "com.victronenergy.system,/A,d,W,800,uint16,0,R\n",
        "com.victronenergy.system,/A,d,W,800,uint16,1,X\n",
        "com.victronenergy.system,/A,d,W,800,string[0],1,R\n",
        "system,/A,d,W,800,uint16,1,R\n",
        "com.victronenergy.system,/A,d,W,800,uint16,1,R,extra\n",
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        char text[256];
        snprintf(text, sizeof(text), "# header\n%s", bad[i]);
        m = NULL;
        TEST_EQ_LONG(mbmap_parse("x.csv", text, &m, err, sizeof(err)), -EINVAL);
        TEST_CHECK(m == NULL);
        TEST_CHECK(strncmp(err, "x.csv:2: ", 9) == 0);
    }
}

/* map = auto: the installed map, else etc/ of the source tree, else beside the configuration. */
static void test_default_path(void)
{
    char dir[] = "/tmp/sitewatch-mbmap-XXXXXX", conf[96], beside[96], out[4096], tried[8192];
    TEST_CHECK(mkdtemp(dir) != NULL);
    snprintf(conf, sizeof(conf), "%s/sitewatch.conf", dir);
    snprintf(beside, sizeof(beside), "%s/modbus-map.csv", dir);
    /* nothing anywhere: -ENOENT, and every place looked at is named */
    TEST_EQ_LONG(mbmap_default_path("/nonexistent/map.csv", "/nonexistent-src", conf, out,
                                    sizeof(out), tried, sizeof(tried)),
                 -ENOENT);
    TEST_CHECK(strstr(tried, "/nonexistent/map.csv, /nonexistent-src/etc/modbus-map.csv, ") ==
               tried);
    TEST_CHECK(strstr(tried, beside) != NULL);
    /* the source tree (this one: the tests run from its root) */
    TEST_EQ_LONG(mbmap_default_path("/nonexistent/map.csv", ".", conf, out, sizeof(out), tried,
                                    sizeof(tried)),
                 0);
    TEST_STREQ(out, "./etc/modbus-map.csv");
    /* the one compiled in (SITEWATCH_SOURCE_DIR from the Makefile) is this tree; a package
     * build (debian/rules: SOURCE_DIR empty) has none and finds nothing there */
    int want = mbmap_built_source_dir()[0] ? 0 : -ENOENT;
    TEST_EQ_LONG(mbmap_default_path("/nonexistent/map.csv", NULL, NULL, out, sizeof(out), tried,
                                    sizeof(tried)),
                 want);
    if (want == 0)
        TEST_CHECK(strstr(out, "/etc/modbus-map.csv") != NULL);
    else
        TEST_STREQ(tried, "/nonexistent/map.csv");
    /* beside the configuration file, when neither exists */
    TEST_EQ_LONG(util_write_atomic(beside, "x\n", 2), 0);
    TEST_EQ_LONG(mbmap_default_path("/nonexistent/map.csv", "", conf, out, sizeof(out), tried,
                                    sizeof(tried)),
                 0);
    TEST_STREQ(out, beside);
    /* the installed map comes first */
    TEST_EQ_LONG(mbmap_default_path(beside, ".", NULL, out, sizeof(out), tried, sizeof(tried)), 0);
    TEST_STREQ(out, beside);
    unlink(beside);
    rmdir(dir);
}

static void test_sheet_formats(void)
{
    struct mbmap *m = load_map();
    if (!m)
        return;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    TEST_EQ_LONG(mbmap_print(m, "md", f), 0);
    TEST_EQ_LONG(mbmap_print(m, "pdf", f), -EINVAL);
    fclose(f);
    TEST_CHECK(strstr(buf, "| system | 843 | uint16 | 1 | R | /Dc/Battery/Soc |") != NULL);
    TEST_CHECK(strstr(buf, "| battery | 266 | uint16 | 10 | R | /Soc |") != NULL);
    free(buf);
    mbmap_free(m);
}

int main(void)
{
    TEST_RUN(test_map_matches_attributes);
    TEST_RUN(test_lookup);
    TEST_RUN(test_encode_16);
    TEST_RUN(test_encode_32);
    TEST_RUN(test_sentinels_and_zero);
    TEST_RUN(test_saturation);
    TEST_RUN(test_strings_and_decode);
    TEST_RUN(test_bad_maps);
    TEST_RUN(test_sheet_formats);
    TEST_RUN(test_default_path);
    return test_summary();
}
