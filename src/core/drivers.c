/* drivers: the list of compiled-in drivers, generated from drivers/drivers.def. */
#include "drivers.h"

#include "util.h"

#include <string.h>

const struct driver *const drivers_all[] = {
#define DRIVER(n) &driver_##n,
#include "drivers/drivers.def"
#undef DRIVER
};
const size_t drivers_count = UTIL_ARRAY_SIZE(drivers_all);

const struct driver *drivers_find(const char *name)
{
    for (size_t i = 0; i < drivers_count; i++)
        if (strcmp(drivers_all[i]->name, name) == 0)
            return drivers_all[i];
    return NULL;
}
