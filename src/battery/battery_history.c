/* battery_history: BMV counters, cycles, average SoC and state of health (see the header). */
#include "battery_history.h"

#include "core/util.h"
#include "soc.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* Hysteresis of the rainflow turning points: SoC noise of a fraction of a percent is not a
 * cycle (battery-and-alarms.md §3.1 suggests a 0.5 % dead band; 1 % keeps the residue short). */
#define BH_RF_HYSTERESIS 1.0
/* An SoH sample needs the two anchors this far apart in SoC (%). */
#define BH_SOH_MIN_DSOC 30.0
/* Older SoH estimates keep at most this total weight, so the estimate follows ageing. */
#define BH_SOH_MAX_WEIGHT 3.0

void battery_history_init(struct battery_history *h)
{
    memset(h, 0, sizeof(*h));
    h->cycle_armed = false;
    h->empty_armed = true;
    rainflow_init(&h->rf, BH_RF_HYSTERESIS);
}

static void bh_soh_anchor(struct battery_history *h, double soc)
{
    if (h->anchor_valid) {
        double dsoc = fabs(soc - h->anchor_soc);
        double net = fabs(h->anchor_net_ah);
        /* The counted Ah must go the way the SoC went: down means Ah out. */
        bool consistent = (soc < h->anchor_soc) == (h->anchor_net_ah > 0);
        if (dsoc >= BH_SOH_MIN_DSOC && net > 0 && consistent) {
            double sample = net / (dsoc / 100.0);
            double w = dsoc / 100.0;
            double W = h->soh_weight > BH_SOH_MAX_WEIGHT ? BH_SOH_MAX_WEIGHT : h->soh_weight;
            h->capacity_est_ah =
                h->soh_estimates ? (h->capacity_est_ah * W + sample * w) / (W + w) : sample;
            h->soh_weight = W + w;
            h->soh_estimates++;
        }
    }
    h->anchor_valid = true;
    h->anchor_soc = soc;
    h->anchor_net_ah = 0;
}

static void bh_average(struct battery_history *h, double soc, double dt_s)
{
    h->hour_sum += soc * dt_s;
    h->hour_t += dt_s;
    h->day_sum += soc * dt_s;
    h->day_t += dt_s;
    /* Buckets close on integration time (monotonic), never on the wall clock: a clock step
     * moves nothing. Time the daemon was not running is not in the averages. */
    if (h->hour_t >= 3600.0) {
        h->hours[h->hour_pos] = h->hour_sum / h->hour_t;
        h->hour_pos = (h->hour_pos + 1) % BH_HOURS;
        if (h->nhours < BH_HOURS)
            h->nhours++;
        h->hour_sum = h->hour_t = 0;
    }
    if (h->day_t >= 86400.0) {
        h->days[h->day_pos] = h->day_sum / h->day_t;
        h->day_pos = (h->day_pos + 1) % BH_DAYS;
        if (h->ndays < BH_DAYS)
            h->ndays++;
        h->day_sum = h->day_t = 0;
    }
}

static void bh_alarms(struct battery_history *h, const struct battery_history_conf *c, double v)
{
    if (c->low_voltage > 0) {
        if (!h->low_v_active && v < c->low_voltage) {
            h->low_v_active = true;
            h->low_v_alarms++;
        } else if (h->low_v_active && v > c->low_voltage * 1.02) {
            h->low_v_active = false;
        }
    }
    if (c->high_voltage > 0) {
        if (!h->high_v_active && v > c->high_voltage) {
            h->high_v_active = true;
            h->high_v_alarms++;
        } else if (h->high_v_active && v < c->high_voltage * 0.98) {
            h->high_v_active = false;
        }
    }
}

