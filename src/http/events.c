/* events: the Server-Sent Events hub. The producer (a ticker) copies the store out, compares each
 * point's sequence and state with the last published ones, and appends one text batch
 * ("event: points" with the changed points, then "event: alarms" when an Alarms/ point changed) to
 * a ring. Client streams copy batches out under the hub lock and write them without it, so a slow
 * client costs only its own connection thread; a client that falls further behind than the ring
 * gets "event: snapshot" (every point) instead of the batches it missed. */
#include "events.h"

#include "core/json.h"
#include "core/log.h"
#include "core/ticker.h"
#include "core/util.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENTS_MAX_POINTS 8192

struct events_batch {
    uint64_t id;
    char *text;
    size_t len;
};

struct events_hub {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* CLOCK_MONOTONIC */
    unsigned refs;          /* the service + one per stream */
    bool closed;
    unsigned clients;
    uint64_t next_id; /* id of the next batch */
    struct events_batch ring[EVENTS_RING];
    /* producer only (ticker thread): */
    struct store *store;
    struct api_ctx *api;
    struct ticker *ticker;
    struct point *pts;
    uint64_t *last_seq;
    enum point_state *last_state;
    size_t nlast;
};

struct events_stream {
    struct events_hub *hub;
    uint64_t want; /* next batch id to send */
    bool started;
    char *pending;
    size_t plen, poff;
    int64_t last_send_ms;
};

