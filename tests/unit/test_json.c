/* test_json: the streaming JSON writer and the points API built with it parse back (with jansson)
 * to exactly what the store holds. */
#include "core/api.h"
#include "core/json.h"
#include "core/store.h"
#include "core/util.h"
#include "test.h"

#include <jansson.h>
#include <math.h>

static const char *no_arg(void *req, const char *name)
{
    (void)req;
    (void)name;
    return NULL;
}

static void test_writer_escapes_and_numbers(void)
{
    struct json_buf b;
    json_buf_init(&b, 1);
    json_buf_raw(&b, "[");
    json_buf_str(&b, "a\"b\\c\n\x01 °C");
    json_buf_raw(&b, ",");
    json_buf_num(&b, 12);
    json_buf_raw(&b, ",");
    json_buf_num(&b, -0.1);
    json_buf_raw(&b, ",");
    json_buf_num(&b, 1e21);
    json_buf_raw(&b, ",");
    json_buf_num(&b, NAN);
    json_buf_raw(&b, ",");
    json_buf_int(&b, -1763700000123LL);
    json_buf_raw(&b, "]");
    size_t len;
    char *text = json_buf_take(&b, &len);
    TEST_EQ_LONG(len, strlen(text));
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    TEST_CHECK(doc != NULL);
    if (doc) {
        TEST_STREQ(json_string_value(json_array_get(doc, 0)), "a\"b\\c\n\x01 °C");
        TEST_CHECK(json_is_real(json_array_get(doc, 1)));
        TEST_NEAR(json_real_value(json_array_get(doc, 1)), 12, 0);
        TEST_NEAR(json_real_value(json_array_get(doc, 2)), -0.1, 0);
        TEST_NEAR(json_real_value(json_array_get(doc, 3)), 1e21, 0);
        TEST_CHECK(json_is_null(json_array_get(doc, 4)));
        TEST_EQ_LONG(json_integer_value(json_array_get(doc, 5)), -1763700000123LL);
    }
    json_decref(doc);
    free(text);
}

/* Numbers are written in the shortest form that reads back the same (issue 14): a device's
 * 25.284 is "25.284", never jansson's 25.283999999999999 nor a 10-digit cut. */
static void test_numbers_shortest(void)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {25284 / 1000.0,    "25.284"             },
        {13200 / 1000.0,    "13.2"               },
        {12,                "12.0"               },
        {-0.001,            "-0.001"             },
        {12345678.901,      "12345678.901"       },
        {0.1 + 0.2,         "0.30000000000000004"},
        {1e21,              "1e+21"              },
        {-5526294 / 1000.0, "-5526.294"          },
    };
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(cases); k++) {
        struct json_buf b;
        json_buf_init(&b, 1);
        json_buf_num(&b, cases[k].v);
        char *text = json_buf_take(&b, NULL);
        TEST_STREQ(text, cases[k].text);
        free(text);
        /* a jansson document: the same text, where json_dumps writes 17 digits */
        json_t *doc = json_pack("{s:f}", "value", cases[k].v);
        char want[64];
        snprintf(want, sizeof(want), "{\"value\":%s}", cases[k].text);
        text = json_dumps_exact(doc, JSON_COMPACT);
        TEST_STREQ(text, want);
        free(text);
        json_decref(doc);
    }
}

/* Apart from the reals, json_dumps_exact writes what json_dumps writes, in each layout. */
static void test_dumps_exact_layout(void)
{
    json_error_t e;
    json_t *doc = json_loads("{\"a\": [1, \"x\", true, false, null, {}, [], -7], \"b\": "
                             "{\"c\": \"d\\n\\u0001\\\"\\\\ \u00b0C\", \"e\": {\"f\": []}}, "
                             "\"g\": -1763700000123}",
                             0, &e);
    TEST_CHECK(doc != NULL);
    static const size_t flags[] = {0, JSON_COMPACT, JSON_INDENT(2), JSON_INDENT(4) | JSON_COMPACT};
    for (size_t k = 0; doc && k < UTIL_ARRAY_SIZE(flags); k++) {
        char *want = json_dumps(doc, flags[k]);
        char *got = json_dumps_exact(doc, flags[k]);
        TEST_STREQ(got, want);
        free(want);
        free(got);
    }
    json_decref(doc);
    TEST_CHECK(json_dumps_exact(NULL, 0) == NULL);
}

/* The points document equals the store, point by point, with null for anything not ok. */
static void test_points_document(void)
{
    struct store *s = store_new(64, 2);
    static const double values[] = {26.31, -7.625, 0, 1e-7, 123456789.0, -0.001, 1000};
    char key[64];
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(values); i++) {
        snprintf(key, sizeof(key), "bmv/P%zu", i);
        store_set(s, store_point_define(s, 0, key, "°C", 0), values[i]);
    }
    store_set_na(s, store_point_define(s, 0, "bmv/Na", "V", 0));
    store_point_define(s, 0, "bmv/Unset", "A", 0);
    int st = store_point_define(s, 1, "bmv/Stale", "A", 0);
    store_set(s, st, 5);
    store_device_stale(s, 1);
    struct api_ctx ctx;
    api_init(&ctx, s, "t");
    struct api_request r = {.method = "GET",
                            .path = "/api/v1/points",
                            .body = "",
                            .arg = no_arg,
                            .header = no_arg,
                            .from_loopback = true};
    struct api_reply out;
    api_handle(&ctx, &r, &out);
    TEST_EQ_LONG(out.status, 200);
    json_error_t e;
    json_t *doc = json_loadb(out.body, out.len, 0, &e);
    TEST_CHECK(doc != NULL);
    json_t *pts = json_object_get(doc, "points");
    TEST_EQ_LONG(json_object_size(pts), UTIL_ARRAY_SIZE(values) + 3);
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(values); i++) {
        snprintf(key, sizeof(key), "bmv/P%zu", i);
        json_t *p = json_object_get(pts, key);
        TEST_NEAR(json_number_value(json_object_get(p, "value")), values[i],
                  fabs(values[i]) * 1e-9);
        TEST_STREQ(json_string_value(json_object_get(p, "unit")), "°C");
        TEST_STREQ(json_string_value(json_object_get(p, "state")), "ok");
        TEST_CHECK(json_integer_value(json_object_get(p, "ts")) > 0);
    }
    static const char *const notok[][2] = {
        {"bmv/Na",    "na"   },
        {"bmv/Unset", "unset"},
        {"bmv/Stale", "stale"}
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(notok); i++) {
        json_t *p = json_object_get(pts, notok[i][0]);
        TEST_CHECK(json_is_null(json_object_get(p, "value")));
        TEST_STREQ(json_string_value(json_object_get(p, "state")), notok[i][1]);
    }
    TEST_CHECK(json_is_null(json_object_get(json_object_get(pts, "bmv/Unset"), "ts")));
    json_decref(doc);
    api_reply_free(&out);
    api_destroy(&ctx);
    store_free(s);
}

int main(void)
{
    TEST_RUN(test_writer_escapes_and_numbers);
    TEST_RUN(test_points_document);
    TEST_RUN(test_numbers_shortest);
    TEST_RUN(test_dumps_exact_layout);
    return test_summary();
}
