/* service: the contract of a core module that runs off the store (system values, SoC, alarms,
 * RRD, Modbus server ...). Modules are listed in src/core/services.def and started in that order
 * after the drivers, stopped in reverse order, and restarted with the new configuration on a
 * reload. */
#ifndef SITEWATCH_SERVICE_H
#define SITEWATCH_SERVICE_H

#include "api.h"
#include "conf.h"
#include "store.h"

/* What a service gets: the store, the validated configuration, and the API to add routes to. */
struct core {
    struct store *store;
    const struct conf *conf;
    struct api_ctx *api;
    /* Runs a driver command on a configured device (see runner_command): 0 or -errno;
     * -ENOENT when there is no such device. */
    int (*device_command)(struct core *core, const char *device, const char *name, const char *arg);
    void *priv; /* for device_command */
};

struct service {
    const char *name;
    /* Starts the service; *inst is its instance (NULL when it has nothing to do in this
     * configuration). 0, or -errno after logging why (the daemon then refuses to start). */
    int (*start)(struct core *core, void **inst);
    /* Stops it, saving whatever state must survive, and unregisters its routes. inst may be NULL.
     */
    void (*stop)(void *inst);
};

#endif
