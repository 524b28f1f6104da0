/* test_battery: a [battery NAME] monitor over a store the test fills: published Venus paths,
 * persistence after a simulated crash (state file written, process state discarded, reload), a
 * wall-clock step (no SoC or cycle jump), stale inputs → stale outputs, a corrupt state file, the
 * sum of currents, and config errors with file:line. */
#include "battery/battery.h"
#include "core/conf.h"
#include "core/store.h"
#include "core/util.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct fixture {
    char dir[64];
    struct conf *conf;
    struct store *store;
    int v, i, i2;
};

static void setup(struct fixture *f, const char *extra)
{
    util_strlcpy(f->dir, "/tmp/test_battery_XXXXXX", sizeof(f->dir));
    TEST_CHECK(mkdtemp(f->dir) != NULL);
    char text[2048], err[512];
    snprintf(text, sizeof(text),
             "[daemon]\nstate_dir = %s\n[battery house]\ncurrent = bmv/Dc/0/Current%s\n"
             "voltage = bmv/Dc/0/Voltage\ncapacity = 100\nsave_interval = 1m\n",
             f->dir, extra);
    f->conf = NULL;
    TEST_EQ_LONG(conf_parse_string("test.conf", text, &f->conf, err, sizeof(err)), 0);
    f->store = store_new(512, 16);
    int dev = store_device_add(f->store, "bmv", "vedirect");
    f->v = store_point_define(f->store, dev, "bmv/Dc/0/Voltage", "V", 0);
    f->i = store_point_define(f->store, dev, "bmv/Dc/0/Current", "A", 0);
    int dev2 = store_device_add(f->store, "mppt", "vedirect");
    f->i2 = store_point_define(f->store, dev2, "mppt/Dc/0/Current", "A", 0);
}

static void teardown(struct fixture *f)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/battery-house.json", f->dir);
    unlink(path);
    rmdir(f->dir);
    store_free(f->store);
    conf_free(f->conf);
}

static double value(struct store *s, const char *key, enum point_state *st)
{
    struct point p;
    if (st)
        *st = POINT_UNSET;
    if (store_get(s, key, &p) != 0)
        return -1e9;
    if (st)
        *st = p.state;
    return p.value;
}

/* n one-second ticks from *mono at v, i. */
static void ticks(struct fixture *f, struct battery *b, int64_t *mono, int n, double v, double i)
{
    for (int k = 0; k < n; k++) {
        store_set(f->store, f->v, v);
        store_set(f->store, f->i, i);
        *mono += 1000;
        battery_tick(b, *mono);
    }
}

