/* sdnotify: tells systemd (Type=notify) that sitewatchd is ready, reloading, alive or stopping. */
#ifndef SITEWATCH_SDNOTIFY_H
#define SITEWATCH_SDNOTIFY_H

#include "log.h"

#include <stddef.h>
#include <stdint.h>

/* Watchdog pacing, owned by the caller (the main loop). */
struct sdnotify {
    int64_t watchdog_interval_ms; /* 0: the unit has no WatchdogSec= (or not under systemd) */
    int64_t watchdog_next_ms;     /* CLOCK_MONOTONIC instant of the next WATCHDOG=1 */
    struct log_throttle throttle; /* a failing keep-alive is logged once, then hourly */
};

/* Reads WATCHDOG_USEC/WATCHDOG_PID (sd_watchdog_enabled) and sets the keep-alive pace to half
 * the unit's WatchdogSec=. Outside systemd everything in this module is a silent no-op. */
void sdnotify_init(struct sdnotify *n);

/* READY=1 with a STATUS= line naming the device count: start-up (or a reload) is complete.
 * Returns 0 (also when not under systemd) or -errno from sd_notify; failures are logged once. */
int sdnotify_ready(size_t ndevices);

/* RELOADING=1 (with MONOTONIC_USEC=, as systemd >= 253 requires): a SIGHUP reload began. READY=1
 * must follow when it ends, whether the new configuration was taken or refused. 0 or -errno. */
int sdnotify_reloading(void);

/* STOPPING=1: shutdown began. 0 or -errno. */
int sdnotify_stopping(void);

/* Sends WATCHDOG=1 if the pace set by sdnotify_init says it is due at now_ms (CLOCK_MONOTONIC).
 * Call it from the main loop, so that a wedged main loop is what the watchdog catches. */
void sdnotify_watchdog(struct sdnotify *n, int64_t now_ms);

#endif
