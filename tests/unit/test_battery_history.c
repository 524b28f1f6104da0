/* test_battery_history: the BMV counter rules of battery-and-alarms.md §1.5 (charge cycles below
 * 65 % then above 90 %, syncs only after SoC < 90 %, full discharges, deepest/last/average
 * discharge, Ah drawn, energies, min/max voltage, alarms), equivalent cycles, the time-weighted
 * average SoC, the state of health from anchors, and the JSON round trip. */
#include "battery/battery_history.h"
#include "battery/soc.h"
#include "test.h"

#include <math.h>

static const struct battery_history_conf conf = {
    .capacity_ah = 100, .low_voltage = 11.5, .high_voltage = 15.0};

/* n seconds at soc, v, i with events on the last one. */
static void feed(struct battery_history *h, int n, double soc, double v, double i, unsigned ev)
{
    for (int k = 0; k < n; k++) {
        struct battery_history_sample s = {.dt_ms = 1000,
                                           .v = v,
                                           .i = i,
                                           .soc_pct = soc,
                                           .charge_efficiency = 0.95,
                                           .events = k == n - 1 ? ev : 0};
        battery_history_update(h, &conf, &s);
    }
}

static void test_charge_cycles(void)
{
    struct battery_history h;
    battery_history_init(&h);
    feed(&h, 10, 70, 12.5, -10, 0);
    feed(&h, 10, 95, 13.5, 10, 0); /* never below 65 %: no cycle */
    TEST_EQ_LONG(h.cycles, 0);
    feed(&h, 10, 64, 12.2, -10, 0);
    feed(&h, 10, 89, 13.0, 10, 0); /* not yet above 90 % */
    TEST_EQ_LONG(h.cycles, 0);
    feed(&h, 1, 90.5, 13.4, 10, 0);
    TEST_EQ_LONG(h.cycles, 1);
    feed(&h, 10, 95, 13.4, 10, 0); /* staying up counts nothing more */
    feed(&h, 10, 70, 12.4, -10, 0);
    feed(&h, 10, 95, 13.4, 10, 0);
    TEST_EQ_LONG(h.cycles, 1);
    feed(&h, 10, 50, 12.1, -10, 0);
    feed(&h, 10, 92, 13.4, 10, 0);
    TEST_EQ_LONG(h.cycles, 2);
}

static void test_syncs_and_discharges(void)
{
    struct battery_history h;
    battery_history_init(&h);
    /* a sync at full without having dropped below 90 % is not counted (H10) */
    feed(&h, 10, 100, 13.5, 1, SOC_EV_SYNC);
    TEST_EQ_LONG(h.syncs, 0);
    feed(&h, 10, 95, 12.8, -5, 0);
    feed(&h, 10, 100, 13.5, 1, SOC_EV_SYNC);
    TEST_EQ_LONG(h.syncs, 0);
    feed(&h, 10, 85, 12.6, -5, 0);
    TEST_NEAR(h.last_ah, 15, 1e-9);
    feed(&h, 10, 100, 13.5, 1, SOC_EV_SYNC);
    TEST_EQ_LONG(h.syncs, 1);
    TEST_NEAR(h.last_ah, 0, 1e-9); /* H2: since the last sync */
    TEST_NEAR(h.deepest_ah, 15, 1e-9);
    TEST_NEAR(h.since_full_s, 0, 1e-9);
    feed(&h, 3600, 80, 12.5, -5, 0);
    TEST_NEAR(h.since_full_s, 3600, 1e-6);
    TEST_NEAR(h.last_ah, 20, 1e-9);
    TEST_NEAR(h.deepest_ah, 20, 1e-9);
    /* H5: reaching 0 % counts once until SoC is back above 10 % */
    feed(&h, 5, 0, 11.0, -5, 0);
    feed(&h, 5, 5, 11.8, 5, 0);
    feed(&h, 5, 0, 11.0, -5, 0);
    TEST_EQ_LONG(h.full_discharges, 1);
    feed(&h, 5, 20, 12.0, 5, 0);
    feed(&h, 5, 0, 11.0, -5, 0);
    TEST_EQ_LONG(h.full_discharges, 2);
    TEST_NEAR(h.deepest_ah, 100, 1e-9);
    /* voltage alarms count rising edges with a 2 % clear band; min/max ignore 0 V glitches */
    TEST_EQ_LONG(h.low_v_alarms, 3); /* 11.0 V three times, cleared by 11.8 and 12.0 V */
    feed(&h, 5, 50, 11.6, 0, 0);     /* above 11.5 but not above 11.73: still the same alarm */
    feed(&h, 5, 50, 11.4, 0, 0);
    TEST_EQ_LONG(h.low_v_alarms, 3);
    TEST_EQ_LONG(h.high_v_alarms, 0);
    feed(&h, 5, 50, 0.03, 0, 0);
    TEST_NEAR(h.min_v, 11.0, 1e-9);
    TEST_NEAR(h.max_v, 13.5, 1e-9);
}

