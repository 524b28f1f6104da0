/* energy: daily, monthly and yearly kWh totals (PV DC and AC, consumption, grid in/out, battery
 * in/out) integrated from the "system" power points, kept for years in one small state file per
 * year under state_dir/energy/. */
#ifndef SITEWATCH_ENERGY_H
#define SITEWATCH_ENERGY_H

#include "core/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum energy_counter {
    ENERGY_PV_DC,
    ENERGY_PV_AC,
    ENERGY_CONSUMPTION,
    ENERGY_GRID_IN,
    ENERGY_GRID_OUT,
    ENERGY_BATTERY_IN,
    ENERGY_BATTERY_OUT,
    ENERGY_MAX,
};

/* JSON names of the counters, indexed by enum energy_counter. */
extern const char *const energy_counter_names[ENERGY_MAX];

struct energy;

/* Loads the totals kept under state_dir/energy/ (a corrupt file is a warning, set aside as
 * *.corrupt) and, when store is not NULL, starts a 1 s ticker that integrates its power points
 * and saves every save_ms. Never NULL. */
struct energy *energy_new(struct store *store, const char *state_dir, int64_t save_ms);
/* Stops the ticker, saves, frees. NULL is a no-op. */
void energy_free(struct energy *e);

/* Integrates one instant: pts are the store's points (only system/ power points are used),
 * wall is the local calendar time they belong to, mono_ms the monotonic clock. Two instants
 * further apart than 60 s are not integrated across (the daemon was down). */
void energy_feed(struct energy *e, const struct point *pts, size_t n, time_t wall, int64_t mono_ms);

/* Writes the years that changed since the last save, atomically. 0 or -errno. */
int energy_save(struct energy *e);

/* The totals of period "day", "month" or "year" whose local calendar period intersects
 * [from, to]: {"period": ..., "unit": "kWh", "rows": [{"date": "2026-11-21", "pv_dc": 1.2, ...}]}
 * (periods without any data are left out). -EINVAL for an unknown period. *out is new. */
int energy_query(struct energy *e, const char *period, time_t from, time_t to, json_t **out);

#endif
