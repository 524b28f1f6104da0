/* test_sunspec_proto: the SunSpec model tables against the official JSON, the chain walker and
 * the decoders fed with the real SMA Sunny Boy 3.6 dump (and the FIMER one when present). */
#include "core/util.h"
#include "drivers/sunspec_proto.h"
#include "test.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>

static const char sma_dump[] = "sunspec/nielsbasjes_DeviceSMASunnyBoy36.txt";

static void load_image(const char *rel, struct sunspec_image *img)
{
    size_t len;
    unsigned char *text = test_read_testdata(rel, &len);
    TEST_EQ_LONG(sunspec_image_parse((const char *)text, len, img), 0);
    free(text);
}

/* The reference directory sits beside the testdata one. */
static json_t *load_model_json(uint16_t id)
{
    const char *root = getenv("SITEWATCH_TESTDATA");
    char path[512];
    snprintf(path, sizeof(path), "%s/../reference/sunspec-models/model_%u.json",
             root && *root ? root : "../shared/testdata", id);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) {
        printf("    cannot read %s: %s\n", path, err.text);
        exit(1);
    }
    return j;
}

static const char *const type_names[] = {
    [SUNSPEC_T_U16] = "uint16",      [SUNSPEC_T_I16] = "int16",       [SUNSPEC_T_ACC16] = "acc16",
    [SUNSPEC_T_ENUM16] = "enum16",   [SUNSPEC_T_BF16] = "bitfield16", [SUNSPEC_T_COUNT] = "count",
    [SUNSPEC_T_SF] = "sunssf",       [SUNSPEC_T_PAD] = "pad",         [SUNSPEC_T_U32] = "uint32",
    [SUNSPEC_T_I32] = "int32",       [SUNSPEC_T_ACC32] = "acc32",     [SUNSPEC_T_ENUM32] = "enum32",
    [SUNSPEC_T_BF32] = "bitfield32", [SUNSPEC_T_F32] = "float32",     [SUNSPEC_T_STR] = "string",
};

/* Checks a table against a JSON points array; returns the registers they span. */
static size_t check_points(const struct sunspec_point *pts, size_t n, json_t *jpts,
                           const struct sunspec_point *sf_pts, size_t nsf)
{
    TEST_EQ_LONG(n, json_array_size(jpts));
    size_t off = 0;
    for (size_t i = 0; i < n && i < json_array_size(jpts); i++) {
        json_t *p = json_array_get(jpts, i);
        TEST_STREQ(pts[i].name, json_string_value(json_object_get(p, "name")));
        TEST_EQ_LONG(pts[i].offset, off);
        TEST_EQ_LONG(pts[i].size, json_integer_value(json_object_get(p, "size")));
        TEST_STREQ(type_names[pts[i].type], json_string_value(json_object_get(p, "type")));
        const char *sf = json_string_value(json_object_get(p, "sf"));
        if (!sf) {
            TEST_EQ_LONG(pts[i].sf_offset, -1);
        } else {
            long want = -2;
            for (size_t k = 0; k < nsf; k++)
                if (strcmp(sf_pts[k].name, sf) == 0)
                    want = sf_pts[k].offset;
            TEST_EQ_LONG(pts[i].sf_offset, want);
        }
        off += (size_t)json_integer_value(json_object_get(p, "size"));
    }
    return off;
}

static void test_tables_match_json(void)
{
    TEST_CHECK(sunspec_layouts_len >= 11);
    for (size_t i = 0; i < sunspec_layouts_len; i++) {
        const struct sunspec_layout *l = &sunspec_layouts[i];
        json_t *j = load_model_json(l->id);
        TEST_EQ_LONG(l->id, json_integer_value(json_object_get(j, "id")));
        json_t *g = json_object_get(j, "group");
        TEST_STREQ(l->name, json_string_value(json_object_get(g, "name")));
        size_t fixed = check_points(l->points, l->npoints, json_object_get(g, "points"), l->points,
                                    l->npoints);
        TEST_EQ_LONG(l->fixed_len, fixed);
        json_t *groups = json_object_get(g, "groups");
        if (json_array_size(groups) > 0) {
            json_t *sub = json_array_get(groups, 0);
            size_t glen = check_points(l->group, l->ngroup, json_object_get(sub, "points"),
                                       l->points, l->npoints);
            TEST_EQ_LONG(l->group_len, glen);
        } else {
            TEST_CHECK(l->group == NULL && l->ngroup == 0);
        }
        json_decref(j);
    }
}

/* The dump's own header comment lists the chain as "(start, id, length)" tuples: an expectation
 * written by the dump's author, independent of our walker. */
