/* sunspec_scan: finds SunSpec devices on a range of IPv4 addresses (Modbus-TCP): for each address
 * and unit id, the "SunS" marker at 40000, 50000 or 0, and model 1 (who it is). Used by
 * `sitewatch scan` and the daemon's opt-in [pvscan]. */
#ifndef SITEWATCH_SUNSPEC_SCAN_H
#define SITEWATCH_SUNSPEC_SCAN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SUNSPEC_SCAN_MAX_HOSTS 1024

/* One device that answered SunSpec. */
struct sunspec_found {
    char address[48];
    int port;
    int unit;
    uint32_t base; /* address of "SunS" */
    char manufacturer[33];
    char model[33];
    char serial[33];
    char version[17];
};

/* "a.b.c.d/nn" (or one address) → the host addresses to probe, in host byte order: every address
 * of a /31 or /32, the network and broadcast addresses left out otherwise. At most
 * SUNSPEC_SCAN_MAX_HOSTS. 0, -EINVAL, or -E2BIG for a range that is too large. */
int sunspec_scan_range(const char *cidr, uint32_t *first, uint32_t *count);

/* Probes ip:port on each unit id of units[n] (one connection, timeout_ms per request) and calls
 * found for each SunSpec answer. stop (may be NULL) ends the probe early. Returns the number
 * found (0 when nothing listens), or -errno for a bad address. */
int sunspec_scan_host(const char *ip, int port, const int *units, size_t n, int64_t timeout_ms,
                      const atomic_bool *stop,
                      void (*found)(const struct sunspec_found *f, void *ctx), void *ctx);

/* `sitewatch scan CIDR [--port N] [--timeout MS]`: probes units 1, 2 and 126 on every address
 * and prints one line per SunSpec answer. 0 when something was found, 1 when nothing was,
 * -EINVAL for bad arguments (after a message). */
int sunspec_scan_cli(int argc, char **argv);

/* The unit ids a scan tries: 1 and 2 (Fronius inverter numbers) and 126 (the SunSpec default). */
extern const int sunspec_scan_units[3];

#endif
