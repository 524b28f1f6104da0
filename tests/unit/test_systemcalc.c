/* test_systemcalc: the GX system values over a store the test fills with battery, solar charger,
 * VE.Bus, PV inverter and grid points: copies from the battery monitor, the battery-service
 * choice (auto, none, a name), PV and consumption sums by /Position, and stale inputs giving stale
 * outputs, never a partial sum. */
#include "core/conf.h"
#include "core/store.h"
#include "core/util.h"
#include "system/systemcalc.h"
#include "test.h"

#include <stdio.h>

struct site {
    struct store *s;
};

static int dev(struct store *s, const char *name, const char *service)
{
    int d = store_device_add(s, name, "test");
    store_device_set_service(s, d, service, -1);
    return d;
}

static int put(struct store *s, int d, const char *key, double v)
{
    int id = store_point_define(s, d, key, "", 0);
    store_set(s, id, v);
    return id;
}

static double val(struct store *s, const char *key, enum point_state *st)
{
    struct point p;
    if (store_get(s, key, &p) != 0) {
        *st = POINT_UNSET;
        return 0;
    }
    *st = p.state;
    return p.value;
}

#define EXPECT_OK(s, key, v)                                                                       \
    do {                                                                                           \
        enum point_state st_;                                                                      \
        double x_ = val(s, key, &st_);                                                             \
        TEST_EQ_LONG(st_, POINT_OK);                                                               \
        TEST_NEAR(x_, v, 1e-6);                                                                    \
    } while (0)
#define EXPECT_STATE(s, key, state)                                                                \
    do {                                                                                           \
        enum point_state st_;                                                                      \
        val(s, key, &st_);                                                                         \
        TEST_EQ_LONG(st_, state);                                                                  \
    } while (0)

static struct conf *parse(const char *text)
{
    struct conf *c = NULL;
    char err[512];
    if (conf_parse_string("t.conf", text, &c, err, sizeof(err)) != 0)
        printf("    %s\n", err);
    return c;
}

/* A BMV, two MPPTs (one with a load output), a Multi, two PV inverters (AC-out and AC-in1) and a
 * grid meter. */