static size_t header_chain(const char *rel, struct sunspec_model_ref *out, size_t max)
{
    size_t len;
    char *text = (char *)test_read_testdata(rel, &len);
    const char *p = strstr(text, "Model chain");
    size_t n = 0;
    while (p && (p = strchr(p, '(')) != NULL && n < max) {
        char *end;
        unsigned long a = strtoul(p + 1, &end, 10);
        unsigned long id = strtoul(end + 1, &end, 10);
        unsigned long l = strtoul(end + 1, &end, 10);
        if (*end != ')' || end == p + 1) { /* "(start address, model id, length)" */
            p++;
            continue;
        }
        out[n++] =
            (struct sunspec_model_ref){.id = (uint16_t)id, .len = (uint16_t)l, .addr = (uint32_t)a};
        p = end;
    }
    free(text);
    return n;
}

static void test_sma_chain(void)
{
    struct sunspec_image img;
    load_image(sma_dump, &img);
    struct sunspec_chain c;
    TEST_EQ_LONG(sunspec_walk(sunspec_image_read, &img, 40000, &c), 0);
    struct sunspec_model_ref want[SUNSPEC_CHAIN_MAX];
    size_t nw = header_chain(sma_dump, want, SUNSPEC_CHAIN_MAX);
    TEST_EQ_LONG(nw, 18);
    if (nw == 0)
        return;
    TEST_EQ_LONG(c.n + 1, nw); /* the header lists the end marker too */
    for (size_t i = 0; i < c.n && i < nw; i++) {
        TEST_EQ_LONG(c.m[i].id, want[i].id);
        TEST_EQ_LONG(c.m[i].len, want[i].len);
        TEST_EQ_LONG(c.m[i].addr, want[i].addr);
    }
    TEST_EQ_LONG(c.end, SUNSPEC_END_MARKER);
    TEST_EQ_LONG(want[nw - 1].id, 0xFFFF);
    /* no marker at 50000 nor 0 in this dump: out of the image */
    TEST_EQ_LONG(sunspec_walk(sunspec_image_read, &img, 0, &c), -ENXIO);
    /* not a marker: model 1's header */
    TEST_EQ_LONG(sunspec_walk(sunspec_image_read, &img, 40002, &c), -ENODEV);

    /* A read error in a header ends the chain there, keeping what was found (SMA answers the end
     * model with an error). */
    img.valid[40185 - img.base] = false; /* model 101's ID */
    TEST_EQ_LONG(sunspec_walk(sunspec_image_read, &img, 40000, &c), 0);
    TEST_EQ_LONG(c.n, 3);
    TEST_EQ_LONG(c.end, SUNSPEC_END_ERROR);
    img.valid[40002 - img.base] = false; /* the first header: nothing found, the error reported */
    TEST_EQ_LONG(sunspec_walk(sunspec_image_read, &img, 40000, &c), -EIO);
    sunspec_image_free(&img);
}

static const uint16_t *model_regs(const struct sunspec_image *img, const struct sunspec_chain *c,
                                  uint16_t id, size_t *n)
{
    const struct sunspec_model_ref *m = sunspec_chain_find(c, &id, 1);
    TEST_CHECK(m != NULL);
    if (!m)
        return NULL;
    *n = m->len + 2u;
    return img->regs + (m->addr - img->base);
}

