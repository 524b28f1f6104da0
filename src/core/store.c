/* store: fixed-capacity point store and device registry behind one mutex. */
#include "store.h"

#include "util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *const store_counter_names[DEV_CNT_MAX] = {
    [DEV_CNT_BYTES] = "bytes",
    [DEV_CNT_FRAMES_OK] = "frames_ok",
    [DEV_CNT_CHECKSUM_ERRORS] = "checksum_errors",
    [DEV_CNT_FRAME_ERRORS] = "frame_errors",
    [DEV_CNT_HEX_FRAMES] = "hex_frames",
    [DEV_CNT_TIMEOUTS] = "timeouts",
    [DEV_CNT_RECONNECTS] = "reconnects",
};

static const char *const store_conn_names[] = {
    [DEV_CONN_INIT] = "init",
    [DEV_CONN_OK] = "ok",
    [DEV_CONN_LOST] = "lost",
    [DEV_CONN_STOPPED] = "stopped",
};

const char *store_conn_name(enum dev_conn c)
{
    return (size_t)c < UTIL_ARRAY_SIZE(store_conn_names) ? store_conn_names[c] : "?";
}

struct store {
    pthread_mutex_t lock;
    struct point *points;
    size_t npoints, max_points;
    int32_t *hash; /* open addressing: point index or -1 */
    size_t hash_size;
    struct device_info *devices;
    size_t ndevices, max_devices;
    uint64_t seq;
};

struct store *store_new(size_t max_points, size_t max_devices)
{
    struct store *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->max_points = max_points;
    s->points = xcalloc(max_points, sizeof(*s->points));
    s->hash_size = 1;
    while (s->hash_size < max_points * 2)
        s->hash_size <<= 1;
    s->hash = xmalloc(s->hash_size * sizeof(*s->hash));
    for (size_t i = 0; i < s->hash_size; i++)
        s->hash[i] = -1;
    s->max_devices = max_devices;
    s->devices = xcalloc(max_devices, sizeof(*s->devices));
    return s;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->points);
    free(s->hash);
    free(s->devices);
    free(s);
}

/* FNV-1a: keys are short ASCII paths. */
static uint32_t store_hash(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* Returns the hash slot holding key, or the empty slot where it would go. Lock held. */
static size_t store_slot(const struct store *s, const char *key)
{
    size_t mask = s->hash_size - 1;
    size_t i = store_hash(key) & mask;
    while (s->hash[i] >= 0 && strcmp(s->points[s->hash[i]].key, key) != 0)
        i = (i + 1) & mask;
    return i;
}

static bool store_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n >= STORE_KEY_MAX || key[0] == '/' || key[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return false;
    }
    return true;
}

int store_point_define(struct store *s, int dev, const char *key, const char *unit, int64_t ttl_ms)
{
    if (!store_key_ok(key))
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    size_t slot = store_slot(s, key);
    int id = s->hash[slot];
    if (id < 0) {
        if (s->npoints >= s->max_points) {
            pthread_mutex_unlock(&s->lock);
            return -ENOSPC;
        }
        id = (int)s->npoints++;
        struct point *p = &s->points[id];
        util_strlcpy(p->key, key, sizeof(p->key));
        p->state = POINT_UNSET;
        p->seq = ++s->seq;
        s->hash[slot] = id;
    }
    struct point *p = &s->points[id];
    util_strlcpy(p->unit, unit ? unit : "", sizeof(p->unit));
    p->ttl_ms = ttl_ms;
    p->dev = dev;
    pthread_mutex_unlock(&s->lock);
    return id;
}