static void test_ah_energy_average(void)
{
    struct battery_history h;
    battery_history_init(&h);
    feed(&h, 3600, 80, 12.0, -20, 0); /* 20 Ah at 12 V = 0.24 kWh out */
    feed(&h, 3600, 95, 13.0, 10, 0);  /* 10 Ah at 13 V = 0.13 kWh in */
    TEST_NEAR(h.drawn_ah, 20, 1e-6);
    TEST_NEAR(h.discharged_kwh, 0.24, 1e-9);
    TEST_NEAR(h.charged_kwh, 0.13, 1e-9);
    TEST_NEAR(battery_history_equivalent_cycles(&h, 100), 0.2, 1e-9);
    TEST_NEAR(battery_history_average_ah(&h), 0, 1e-12); /* no cycle yet: the BMV shows 0 */
    feed(&h, 3600, 50, 12.0, -30, 0);
    feed(&h, 10, 95, 13.0, 10, 0);
    TEST_EQ_LONG(h.cycles, 1);
    TEST_NEAR(battery_history_average_ah(&h), 50, 1e-3); /* H3 = H6 / H4 */
}

static void test_average_soc(void)
{
    struct battery_history h;
    battery_history_init(&h);
    TEST_CHECK(isnan(battery_history_avg_soc(&h, 1)));
    /* 12 h at 100 %, 12 h at 50 %: the day's average is 75 %; then 6 more days at 60 % */
    for (int k = 0; k < 12 * 60; k++)
        feed(&h, 60, 100, 13, 0, 0);
    for (int k = 0; k < 12 * 60; k++)
        feed(&h, 60, 50, 12.2, 0, 0);
    TEST_NEAR(battery_history_avg_soc(&h, 1), 75, 1e-6);
    TEST_NEAR(battery_history_avg_soc(&h, 7), 75, 1e-6);
    for (int k = 0; k < 6 * 24 * 60; k++)
        feed(&h, 60, 60, 12.3, 0, 0);
    TEST_NEAR(battery_history_avg_soc(&h, 1), 60, 1e-6);
    TEST_NEAR(battery_history_avg_soc(&h, 7), (75 + 6 * 60) / 7.0, 1e-6);
    TEST_NEAR(battery_history_avg_soc(&h, 30), (75 + 6 * 60) / 7.0, 1e-6);
    /* half an hour more: the 1-day window slides, time-weighted */
    for (int k = 0; k < 30; k++)
        feed(&h, 60, 90, 12.3, 0, 0);
    TEST_NEAR(battery_history_avg_soc(&h, 1), (60 * 23.5 + 90 * 0.5) / 24, 1e-6);
}

/* SoH: a sync (100 %) then 60 Ah drawn down to an OCV anchor at 40 %: capacity 100 Ah. A second
 * pair on an aged battery (48 Ah for 60 %: 80 Ah) moves the estimate, with more confidence. */