static void test_full_site(void)
{
    struct store *s = store_new(512, 16);
    int bmv = dev(s, "bmv", "battery");
    put(s, bmv, "bmv/Dc/0/Voltage", 26.0);
    put(s, bmv, "bmv/Dc/0/Current", -12.0);
    put(s, bmv, "bmv/Dc/0/Power", -312);
    put(s, bmv, "bmv/Soc", 87.5);
    put(s, bmv, "bmv/ConsumedAmphours", -25.0);
    int ttg = store_point_define(s, bmv, "bmv/TimeToGo", "s", 0);
    store_set_na(s, ttg); /* infinite */
    int m1 = dev(s, "mppt1", "solarcharger");
    put(s, m1, "mppt1/Dc/0/Voltage", 26.2);
    put(s, m1, "mppt1/Dc/0/Current", 10.0);
    put(s, m1, "mppt1/Load/I", 2.0);
    int m2 = dev(s, "mppt2", "solarcharger");
    int m2v = put(s, m2, "mppt2/Dc/0/Voltage", 26.0);
    int m2i = put(s, m2, "mppt2/Dc/0/Current", 5.0);
    int vb = dev(s, "multi", "vebus");
    put(s, vb, "multi/Dc/0/Voltage", 26.0);
    put(s, vb, "multi/Dc/0/Current", -20.0);
    put(s, vb, "multi/Ac/ActiveIn/ActiveInput", 0);
    put(s, vb, "multi/Ac/ActiveIn/L1/P", 300);
    put(s, vb, "multi/Ac/Out/L1/P", 800);
    put(s, vb, "multi/State", 9);
    int pv1 = dev(s, "fronius", "pvinverter");
    put(s, pv1, "fronius/Position", 1);
    put(s, pv1, "fronius/Ac/L1/Power", 500);
    int pv2 = dev(s, "roof", "pvinverter");
    put(s, pv2, "roof/Position", 0);
    int roof = put(s, pv2, "roof/Ac/L1/Power", 200);
    int g = dev(s, "meter", "grid");
    put(s, g, "meter/Ac/L1/Power", 400);

    struct systemcalc *sc = systemcalc_new(s, NULL, 0);
    systemcalc_update(sc);
    TEST_STREQ(systemcalc_battery_device(sc), "bmv");
    EXPECT_OK(s, "system/Dc/Battery/Voltage", 26.0);
    EXPECT_OK(s, "system/Dc/Battery/Current", -12.0);
    EXPECT_OK(s, "system/Dc/Battery/Power", -312);
    EXPECT_OK(s, "system/Dc/Battery/Soc", 87.5);
    EXPECT_OK(s, "system/Dc/Battery/ConsumedAmphours", -25);
    EXPECT_STATE(s, "system/Dc/Battery/TimeToGo", POINT_NA);
    EXPECT_OK(s, "system/Dc/Battery/State", 2); /* discharging: P < -30 W */
    /* PV: Σ V·(I + load I) = 26.2·12 + 26·5 */
    EXPECT_OK(s, "system/Dc/Pv/Power", 26.2 * 12 + 26.0 * 5);
    EXPECT_OK(s, "system/Dc/Pv/Current", 17);
    EXPECT_OK(s, "system/Dc/Vebus/Current", -20);
    EXPECT_OK(s, "system/Dc/Vebus/Power", -520);
    EXPECT_STATE(s, "system/Dc/Charger/Power", POINT_NA); /* no charger */
    EXPECT_STATE(s, "system/Dc/System/Power", POINT_NA);  /* has_dc_system = no, no meter */
    EXPECT_OK(s, "system/Ac/PvOnOutput/L1/Power", 500);
    EXPECT_OK(s, "system/Ac/PvOnGrid/L1/Power", 200);
    EXPECT_STATE(s, "system/Ac/PvOnGenset/L1/Power", POINT_NA);
    EXPECT_OK(s, "system/Ac/Grid/L1/Power", 400);
    /* on input: max(0, 400 − 300 + 200) = 300; on output: 500 + 800 = 1300 */
    EXPECT_OK(s, "system/Ac/ConsumptionOnInput/L1/Power", 300);
    EXPECT_OK(s, "system/Ac/ConsumptionOnOutput/L1/Power", 1300);
    EXPECT_OK(s, "system/Ac/Consumption/L1/Power", 1600);
    EXPECT_STATE(s, "system/Ac/Consumption/L2/Power", POINT_NA);
    EXPECT_OK(s, "system/Ac/ActiveIn/Source", 1); /* AC-in1 = grid */

    /* A stale input makes every value built on it stale, not a smaller sum. */
    store_device_stale(s, m2);
    store_set(s, roof, 250);
    systemcalc_free(sc);
    sc = systemcalc_new(s, NULL, 50); /* outputs not rewritten go stale after 50 ms */
    systemcalc_update(sc);
    util_sleep_ms(80);
    systemcalc_update(sc);
    EXPECT_STATE(s, "system/Dc/Pv/Power", POINT_STALE);
    EXPECT_STATE(s, "system/Dc/Pv/Current", POINT_STALE);
    EXPECT_OK(s, "system/Dc/Battery/Soc", 87.5); /* not built on the MPPT */
    EXPECT_OK(s, "system/Ac/PvOnGrid/L1/Power", 250);
    store_set(s, m2v, 26.0);
    store_set(s, m2i, 6.0);
    systemcalc_update(sc);
    EXPECT_OK(s, "system/Dc/Pv/Current", 18);
    /* the battery monitor lost: the copies go stale too */
    store_device_stale(s, bmv);
    util_sleep_ms(80);
    systemcalc_update(sc);
    EXPECT_STATE(s, "system/Dc/Battery/Soc", POINT_STALE);
    EXPECT_STATE(s, "system/Dc/Battery/Voltage", POINT_STALE);
    EXPECT_STATE(s, "system/Dc/Battery/Power", POINT_STALE);
    systemcalc_free(sc);
    store_free(s);
}