static int store_write(struct store *s, int id, double value, enum point_state state)
{
    if (id < 0)
        return -EINVAL;
    int64_t mono = util_mono_ms();
    int64_t wall = util_wall_ms();
    pthread_mutex_lock(&s->lock);
    if ((size_t)id >= s->npoints) {
        pthread_mutex_unlock(&s->lock);
        return -EINVAL;
    }
    struct point *p = &s->points[id];
    if (p->state != state || (state == POINT_OK && p->value != value))
        p->seq = ++s->seq;
    p->value = state == POINT_OK ? value : 0;
    p->state = state;
    p->mono_ms = mono;
    p->wall_ms = wall;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int store_set(struct store *s, int id, double value)
{
    if (!isfinite(value))
        return -EINVAL;
    return store_write(s, id, value, POINT_OK);
}

int store_set_na(struct store *s, int id)
{
    return store_write(s, id, 0, POINT_NA);
}

void store_device_stale(struct store *s, int dev)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->npoints; i++) {
        struct point *p = &s->points[i];
        if (p->dev == dev && (p->state == POINT_OK || p->state == POINT_NA)) {
            p->state = POINT_STALE;
            p->seq = ++s->seq;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* Copy out, turning an ok value past its TTL into stale. Lock held. */
static void store_copy(const struct point *p, int64_t now, struct point *out)
{
    *out = *p;
    if (out->state == POINT_OK && out->ttl_ms > 0 && now - out->mono_ms > out->ttl_ms)
        out->state = POINT_STALE;
    if (out->state != POINT_OK)
        out->value = 0;
}

int store_get(struct store *s, const char *key, struct point *out)
{
    int64_t now = util_mono_ms();
    pthread_mutex_lock(&s->lock);
    int id = s->hash[store_slot(s, key)];
    if (id >= 0)
        store_copy(&s->points[id], now, out);
    pthread_mutex_unlock(&s->lock);
    return id >= 0 ? 0 : -ENOENT;
}

size_t store_snapshot(struct store *s, const char *prefix, struct point *out, size_t max)
{
    int64_t now = util_mono_ms();
    size_t plen = prefix ? strlen(prefix) : 0;
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->npoints; i++) {
        if (plen && strncmp(s->points[i].key, prefix, plen) != 0)
            continue;
        if (n < max)
            store_copy(&s->points[i], now, &out[n]);
        n++;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

size_t store_point_count(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->npoints;
    pthread_mutex_unlock(&s->lock);
    return n;
}

uint64_t store_seq(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t q = s->seq;
    pthread_mutex_unlock(&s->lock);
    return q;
}

int store_device_add(struct store *s, const char *name, const char *driver)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->ndevices; i++) {
        if (strcmp(s->devices[i].name, name) == 0) {
            util_strlcpy(s->devices[i].driver, driver, sizeof(s->devices[i].driver));
            pthread_mutex_unlock(&s->lock);
            return (int)i;
        }
    }
    if (s->ndevices >= s->max_devices) {
        pthread_mutex_unlock(&s->lock);
        return -ENOSPC;
    }
    int id = (int)s->ndevices++;
    struct device_info *d = &s->devices[id];
    memset(d, 0, sizeof(*d));
    util_strlcpy(d->name, name, sizeof(d->name));
    util_strlcpy(d->driver, driver, sizeof(d->driver));
    d->instance = -1;
    d->conn = DEV_CONN_INIT;
    d->conn_since_wall_ms = util_wall_ms();
    util_strlcpy(d->status, "starting", sizeof(d->status));
    pthread_mutex_unlock(&s->lock);
    return id;
}

/* Runs f on device dev under the lock when dev is valid. */
#define STORE_WITH_DEVICE(s, dev, body)                                                            \
    do {                                                                                           \
        pthread_mutex_lock(&(s)->lock);                                                            \
        if ((dev) >= 0 && (size_t)(dev) < (s)->ndevices) {                                         \
            struct device_info *d = &(s)->devices[dev];                                            \
            body;                                                                                  \
        }                                                                                          \
        pthread_mutex_unlock(&(s)->lock);                                                          \
    } while (0)

void store_device_set_identity(struct store *s, int dev, uint32_t product_id, const char *product,
                               const char *serial, const char *firmware)
{
    STORE_WITH_DEVICE(s, dev, {
        if (product_id)
            d->product_id = product_id;
        if (product)
            util_strlcpy(d->product_name, product, sizeof(d->product_name));
        if (serial)
            util_strlcpy(d->serial, serial, sizeof(d->serial));
        if (firmware)
            util_strlcpy(d->firmware, firmware, sizeof(d->firmware));
    });
}

void store_device_set_service(struct store *s, int dev, const char *service, int instance)
{
    STORE_WITH_DEVICE(s, dev, {
        if (strcmp(d->service, service) != 0 || d->instance < 0) {
            util_strlcpy(d->service, service, sizeof(d->service));
            if (instance < 0) {
                /* Like a GX: the first device of a class gets instance 0, the next 1, ... */
                instance = 0;
                for (bool taken = true; taken; instance += taken) {
                    taken = false;
                    for (size_t i = 0; i < s->ndevices; i++)
                        if ((int)i != dev && s->devices[i].instance == instance &&
                            strcmp(s->devices[i].service, service) == 0)
                            taken = true;
                }
            }
            d->instance = instance;
        }
    });
}

void store_device_set_connection(struct store *s, int dev, const char *where)
{
    STORE_WITH_DEVICE(s, dev, util_strlcpy(d->connection, where, sizeof(d->connection)));
}

void store_device_set_discovery(struct store *s, int dev, const char *text)
{
    STORE_WITH_DEVICE(s, dev, util_strlcpy(d->discovery, text, sizeof(d->discovery)));
}

void store_device_set_state(struct store *s, int dev, enum dev_conn conn, const char *status)
{
    int64_t now = util_wall_ms();
    STORE_WITH_DEVICE(s, dev, {
        if (d->conn != conn)
            d->conn_since_wall_ms = now;
        d->conn = conn;
        if (status)
            util_strlcpy(d->status, status, sizeof(d->status));
    });
}

void store_device_counter_add(struct store *s, int dev, enum dev_counter c, uint64_t n)
{
    if ((unsigned)c >= DEV_CNT_MAX)
        return;
    STORE_WITH_DEVICE(s, dev, d->counters[c] += n);
}

int store_device_get(struct store *s, int dev, struct device_info *out)
{
    int r = -ENOENT;
    STORE_WITH_DEVICE(s, dev, {
        *out = *d;
        r = 0;
    });
    return r;
}

int store_device_find(struct store *s, const char *name)
{
    int id = -ENOENT;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->ndevices; i++)
        if (strcmp(s->devices[i].name, name) == 0)
            id = (int)i;
    pthread_mutex_unlock(&s->lock);
    return id;
}

size_t store_device_count_all(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->ndevices;
    pthread_mutex_unlock(&s->lock);
    return n;
}
