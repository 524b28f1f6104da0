/* test_store: point states, TTL staleness, NaN refusal, prefixes, devices and concurrency. */
#include "core/store.h"
#include "core/util.h"
#include "test.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>

static void test_states(void)
{
    struct store *s = store_new(16, 4);
    int dev = store_device_add(s, "bmv", "vedirect");
    TEST_EQ_LONG(dev, 0);
    int v = store_point_define(s, dev, "bmv/Dc/0/Voltage", "V", 0);
    TEST_CHECK(v >= 0);
    struct point p;
    TEST_EQ_LONG(store_get(s, "bmv/Dc/0/Voltage", &p), 0);
    TEST_EQ_LONG(p.state, POINT_UNSET);
    TEST_EQ_LONG(store_set(s, v, 26.31), 0);
    store_get(s, "bmv/Dc/0/Voltage", &p);
    TEST_EQ_LONG(p.state, POINT_OK);
    TEST_NEAR(p.value, 26.31, 1e-12);
    TEST_STREQ(p.unit, "V");
    TEST_CHECK(p.wall_ms > 0);
    /* NaN and infinity are never stored: the old value stays. */
    TEST_EQ_LONG(store_set(s, v, NAN), -EINVAL);
    TEST_EQ_LONG(store_set(s, v, INFINITY), -EINVAL);
    store_get(s, "bmv/Dc/0/Voltage", &p);
    TEST_NEAR(p.value, 26.31, 1e-12);
    /* not available reads as na with value 0 never exposed as ok */
    TEST_EQ_LONG(store_set_na(s, v), 0);
    store_get(s, "bmv/Dc/0/Voltage", &p);
    TEST_EQ_LONG(p.state, POINT_NA);
    store_set(s, v, 25.0);
    store_device_stale(s, dev);
    store_get(s, "bmv/Dc/0/Voltage", &p);
    TEST_EQ_LONG(p.state, POINT_STALE);
    TEST_EQ_LONG(store_get(s, "bmv/nope", &p), -ENOENT);
    store_free(s);
}

static void test_ttl(void)
{
    struct store *s = store_new(4, 1);
    int id = store_point_define(s, -1, "x/a", "", 50);
    store_set(s, id, 1);
    struct point p;
    store_get(s, "x/a", &p);
    TEST_EQ_LONG(p.state, POINT_OK);
    util_sleep_ms(80);
    store_get(s, "x/a", &p);
    TEST_EQ_LONG(p.state, POINT_STALE);
    store_set(s, id, 2);
    store_get(s, "x/a", &p);
    TEST_EQ_LONG(p.state, POINT_OK);
    store_free(s);
}

static void test_define_and_prefix(void)
{
    struct store *s = store_new(3, 1);
    TEST_EQ_LONG(store_point_define(s, 0, "a/x", "V", 0), 0);
    TEST_EQ_LONG(store_point_define(s, 0, "a/x", "V", 0), 0); /* same key, same id */
    TEST_EQ_LONG(store_point_define(s, 0, "b/x", "A", 0), 1);
    TEST_EQ_LONG(store_point_define(s, 0, "ab/y", "A", 0), 2);
    TEST_EQ_LONG(store_point_define(s, 0, "c/z", "A", 0), -ENOSPC);
    TEST_EQ_LONG(store_point_define(s, 0, "", "A", 0), -EINVAL);
    TEST_EQ_LONG(store_point_define(s, 0, "bad key", "A", 0), -EINVAL);
    TEST_EQ_LONG(store_point_define(s, 0, "/lead", "A", 0), -EINVAL);
    struct point out[3];
    TEST_EQ_LONG(store_snapshot(s, "a/", out, 3), 1);
    TEST_STREQ(out[0].key, "a/x");
    TEST_EQ_LONG(store_snapshot(s, NULL, out, 3), 3);
    TEST_EQ_LONG(store_snapshot(s, "a", out, 1), 2); /* more than max: counted, not copied */
    TEST_EQ_LONG(store_point_count(s), 3);
    store_free(s);
}

static void test_devices(void)
{
    struct store *s = store_new(4, 3);
    int a = store_device_add(s, "mppt1", "vedirect");
    int b = store_device_add(s, "mppt2", "vedirect");
    int c = store_device_add(s, "bmv", "vedirect");
    TEST_EQ_LONG(store_device_add(s, "mppt1", "vedirect"), a);
    TEST_EQ_LONG(store_device_add(s, "extra", "vedirect"), -ENOSPC);
    store_device_set_service(s, a, "solarcharger", -1);
    store_device_set_service(s, b, "solarcharger", -1);
    store_device_set_service(s, c, "battery", -1);
    struct device_info d;
    store_device_get(s, a, &d);
    TEST_EQ_LONG(d.instance, 0);
    store_device_get(s, b, &d);
    TEST_EQ_LONG(d.instance, 1);
    store_device_get(s, c, &d);
    TEST_EQ_LONG(d.instance, 0);
    store_device_set_identity(s, a, 0xA056, "SmartSolar MPPT 100|30", "HQ123", "1.61");
    store_device_counter_add(s, a, DEV_CNT_FRAMES_OK, 3);
    store_device_counter_add(s, a, DEV_CNT_FRAMES_OK, 2);
    store_device_set_state(s, a, DEV_CONN_LOST, "unplugged");
    store_device_get(s, a, &d);
    TEST_EQ_LONG(d.product_id, 0xA056);
    TEST_STREQ(d.serial, "HQ123");
    TEST_EQ_LONG(d.counters[DEV_CNT_FRAMES_OK], 5);
    TEST_EQ_LONG(d.conn, DEV_CONN_LOST);
    TEST_STREQ(d.status, "unplugged");
    TEST_EQ_LONG(store_device_find(s, "bmv"), c);
    TEST_EQ_LONG(store_device_find(s, "zzz"), -ENOENT);
    TEST_EQ_LONG(store_device_get(s, 9, &d), -ENOENT);
    store_free(s);
}

struct writer_arg {
    struct store *s;
    int id;
};

static void *writer(void *arg)
{
    struct writer_arg *w = arg;
    for (int i = 0; i < 20000; i++)
        store_set(w->s, w->id, i);
    return NULL;
}

/* Two writers and a reader at once: the reader always sees whole, consistent points. */
static void test_concurrent(void)
{
    struct store *s = store_new(8, 1);
    struct writer_arg w[2] = {
        {s, store_point_define(s, 0, "a/x", "", 0)},
        {s, store_point_define(s, 0, "b/x", "", 0)}
    };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, writer, &w[i]);
    struct point out[8];
    bool sane = true;
    for (int i = 0; i < 2000; i++) {
        size_t n = store_snapshot(s, NULL, out, 8);
        for (size_t k = 0; k < n; k++)
            if (out[k].state == POINT_OK && (out[k].value < 0 || out[k].value >= 20000))
                sane = false;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    TEST_CHECK(sane);
    struct point p;
    store_get(s, "a/x", &p);
    TEST_NEAR(p.value, 19999, 0);
    store_free(s);
}

int main(void)
{
    TEST_RUN(test_states);
    TEST_RUN(test_ttl);
    TEST_RUN(test_define_and_prefix);
    TEST_RUN(test_devices);
    TEST_RUN(test_concurrent);
    return test_summary();
}