static void test_sma_values(void)
{
    struct sunspec_image img;
    load_image(sma_dump, &img);
    struct sunspec_chain c;
    TEST_EQ_LONG(sunspec_walk(sunspec_image_read, &img, 40000, &c), 0);
    size_t n = 0;
    const uint16_t *r = model_regs(&img, &c, 1, &n);
    struct sunspec_common cm;
    TEST_EQ_LONG(sunspec_decode_common(r, n, &cm), 0);
    TEST_STREQ(cm.manufacturer, "SMA");
    TEST_STREQ(cm.model, "SB3.6-1AV-41");
    TEST_STREQ(cm.version, "4.00.75.R");
    TEST_STREQ(cm.serial, "3005067415");
    TEST_STREQ(cm.options, "");
    TEST_CHECK(isnan(cm.device_address)); /* DA = 0xFFFF on this SMA (protocols.md §4.4) */

    /* Model 101 @40185, decoded by hand from the layout: A 45 SF -1, PhVphA 2392 SF -1, W 108
     * SF 1, Hz 4998 SF -2, VA 109 SF 1, VAr 10 SF 1, PF 0xFC1C = -996 SF -3, WH 0x00211FAD SF 1,
     * DC values 0xFFFF/0x8000 with SF 0x8000, TmpCab 42 SF 0, St 4, StVnd 0xFFFF, Evt1 0. */
    r = model_regs(&img, &c, 101, &n);
    struct sunspec_inverter inv;
    TEST_EQ_LONG(sunspec_decode_inverter(101, r, n, &inv), 0);
    TEST_EQ_LONG(inv.phases, 1);
    TEST_NEAR(inv.a, 4.5, 1e-9);
    TEST_NEAR(inv.aph[0], 4.5, 1e-9);
    TEST_CHECK(isnan(inv.aph[1]) && isnan(inv.aph[2]));
    TEST_NEAR(inv.phv[0], 239.2, 1e-9);
    TEST_CHECK(isnan(inv.phv[1]) && isnan(inv.phv[2]));
    TEST_NEAR(inv.w, 1080, 1e-9);
    TEST_NEAR(inv.hz, 49.98, 1e-9);
    TEST_NEAR(inv.va, 1090, 1e-9);
    TEST_NEAR(inv.var, 100, 1e-9);
    TEST_NEAR(inv.pf, -0.996, 1e-12);
    TEST_NEAR(inv.wh, 21707970, 1e-6);
    TEST_CHECK(isnan(inv.dca) && isnan(inv.dcv) && isnan(inv.dcw));
    TEST_NEAR(inv.tmp_cab, 42, 0);
    TEST_NEAR(inv.st, SUNSPEC_ST_MPPT, 0);
    TEST_CHECK(isnan(inv.st_vnd));
    TEST_NEAR(inv.evt1, 0, 0);
    TEST_EQ_LONG(sunspec_status_code(inv.st), 11);
    TEST_CHECK(!sunspec_is_null_frame(&inv));

    r = model_regs(&img, &c, 120, &n);
    double wrtg;
    TEST_EQ_LONG(sunspec_decode_nameplate(r, n, &wrtg), 0);
    TEST_NEAR(wrtg, 3680, 1e-9);

    /* Model 160: DCA_SF -1, DCV_SF 0, DCW_SF 1, N 6; modules 1/2 21 → 2.1 A, 322 V, 67 → 670 W
     * and 2.1 A, 224 V, 480 W; modules 3-6 0xFFFF; DCSt 0xFFFF everywhere. */
    r = model_regs(&img, &c, 160, &n);
    struct sunspec_mppt mp;
    TEST_EQ_LONG(sunspec_decode_mppt(r, n, &mp), 0);
    TEST_EQ_LONG(mp.n, 6);
    TEST_NEAR(mp.mod[0].a, 2.1, 1e-9);
    TEST_NEAR(mp.mod[0].v, 322, 1e-9);
    TEST_NEAR(mp.mod[0].w, 670, 1e-9);
    TEST_NEAR(mp.mod[1].a, 2.1, 1e-9);
    TEST_NEAR(mp.mod[1].v, 224, 1e-9);
    TEST_NEAR(mp.mod[1].w, 480, 1e-9);
    for (size_t i = 2; i < 6; i++)
        TEST_CHECK(isnan(mp.mod[i].a) && isnan(mp.mod[i].v) && isnan(mp.mod[i].w));
    TEST_CHECK(isnan(mp.mod[0].st));
    double v;
    /* DCWH: acc32 0 and SF 0x8000: not available either way */
    TEST_EQ_LONG(sunspec_group_value(sunspec_layout_find(160), r, n, 0, "DCWH", &v), 0);
    /* a model cut short by the device: points past its length are out of range */
    TEST_EQ_LONG(sunspec_value(sunspec_layout_find(101), r, 10, "W", &v), -ERANGE);
    TEST_EQ_LONG(sunspec_value(sunspec_layout_find(101), r, 60, "Nope", &v), -ENOENT);
    sunspec_image_free(&img);
}

