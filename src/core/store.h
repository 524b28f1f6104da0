/* store: the point store and device registry, the only shared mutable state of the daemon.
 * One lock, fixed capacity, copy-out reads; nothing runs under the lock but copying. */
#ifndef SITEWATCH_STORE_H
#define SITEWATCH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_KEY_MAX 96
#define STORE_UNIT_MAX 8
#define STORE_NAME_MAX 32

enum point_state {
    POINT_UNSET = 0, /* defined, never written */
    POINT_OK,        /* value is current */
    POINT_STALE,     /* older than its TTL, or its device is lost */
    POINT_NA,        /* the device says "not available" */
};

/* A copy of one point. value is meaningful only when state == POINT_OK. */
struct point {
    char key[STORE_KEY_MAX];
    char unit[STORE_UNIT_MAX];
    double value;
    enum point_state state;
    int64_t wall_ms; /* CLOCK_REALTIME of the last write (0 = never) */
    int64_t mono_ms; /* CLOCK_MONOTONIC of the last write */
    int64_t ttl_ms;  /* an ok value older than this reads as stale; 0 = never */
    int dev;         /* owning device id, -1 for none */
    uint64_t seq;    /* store-wide change sequence of the last state or value change */
};

/* Link counters every device keeps. */
enum dev_counter {
    DEV_CNT_BYTES,
    DEV_CNT_FRAMES_OK,
    DEV_CNT_CHECKSUM_ERRORS,
    DEV_CNT_FRAME_ERRORS,
    DEV_CNT_HEX_FRAMES,
    DEV_CNT_TIMEOUTS,
    DEV_CNT_RECONNECTS,
    DEV_CNT_MAX,
};
/* JSON names of the counters, indexed by enum dev_counter. */
extern const char *const store_counter_names[DEV_CNT_MAX];

enum dev_conn {
    DEV_CONN_INIT = 0, /* configured, not opened yet */
    DEV_CONN_OK,       /* data flowing */
    DEV_CONN_LOST,     /* open failed or the device went quiet; retrying */
    DEV_CONN_STOPPED,  /* removed from the configuration */
};
const char *store_conn_name(enum dev_conn c);

struct device_info {
    char name[STORE_NAME_MAX];
    char driver[STORE_NAME_MAX];
    char service[STORE_NAME_MAX]; /* Venus service class, "" until known */
    int instance;                 /* device instance, -1 until known */
    uint32_t product_id;
    char product_name[64];
    char serial[32];
    char firmware[24];
    char connection[128]; /* where: port path or host:port */
    enum dev_conn conn;
    char status[160]; /* human-readable state detail ("no data for 3 s") */
    /* how the driver last looked for the device, "" when it says nothing (sunspec: "1: connection
     * reset, 2: timeout, 126: SunSpec found") */
    char discovery[256];
    int64_t conn_since_wall_ms;
    uint64_t counters[DEV_CNT_MAX];
};

struct store;

/* Creates a store for at most max_points points and max_devices devices. */
struct store *store_new(size_t max_points, size_t max_devices);
void store_free(struct store *s);

/* Defines a point (or returns the existing id of that key). dev is the writer. Returns the id,
 * -ENOSPC when full, -EINVAL for a bad key. */
int store_point_define(struct store *s, int dev, const char *key, const char *unit, int64_t ttl_ms);
/* Writes a value and makes the point ok. NaN and infinities are refused with -EINVAL (never
 * stored). */
int store_set(struct store *s, int id, double value);
/* Marks a point "not available". */
int store_set_na(struct store *s, int id);
/* Marks every ok point of a device stale (device lost). */
void store_device_stale(struct store *s, int dev);

/* Copies one point by key; its state accounts for the TTL. 0 or -ENOENT. */
int store_get(struct store *s, const char *key, struct point *out);
/* Copies the points whose key starts with prefix (NULL = all), in definition order, into out[max].
 * Returns the number of matching points (may exceed max: then only max were copied). */
size_t store_snapshot(struct store *s, const char *prefix, struct point *out, size_t max);
size_t store_point_count(struct store *s);
/* The current change sequence. */
uint64_t store_seq(struct store *s);

/* Adds a device (or returns the id of an existing one with that name). -ENOSPC when full. */
int store_device_add(struct store *s, const char *name, const char *driver);
void store_device_set_identity(struct store *s, int dev, uint32_t product_id, const char *product,
                               const char *serial, const char *firmware);
/* Sets the service class; when instance < 0 the next free instance of that class is assigned. */
void store_device_set_service(struct store *s, int dev, const char *service, int instance);
void store_device_set_connection(struct store *s, int dev, const char *where);
void store_device_set_discovery(struct store *s, int dev, const char *text);
void store_device_set_state(struct store *s, int dev, enum dev_conn conn, const char *status);
void store_device_counter_add(struct store *s, int dev, enum dev_counter c, uint64_t n);
int store_device_get(struct store *s, int dev, struct device_info *out);
int store_device_find(struct store *s, const char *name);
size_t store_device_count_all(struct store *s);

#endif
