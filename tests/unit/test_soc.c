/* test_soc: the SoC engine: sync rules, Peukert at several rates against the Peukert law, charge
 * efficiency, threshold, time-to-go, temperature, OCV recalibration, the replay of real BMV
 * captures (SOC and CE) and a reduced simulation with a sensor offset. */
#include "battery/soc.h"
#include "core/util.h"
#include "drivers/vedirect_fields.h"
#include "socsim.h"
#include "test.h"

#include <math.h>

static void params(struct soc_params *p)
{
    soc_params_preset(SOC_CHEM_LEAD_ACID, 12, 100, p);
}

/* Runs n seconds at v, i. Returns the OR of the events. */
static unsigned run(struct soc_state *st, const struct soc_params *p, double v, double i, int n)
{
    unsigned ev = 0;
    for (int k = 0; k < n; k++)
        ev |= soc_step(st, p, v, i, NAN, 1000);
    return ev;
}

static void test_presets(void)
{
    struct soc_params p;
    params(&p);
    /* battery-and-alarms.md §1.2 defaults */
    TEST_NEAR(p.charged_voltage, 13.2, 1e-9);
    TEST_NEAR(p.tail_current_pct, 4.0, 1e-9);
    TEST_EQ_LONG(p.charged_detect_ms, 180000);
    TEST_NEAR(p.peukert, 1.25, 1e-9);
    TEST_NEAR(p.charge_efficiency, 0.95, 1e-9);
    TEST_NEAR(p.current_threshold, 0.10, 1e-9);
    TEST_NEAR(p.discharge_floor_pct, 50, 1e-9);
    TEST_EQ_LONG(p.ttg_avg_ms, 180000);
    soc_params_preset(SOC_CHEM_LIFEPO4, 24, 200, &p);
    TEST_NEAR(p.peukert, 1.05, 1e-9);
    TEST_NEAR(p.charged_voltage, 27.6, 1e-9);
    enum soc_chem c;
    TEST_EQ_LONG(soc_chem_parse("gel", &c), 0);
    TEST_EQ_LONG(c, SOC_CHEM_GEL);
    TEST_CHECK(soc_chem_parse("nicd", &c) < 0);
}

static void test_sync(void)
{
    struct soc_params p;
    params(&p);
    struct soc_state st;
    soc_init(&st, &p, 80);
    /* above charged voltage, 2 A < 4 A tail: not yet after 2 min 59 s */
    TEST_EQ_LONG(run(&st, &p, 13.5, 2.0, 179) & SOC_EV_SYNC, 0);
    TEST_CHECK(st.soc_pct < 81);
    TEST_EQ_LONG(run(&st, &p, 13.5, 2.0, 1) & SOC_EV_SYNC, SOC_EV_SYNC);
    TEST_NEAR(st.soc_pct, 100, 1e-9);
    TEST_NEAR(st.consumed_ah, 0, 1e-9);
    /* holding the conditions does not sync again */
    TEST_EQ_LONG(run(&st, &p, 13.5, 2.0, 600) & SOC_EV_SYNC, 0);

    /* the tail current must be below 4 %: 5 A never syncs; voltage must be above 13.2 */
    soc_init(&st, &p, 80);
    TEST_EQ_LONG(run(&st, &p, 13.5, 5.0, 600) & SOC_EV_SYNC, 0);
    TEST_EQ_LONG(run(&st, &p, 13.2, 1.0, 600) & SOC_EV_SYNC, 0);
    /* an interruption restarts the detection time */
    soc_init(&st, &p, 80);
    run(&st, &p, 13.5, 2.0, 170);
    run(&st, &p, 13.0, 2.0, 1);
    TEST_EQ_LONG(run(&st, &p, 13.5, 2.0, 170) & SOC_EV_SYNC, 0);
    TEST_EQ_LONG(run(&st, &p, 13.5, 2.0, 10) & SOC_EV_SYNC, SOC_EV_SYNC);
}

