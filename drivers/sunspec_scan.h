/* sunspec_scan: finds SunSpec devices on a range of IPv4 addresses (Modbus-TCP): for each address
 * and unit id, the "SunS" marker at 40000, 50000 or 0, and model 1 (who it is). Used by
 * `sitewatch scan` and the daemon's opt-in [pvscan]. Also what the driver and the scan share
 * when they try unit ids in turn: how each unit answered, and the unit remembered per device. */
#ifndef SITEWATCH_SUNSPEC_SCAN_H
#define SITEWATCH_SUNSPEC_SCAN_H

#include <stdatomic.h>
#include <stdbool.h>
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

/* How one unit id answered the search for SunSpec. Any answer but FOUND means "not this unit":
 * the search goes on with the next unit id. Devices and gateways differ in what they do with a
 * unit id they do not serve: exception 0x0B or 0x0A (a Fronius data manager), no answer at all,
 * or closing or resetting the TCP connection (issue 14); the connection is opened again after
 * the answers that leave it unusable. */
enum sunspec_answer {
    SUNSPEC_ANS_FOUND,     /* the "SunS" marker */
    SUNSPEC_ANS_NONE,      /* answers, but no marker at 40000, 50000 or 0 (or no such register) */
    SUNSPEC_ANS_NO_UNIT,   /* gateway exception 0x0A / 0x0B: nobody behind that unit id */
    SUNSPEC_ANS_EXCEPTION, /* another Modbus exception (a device that fails) */
    SUNSPEC_ANS_TIMEOUT,   /* no answer within the timeout */
    SUNSPEC_ANS_RESET,     /* the peer reset or closed the connection (RST, EPIPE, end of file) */
    SUNSPEC_ANS_GARBAGE,   /* a reply that is no answer to the request */
    SUNSPEC_ANS_IO,        /* another I/O error */
    SUNSPEC_ANS_MAX,
};

/* The answer of a probe's result r (0, -ENODEV, or a libmodbus -errno). */
enum sunspec_answer sunspec_answer_of(int r);
/* A short text for the device status ("connection reset"), and whether the connection must be
 * opened again before the next unit is asked (reset, timeout: a late reply must not pass for
 * the next unit's). */
const char *sunspec_answer_text(enum sunspec_answer a);
bool sunspec_answer_reconnects(enum sunspec_answer a);

/* Appends "unit: how" (", " between entries) to the list text[len] of units tried, e.g.
 * "1: connection reset, 2: timeout, 126: SunSpec found"; an exception names its code. A list
 * that does not fit ends in "...". */
void sunspec_tried_append(char *text, size_t len, int unit, enum sunspec_answer a, int r);

/* The unit a device last answered SunSpec on, kept in its state file as two lines
 * "unit = 126" and "address = host:port". sunspec_memo_format writes them into buf[len]
 * (0 or -ENOSPC); sunspec_memo_parse reads them back: 0 with *unit, -ESRCH when the memo is for
 * another address (the device moved: forget it), -EINVAL when the text is not a memo. */
int sunspec_memo_format(char *buf, size_t len, const char *address, int unit);
int sunspec_memo_parse(const char *text, const char *address, int *unit);
/* Moves unit to the front of units[n], the others keeping their order: true when it was there. */
bool sunspec_units_prefer(int *units, size_t n, int unit);

#endif
