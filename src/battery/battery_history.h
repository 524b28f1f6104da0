/* battery_history: the battery-monitor counters as the BMV defines them (battery-and-alarms.md
 * §1.5: deepest/last/average discharge, charge cycles, full discharges, Ah drawn, min/max voltage,
 * time since full, syncs, voltage alarms, energies) and what no monitor shows: equivalent full
 * cycles, a rainflow depth-of-discharge histogram, time-weighted average SoC over 1/7/30/90 days
 * and a state-of-health estimate with its confidence. Pure: fed one sample at a time. */
#ifndef SITEWATCH_BATTERY_HISTORY_H
#define SITEWATCH_BATTERY_HISTORY_H

#include "rainflow.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define BH_HOURS 24 /* hourly SoC means for the 1-day average */
#define BH_DAYS 90  /* daily SoC means for the 7/30/90-day averages */

struct battery_history {
    /* BMV counters (Ah are positive here; published negative like the BMV's H1/H2/H3/H6) */
    double deepest_ah;        /* H1: largest consumed Ah ever */
    double last_ah;           /* H2: largest consumed Ah since the last sync */
    double drawn_ah;          /* H6: cumulative Ah drawn */
    unsigned cycles;          /* H4: SoC below 65 % then above 90 % */
    bool cycle_armed;         /* SoC went below 65 % */
    unsigned full_discharges; /* H5: SoC reached 0 % */
    bool empty_armed;         /* re-armed once SoC is back above 10 % */
    double min_v, max_v;      /* H7 / H8 (0 = none yet) */
    double since_full_s;      /* H9: seconds of integration time since the last sync */
    bool have_full;
    unsigned syncs; /* H10: syncs that followed a SoC below 90 % */
    bool sync_armed;
    unsigned low_v_alarms, high_v_alarms; /* H11 / H12 */
    bool low_v_active, high_v_active;
    double discharged_kwh, charged_kwh; /* H17 / H18 */
    /* beyond the BMV */
    struct rainflow rf;
    double hour_sum, hour_t; /* SoC·s and s of the current hour */
    double hours[BH_HOURS];  /* ring of hourly means */
    unsigned nhours, hour_pos;
    double day_sum, day_t; /* current day */
    double days[BH_DAYS];
    unsigned ndays, day_pos;
    /* state of health: Ah counted since the last trusted anchor (sync = 100 %, or an OCV rest) */
    bool anchor_valid;
    double anchor_soc;      /* SoC % at the anchor */
    double anchor_net_ah;   /* net Ah (discharge minus efficiency-weighted charge) since */
    double capacity_est_ah; /* filtered estimate, 0 = none yet */
    double soh_weight;      /* sum of the weights of the estimates (ΔSoC / 100 each) */
    unsigned soh_estimates;
};

/* Thresholds for the history's voltage alarm counters (0 = off). */
struct battery_history_conf {
    double capacity_ah;
    double low_voltage;  /* alarm when below; clears 2 % above */
    double high_voltage; /* alarm when above; clears 2 % below */
};

/* One sample fed to the history. */
struct battery_history_sample {
    int64_t dt_ms;
    double v, i; /* i positive = charge (after the engine's offset and threshold) */
    double soc_pct;
    double charge_efficiency;
    unsigned events; /* SOC_EV_* of this step */
};

void battery_history_init(struct battery_history *h);
void battery_history_update(struct battery_history *h, const struct battery_history_conf *c,
                            const struct battery_history_sample *s);

/* Derived values. */
double battery_history_average_ah(const struct battery_history *h); /* H3 */
double battery_history_equivalent_cycles(const struct battery_history *h, double capacity_ah);
/* Time-weighted average SoC over the last `days` days (1, 7, 30, 90); NaN before any data. */
double battery_history_avg_soc(const struct battery_history *h, unsigned days);
/* State of health in % of the rated capacity and its confidence 0..100 %; NaN when unknown. */
double battery_history_soh(const struct battery_history *h, double capacity_ah);
double battery_history_soh_confidence(const struct battery_history *h);

/* JSON (de)serialisation for the state file. from_json ignores missing or mistyped members. */
json_t *battery_history_to_json(const struct battery_history *h);
void battery_history_from_json(struct battery_history *h, const json_t *o);

#endif
