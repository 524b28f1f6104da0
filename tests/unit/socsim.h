/* socsim: validation harness of the SoC engine shared by tests/unit/test_soc.c (reduced) and
 * tests/bench/bench_soc.c (full): (1) replay of real battery-monitor captures (V, I of each block
 * through the engine, compared with the monitor's own SOC and CE); (2) a simulated battery with a
 * known capacity, Peukert behaviour, charge efficiency and a weekly full charge, measured by a
 * current sensor with an offset, a gain error and noise. Header-only: both link the engine. */
#ifndef SITEWATCH_SOCSIM_H
#define SITEWATCH_SOCSIM_H

#include "battery/soc.h"
#include "drivers/vedirect_proto.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- replay ---------------------------------------------------------------------------------- */

struct socsim_replay {
    size_t blocks;    /* main blocks with V, I, SOC, CE */
    double first_soc; /* the monitor's first SOC, % */
    double last_soc;  /* the monitor's last SOC and ours */
    double our_last_soc;
    double max_soc_diff; /* largest |our SoC - monitor SOC|, % */
    double max_ce_diff;  /* largest |our consumed Ah - monitor CE|, Ah */
    double max_ttg_rel;  /* largest relative TTG difference once the TTG average settled */
    size_t ttg_compared;
};

static inline int socsim_field(const struct ved_block *b, const char *label, double *out)
{
    const char *s = ved_block_get(b, label);
    char *end;
    if (!s)
        return -1;
    double d = strtod(s, &end);
    if (end == s || *end)
        return -1;
    *out = d;
    return 0;
}

/* Replays a VE.Direct capture of a battery monitor: each accepted main block (V, I, SOC, CE) is
 * one second of current (the monitor sends its main block once per second: on
 * karioja_bvm702.dump ΣI·1 s matches the CE change to 0.3 %). The engine starts from the first
 * SOC and CE. */
static inline void socsim_replay(const uint8_t *buf, size_t len, const struct soc_params *p,
                                 struct socsim_replay *r)
{
    struct ved_framer f;
    ved_framer_init(&f);
    memset(r, 0, sizeof(*r));
    struct soc_state st;
    size_t off = 0;
    while (off < len) {
        enum ved_event ev;
        off += ved_framer_feed(&f, buf + off, len - off, &ev);
        if (ev != VED_EV_BLOCK)
            continue;
        const struct ved_block *b = ved_framer_block(&f);
        double v, i, soc, ce, ttg = -1;
        if (socsim_field(b, "V", &v) || socsim_field(b, "I", &i) || socsim_field(b, "SOC", &soc) ||
            socsim_field(b, "CE", &ce))
            continue;
        socsim_field(b, "TTG", &ttg);
        v /= 1000, i /= 1000, soc /= 10, ce /= -1000; /* mV, mA, ‰, mAh (negative) */
        if (r->blocks == 0) {
            soc_init(&st, p, soc);
            st.consumed_ah = ce; /* the monitor's own CE, as it stood */
            r->first_soc = soc;
        } else {
            soc_step(&st, p, v, i, NAN, 1000);
        }
        r->blocks++;
        double ds = fabs(st.soc_pct - soc), dc = fabs(st.consumed_ah - ce);
        if (ds > r->max_soc_diff)
            r->max_soc_diff = ds;
        if (dc > r->max_ce_diff)
            r->max_ce_diff = dc;
        /* TTG (minutes on the wire) once our average has had one averaging period */
        double ours = soc_ttg_s(&st, p, NAN);
        if (ttg > 0 && ours > 0 && (int64_t)r->blocks * 1000 > p->ttg_avg_ms) {
            double rel = fabs(ours / 60.0 - ttg) / ttg;
            if (rel > r->max_ttg_rel)
                r->max_ttg_rel = rel;
            r->ttg_compared++;
        }
        r->last_soc = soc;
        r->our_last_soc = st.soc_pct;
    }
}

/* ---- simulation ------------------------------------------------------------------------------ */

struct socsim_conf {
    double capacity_ah; /* true C20 */
    double nominal_v;   /* 24 */
    double peukert;     /* true exponent */
    double cef;         /* true charge efficiency */
    double offset_a;    /* sensor offset */
    double gain;        /* sensor gain error (0.005 = +0.5 %) */
    double noise_a;     /* sensor noise sigma */
    double days;
    int64_t step_ms;
    uint64_t seed;
};