static void test_soh(void)
{
    struct battery_history h;
    battery_history_init(&h);
    TEST_CHECK(isnan(battery_history_soh(&h, 100)));
    feed(&h, 1, 100, 13.5, 1, SOC_EV_SYNC);
    feed(&h, 3600, 70, 12.2, -60, 0);
    feed(&h, 1, 40, 12.1, 0, SOC_EV_OCV);
    TEST_NEAR(battery_history_soh(&h, 100), 100, 0.1);
    TEST_NEAR(h.capacity_est_ah, 100, 0.1);
    double c1 = battery_history_soh_confidence(&h);
    TEST_NEAR(c1, 30, 1e-6); /* weight 0.6 of 2 */
    /* a small swing (< 30 %) is no estimate */
    feed(&h, 600, 40, 12.1, -10, 0);
    feed(&h, 1, 30, 12.0, 0, SOC_EV_OCV);
    TEST_EQ_LONG(h.soh_estimates, 1);
    /* 30 % → 100 % with 56 Ah credited (59 Ah × 0.95) is 80 Ah */
    feed(&h, 3600, 60, 13.0, 56.0 / 0.95, 0);
    feed(&h, 1, 100, 13.5, 0, SOC_EV_SYNC);
    TEST_EQ_LONG(h.soh_estimates, 2);
    TEST_CHECK(h.capacity_est_ah < 100 && h.capacity_est_ah > 80);
    TEST_CHECK(battery_history_soh_confidence(&h) > c1);
}

/* The state file round trip: every counter and the rainflow residue survive. */
static void test_json_round_trip(void)
{
    struct battery_history h, g;
    battery_history_init(&h);
    for (int d = 0; d < 3; d++) {
        for (int k = 0; k < 600; k++)
            feed(&h, 60, 100 - k * 0.1, 12.3, -6, 0);
        for (int k = 0; k < 600; k++)
            feed(&h, 60, 40 + k * 0.1, 13.1, 6, 0);
    }
    feed(&h, 1, 100, 13.5, 1, SOC_EV_SYNC);
    json_t *j = battery_history_to_json(&h);
    char *text = json_dumps(j, JSON_REAL_PRECISION(17));
    json_decref(j);
    json_error_t err;
    json_t *back = json_loads(text, 0, &err);
    free(text);
    battery_history_init(&g);
    battery_history_from_json(&g, back);
    json_decref(back);
    TEST_EQ_LONG(g.cycles, h.cycles);
    TEST_NEAR(g.drawn_ah, h.drawn_ah, 1e-9);
    TEST_NEAR(g.charged_kwh, h.charged_kwh, 1e-12);
    TEST_EQ_LONG(g.rf.n, h.rf.n);
    TEST_EQ_LONG(g.rf.dir, h.rf.dir);
    for (int k = 0; k < RAINFLOW_BINS; k++)
        TEST_NEAR(g.rf.bins[k], h.rf.bins[k], 1e-12);
    TEST_NEAR(battery_history_avg_soc(&g, 1), battery_history_avg_soc(&h, 1), 1e-9);
    TEST_NEAR(battery_history_avg_soc(&g, 7), battery_history_avg_soc(&h, 7), 1e-9);
    /* junk is ignored, never a crash */
    json_t *junk = json_pack("{s:s,s:i,s:[s]}", "cycles", "many", "nhours", 99999, "hours", "x");
    battery_history_init(&g);
    battery_history_from_json(&g, junk);
    json_decref(junk);
    TEST_EQ_LONG(g.cycles, 0);
    TEST_CHECK(g.nhours <= BH_HOURS);
}

int main(void)
{
    TEST_RUN(test_charge_cycles);
    TEST_RUN(test_syncs_and_discharges);
    TEST_RUN(test_ah_energy_average);
    TEST_RUN(test_average_soc);
    TEST_RUN(test_soh);
    TEST_RUN(test_json_round_trip);
    return test_summary();
}