static void events_hub_unref(struct events_hub *h)
{
    pthread_mutex_lock(&h->lock);
    bool last = --h->refs == 0;
    pthread_mutex_unlock(&h->lock);
    if (!last)
        return;
    for (size_t i = 0; i < EVENTS_RING; i++)
        free(h->ring[i].text);
    free(h->pts);
    free(h->last_seq);
    free(h->last_state);
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* "id: N\nevent: NAME\ndata: JSON\n\n" (+ the alarms hint); the JSON is one line. */
static char *events_format(uint64_t id, const char *name, json_t *data, bool alarms, size_t *len)
{
    char *js = json_dumps_exact(data, JSON_COMPACT);
    if (!js)
        return NULL;
    size_t n = strlen(js) + 128;
    char *out = xmalloc(n);
    int w = snprintf(out, n, "id: %llu\nevent: %s\ndata: %s\n\n%s", (unsigned long long)id, name,
                     js, alarms ? "event: alarms\ndata: {}\n\n" : "");
    free(js);
    *len = w > 0 ? (size_t)w : 0;
    return out;
}

static void events_tick(void *arg)
{
    struct events_hub *h = arg;
    size_t n = store_snapshot(h->store, NULL, h->pts, EVENTS_MAX_POINTS);
    if (n > EVENTS_MAX_POINTS)
        n = EVENTS_MAX_POINTS;
    int64_t now = util_mono_ms();
    json_t *changed = json_object();
    bool alarms = false;
    for (size_t i = 0; i < n; i++) {
        const struct point *p = &h->pts[i];
        if (i < h->nlast && h->last_seq[i] == p->seq && h->last_state[i] == p->state)
            continue;
        h->last_seq[i] = p->seq;
        h->last_state[i] = p->state;
        json_object_set_new(changed, p->key, api_point_json(p, now));
        if (strstr(p->key, "/Alarms/"))
            alarms = true;
    }
    h->nlast = n;
    if (json_object_size(changed) == 0) {
        json_decref(changed);
        return;
    }
    pthread_mutex_lock(&h->lock);
    uint64_t id = h->next_id;
    pthread_mutex_unlock(&h->lock);
    size_t len;
    char *text = events_format(id, "points", changed, alarms, &len);
    json_decref(changed);
    if (!text)
        return;
    pthread_mutex_lock(&h->lock);
    struct events_batch *b = &h->ring[id % EVENTS_RING];
    free(b->text);
    *b = (struct events_batch){.id = id, .text = text, .len = len};
    h->next_id = id + 1;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
}

/* Every point, for a new or resynchronised client. */
static char *events_snapshot(struct events_hub *h, uint64_t id, size_t *len)
{
    struct point *pts = xmalloc(EVENTS_MAX_POINTS * sizeof(*pts));
    size_t n = store_snapshot(h->store, NULL, pts, EVENTS_MAX_POINTS);
    if (n > EVENTS_MAX_POINTS)
        n = EVENTS_MAX_POINTS;
    int64_t now = util_mono_ms();
    json_t *all = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(all, pts[i].key, api_point_json(&pts[i], now));
    free(pts);
    char *text = events_format(id ? id - 1 : 0, "snapshot", all, true, len);
    json_decref(all);
    return text;
}

static long events_copy(struct events_stream *s, char *buf, size_t max)
{
    size_t n = s->plen - s->poff;
    if (n > max)
        n = max;
    memcpy(buf, s->pending + s->poff, n);
    s->poff += n;
    if (s->poff == s->plen) {
        free(s->pending);
        s->pending = NULL;
        s->plen = s->poff = 0;
    }
    s->last_send_ms = util_mono_ms();
    return (long)n;
}

static long events_read(void *cls, char *buf, size_t max)
{
    struct events_stream *s = cls;
    struct events_hub *h = s->hub;
    if (s->pending)
        return events_copy(s, buf, max);
    pthread_mutex_lock(&h->lock);
    bool resync = !s->started || (h->next_id > EVENTS_RING && s->want < h->next_id - EVENTS_RING);
    if (!resync && !h->closed && s->want == h->next_id) {
        struct timespec ts;
        util_mono_deadline(&ts, 1000);
        pthread_cond_timedwait(&h->changed, &h->lock, &ts);
    }
    if (h->closed) {
        pthread_mutex_unlock(&h->lock);
        return -1; /* the service stopped (reload): the browser reconnects */
    }
    uint64_t next = h->next_id;
    if (!resync && s->want < next) {
        const struct events_batch *b = &h->ring[s->want % EVENTS_RING];
        s->pending = xmalloc(b->len);
        memcpy(s->pending, b->text, b->len);
        s->plen = b->len;
        s->want++;
    }
    pthread_mutex_unlock(&h->lock);
    if (resync) {
        s->pending = events_snapshot(h, next, &s->plen);
        s->want = next;
        s->started = true;
        if (!s->pending)
            return -1;
    } else if (!s->pending && util_mono_ms() - s->last_send_ms >= EVENTS_KEEPALIVE_MS) {
        s->pending = xstrdup(": keepalive\n\n");
        s->plen = strlen(s->pending);
    }
    return s->pending ? events_copy(s, buf, max) : 0;
}

static void events_stream_free(void *cls)
{
    struct events_stream *s = cls;
    struct events_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    h->clients--;
    pthread_mutex_unlock(&h->lock);
    free(s->pending);
    free(s);
    events_hub_unref(h);
}

/* GET /api/v1/events. */
static void events_get(void *ctx, const struct api_request *r, struct api_reply *out)
{
    (void)r;
    struct events_hub *h = ctx;
    pthread_mutex_lock(&h->lock);
    bool full = h->clients >= EVENTS_MAX_CLIENTS;
    if (!full) {
        h->clients++;
        h->refs++;
    }
    pthread_mutex_unlock(&h->lock);
    if (full) {
        api_reply_error(out, 503, "too many event streams");
        return;
    }
    struct events_stream *s = xcalloc(1, sizeof(*s));
    s->hub = h;
    s->last_send_ms = util_mono_ms();
    api_reply_stream(
        out, "text/event-stream",
        (struct api_stream){.read = events_read, .free = events_stream_free, .cls = s});
}

static void events_stop(void *inst)
{
    struct events_hub *h = inst;
    if (!h)
        return;
    api_route_remove(h->api, h);
    ticker_stop(h->ticker);
    pthread_mutex_lock(&h->lock);
    h->closed = true;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
    events_hub_unref(h);
}

static int events_start(struct core *core, void **inst)
{
    struct events_hub *h = xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->changed, &ca);
    pthread_condattr_destroy(&ca);
    h->refs = 1;
    h->next_id = 1;
    h->store = core->store;
    h->api = core->api;
    h->pts = xmalloc(EVENTS_MAX_POINTS * sizeof(*h->pts));
    h->last_seq = xcalloc(EVENTS_MAX_POINTS, sizeof(*h->last_seq));
    h->last_state = xcalloc(EVENTS_MAX_POINTS, sizeof(*h->last_state));
    h->ticker = ticker_start("events", EVENTS_PERIOD_MS, events_tick, h);
    if (!h->ticker || api_route_add(core->api, "GET", "/api/v1/events", events_get, h) != 0) {
        events_stop(h);
        return -ENOMEM;
    }
    *inst = h;
    return 0;
}

const struct service service_events = {
    .name = "events", .start = events_start, .stop = events_stop};