struct socsim_result {
    double max_err;         /* largest |engine SoC - true SoC|, % */
    double max_err_day;     /* when it happened */
    double max_err_learned; /* the same once the engine had estimated the offset */
    double final_offset;    /* the engine's offset estimate at the end, A */
    unsigned syncs;
    double min_true_soc;
};

static inline double socsim_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static inline double socsim_gauss(uint64_t *s)
{
    double u = socsim_rand(s), v = socsim_rand(s);
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Lead-acid rest voltage per cell vs SoC (the table soc.c uses, §4.3), linear in between. */
static inline double socsim_ocv_cell(double soc)
{
    return 1.918 + (2.122 - 1.918) * (soc - 10) / 90.0;
}

/* Runs the simulation. The site, scaled to the capacity C: a telco-like load of 0.015-0.029 C
 * day and night, a solar charger of up to 0.05 C around noon that cannot fill the bank (the SoC
 * walks down over the week), and every
 * 7th day a generator charger at 0.1 C from 06:00 until the current has stayed below 2 % of C
 * for an hour. Charge acceptance falls as the bank fills (I ≤ C·(100 − SoC)/10, the charger then
 * holds the absorption voltage), and the true bank follows Peukert (the same law the engine
 * uses, with the true exponent) and its charge efficiency. */
static inline void socsim_run(const struct socsim_conf *c, const struct soc_params *p,
                              struct socsim_result *res)
{
    memset(res, 0, sizeof(*res));
    uint64_t seed = c->seed;
    double cells = c->nominal_v / 2.0;
    double true_eff = 0; /* true Peukert-weighted Ah out, 0 = full */
    struct soc_state st;
    soc_init(&st, p, 100);
    res->min_true_soc = 100;
    double dt_h = (double)c->step_ms / 3600000.0;
    bool gen = false;
    double gen_low_h = 0;
    int64_t steps = (int64_t)(c->days * 86400000.0 / (double)c->step_ms);
    for (int64_t k = 0; k < steps; k++) {
        double t_h = (double)k * dt_h;
        double hod = fmod(t_h, 24.0);
        int day = (int)(t_h / 24.0);
        double true_soc = 100.0 * (1.0 - true_eff / c->capacity_ah);
        double cap = c->capacity_ah;
        double load = cap * (0.015 + 0.01 * (hod > 8 && hod < 20) + 0.004 * socsim_rand(&seed));
        double solar = (hod > 7 && hod < 17) ? cap * 0.07 * sin(M_PI * (hod - 7) / 10.0) : 0;
        if (day % 7 == 6 && hod >= 6 && !gen && gen_low_h == 0)
            gen = true;
        double source = solar + (gen ? 0.1 * c->capacity_ah : 0);
        double accept = c->capacity_ah * (100.0 - true_soc) / 10.0;
        double charge = source;
        bool absorbing = false;
        if (charge - load > accept) { /* the charger holds absorption voltage */
            charge = load + accept;
            absorbing = true;
        }
        double i = charge - load; /* battery current, + = charge */
        if (gen) {
            gen_low_h = i < 0.02 * c->capacity_ah ? gen_low_h + dt_h : 0;
            if (gen_low_h >= 1.0) {
                gen = false;
                gen_low_h = -1; /* done for this day */
            }
        }
        if (hod < dt_h)
            gen_low_h = 0;
        double i20 = c->capacity_ah / 20.0;
        if (i < 0)
            true_eff += -i * pow(-i / i20, c->peukert - 1.0) * dt_h;
        else
            true_eff -= i * c->cef * dt_h;
        if (true_eff < 0)
            true_eff = 0;
        true_soc = 100.0 * (1.0 - true_eff / c->capacity_ah);
        if (true_soc < res->min_true_soc)
            res->min_true_soc = true_soc;
        double v = absorbing ? 2.40 * cells : socsim_ocv_cell(true_soc) * cells + 0.01 * i;
        double meas = i * (1.0 + c->gain) + c->offset_a + c->noise_a * socsim_gauss(&seed);
        unsigned ev = soc_step(&st, p, v, meas, NAN, c->step_ms);
        if (ev & SOC_EV_SYNC)
            res->syncs++;
        double err = fabs(st.soc_pct - true_soc);
        if (err > res->max_err) {
            res->max_err = err;
            res->max_err_day = t_h / 24.0;
        }
        if (st.offset_updates > 0 && err > res->max_err_learned)
            res->max_err_learned = err;
    }
    res->final_offset = st.offset_a;
}

#endif