/* Peukert's law: time to empty at constant I is t = H (C / (I H))^n with H = 20 h. */
static void test_peukert_rates(void)
{
    static const double rates[] = {2.0, 5.0, 10.0, 20.0, 50.0};
    struct soc_params p;
    params(&p);
    p.current_threshold = 0;
    for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
        double i = rates[k];
        double expect_h = 20.0 * pow(p.capacity_ah / (i * 20.0), p.peukert);
        struct soc_state st;
        soc_init(&st, &p, 100);
        long secs = 0;
        while (st.soc_pct > 0 && secs < 400L * 3600)
            soc_step(&st, &p, 12.0, -i, NAN, 1000), secs++;
        TEST_NEAR(secs / 3600.0, expect_h, expect_h * 1e-3 + 1.0 / 3600);
        /* the consumed-Ah readout stays raw: I·t */
        TEST_NEAR(st.consumed_ah, i * secs / 3600.0, 1e-6 * secs);
    }
    /* Peukert 1.00 disables it: 100 Ah at 50 A lasts 2 h */
    p.peukert = 1.0;
    struct soc_state st;
    soc_init(&st, &p, 100);
    run(&st, &p, 12.0, -50, 3600);
    TEST_NEAR(st.soc_pct, 50, 1e-6);
}

static void test_charge_efficiency(void)
{
    struct soc_params p;
    params(&p);
    struct soc_state st;
    soc_init(&st, &p, 50);
    run(&st, &p, 12.8, 10.0, 3600); /* 10 Ah in, 9.5 Ah credited at 95 % */
    TEST_NEAR(st.soc_pct, 59.5, 1e-6);
    TEST_NEAR(st.consumed_ah, 40.5, 1e-6);
    p.charge_efficiency = 0.80;
    soc_init(&st, &p, 50);
    run(&st, &p, 12.8, 10.0, 3600);
    TEST_NEAR(st.soc_pct, 58.0, 1e-6);
    /* charging past full stops at 100 %, never above */
    run(&st, &p, 12.8, 10.0, 10 * 3600);
    TEST_NEAR(st.soc_pct, 100, 1e-9);
    TEST_NEAR(st.consumed_ah, 0, 1e-9);
}

static void test_threshold_and_ttg(void)
{
    struct soc_params p;
    params(&p);
    p.offset_estimation = false;
    struct soc_state st;
    soc_init(&st, &p, 80);
    run(&st, &p, 12.5, -0.05, 10 * 3600); /* below the 0.1 A threshold: noise */
    TEST_NEAR(st.soc_pct, 80, 1e-9);
    TEST_CHECK(soc_ttg_s(&st, &p, NAN) < 0); /* idle: infinite */
    run(&st, &p, 12.5, -10, 1800);
    /* TTG = (SoC - 50 %) · C_eff(10 A) / 10 A with C_eff = C (I20/I)^(n-1) */
    double soc = st.soc_pct;
    double ceff = 100 * pow(5.0 / 10.0, 0.25);
    TEST_NEAR(soc_ttg_s(&st, &p, NAN), (soc - 50) / 100 * ceff / 10 * 3600, 60);
    /* the average follows: one averaging period after a step it is not yet the new value */
    run(&st, &p, 12.5, -20, 60);
    TEST_CHECK(st.ttg_current > -20 && st.ttg_current < -10);
    run(&st, &p, 12.5, 5, 1800);
    TEST_CHECK(soc_ttg_s(&st, &p, NAN) < 0); /* charging */
}

static void test_temperature(void)
{
    struct soc_params p;
    params(&p);
    TEST_NEAR(soc_capacity_at(&p, 25), 100, 1e-9);
    TEST_NEAR(soc_capacity_at(&p, 0), 90, 1e-9); /* 0.5 %/°C × 20 °C */
    struct soc_state a, b;
    soc_init(&a, &p, 100);
    soc_init(&b, &p, 100);
    for (int k = 0; k < 3600; k++) {
        soc_step(&a, &p, 12.5, -5, 20.0, 1000);
        soc_step(&b, &p, 12.5, -5, 0.0, 1000);
    }
    TEST_NEAR(a.soc_pct, 95, 1e-6);
    TEST_NEAR(b.soc_pct, 100 * (1 - 5.0 / 90), 1e-6);
}

