/* soc: the state-of-charge engine (see soc.h). Formulas: battery-and-alarms.md §1.3-1.4 and
 * §3.2-3.3.
 */
#include "soc.h"

#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <string.h>

struct soc_ocv_point {
    double cell_v;
    double soc;
};

/* Lead-acid, per 2 V cell at rest (battery-and-alarms.md §4.3, public firmware table OCV_SLA,
 * consistent with the flooded 12 V tables there). Also used for AGM and gel: no verified separate
 * table was found. */
static const struct soc_ocv_point soc_ocv_lead[] = {
    {1.750, 0  },
    {1.918, 10 },
    {1.943, 20 },
    {1.968, 30 },
    {1.993, 40 },
    {2.017, 50 },
    {2.040, 60 },
    {2.062, 70 },
    {2.083, 80 },
    {2.103, 90 },
    {2.122, 100},
};

/* LiFePO4, per cell at rest (Libre Solar bms-firmware ocv_lfp[], §4.3). The plateau between 15
 * and 95 % is too flat to trust (§3.3), so only the knees are used. */
static const struct soc_ocv_point soc_ocv_lfp[] = {
    {2.833, 0  },
    {3.132, 5  },
    {3.177, 10 },
    {3.190, 15 },
    {3.213, 20 },
    {3.226, 25 },
    {3.240, 30 },
    {3.252, 35 },
    {3.262, 40 },
    {3.264, 45 },
    {3.265, 50 },
    {3.268, 55 },
    {3.271, 60 },
    {3.275, 65 },
    {3.283, 70 },
    {3.296, 75 },
    {3.304, 80 },
    {3.308, 85 },
    {3.309, 90 },
    {3.314, 95 },
    {3.392, 100},
};

struct soc_preset {
    enum soc_chem chem;
    const char *name;
    double cell_v;       /* nominal cell voltage */
    double charged_v_12; /* charged voltage for a 12 V block */
    double peukert;
    double charge_efficiency;
    double temp_coeff_pct;
    int64_t ocv_rest_ms;
};

/* Victron defaults (§1.2): charged voltage 13.2 V per 12 V, tail 4 %, detection 3 min, Peukert
 * 1.25 (lead-acid; 1.05 for lithium per the BMV-712 manual), CEF 95 %, threshold 0.1 A, TTG
 * averaging 3 min, floor 50 %, temperature coefficient 0.5 %/°C (BMV-501). Our choices, marked
 * [D]: AGM 1.15 and gel 1.20 Peukert (typical datasheet values, not verified); LiFePO4 charged
 * voltage 13.8 V per 12 V (0.2 V below a 14.0 V float setting), CEF 99 % (§1.2, [M]), no
 * temperature coefficient; rest time 4 h for lead-acid (Lifeline FAQ, §3.3), 2 h for LiFePO4. */
static const struct soc_preset soc_presets[] = {
    {SOC_CHEM_LEAD_ACID, "lead-acid", 2.0, 13.2, 1.25, 0.95, 0.5, 4 * 3600000LL},
    {SOC_CHEM_AGM,       "agm",       2.0, 13.2, 1.15, 0.95, 0.5, 4 * 3600000LL},
    {SOC_CHEM_GEL,       "gel",       2.0, 13.2, 1.20, 0.95, 0.5, 4 * 3600000LL},
    {SOC_CHEM_LIFEPO4,   "lifepo4",   3.2, 13.8, 1.05, 0.99, 0.0, 2 * 3600000LL},
};

static const struct soc_preset *soc_preset_of(enum soc_chem c)
{
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(soc_presets); k++)
        if (soc_presets[k].chem == c)
            return &soc_presets[k];
    return &soc_presets[0];
}

int soc_chem_parse(const char *s, enum soc_chem *out)
{
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(soc_presets); k++)
        if (strcmp(s, soc_presets[k].name) == 0) {
            *out = soc_presets[k].chem;
            return 0;
        }
    return -EINVAL;
}

const char *soc_chem_name(enum soc_chem c)
{
    return soc_preset_of(c)->name;
}

void soc_params_preset(enum soc_chem chem, double nominal_voltage, double capacity_ah,
                       struct soc_params *p)
{
    const struct soc_preset *ps = soc_preset_of(chem);
    double blocks = nominal_voltage / 12.0;
    *p = (struct soc_params){
        .chem = chem,
        .nominal_voltage = nominal_voltage,
        .capacity_ah = capacity_ah,
        .charged_voltage = ps->charged_v_12 * blocks,
        .tail_current_pct = 4.0,
        .charged_detect_ms = 3 * 60000,
        .peukert = ps->peukert,
        .charge_efficiency = ps->charge_efficiency,
        .current_threshold = 0.10,
        .discharge_floor_pct = 50.0,
        .ttg_avg_ms = 3 * 60000,
        .temp_coeff_pct = ps->temp_coeff_pct,
        .ocv_recal = false,
        .ocv_rest_ms = ps->ocv_rest_ms,
        .ocv_rest_current = 0.10,
        .offset_estimation = true,
    };
}