void battery_history_update(struct battery_history *h, const struct battery_history_conf *c,
                            const struct battery_history_sample *s)
{
    if (s->dt_ms <= 0)
        return;
    double dt_s = (double)s->dt_ms / 1000.0;
    double hrs = dt_s / 3600.0;
    double soc = s->soc_pct;

    if (s->i < 0) {
        double ah = -s->i * hrs;
        h->drawn_ah += ah;
        h->discharged_kwh += s->v * ah / 1000.0;
        h->anchor_net_ah += ah;
    } else if (s->i > 0) {
        h->charged_kwh += s->v * s->i * hrs / 1000.0;
        h->anchor_net_ah -= s->i * hrs * s->charge_efficiency;
    }
    double consumed = c->capacity_ah * (1.0 - soc / 100.0);
    if (consumed > h->deepest_ah)
        h->deepest_ah = consumed;
    if (consumed > h->last_ah)
        h->last_ah = consumed;
    if (s->v > 0.5) { /* a disconnect reading (H7 = 29 mV on a real BMV, §1.5) is not a minimum */
        if (h->min_v == 0 || s->v < h->min_v)
            h->min_v = s->v;
        if (s->v > h->max_v)
            h->max_v = s->v;
    }
    bh_alarms(h, c, s->v);

    /* H4: a cycle is counted when SoC drops below 65 % and then rises above 90 %. */
    if (soc < 65.0)
        h->cycle_armed = true;
    else if (soc > 90.0 && h->cycle_armed) {
        h->cycle_armed = false;
        h->cycles++;
    }
    /* H5: SoC reaches 0 %; counted again only after SoC came back above 10 % (our choice). */
    if (soc <= 0.0 && h->empty_armed) {
        h->empty_armed = false;
        h->full_discharges++;
    } else if (soc > 10.0) {
        h->empty_armed = true;
    }
    /* H10: a sync is counted only if SoC dropped below 90 % before it. */
    if (soc < 90.0)
        h->sync_armed = true;
    if (s->events & SOC_EV_SYNC) {
        if (h->sync_armed)
            h->syncs++;
        h->sync_armed = false;
        h->have_full = true;
        h->since_full_s = 0;
        h->last_ah = 0;
        bh_soh_anchor(h, 100.0);
    } else if (h->have_full) {
        h->since_full_s += dt_s;
    }
    if (s->events & SOC_EV_OCV)
        bh_soh_anchor(h, soc);

    rainflow_sample(&h->rf, 100.0 - soc, NULL, NULL); /* depth of discharge */
    bh_average(h, soc, dt_s);
}

double battery_history_average_ah(const struct battery_history *h)
{
    /* H3 = cumulative Ah drawn / number of cycles; the BMV shows 0 before the first cycle. */
    return h->cycles ? h->drawn_ah / h->cycles : 0;
}

double battery_history_equivalent_cycles(const struct battery_history *h, double capacity_ah)
{
    return capacity_ah > 0 ? h->drawn_ah / capacity_ah : 0;
}

double battery_history_avg_soc(const struct battery_history *h, unsigned days)
{
    double sum = 0, t = 0;
    if (days <= 1) {
        for (unsigned k = 0; k < h->nhours; k++) {
            sum += h->hours[k] * 3600.0;
            t += 3600.0;
        }
        /* the current hour, minus what of the oldest hour it replaces */
        if (h->nhours == BH_HOURS && h->hour_t > 0) {
            double oldest = h->hours[h->hour_pos];
            sum -= oldest * h->hour_t;
            t -= h->hour_t;
        }
        sum += h->hour_sum;
        t += h->hour_t;
    } else {
        unsigned n = h->ndays < days ? h->ndays : days;
        for (unsigned k = 0; k < n; k++) {
            unsigned idx = (h->day_pos + BH_DAYS - 1 - k) % BH_DAYS;
            double w = 86400.0;
            if (k == days - 1 && h->day_t > 0) /* the oldest day gives way to today's part */
                w -= h->day_t;
            sum += h->days[idx] * w;
            t += w;
        }
        sum += h->day_sum;
        t += h->day_t;
    }
    return t > 0 ? sum / t : NAN;
}

double battery_history_soh(const struct battery_history *h, double capacity_ah)
{
    if (!h->soh_estimates || capacity_ah <= 0)
        return NAN;
    return 100.0 * h->capacity_est_ah / capacity_ah;
}

double battery_history_soh_confidence(const struct battery_history *h)
{
    /* Two anchor pairs spanning the whole range (weight 2) make a fully trusted estimate. */
    double c = 100.0 * h->soh_weight / 2.0;
    return c > 100.0 ? 100.0 : c;
}

/* The JSON members, as data: name and offset of each double / unsigned / bool field. */
/* clang-format off */
#define BH_D(f) {#f, offsetof(struct battery_history, f), 'd'}
#define BH_U(f) {#f, offsetof(struct battery_history, f), 'u'}
#define BH_B(f) {#f, offsetof(struct battery_history, f), 'b'}
/* clang-format on */
struct bh_field {
    const char *name;
    size_t off;
    char type;
};
static const struct bh_field bh_fields[] = {
    BH_D(deepest_ah),    BH_D(last_ah),         BH_D(drawn_ah),        BH_U(cycles),
    BH_B(cycle_armed),   BH_U(full_discharges), BH_B(empty_armed),     BH_D(min_v),
    BH_D(max_v),         BH_D(since_full_s),    BH_B(have_full),       BH_U(syncs),
    BH_B(sync_armed),    BH_U(low_v_alarms),    BH_U(high_v_alarms),   BH_B(low_v_active),
    BH_B(high_v_active), BH_D(discharged_kwh),  BH_D(charged_kwh),     BH_D(hour_sum),
    BH_D(hour_t),        BH_U(nhours),          BH_U(hour_pos),        BH_D(day_sum),
    BH_D(day_t),         BH_U(ndays),           BH_U(day_pos),         BH_B(anchor_valid),
    BH_D(anchor_soc),    BH_D(anchor_net_ah),   BH_D(capacity_est_ah), BH_D(soh_weight),
    BH_U(soh_estimates),
};

