/* battery: the [battery NAME] sections: a sitewatch battery monitor per section, fed from any
 * current and voltage points, running the SoC engine (soc.c) and the history (battery_history.c),
 * publishing device NAME with Venus battery paths, its state saved atomically to
 * <state_dir>/battery-NAME.json at least every minute and at stop, restored at start. */
#ifndef SITEWATCH_BATTERY_H
#define SITEWATCH_BATTERY_H

#include "core/conf.h"
#include "core/service.h"
#include "core/store.h"
#include "soc.h"

#include <stdint.h>

struct battery;

/* Builds the monitor of one [battery NAME] section on store, restoring its state from state_dir
 * (a missing or corrupt file: a warning and start_soc). NULL after logging why. */
struct battery *battery_new(struct store *store, const struct conf_section *sec,
                            const char *state_dir);
/* Reads the inputs and integrates up to now_mono_ms (CLOCK_MONOTONIC; the wall clock is never
 * used for integration, so a clock step changes nothing). Saves when the save interval is due. */
void battery_tick(struct battery *b, int64_t now_mono_ms);
/* Writes the state file now. 0 or -errno. */
int battery_save(struct battery *b);
/* Saves and frees; NULL is a no-op. */
void battery_free(struct battery *b);
/* The engine state and parameters (tests, the bench). */
const struct soc_state *battery_soc(const struct battery *b);
const struct soc_params *battery_params(const struct battery *b);

/* Builds engine parameters from a [battery] section (chemistry preset, then the keys set). */
void battery_params_from_conf(const struct conf_section *sec, struct soc_params *p);

#endif