static void test_ocv(void)
{
    struct soc_params p;
    params(&p);
    p.ocv_recal = true;
    struct soc_state st;
    soc_init(&st, &p, 90);
    /* 12.2 V = 2.0333 V/cell: 50 % + (2.0333 - 2.017) / (2.040 - 2.017) · 10 % */
    double expect = 50 + (12.2 / 6 - 2.017) / (2.040 - 2.017) * 10;
    TEST_EQ_LONG(run(&st, &p, 12.2, 0, 4 * 3600 - 1) & SOC_EV_OCV, 0);
    TEST_EQ_LONG(run(&st, &p, 12.2, 0, 1) & SOC_EV_OCV, SOC_EV_OCV);
    TEST_NEAR(st.soc_pct, expect, 1e-6);
    /* once per rest */
    TEST_EQ_LONG(run(&st, &p, 12.0, 0, 5 * 3600) & SOC_EV_OCV, 0);
    /* LiFePO4: the plateau is not trusted, the knees are */
    soc_params_preset(SOC_CHEM_LIFEPO4, 12, 100, &p);
    p.ocv_recal = true;
    soc_init(&st, &p, 60);
    TEST_EQ_LONG(run(&st, &p, 13.2, 0, 3 * 3600) & SOC_EV_OCV, 0);
    TEST_NEAR(st.soc_pct, 60, 1e-9);
    soc_init(&st, &p, 60);
    TEST_EQ_LONG(run(&st, &p, 12.6, 0, 3 * 3600) & SOC_EV_OCV, SOC_EV_OCV);
    TEST_CHECK(st.soc_pct < 15);
    /* off by default */
    params(&p);
    soc_init(&st, &p, 90);
    TEST_EQ_LONG(run(&st, &p, 12.2, 0, 5 * 3600) & SOC_EV_OCV, 0);
}

/* The BMV-700 capture (karioja_bvm702.dump): 454 s of discharge at 2.6 to 7.6 A. The monitor's
 * settings are not in the capture; its TTG (942 min at 7.6 A, 3418 min at 2.65 A) fits Victron's
 * defaults (Peukert 1.25, floor 50 %, 3 min averaging) with C20 ≈ 300 Ah, so the engine runs
 * with those. The capture is short: SoC moves 0.2 %, so TTG is the sharper check. */
static void test_replay_bmv700(void)
{
    size_t len;
    unsigned char *buf = test_read_testdata("vedirect/karioja_bvm702.dump", &len);
    struct soc_params p;
    params(&p);
    p.capacity_ah = 300;
    p.offset_estimation = false;
    struct socsim_replay r;
    socsim_replay(buf, len, &p, &r);
    free(buf);
    printf("    bmv700: %zu blocks, SOC %.1f -> %.1f (ours %.2f), max |dSoC| %.3f %%, "
           "max |dCE| %.3f Ah, TTG max rel diff %.1f %% over %zu\n",
           r.blocks, r.first_soc, r.last_soc, r.our_last_soc, r.max_soc_diff, r.max_ce_diff,
           100 * r.max_ttg_rel, r.ttg_compared);
    TEST_CHECK(r.blocks > 400);
    TEST_NEAR(r.first_soc, 83.9, 1e-9);
    TEST_CHECK(r.max_soc_diff < 1.0); /* the goal */
    TEST_CHECK(r.max_ce_diff < 0.02); /* 20 mAh over 0.56 Ah counted */
    /* TTG through a current step (7.6 → 2.65 A): Peukert capacity and averaging as the BMV */
    TEST_CHECK(r.ttg_compared > 200);
    TEST_CHECK(r.max_ttg_rel < 0.10);
}

/* The short BMV-712 and SmartShunt captures hold one or two main blocks: the replay reads their
 * first SOC and CE (the values written beside) and counts nothing wrong; no long BMV-712 capture
 * is in testdata (the velog ones of SOURCE.md are not stored). */
static void test_replay_bmv712(void)
{
    static const struct {
        const char *file;
        double soc;
    } caps[] = {
        {"vedirect/kindr007_bmv712smart_pidA381.raw",      93.7 },
        {"vedirect/vedirect-rs_bmv712smart_pidA381.raw",   91.6 },
        {"vedirect/mpp-solar_smartshunt_500A_pidA389.raw", 100.0}
    };
    for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        size_t len;
        unsigned char *buf = test_read_testdata(caps[k].file, &len);
        struct soc_params p;
        soc_params_preset(SOC_CHEM_LEAD_ACID, 24, 200, &p);
        struct socsim_replay r;
        socsim_replay(buf, len, &p, &r);
        free(buf);
        printf("    %s: %zu blocks, max |dSoC| %.3f %%, max |dCE| %.4f Ah\n", caps[k].file,
               r.blocks, r.max_soc_diff, r.max_ce_diff);
        TEST_CHECK(r.blocks >= 1);
        TEST_NEAR(r.first_soc, caps[k].soc, 1e-9);
        TEST_CHECK(r.max_soc_diff < 1.0);
        TEST_CHECK(r.max_ce_diff < 0.01);
    }
}

