/* drivers: the table of compiled-in drivers (drivers/drivers.def). */
#ifndef SITEWATCH_DRIVERS_H
#define SITEWATCH_DRIVERS_H

#include "driver.h"

#include <stddef.h>

#define DRIVER(n) extern const struct driver driver_##n;
#include "drivers/drivers.def"
#undef DRIVER

extern const struct driver *const drivers_all[];
extern const size_t drivers_count;

/* The driver called name, or NULL. */
const struct driver *drivers_find(const char *name);

#endif