double soc_capacity_at(const struct soc_params *p, double t_c)
{
    /* BMV-501 style: capacity falls by temp_coeff % per °C below 20 °C; above it stays C20. */
    double k = 1.0;
    if (!isnan(t_c) && t_c < 20.0)
        k = 1.0 - p->temp_coeff_pct / 100.0 * (20.0 - t_c);
    if (k < 0.2)
        k = 0.2;
    return p->capacity_ah * k;
}

static double soc_clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static void soc_update_pct(struct soc_state *st, const struct soc_params *p, double t_c)
{
    double cap = soc_capacity_at(p, t_c);
    st->soc_pct = cap > 0 ? soc_clamp(100.0 * (1.0 - st->consumed_eff_ah / cap), 0, 100) : 0;
}

void soc_init(struct soc_state *st, const struct soc_params *p, double soc_pct)
{
    memset(st, 0, sizeof(*st));
    soc_set(st, p, soc_pct);
}

void soc_set(struct soc_state *st, const struct soc_params *p, double soc_pct)
{
    soc_pct = soc_clamp(soc_pct, 0, 100);
    st->consumed_eff_ah = p->capacity_ah * (1.0 - soc_pct / 100.0);
    st->consumed_ah = st->consumed_eff_ah;
    st->soc_pct = soc_pct;
}

/* Peukert weighting of a discharge current: the Ah it removes from the rated C20 capacity per Ah
 * drawn, (|I| / I20)^(n-1) with I20 = C20/20 (§1.4, our reconstruction; the equivalent capacity
 * form C_eff = C20 (I20/I)^(n-1) is what the BMV's TTG shows: on karioja_bvm702.dump its TTG
 * implies a larger capacity at 2.7 A than at 7.6 A, so the factor is not clamped at 1). */
static double soc_peukert_factor(const struct soc_params *p, double i_abs)
{
    double i20 = p->capacity_ah / 20.0;
    if (p->peukert <= 1.0 || i20 <= 0 || i_abs <= 0)
        return 1.0;
    return pow(i_abs / i20, p->peukert - 1.0);
}

static void soc_sync(struct soc_state *st, const struct soc_params *p)
{
    /* Offset estimation (§3.2 c): at a sync the battery is full, so whatever the unclamped
     * counter holds is the error accumulated since the previous sync. Most of it, at a constant
     * rate, is the sensor offset; the rest (gain, efficiency) is corrected too, which helps the
     * SoC the same way. The first window is taken whole, later ones half (a low-gain filter
     * against one odd week), only over a window with at least 6 h of current flowing, and the
     * estimate is bounded by 1 % of C20. */
    if (p->offset_estimation && st->drift_valid && st->drift_active_h >= 6.0) {
        double resid = -st->drift_ah / st->drift_active_h; /* A of charge the sensor over-reads */
        double lim = 0.01 * p->capacity_ah;
        double gain = st->offset_updates ? 0.5 : 1.0;
        st->offset_a = soc_clamp(st->offset_a + gain * resid, -lim, lim);
        st->offset_updates++;
    }
    st->drift_ah = 0;
    st->drift_active_h = 0;
    st->drift_valid = true;
    st->consumed_ah = 0;
    st->consumed_eff_ah = 0;
}

static unsigned soc_check_charged(struct soc_state *st, const struct soc_params *p, double v,
                                  double i, int64_t dt_ms)
{
    double tail_a = p->tail_current_pct / 100.0 * p->capacity_ah;
    if (v > p->charged_voltage && i < tail_a) {
        st->charged_ms += dt_ms;
        if (st->charged_ms >= p->charged_detect_ms && !st->charged_latched) {
            st->charged_latched = true;
            soc_sync(st, p);
            return SOC_EV_SYNC;
        }
        if (st->charged_latched) /* stays full while the conditions hold */
            st->consumed_ah = st->consumed_eff_ah = 0;
        return 0;
    }
    st->charged_ms = 0;
    st->charged_latched = false;
    return 0;
}

