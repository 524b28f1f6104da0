/* sdnotify: the sd_notify(3) messages of sitewatchd's life cycle, through libsystemd. Built with
 * WITH_SYSTEMD=0 (no libsystemd) nothing is sent and the watchdog is off. */
#include "sdnotify.h"

#include "log.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#if WITH_SYSTEMD
#include <systemd/sd-daemon.h>
#else
static int sd_notify(int unset_environment, const char *state)
{
    (void)unset_environment;
    (void)state;
    return 0; /* as libsystemd does when NOTIFY_SOCKET is unset */
}
static int sd_watchdog_enabled(int unset_environment, uint64_t *usec)
{
    (void)unset_environment;
    *usec = 0;
    return 0;
}
#endif

/* sd_notify returns > 0 when sent, 0 when NOTIFY_SOCKET is unset (not started by systemd as
 * Type=notify), < 0 (-errno) on failure. Only a failure is worth a log line. */
static int sdnotify_send(const char *state)
{
    int r = sd_notify(0, state);
    if (r < 0) {
        log_msg(LOG_WARNING, "sd_notify(%.*s): %s", (int)strcspn(state, "\n"), state, strerror(-r));
        return r;
    }
    return 0;
}

void sdnotify_init(struct sdnotify *n)
{
    uint64_t usec = 0;
    *n = (struct sdnotify){0};
    log_throttle_init(&n->throttle, 3600 * 1000);
    /* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is this process. */
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        n->watchdog_interval_ms = (int64_t)(usec / 2000u);
        if (n->watchdog_interval_ms < 1)
            n->watchdog_interval_ms = 1;
        log_msg(LOG_INFO, "systemd watchdog: keep-alive every %lld ms",
                (long long)n->watchdog_interval_ms);
    }
}

int sdnotify_ready(size_t ndevices)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=running, %zu device%s", ndevices,
             ndevices == 1 ? "" : "s");
    return sdnotify_send(msg);
}

int sdnotify_reloading(void)
{
    char msg[96];
    /* systemd wants the CLOCK_MONOTONIC instant of the reload in microseconds. */
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading",
             (long long)util_mono_ms() * 1000LL);
    return sdnotify_send(msg);
}

int sdnotify_stopping(void)
{
    return sdnotify_send("STOPPING=1\nSTATUS=stopping");
}

void sdnotify_watchdog(struct sdnotify *n, int64_t now_ms)
{
    if (n->watchdog_interval_ms <= 0 || now_ms < n->watchdog_next_ms)
        return;
    n->watchdog_next_ms = now_ms + n->watchdog_interval_ms;
    /* Sent every few seconds: a broken NOTIFY_SOCKET must not flood the log. */
    int r = sd_notify(0, "WATCHDOG=1");
    if (r < 0)
        (void)log_complain(&n->throttle, LOG_WARNING, "sd_notify(WATCHDOG=1): %s", strerror(-r));
    else
        log_release(&n->throttle, "sd_notify(WATCHDOG=1) works again");
}