static json_t *bh_array(const double *a, size_t n)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(arr, json_real(a[k]));
    return arr;
}

static void bh_array_read(double *a, size_t n, const json_t *arr)
{
    if (!json_is_array(arr))
        return;
    for (size_t k = 0; k < n && k < json_array_size(arr); k++) {
        const json_t *v = json_array_get(arr, k);
        if (json_is_number(v) && isfinite(json_number_value(v)))
            a[k] = json_number_value(v);
    }
}

json_t *battery_history_to_json(const struct battery_history *h)
{
    json_t *o = json_object();
    const char *base = (const char *)h;
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(bh_fields); k++) {
        const struct bh_field *f = &bh_fields[k];
        json_t *v = NULL;
        if (f->type == 'd')
            v = json_real(*(const double *)(const void *)(base + f->off));
        else if (f->type == 'u')
            v = json_integer(*(const unsigned *)(const void *)(base + f->off));
        else
            v = json_boolean(*(const bool *)(const void *)(base + f->off));
        json_object_set_new(o, f->name, v);
    }
    json_object_set_new(o, "hours", bh_array(h->hours, BH_HOURS));
    json_object_set_new(o, "days", bh_array(h->days, BH_DAYS));
    json_t *rf = json_object();
    json_object_set_new(rf, "stack", bh_array(h->rf.stack, h->rf.n));
    json_object_set_new(rf, "bins", bh_array(h->rf.bins, RAINFLOW_BINS));
    json_object_set_new(rf, "started", json_boolean(h->rf.started));
    json_object_set_new(rf, "dir", json_integer(h->rf.dir));
    json_object_set_new(rf, "extreme", json_real(h->rf.extreme));
    json_object_set_new(o, "rainflow", rf);
    return o;
}

void battery_history_from_json(struct battery_history *h, const json_t *o)
{
    char *base = (char *)h;
    for (size_t k = 0; k < UTIL_ARRAY_SIZE(bh_fields); k++) {
        const struct bh_field *f = &bh_fields[k];
        const json_t *v = json_object_get(o, f->name);
        if (!v)
            continue;
        if (f->type == 'd' && json_is_number(v) && isfinite(json_number_value(v)))
            *(double *)(void *)(base + f->off) = json_number_value(v);
        else if (f->type == 'u' && json_is_integer(v) && json_integer_value(v) >= 0)
            *(unsigned *)(void *)(base + f->off) = (unsigned)json_integer_value(v);
        else if (f->type == 'b' && json_is_boolean(v))
            *(bool *)(void *)(base + f->off) = json_is_true(v);
    }
    h->hour_pos %= BH_HOURS;
    h->day_pos %= BH_DAYS;
    if (h->nhours > BH_HOURS)
        h->nhours = BH_HOURS;
    if (h->ndays > BH_DAYS)
        h->ndays = BH_DAYS;
    bh_array_read(h->hours, BH_HOURS, json_object_get(o, "hours"));
    bh_array_read(h->days, BH_DAYS, json_object_get(o, "days"));
    const json_t *rf = json_object_get(o, "rainflow");
    if (json_is_object(rf)) {
        const json_t *st = json_object_get(rf, "stack");
        size_t n = json_is_array(st) ? json_array_size(st) : 0;
        h->rf.n = n > RAINFLOW_STACK_MAX ? RAINFLOW_STACK_MAX : n;
        bh_array_read(h->rf.stack, h->rf.n, st);
        bh_array_read(h->rf.bins, RAINFLOW_BINS, json_object_get(rf, "bins"));
        h->rf.started = json_is_true(json_object_get(rf, "started")) && h->rf.n > 0;
        json_int_t d = json_integer_value(json_object_get(rf, "dir"));
        h->rf.dir = d > 0 ? 1 : d < 0 ? -1 : 0;
        const json_t *e = json_object_get(rf, "extreme");
        if (json_is_number(e) && isfinite(json_number_value(e)))
            h->rf.extreme = json_number_value(e);
    }
}
