/* soc: the state-of-charge engine, pure: Coulomb counting with Peukert and charge efficiency,
 * synchronisation to 100 % (charged voltage + tail current held for the detection time), optional
 * rest-voltage (OCV) recalibration, optional current-offset estimation, time-to-go averaging and a
 * temperature coefficient. No clocks, no I/O: the caller passes each sample with its duration. */
#ifndef SITEWATCH_SOC_H
#define SITEWATCH_SOC_H

#include <stdbool.h>
#include <stdint.h>

enum soc_chem {
    SOC_CHEM_LEAD_ACID = 0, /* flooded */
    SOC_CHEM_AGM,
    SOC_CHEM_GEL,
    SOC_CHEM_LIFEPO4,
};

struct soc_params {
    enum soc_chem chem;
    double nominal_voltage;     /* V: 12, 24, 48 (gives the cell count for the OCV tables) */
    double capacity_ah;         /* at the 20 h rate (C20) */
    double charged_voltage;     /* V: above this ... */
    double tail_current_pct;    /* ... and charge current below this % of capacity ... */
    int64_t charged_detect_ms;  /* ... held this long = full (sync to 100 %) */
    double peukert;             /* 1.00 disables */
    double charge_efficiency;   /* 0..1: share of the charge Ah credited */
    double current_threshold;   /* A: |I| below this counts as 0 */
    double discharge_floor_pct; /* time-to-go target */
    int64_t ttg_avg_ms;         /* time-to-go averaging period; 0 = instantaneous */
    double temp_coeff_pct;      /* capacity %/°C below 20 °C; 0 = off */
    bool ocv_recal;             /* recalibrate from the rest voltage */
    int64_t ocv_rest_ms;        /* rest needed before the voltage is trusted */
    double ocv_rest_current;    /* A: |I| below this is rest */
    bool offset_estimation;     /* learn the current-sensor offset from sync to sync */
};

/* The engine state; every field survives a restart (see battery.c's state file). */
struct soc_state {
    double soc_pct;          /* 0..100 */
    double consumed_ah;      /* Ah taken out since full, charge credited × efficiency (BMV CE) */
    double consumed_eff_ah;  /* same, discharge weighted by Peukert: what the SoC uses */
    double ttg_current;      /* A, averaged current for time-to-go (negative = discharge) */
    bool ttg_have;           /* ttg_current holds a value */
    int64_t charged_ms;      /* how long both charged conditions have held */
    bool charged_latched;    /* synced during the current charged episode */
    int64_t rest_ms;         /* how long the current has been below ocv_rest_current */
    bool rest_used;          /* an OCV recalibration was done during this rest */
    double offset_a;         /* estimated sensor offset, subtracted from every reading */
    double drift_ah;         /* unclamped effective counter since the last sync */
    double drift_active_h;   /* hours above the current threshold since the last sync */
    bool drift_valid;        /* a sync started the drift window */
    unsigned offset_updates; /* how many times offset_a was corrected */
    double last_current;     /* A, the corrected current of the last sample */
};

/* Events soc_step reports (a bit mask). */
#define SOC_EV_SYNC 0x1u   /* synchronised to 100 % */
#define SOC_EV_OCV 0x2u    /* recalibrated from the rest voltage */
#define SOC_EV_OFFSET 0x4u /* the current-offset estimate changed */

/* Parses "lead-acid", "agm", "gel", "lifepo4". 0 or -EINVAL. */
int soc_chem_parse(const char *s, enum soc_chem *out);
const char *soc_chem_name(enum soc_chem c);
/* Fills p with the defaults of a chemistry at a nominal voltage (battery-and-alarms.md §1.2 for
 * the Victron settings; see soc.c for the sources of each preset) and capacity_ah. */
void soc_params_preset(enum soc_chem chem, double nominal_voltage, double capacity_ah,
                       struct soc_params *p);

/* Starts the engine at soc_pct (100 = "battery starts synchronised"). */
void soc_init(struct soc_state *st, const struct soc_params *p, double soc_pct);
/* Sets the SoC by hand (e.g. the first SOC of a replayed monitor); keeps the other state. */
void soc_set(struct soc_state *st, const struct soc_params *p, double soc_pct);

/* Integrates one sample held for dt_ms: battery voltage v (V), current i (A, positive = charge),
 * temperature t_c (°C, NaN when unknown). Returns the SOC_EV_* events of this step. */
unsigned soc_step(struct soc_state *st, const struct soc_params *p, double v, double i, double t_c,
                  int64_t dt_ms);

/* Time to go in seconds until the discharge floor, from the averaged current; -1 when it is
 * infinite (charging or idle). */
double soc_ttg_s(const struct soc_state *st, const struct soc_params *p, double t_c);

/* The capacity available at temperature t_c (NaN = 20 °C), in Ah. */
double soc_capacity_at(const struct soc_params *p, double t_c);

/* SoC (%) at rest from the battery voltage v through the chemistry's OCV table; NaN when the
 * chemistry's table is not trusted at that voltage (LiFePO4 between 15 and 95 %). */
double soc_ocv_soc(const struct soc_params *p, double v);

#endif