static void test_publish_and_crash_restore(void)
{
    struct fixture f;
    setup(&f, "");
    const struct conf_section *sec = conf_section_nth(f.conf, "battery", 0);
    struct battery *b = battery_new(f.store, sec, f.dir);
    TEST_CHECK(b != NULL);
    int64_t mono = 1000000;
    ticks(&f, b, &mono, 1800, 12.4, -10); /* 30 min at 10 A: 5 Ah, Peukert-weighted more */
    enum point_state st = POINT_UNSET;
    double soc = value(f.store, "house/Soc", &st);
    TEST_EQ_LONG(st, POINT_OK);
    TEST_NEAR(soc, 100 - 5 * pow(10.0 / 5.0, 0.25), 0.01);
    TEST_NEAR(value(f.store, "house/ConsumedAmphours", NULL), -5, 0.01);
    TEST_NEAR(value(f.store, "house/Dc/0/Power", NULL), -124, 1e-9);
    TEST_NEAR(value(f.store, "house/History/TotalAhDrawn", NULL), -5, 0.01);
    TEST_NEAR(value(f.store, "house/History/EquivalentCycles", NULL), 0.05, 1e-4);
    TEST_CHECK(value(f.store, "house/TimeToGo", &st) > 0 && st == POINT_OK);
    TEST_NEAR(value(f.store, "house/Settings/PeukertExponent", NULL), 1.25, 1e-12);
    TEST_NEAR(value(f.store, "house/Settings/ChargeEfficiency", NULL), 95, 1e-9);
    TEST_NEAR(value(f.store, "house/Settings/ChargedDetectionTime", NULL), 180, 1e-9);
    value(f.store, "house/Info/BatteryLowVoltage", &st);
    TEST_EQ_LONG(st, POINT_NA);
    TEST_CHECK(value(f.store, "house/History/Rainflow/Bin0", &st) >= 0 && st == POINT_OK);

    /* The state file is written every minute; 50 s after the last write the process "crashes":
     * the in-memory state is dropped without a save (no battery_free). */
    ticks(&f, b, &mono, 20, 12.4, -10);
    char path[128];
    snprintf(path, sizeof(path), "%s/battery-house.json", f.dir);
    TEST_EQ_LONG(access(path, R_OK), 0);
    double soc_at_save;
    {
        char *text;
        size_t len;
        TEST_EQ_LONG(util_read_file(path, 1 << 20, &text, &len), 0);
        json_t *doc = json_loads(text, 0, NULL);
        free(text);
        soc_at_save = json_number_value(json_object_get(json_object_get(doc, "soc"), "soc_pct"));
        json_decref(doc);
    }
    TEST_CHECK(soc_at_save < soc && soc_at_save > soc - 0.2);
    double soc_before_crash = battery_soc(b)->soc_pct;
    /* a leak is the price of a crash: free by hand without saving */
    free((void *)b);

    struct store *old = f.store;
    f.store = store_new(512, 16);
    int dev = store_device_add(f.store, "bmv", "vedirect");
    f.v = store_point_define(f.store, dev, "bmv/Dc/0/Voltage", "V", 0);
    f.i = store_point_define(f.store, dev, "bmv/Dc/0/Current", "A", 0);
    store_free(old);
    b = battery_new(f.store, sec, f.dir);
    TEST_NEAR(battery_soc(b)->soc_pct, soc_at_save, 1e-9); /* resumes from the last save */
    TEST_CHECK(fabs(battery_soc(b)->soc_pct - soc_before_crash) < 0.1); /* no jump */
    int64_t mono2 = 5000; /* a new process: its monotonic clock starts anywhere */
    ticks(&f, b, &mono2, 10, 12.4, -10);
    TEST_CHECK(fabs(value(f.store, "house/Soc", NULL) - soc_at_save) < 0.05);
    TEST_NEAR(value(f.store, "house/History/TotalAhDrawn", NULL), -(5 + 10 / 360.0 * 1.0), 0.05);
    battery_free(b); /* a clean stop saves */
    teardown(&f);
}

/* The wall clock jumps a day forward and back (NTP): integration runs on the monotonic clock
 * only, so SoC, Ah and cycles are exactly those of a run without the jump. */
static void test_clock_step(void)
{
    struct fixture f;
    setup(&f, "");
    const struct conf_section *sec = conf_section_nth(f.conf, "battery", 0);
    struct battery *b = battery_new(f.store, sec, f.dir);
    int64_t mono = 1000;
    ticks(&f, b, &mono, 600, 12.4, -20);
    double before = battery_soc(b)->soc_pct;
    unsigned cycles_before = 0;
    /* nothing in battery_tick reads CLOCK_REALTIME: a wall step is invisible. The monotonic
     * clock never steps; a suspend-sized monotonic gap is capped (5 s), not integrated. */
    ticks(&f, b, &mono, 1, 12.4, -20);
    double one = before - battery_soc(b)->soc_pct;
    mono += 86400000; /* a day without ticks (suspend) */
    ticks(&f, b, &mono, 1, 12.4, -20);
    double after_gap = battery_soc(b)->soc_pct;
    TEST_CHECK(before - after_gap < 6 * one + 1e-9);
    TEST_EQ_LONG(value(f.store, "house/History/ChargeCycles", NULL), cycles_before);
    battery_free(b);
    teardown(&f);
}