/* The driver's conversion of one VE.Direct field (the label table row of the class), as the
 * vedirect driver publishes it. */
static double ved_value(const char *label, unsigned cls, const char *text)
{
    for (size_t k = 0; k < ved_map_len; k++)
        if (strcmp(ved_map[k].label, label) == 0 && (ved_map[k].classes & cls)) {
            double v = NAN;
            return ved_field_value(&ved_map[k], text, &v) == 1 ? v : NAN;
        }
    return NAN;
}

/* Issue 14: a BMV's "V 13200" is 13.200 V, which is not above the 13.2 V charged voltage; the
 * engine once saw 13.200000000000001 (13200 × 0.001) and counted it as above. */
static void test_sync_at_exactly_charged_voltage(void)
{
    struct soc_params p;
    params(&p);
    struct soc_state st;
    soc_init(&st, &p, 90);
    double v = ved_value("V", VED_CLS_BATTERY, "13200"), i = ved_value("I", VED_CLS_BATTERY, "500");
    TEST_CHECK(v == 13.2);
    TEST_EQ_LONG(run(&st, &p, v, i, 600) & SOC_EV_SYNC, 0);
    TEST_CHECK(st.soc_pct < 100);
    v = ved_value("V", VED_CLS_BATTERY, "13201");
    TEST_EQ_LONG(run(&st, &p, v, i, 180) & SOC_EV_SYNC, SOC_EV_SYNC);
    TEST_NEAR(st.soc_pct, 100, 0);
}

/* Replay of a real capture through the VE.Direct framer and the driver's label table into the
 * engine, one text block per second (the device's pace; the capture has no time stamps): the
 * engine must synchronise at the moment README's rule gives, "V > charged voltage and I < tail
 * current hold for the detection time". The expected moment is worked out here from the
 * capture's decimals as integers (mV, mA), not with doubles.
 *
 * The capture is karioja_bluesolar_1.23.dump, a real BlueSolar MPPT 75/15 (a [battery] engine
 * fed by a charger's V and I, as on a site without a monitor): 247 blocks at 12.45-12.54 V and
 * 0.45-0.64 A of charge. No BMV-712 capture in testdata reaches its charged voltage: both are
 * short and discharging, and the long velog logs of SOURCE.md are not stored. Most of its
 * readings sit exactly on 12.530 or 12.540 V, which 12530 × 0.001 and 12540 × 0.001 push above
 * 12.53 and 12.54. A 20 Ah bank (tail 4 % = 0.8 A) and a 30 s detection time make the rule's
 * moments fall inside the capture. */