static unsigned soc_check_rest(struct soc_state *st, const struct soc_params *p, double v, double i,
                               int64_t dt_ms)
{
    if (fabs(i) >= p->ocv_rest_current) {
        st->rest_ms = 0;
        st->rest_used = false;
        return 0;
    }
    st->rest_ms += dt_ms;
    if (!p->ocv_recal || st->rest_used || st->rest_ms < p->ocv_rest_ms)
        return 0;
    st->rest_used = true;
    double s = soc_ocv_soc(p, v);
    if (isnan(s))
        return 0;
    soc_set(st, p, s);
    return SOC_EV_OCV;
}

unsigned soc_step(struct soc_state *st, const struct soc_params *p, double v, double i, double t_c,
                  int64_t dt_ms)
{
    if (dt_ms <= 0 || isnan(i) || isnan(v))
        return 0;
    double h = (double)dt_ms / 3600000.0;
    i -= st->offset_a;
    if (fabs(i) < p->current_threshold) /* the BMV's noise guard */
        i = 0;
    st->last_current = i;
    if (i < 0) {
        double ah = -i * h;
        st->consumed_ah += ah;
        double eff = ah * soc_peukert_factor(p, -i);
        st->consumed_eff_ah += eff;
        st->drift_ah += eff;
    } else if (i > 0) {
        double ah = i * h * p->charge_efficiency;
        st->consumed_ah -= ah;
        st->consumed_eff_ah -= ah;
        st->drift_ah -= ah;
    }
    if (i != 0)
        st->drift_active_h += h;
    /* Full cannot be overfilled: the counter stops at 0 (the BMV's CE never goes positive). */
    if (st->consumed_ah < 0)
        st->consumed_ah = 0;
    if (st->consumed_eff_ah < 0)
        st->consumed_eff_ah = 0;
    double cap = soc_capacity_at(p, t_c);
    if (st->consumed_eff_ah > cap)
        st->consumed_eff_ah = cap;

    /* Time-to-go average: an exponential moving average whose time constant is a third of the
     * averaging period, so that it has settled (95 %) after one period. Measured on the BMV-700
     * of karioja_bvm702.dump: after a step from 7.6 to 2.65 A its TTG follows such an average
     * with a time constant of 50-57 s for the default 3 min. 0 = the instantaneous current. */
    if (!st->ttg_have || p->ttg_avg_ms <= 0) {
        st->ttg_current = i;
        st->ttg_have = true;
    } else {
        double a = 3.0 * (double)dt_ms / (double)p->ttg_avg_ms;
        if (a > 1)
            a = 1;
        st->ttg_current += a * (i - st->ttg_current);
    }

    unsigned updates = st->offset_updates;
    unsigned ev = soc_check_charged(st, p, v, i, dt_ms);
    ev |= soc_check_rest(st, p, v, i, dt_ms);
    if (st->offset_updates != updates)
        ev |= SOC_EV_OFFSET;
    soc_update_pct(st, p, t_c);
    return ev;
}

double soc_ttg_s(const struct soc_state *st, const struct soc_params *p, double t_c)
{
    if (!st->ttg_have || st->ttg_current > -p->current_threshold || st->ttg_current >= 0)
        return -1;
    double i = -st->ttg_current;
    double above = (st->soc_pct - p->discharge_floor_pct) / 100.0;
    if (above <= 0)
        return 0;
    /* Peukert capacity at this rate: C_eff = C / factor. */
    double cap = soc_capacity_at(p, t_c) / soc_peukert_factor(p, i);
    return above * cap / i * 3600.0;
}

static double soc_table(const struct soc_ocv_point *t, size_t n, double cell_v)
{
    if (cell_v <= t[0].cell_v)
        return t[0].soc;
    for (size_t k = 1; k < n; k++)
        if (cell_v <= t[k].cell_v) {
            double f = (cell_v - t[k - 1].cell_v) / (t[k].cell_v - t[k - 1].cell_v);
            return t[k - 1].soc + f * (t[k].soc - t[k - 1].soc);
        }
    return t[n - 1].soc;
}

double soc_ocv_soc(const struct soc_params *p, double v)
{
    const struct soc_preset *ps = soc_preset_of(p->chem);
    double cells = round(p->nominal_voltage / ps->cell_v);
    if (cells < 1)
        return NAN;
    double cell_v = v / cells;
    if (p->chem == SOC_CHEM_LIFEPO4) {
        double s = soc_table(soc_ocv_lfp, UTIL_ARRAY_SIZE(soc_ocv_lfp), cell_v);
        return (s < 15.0 || s > 95.0) ? s : NAN;
    }
    return soc_table(soc_ocv_lead, UTIL_ARRAY_SIZE(soc_ocv_lead), cell_v);
}