static void test_stale_inputs(void)
{
    struct fixture f;
    setup(&f, " + mppt/Dc/0/Current");
    const struct conf_section *sec = conf_section_nth(f.conf, "battery", 0);
    struct battery *b = battery_new(f.store, sec, f.dir);
    int64_t mono = 1000;
    store_set(f.store, f.i2, 4);
    ticks(&f, b, &mono, 60, 12.6, -10); /* shunt -10 A + MPPT 4 A = -6 A */
    enum point_state st = POINT_UNSET;
    TEST_NEAR(value(f.store, "house/Dc/0/Current", &st), -6, 1e-9);
    TEST_EQ_LONG(st, POINT_OK);
    double soc = battery_soc(b)->soc_pct;
    /* the MPPT is lost: no integration, every published value stale */
    store_device_stale(f.store, store_device_find(f.store, "mppt"));
    ticks(&f, b, &mono, 30, 12.6, -10);
    value(f.store, "house/Soc", &st);
    TEST_EQ_LONG(st, POINT_STALE);
    value(f.store, "house/Dc/0/Current", &st);
    TEST_EQ_LONG(st, POINT_STALE);
    TEST_NEAR(battery_soc(b)->soc_pct, soc, 1e-12);
    struct device_info di;
    store_device_get(f.store, store_device_find(f.store, "house"), &di);
    TEST_EQ_LONG(di.conn, DEV_CONN_LOST);
    TEST_STREQ(di.service, "battery");
    /* back: counting resumes from the next tick, not across the gap */
    store_set(f.store, f.i2, 4);
    ticks(&f, b, &mono, 2, 12.6, -10);
    value(f.store, "house/Soc", &st);
    TEST_EQ_LONG(st, POINT_OK);
    TEST_CHECK(soc - battery_soc(b)->soc_pct < 0.01);
    battery_free(b);
    teardown(&f);
}

static void test_corrupt_state_file(void)
{
    struct fixture f;
    setup(&f, "\nstart_soc = 70");
    char path[128];
    snprintf(path, sizeof(path), "%s/battery-house.json", f.dir);
    static const char junk[] = "{\"soc\": {\"soc_pct\": \"lots\"";
    TEST_EQ_LONG(util_write_atomic(path, junk, sizeof(junk) - 1), 0);
    struct battery *b = battery_new(f.store, conf_section_nth(f.conf, "battery", 0), f.dir);
    TEST_CHECK(b != NULL);
    TEST_NEAR(battery_soc(b)->soc_pct, 70, 1e-9); /* warning + defaults */
    battery_free(b);
    teardown(&f);
}

static void test_config_errors(void)
{
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"[battery b]\ncurrent = x/I\nvoltage = x/V\ncapacity = 100\nchemistry = nicd\n",
         "t.conf:5: chemistry = nicd"                                                                        },
        {"[battery b]\ncurrent = x/I +\nvoltage = x/V\ncapacity = 100\n",                 "t.conf:2: current"},
        {"[battery b]\ncurrent = x/I\nvoltage = x/V\ncapacity = 100\npeukert = 2\n",
         "t.conf:5: peukert = 2"                                                                             },
        {"[battery b]\ncurrent = x/I\nvoltage = x/V\n",                                   "capacity"         },
        {"[battery b]\ncurrent = x/I\nvoltage = x/V\ncapacity = 100\ntail = 3\n",         "t.conf:5"         },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct conf *c = NULL;
        char err[512] = "";
        TEST_CHECK(conf_parse_string("t.conf", cases[k].text, &c, err, sizeof(err)) < 0);
        if (!strstr(err, cases[k].msg))
            printf("    case %zu: %s\n", k, err);
        TEST_CHECK(strstr(err, cases[k].msg) != NULL);
        conf_free(c);
    }
    struct conf *c = NULL;
    char err[512];
    TEST_EQ_LONG(conf_parse_string("t.conf",
                                   "[battery b]\ncurrent = a/I + c/I - d/I\nvoltage = x/V\n"
                                   "capacity = 200\nchemistry = lifepo4\nnominal_voltage = 24\n",
                                   &c, err, sizeof(err)),
                 0);
    struct soc_params p;
    battery_params_from_conf(conf_section_nth(c, "battery", 0), &p);
    TEST_NEAR(p.peukert, 1.05, 1e-9);
    TEST_NEAR(p.charge_efficiency, 0.99, 1e-9);
    TEST_NEAR(p.charged_voltage, 27.6, 1e-9);
    TEST_NEAR(p.capacity_ah, 200, 1e-9);
    conf_free(c);
}

int main(void)
{
    TEST_RUN(test_publish_and_crash_restore);
    TEST_RUN(test_clock_step);
    TEST_RUN(test_stale_inputs);
    TEST_RUN(test_corrupt_state_file);
    TEST_RUN(test_config_errors);
    return test_summary();
}