static void test_replay_sync_moment(void)
{
    static const struct {
        const char *charged_voltage; /* as written in the config */
        long charged_mv;             /* the same decimal in mV */
        int detect_s;
    } cases[] = {
        {"12.53", 12530, 30}, /* 30 s of 12.540 V readings, near the end */
        {"12.54", 12540, 30}, /* never: the capture's highest reading is 12.540 V */
        {"12.5",  12500, 60}, /* controls: the first minute, whichever way V is scaled */
        {"12.45", 12450, 60},
    };
    const long capacity_ah = 20, tail_pct = 4, tail_ma = tail_pct * capacity_ah * 10;
    size_t len;
    unsigned char *buf = test_read_testdata("vedirect/karioja_bluesolar_1.23.dump", &len);
    for (size_t c = 0; c < UTIL_ARRAY_SIZE(cases); c++) {
        struct soc_params p;
        soc_params_preset(SOC_CHEM_LEAD_ACID, 12, (double)capacity_ah, &p);
        TEST_EQ_LONG(util_parse_double(cases[c].charged_voltage, 1, 1000, &p.charged_voltage), 0);
        p.tail_current_pct = (double)tail_pct;
        p.charged_detect_ms = cases[c].detect_s * 1000LL;
        struct soc_state st;
        soc_init(&st, &p, 90);
        struct ved_framer f;
        ved_framer_init(&f);
        long t = 0, engine_sync_s = -1, rule_sync_s = -1, held = 0;
        size_t off = 0;
        while (off < len) {
            enum ved_event ev;
            off += ved_framer_feed(&f, buf + off, len - off, &ev);
            if (ev != VED_EV_BLOCK)
                continue;
            const struct ved_block *b = ved_framer_block(&f);
            const char *vs = ved_block_get(b, "V"), *is = ved_block_get(b, "I");
            long mv, ma;
            if (!vs || !is || ved_parse_int(vs, &mv) != 0 || ved_parse_int(is, &ma) != 0)
                continue;
            t++; /* this block's second */
            /* the rule, in the capture's own integers */
            held = mv > cases[c].charged_mv && ma < tail_ma ? held + 1 : 0;
            if (held == cases[c].detect_s && rule_sync_s < 0)
                rule_sync_s = t;
            /* the engine, on the driver's values */
            double v = ved_value("V", VED_CLS_SOLAR, vs), i = ved_value("I", VED_CLS_SOLAR, is);
            if ((soc_step(&st, &p, v, i, NAN, 1000) & SOC_EV_SYNC) && engine_sync_s < 0)
                engine_sync_s = t;
        }
        printf("    charged voltage %s V, %d s: %ld blocks; rule syncs at %ld s, engine at %ld s\n",
               cases[c].charged_voltage, cases[c].detect_s, t, rule_sync_s, engine_sync_s);
        TEST_CHECK(t > 240);
        TEST_EQ_LONG(engine_sync_s, rule_sync_s);
        TEST_CHECK(engine_sync_s < 0 || st.soc_pct == 100);
    }
    free(buf);
}

/* Reduced simulation: 16 days at 30 s steps, two weekly full charges; a 400 Ah 24 V bank and a
 * sensor with a 50 mA offset, +0.5 % gain and 30 mA noise. The first week's drift cannot be
 * known before a second sync; after it the error must shrink. */
static void test_simulation_offset(void)
{
    struct soc_params p;
    soc_params_preset(SOC_CHEM_LEAD_ACID, 24, 400, &p);
    struct socsim_conf c = {.capacity_ah = 400,
                            .nominal_v = 24,
                            .peukert = 1.25,
                            .cef = 0.95,
                            .offset_a = 0.05,
                            .gain = 0.005,
                            .noise_a = 0.03,
                            .days = 16,
                            .step_ms = 30000,
                            .seed = 42};
    struct socsim_result r;
    socsim_run(&c, &p, &r);
    printf(
        "    sim 16 d: max err %.2f %%, after the offset estimate %.2f %%, offset estimate %.3f A, "
        "%u syncs, min true SoC %.1f %%\n",
        r.max_err, r.max_err_learned, r.final_offset, r.syncs, r.min_true_soc);
    TEST_CHECK(r.syncs >= 2);
    TEST_CHECK(r.min_true_soc < 70); /* the battery really cycles */
    TEST_CHECK(r.max_err < 3.0);
    TEST_CHECK(r.max_err_learned > 0 && r.max_err_learned < r.max_err);
    TEST_NEAR(r.final_offset, 0.05, 0.015); /* the offset was noticed */
    /* without estimation the error keeps growing week after week */
    p.offset_estimation = false;
    c.offset_a = 0.3;
    struct socsim_result r2;
    socsim_run(&c, &p, &r2);
    TEST_CHECK(r2.max_err > r.max_err);
    TEST_NEAR(r2.final_offset, 0, 1e-12);
}

int main(void)
{
    TEST_RUN(test_presets);
    TEST_RUN(test_sync);
    TEST_RUN(test_peukert_rates);
    TEST_RUN(test_charge_efficiency);
    TEST_RUN(test_threshold_and_ttg);
    TEST_RUN(test_temperature);
    TEST_RUN(test_ocv);
    TEST_RUN(test_replay_bmv700);
    TEST_RUN(test_replay_bmv712);
    TEST_RUN(test_sync_at_exactly_charged_voltage);
    TEST_RUN(test_replay_sync_moment);
    TEST_RUN(test_simulation_offset);
    return test_summary();
}