static void test_fimer_if_present(void)
{
    const char *root = getenv("SITEWATCH_TESTDATA");
    char path[512];
    snprintf(path, sizeof(path), "%s/sunspec/nielsbasjes_DeviceOther.txt",
             root && *root ? root : "../shared/testdata");
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("    (FIMER dump not in testdata: skipped)\n");
        return;
    }
    fclose(f);
    struct sunspec_image img;
    load_image("sunspec/nielsbasjes_DeviceOther.txt", &img);
    struct sunspec_chain c;
    TEST_EQ_LONG(sunspec_walk(sunspec_image_read, &img, 40000, &c), 0);
    struct sunspec_model_ref want[SUNSPEC_CHAIN_MAX];
    size_t nw = header_chain("sunspec/nielsbasjes_DeviceOther.txt", want, SUNSPEC_CHAIN_MAX);
    TEST_EQ_LONG(c.n + 1, nw);
    for (size_t i = 0; i < c.n && i < nw; i++)
        TEST_EQ_LONG(c.m[i].id, want[i].id);
    size_t n = 0;
    const uint16_t *r = model_regs(&img, &c, 103, &n);
    struct sunspec_inverter inv;
    TEST_EQ_LONG(sunspec_decode_inverter(103, r, n, &inv), 0);
    TEST_EQ_LONG(inv.phases, 3);
    TEST_NEAR(inv.w, 141380, 1);
    for (size_t i = 0; i < 3; i++)
        TEST_NEAR(inv.phv[i], 442, 10);
    r = model_regs(&img, &c, 160, &n);
    struct sunspec_mppt mp;
    TEST_EQ_LONG(sunspec_decode_mppt(r, n, &mp), 0);
    TEST_EQ_LONG(mp.n, 12);
    sunspec_image_free(&img);
}

/* Every type's "not implemented" sentinel, and a scale factor of 0x8000. */
static void test_sentinels(void)
{
    uint16_t r[62] = {101, 50};
    const struct sunspec_layout *l = sunspec_layout_find(101);
    double v;
    r[14] = 0x8000; /* W int16 */
    TEST_EQ_LONG(sunspec_value(l, r, 52, "W", &v), 0);
    r[14] = 100;
    r[15] = 0x8000; /* W_SF */
    TEST_EQ_LONG(sunspec_value(l, r, 52, "W", &v), 0);
    r[15] = 0xFFFE; /* -2 */
    TEST_EQ_LONG(sunspec_value(l, r, 52, "W", &v), 1);
    TEST_NEAR(v, 1.0, 1e-12);
    r[16] = 0xFFFF; /* Hz uint16 */
    TEST_EQ_LONG(sunspec_value(l, r, 52, "Hz", &v), 0);
    TEST_EQ_LONG(sunspec_value(l, r, 52, "WH", &v), 0); /* acc32 0 */
    r[25] = 5;
    TEST_EQ_LONG(sunspec_value(l, r, 52, "WH", &v), 1);
    TEST_NEAR(v, 5, 0);
    r[38] = 0xFFFF; /* St enum16 */
    TEST_EQ_LONG(sunspec_value(l, r, 52, "St", &v), 0);
    r[40] = r[41] = 0xFFFF; /* Evt1 bitfield32 */
    TEST_EQ_LONG(sunspec_value(l, r, 52, "Evt1", &v), 0);

    /* float model: NaN = not implemented; high word first */
    uint16_t f[62] = {111, 60};
    l = sunspec_layout_find(111);
    f[22] = 0x7FC0; /* W = NaN */
    TEST_EQ_LONG(sunspec_value(l, f, 62, "W", &v), 0);
    f[22] = 0x4496; /* 1200.0f = 0x44960000 */
    f[23] = 0x0000;
    TEST_EQ_LONG(sunspec_value(l, f, 62, "W", &v), 1);
    TEST_NEAR(v, 1200, 0);
    char s[8];
    uint16_t cm[68] = {1, 66};
    TEST_EQ_LONG(sunspec_string(sunspec_layout_find(1), cm, 68, "Mn", s, sizeof(s)), 0);
    TEST_STREQ(s, ""); /* all 0x0000 */
    cm[2] = 0x4672;    /* "Fronius" truncated to the buffer */
    cm[3] = 0x6F6E;
    cm[4] = 0x6975;
    cm[5] = 0x7300;
    TEST_EQ_LONG(sunspec_string(sunspec_layout_find(1), cm, 68, "Mn", s, sizeof(s)), 0);
    TEST_STREQ(s, "Fronius");
}