/* No battery monitor: P_batt = P_solar + P_vebus, I = P / V, voltage from VE.Bus; a named
 * battery service; battery_service = none; has_dc_system. */
static void test_battery_service_choice(void)
{
    struct store *s = store_new(256, 16);
    int m1 = dev(s, "mppt1", "solarcharger");
    put(s, m1, "mppt1/Dc/0/Voltage", 25.0);
    put(s, m1, "mppt1/Dc/0/Current", 8.0);
    int vb = dev(s, "multi", "vebus");
    put(s, vb, "multi/Dc/0/Voltage", 25.0);
    put(s, vb, "multi/Dc/0/Current", -10.0);
    put(s, vb, "multi/Soc", 66);
    struct systemcalc *sc = systemcalc_new(s, NULL, 0);
    systemcalc_update(sc);
    /* auto with a solar charger present does not pick the Multi (not a hub-2 system) */
    TEST_STREQ(systemcalc_battery_device(sc), "");
    EXPECT_OK(s, "system/Dc/Battery/Voltage", 25.0);
    EXPECT_OK(s, "system/Dc/Battery/Power", 200 - 250);
    EXPECT_OK(s, "system/Dc/Battery/Current", -2.0);
    EXPECT_OK(s, "system/Dc/Battery/State", 2);
    EXPECT_STATE(s, "system/Dc/Battery/Soc", POINT_NA);
    systemcalc_free(sc);

    struct conf *c = parse("[system]\nbattery_service = multi\n");
    sc = systemcalc_new(s, conf_section_nth(c, "system", 0), 0);
    systemcalc_update(sc);
    TEST_STREQ(systemcalc_battery_device(sc), "multi");
    EXPECT_OK(s, "system/Dc/Battery/Soc", 66);
    EXPECT_OK(s, "system/Dc/Battery/Power", -50);
    systemcalc_free(sc);
    conf_free(c);

    /* an engine battery and has_dc_system: P_sys = P_solar + P_vebus − P_batt */
    int house = store_device_add(s, "house", "sitewatch");
    store_device_set_service(s, house, "battery", -1);
    put(s, house, "house/Dc/0/Voltage", 25.0);
    put(s, house, "house/Dc/0/Current", -4.0);
    put(s, house, "house/Soc", 71.2);
    c = parse("[system]\nbattery_service = sitewatch\nhas_dc_system = yes\n");
    sc = systemcalc_new(s, conf_section_nth(c, "system", 0), 0);
    systemcalc_update(sc);
    TEST_STREQ(systemcalc_battery_device(sc), "house");
    EXPECT_OK(s, "system/Dc/Battery/Soc", 71.2);
    EXPECT_OK(s, "system/Dc/Battery/Power", -100);
    EXPECT_OK(s, "system/Dc/System/Power", 200 - 250 + 100);
    systemcalc_free(sc);
    conf_free(c);

    c = parse("[system]\nbattery_service = none\n");
    sc = systemcalc_new(s, conf_section_nth(c, "system", 0), 0);
    systemcalc_update(sc);
    TEST_STREQ(systemcalc_battery_device(sc), "");
    EXPECT_STATE(s, "system/Dc/Battery/Soc", POINT_NA);
    systemcalc_free(sc);
    conf_free(c);
    TEST_CHECK(parse("[system]\nac_input1 = windmill\n") == NULL);
    store_free(s);
}

int main(void)
{
    TEST_RUN(test_full_site);
    TEST_RUN(test_battery_service_choice);
    return test_summary();
}
