/* driver: the contract between the core and a device driver, and the calls a driver may make.
 *
 * A driver is three functions and a table of config keys (STYLE.md §4). The core callocs
 * priv_size bytes per instance (drv_priv), runs open/poll on the instance's own thread, and owns
 * retries, back-off, stale marking and log throttling. Drivers keep no mutable statics. */
#ifndef SITEWATCH_DRIVER_H
#define SITEWATCH_DRIVER_H

#include "store.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct drv_instance;

enum drv_key_type {
    DRV_KEY_STRING,
    DRV_KEY_BOOL,     /* yes/no */
    DRV_KEY_DURATION, /* 500ms, 5s, 2m */
    DRV_KEY_INT,      /* whole number (the default text, e.g. "auto", is also accepted) */
    DRV_KEY_DOUBLE,   /* a decimal number */
    DRV_KEY_PORT,     /* a serial port (tty, by-id link or tcp://host:port): one device per port */
};

/* One accepted config key: name, type, default (NULL = required), for numbers and durations the
 * allowed range "min..max" written like values ("1..65535", "100ms..10m"; NULL = the type's
 * default range DRV_KEY_RANGE_*), and one line of help. */
struct drv_key {
    const char *name;
    enum drv_key_type type;
    const char *def;
    const char *range;
    const char *help;
};
#define DRV_KEY_RANGE_INT "0..65535"
#define DRV_KEY_RANGE_DURATION "0s..1d"
#define DRV_KEY_RANGE_DOUBLE "-1e12..1e12"

/* One point a driver can publish, for --list-points and the docs. */
struct drv_point_doc {
    const char *service;
    const char *path;
    const char *unit;
    const char *help;
};

struct driver {
    const char *name;           /* value of `driver =` in a [device NAME] section */
    const char *description;    /* one line, shown by `sitewatchd --list-drivers` */
    const struct drv_key *keys; /* accepted config keys, ended by {0}; others are errors */
    size_t priv_size;           /* the core callocs this per instance: drv_priv() */
    int (*open)(struct drv_instance *di);   /* acquire and identify the device; 0 or -errno */
    int (*poll)(struct drv_instance *di);   /* read once, publish points; < 0 → stale + reopen */
    void (*close)(struct drv_instance *di); /* release what open() took, even if half done */
    int (*command)(struct drv_instance *di, const char *name, const char *arg); /* optional */
    /* optional: calls emit for every point the driver can publish */
    void (*list_points)(void (*emit)(const struct drv_point_doc *doc, void *ctx), void *ctx);
};

/* The per-instance state the core allocated for the driver. */
void *drv_priv(struct drv_instance *di);
/* The device name (config section name). */
const char *drv_name(const struct drv_instance *di);
/* Config values: the configured value, else the key's default. The key must be in the driver's
 * table (the config was validated against it before the driver runs). */
const char *drv_conf(const struct drv_instance *di, const char *key);
bool drv_conf_bool(const struct drv_instance *di, const char *key);
int64_t drv_conf_ms(const struct drv_instance *di, const char *key);
long drv_conf_long(const struct drv_instance *di, const char *key);
/* True once the core wants the instance to stop: long operations should return. */
bool drv_stopping(const struct drv_instance *di);

/* Logs with a "driver[device]: " prefix. */
void drv_log(const struct drv_instance *di, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Defines a point "<device>/<path>"; returns its id or -errno. Cheap when it already exists. */
int drv_point(struct drv_instance *di, const char *path, const char *unit, int64_t ttl_ms);
void drv_set(struct drv_instance *di, int id, double value);
void drv_set_na(struct drv_instance *di, int id);
/* Identity and class, as soon as the device tells them. NULL leaves a field unchanged. */
void drv_set_identity(struct drv_instance *di, uint32_t product_id, const char *product,
                      const char *serial, const char *firmware);
void drv_set_service(struct drv_instance *di, const char *service);
void drv_set_connection(struct drv_instance *di, const char *where);
/* How the driver is looking or last looked for the device (the addresses or unit ids tried and
 * how each answered), shown as "discovery" in the device status; it stays until replaced. */
void drv_set_discovery(struct drv_instance *di, const char *text);
void drv_count(struct drv_instance *di, enum dev_counter c, uint64_t n);
/* Says what is wrong, for the device status and the runner's (throttled) log line. */
void drv_status(struct drv_instance *di, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Marks the link healthy (first valid data after open); the runner logs the recovery. */
void drv_link_ok(struct drv_instance *di);
/* Small per-device state files kept across restarts: <state_dir>/<driver>-<device>.<what>.
 * drv_state_read copies the file into buf[len] (NUL-terminated; -EFBIG when it does not fit):
 * 0, -ENOENT when there is none (or no state_dir), or -errno. drv_state_write replaces it
 * atomically (tmp + fsync + rename): 0 or -errno. */
int drv_state_read(const struct drv_instance *di, const char *what, char *buf, size_t len);
int drv_state_write(const struct drv_instance *di, const char *what, const char *text);
/* Caps the runner's back-off for this instance (a local serial port is cheap to reopen). */
void drv_set_backoff_max(struct drv_instance *di, int64_t ms);

#endif