/* Fronius: model 1 with L = 65, a float inverter with the night null frame. */
static void test_fronius_chain_and_null_frame(void)
{
    uint16_t regs[2 + 67 + 62 + 2] = {SUNSPEC_MARKER_HI, SUNSPEC_MARKER_LO, 1, 65};
    uint16_t *inv = regs + 2 + 67;
    inv[0] = 113;
    inv[1] = 60;
    inv[48] = SUNSPEC_ST_FAULT; /* everything else 0: the null frame */
    inv[62] = 0xFFFF;
    bool valid[UTIL_ARRAY_SIZE(regs)];
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(valid); i++)
        valid[i] = true;
    struct sunspec_image img = {
        .base = 40000, .n = UTIL_ARRAY_SIZE(regs), .regs = regs, .valid = valid};
    struct sunspec_chain c;
    TEST_EQ_LONG(sunspec_walk(sunspec_image_read, &img, 40000, &c), 0);
    TEST_EQ_LONG(c.n, 2);
    TEST_EQ_LONG(c.m[1].id, 113);
    TEST_EQ_LONG(c.m[1].addr, 40069); /* doc register 40070 (protocols.md §4.2) */
    struct sunspec_inverter v;
    TEST_EQ_LONG(sunspec_decode_inverter(113, inv, 62, &v), 0);
    TEST_EQ_LONG(v.phases, 3);
    TEST_CHECK(sunspec_is_null_frame(&v));
    inv[16] = 0x4370; /* PhVphA (offset 16) 240.0f: a real fault, not a null frame */
    TEST_EQ_LONG(sunspec_decode_inverter(113, inv, 62, &v), 0);
    TEST_CHECK(!sunspec_is_null_frame(&v));
    TEST_NEAR(v.phv[0], 240, 0);
    TEST_EQ_LONG(sunspec_decode_inverter(120, inv, 62, &v), -EINVAL);
}

/* Meters 203 (int+SF) and 213 (float), registers set by hand from the model layouts. */
static void test_meters(void)
{
    uint16_t m[107] = {203, 105};
    m[2] = 1234;    /* A */
    m[6] = 0xFFFE;  /* A_SF -2 */
    m[8] = 2301;    /* PhVphA */
    m[9] = 0x8000;  /* PhVphB not implemented */
    m[15] = 0xFFFF; /* V_SF -1 */
    m[16] = 5002;
    m[17] = 0xFFFE;
    m[18] = 0xFF38; /* W = -200 (exporting) */
    m[19] = 0xFF38;
    m[22] = 0;      /* W_SF */
    m[38] = 0x0001; /* TotWhExp 0x00010000 = 65536 */
    m[46] = 0;      /* TotWhImp acc32 0: not implemented */
    m[47] = 0;
    m[54] = 1; /* TotWh_SF */
    struct sunspec_meter v;
    TEST_EQ_LONG(sunspec_decode_meter(203, m, 107, &v), 0);
    TEST_NEAR(v.a, 12.34, 1e-9);
    TEST_NEAR(v.phv[0], 230.1, 1e-9);
    TEST_CHECK(isnan(v.phv[1]));
    TEST_NEAR(v.hz, 50.02, 1e-9);
    TEST_NEAR(v.w, -200, 0);
    TEST_NEAR(v.wph[0], -200, 0);
    TEST_NEAR(v.exp_wh, 655360, 0);
    TEST_CHECK(isnan(v.imp_wh));
    uint16_t f[126] = {213, 124};
    f[28] = 0xC348; /* W = -200.0f */
    f[68] = 0x4780; /* TotWhImp = 65536.0f */
    f[12] = 0x7FC0; /* PhVphA NaN */
    TEST_EQ_LONG(sunspec_decode_meter(213, f, 126, &v), 0);
    TEST_NEAR(v.w, -200, 0);
    TEST_NEAR(v.imp_wh, 65536, 0);
    TEST_CHECK(isnan(v.phv[0]));
    TEST_EQ_LONG(sunspec_decode_meter(101, f, 126, &v), -EINVAL);
}

static void test_image_parse_errors(void)
{
    struct sunspec_image img;
    static const char gap[] = "40000 5375 x\n40002 6E53 y\n";
    TEST_EQ_LONG(sunspec_image_parse(gap, sizeof(gap) - 1, &img), -EINVAL);
    static const char badhex[] = "40000 53G5 x\n";
    TEST_EQ_LONG(sunspec_image_parse(badhex, sizeof(badhex) - 1, &img), -EINVAL);
    static const char ok[] = "# c\n40000 5375 1\n40001 ---- ----\n";
    TEST_EQ_LONG(sunspec_image_parse(ok, sizeof(ok) - 1, &img), 0);
    TEST_EQ_LONG(img.n, 2);
    uint16_t r[2];
    TEST_EQ_LONG(sunspec_image_read(&img, 40000, 2, r), -EIO);
    TEST_EQ_LONG(sunspec_image_read(&img, 40000, 1, r), 0);
    TEST_EQ_LONG(sunspec_image_read(&img, 40001, 2, r), -ENXIO);
    sunspec_image_free(&img);
}

int main(void)
{
    TEST_RUN(test_tables_match_json);
    TEST_RUN(test_sma_chain);
    TEST_RUN(test_sma_values);
    TEST_RUN(test_fimer_if_present);
    TEST_RUN(test_sentinels);
    TEST_RUN(test_fronius_chain_and_null_frame);
    TEST_RUN(test_meters);
    TEST_RUN(test_image_parse_errors);
    return test_summary();
}
