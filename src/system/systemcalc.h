/* systemcalc: the system values of device "system" (Venus com.victronenergy.system paths),
 * computed from whatever devices exist, by service class, with the formulas of the GX's
 * dbus-systemcalc-py (gx-modbus/NOTES.md "How the GX computes the system values"). A value whose
 * inputs are not all ok is not written (it goes stale after its TTL), never a partial sum; a value
 * no device contributes to is "not available". Configured by an optional [system] section. */
#ifndef SITEWATCH_SYSTEMCALC_H
#define SITEWATCH_SYSTEMCALC_H

#include "core/conf.h"
#include "core/store.h"

#include <stdint.h>

struct systemcalc;

/* Creates the calculator on store, configured by sec ([system], NULL = defaults). Points are
 * written with a TTL of ttl_ms. NULL after logging why. */
struct systemcalc *systemcalc_new(struct store *store, const struct conf_section *sec,
                                  int64_t ttl_ms);
/* Reads every device's points once and publishes the system values. */
void systemcalc_update(struct systemcalc *sc);
/* The name of the battery device used by the last update ("" = none). */
const char *systemcalc_battery_device(const struct systemcalc *sc);
void systemcalc_free(struct systemcalc *sc);

#endif
