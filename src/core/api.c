/* api: JSON API handlers over the store, built with jansson. */
#include "api.h"

#include "json.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_MAX_POINTS 8192
#define API_VERSION "0.1.0"

const char *api_state_name(enum point_state s)
{
    static const char *const names[] = {
        [POINT_UNSET] = "unset",
        [POINT_OK] = "ok",
        [POINT_STALE] = "stale",
        [POINT_NA] = "na",
    };
    return (size_t)s < UTIL_ARRAY_SIZE(names) ? names[s] : "unset";
}

void api_reply_json(struct api_reply *out, int status, json_t *doc)
{
    out->status = status;
    out->type = "application/json";
    out->body = json_dumps_exact(doc, JSON_COMPACT);
    out->len = out->body ? strlen(out->body) : 0;
    json_decref(doc);
}

void api_reply_error(struct api_reply *out, int status, const char *msg)
{
    api_reply_json(out, status, json_pack("{s:s}", "error", msg));
}

void api_reply_data(struct api_reply *out, int status, const char *type, const void *data,
                    size_t len)
{
    out->status = status;
    out->type = type;
    out->body = xmalloc(len + 1);
    memcpy(out->body, data, len);
    out->body[len] = '\0';
    out->len = len;
}

json_t *api_point_json(const struct point *p, int64_t now_mono)
{
    json_t *o = json_object();
    json_object_set_new(o, "value", p->state == POINT_OK ? json_real(p->value) : json_null());
    json_object_set_new(o, "unit", json_string(p->unit));
    json_object_set_new(o, "state", json_string(api_state_name(p->state)));
    json_object_set_new(o, "ts", p->wall_ms ? json_integer(p->wall_ms) : json_null());
    json_object_set_new(o, "age_ms",
                        p->wall_ms ? json_integer(now_mono - p->mono_ms) : json_null());
    return o;
}

static bool api_key_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

static void api_points(struct api_ctx *ctx, const char *prefix, struct api_reply *out)
{
    if (prefix && (strlen(prefix) >= STORE_KEY_MAX || !api_key_ok(prefix))) {
        api_reply_error(out, 400, "prefix must be a point key prefix such as bmv/");
        return;
    }
    /* Sized to the store (points are never deleted; a few spare for ones defined meanwhile): a
     * 1.3 MB buffer per request cost more than the request itself. */
    size_t cap = store_point_count(ctx->store) + 64;
    if (cap > API_MAX_POINTS)
        cap = API_MAX_POINTS;
    struct point *pts = xmalloc(cap * sizeof(*pts));
    size_t n = store_snapshot(ctx->store, prefix, pts, cap);
    if (n > cap)
        n = cap;
    int64_t now = util_mono_ms();
    /* Streamed out with the small writer: this is the most requested document of the daemon
     * (every console refresh, every SCADA-side poller), and a jansson tree cost 5x more. */
    struct json_buf b;
    json_buf_init(&b, 64 + n * 110);
    json_buf_raw(&b, "{\"points\":{");
    for (size_t i = 0; i < n; i++) {
        const struct point *p = &pts[i];
        if (i)
            json_buf_raw(&b, ",");
        json_buf_str(&b, p->key);
        json_buf_raw(&b, ":{\"value\":");
        if (p->state == POINT_OK)
            json_buf_num(&b, p->value);
        else
            json_buf_raw(&b, "null");
        json_buf_raw(&b, ",\"unit\":");
        json_buf_str(&b, p->unit);
        json_buf_raw(&b, ",\"state\":\"");
        json_buf_raw(&b, api_state_name(p->state));
        json_buf_raw(&b, "\",\"ts\":");
        if (p->wall_ms) {
            json_buf_int(&b, p->wall_ms);
            json_buf_raw(&b, ",\"age_ms\":");
            json_buf_int(&b, now - p->mono_ms);
        } else {
            json_buf_raw(&b, "null,\"age_ms\":null");
        }
        json_buf_raw(&b, "}");
    }
    json_buf_raw(&b, "}}");
    free(pts);
    out->status = 200;
    out->type = "application/json";
    out->body = json_buf_take(&b, &out->len);
}

static void api_point(struct api_ctx *ctx, const char *key, struct api_reply *out)
{
    struct point p;
    if (strlen(key) >= STORE_KEY_MAX || store_get(ctx->store, key, &p) != 0) {
        api_reply_error(out, 404, "no such point");
        return;
    }
    json_t *o = api_point_json(&p, util_mono_ms());
    json_object_set_new(o, "key", json_string(p.key));
    api_reply_json(out, 200, o);
}

static json_t *api_device_json(const struct device_info *d)
{
    char pid[12] = "";
    if (d->product_id)
        snprintf(pid, sizeof(pid), "0x%04X", (unsigned)d->product_id);
    json_t *counters = json_object();
    for (size_t c = 0; c < DEV_CNT_MAX; c++)
        json_object_set_new(counters, store_counter_names[c],
                            json_integer((json_int_t)d->counters[c]));
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(d->name));
    json_object_set_new(o, "driver", json_string(d->driver));
    json_object_set_new(o, "service", d->service[0] ? json_string(d->service) : json_null());
    json_object_set_new(o, "instance", d->instance >= 0 ? json_integer(d->instance) : json_null());
    json_object_set_new(o, "product_id", pid[0] ? json_string(pid) : json_null());
    json_object_set_new(o, "product_name",
                        d->product_name[0] ? json_string(d->product_name) : json_null());
    json_object_set_new(o, "serial", d->serial[0] ? json_string(d->serial) : json_null());
    json_object_set_new(o, "firmware", d->firmware[0] ? json_string(d->firmware) : json_null());
    json_object_set_new(o, "connection", json_string(d->connection));
    json_object_set_new(o, "state", json_string(store_conn_name(d->conn)));
    json_object_set_new(o, "status", json_string(d->status));
    json_object_set_new(o, "discovery", d->discovery[0] ? json_string(d->discovery) : json_null());
    json_object_set_new(o, "since", json_integer(d->conn_since_wall_ms));
    json_object_set_new(o, "counters", counters);
    return o;
}

static void api_devices(struct api_ctx *ctx, struct api_reply *out)
{
    json_t *arr = json_array();
    size_t n = store_device_count_all(ctx->store);
    for (size_t i = 0; i < n; i++) {
        struct device_info d;
        if (store_device_get(ctx->store, (int)i, &d) == 0 && d.conn != DEV_CONN_STOPPED)
            json_array_append_new(arr, api_device_json(&d));
    }
    api_reply_json(out, 200, json_pack("{s:o}", "devices", arr));
}

static void api_health(struct api_ctx *ctx, struct api_reply *out)
{
    size_t n = store_device_count_all(ctx->store);
    size_t ok = 0, down = 0;
    for (size_t i = 0; i < n; i++) {
        struct device_info d;
        if (store_device_get(ctx->store, (int)i, &d) != 0 || d.conn == DEV_CONN_STOPPED)
            continue;
        if (d.conn == DEV_CONN_OK)
            ok++;
        else
            down++;
    }
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(down == 0 ? "ok" : "degraded"));
    pthread_rwlock_rdlock(&ctx->lock);
    json_object_set_new(o, "site", json_string(ctx->site_name));
    pthread_rwlock_unlock(&ctx->lock);
    json_object_set_new(o, "version", json_string(API_VERSION));
    json_object_set_new(o, "uptime_s", json_integer((util_mono_ms() - ctx->start_mono_ms) / 1000));
    json_object_set_new(o, "devices_ok", json_integer((json_int_t)ok));
    json_object_set_new(o, "devices_down", json_integer((json_int_t)down));
    json_object_set_new(o, "points", json_integer((json_int_t)store_point_count(ctx->store)));
    api_reply_json(out, 200, o);
}

void api_init(struct api_ctx *ctx, struct store *store, const char *site_name)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->store = store;
    util_strlcpy(ctx->site_name, site_name, sizeof(ctx->site_name));
    ctx->start_mono_ms = util_mono_ms();
    pthread_rwlock_init(&ctx->lock, NULL);
    pthread_mutex_init(&ctx->access_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ctx->access_cv, &ca);
    pthread_condattr_destroy(&ca);
}

void api_set_site_name(struct api_ctx *ctx, const char *site_name)
{
    pthread_rwlock_wrlock(&ctx->lock);
    util_strlcpy(ctx->site_name, site_name, sizeof(ctx->site_name));
    pthread_rwlock_unlock(&ctx->lock);
}

void api_destroy(struct api_ctx *ctx)
{
    pthread_rwlock_destroy(&ctx->lock);
    pthread_cond_destroy(&ctx->access_cv);
    pthread_mutex_destroy(&ctx->access_mu);
}

int api_route_add(struct api_ctx *ctx, const char *method, const char *path, api_handler fn,
                  void *fctx)
{
    pthread_rwlock_wrlock(&ctx->lock);
    int r = -ENOSPC;
    if (ctx->nroutes < API_MAX_ROUTES) {
        ctx->routes[ctx->nroutes++] = (struct api_route){method, path, fn, fctx};
        r = 0;
    }
    pthread_rwlock_unlock(&ctx->lock);
    return r;
}

void api_route_remove(struct api_ctx *ctx, void *fctx)
{
    pthread_rwlock_wrlock(&ctx->lock);
    size_t o = 0;
    for (size_t i = 0; i < ctx->nroutes; i++)
        if (ctx->routes[i].ctx != fctx)
            ctx->routes[o++] = ctx->routes[i];
    ctx->nroutes = o;
    pthread_rwlock_unlock(&ctx->lock);
}

static bool api_path_match(const char *route, const char *path)
{
    size_t n = strlen(route);
    return route[n - 1] == '/' ? strncmp(route, path, n) == 0 && path[n] != '\0'
                               : strcmp(route, path) == 0;
}

/* Registered routes. Returns true when one answered. The read lock is held while the handler
 * runs, so a module cannot be stopped under a running request. */
static bool api_dispatch(struct api_ctx *ctx, const struct api_request *r, struct api_reply *out)
{
    bool path_known = false, done = false;
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    pthread_rwlock_rdlock(&ctx->lock);
    for (size_t i = 0; i < ctx->nroutes && !done; i++) {
        const struct api_route *rt = &ctx->routes[i];
        if (!api_path_match(rt->path, r->path))
            continue;
        path_known = true;
        if (strcmp(rt->method, method) == 0) {
            rt->fn(rt->ctx, r, out);
            done = true;
        }
    }
    pthread_rwlock_unlock(&ctx->lock);
    if (!done && path_known) {
        api_reply_error(out, 405, "method not allowed on this path");
        done = true;
    }
    return done;
}

void api_handle(struct api_ctx *ctx, const struct api_request *r, struct api_reply *out)
{
    memset(out, 0, sizeof(*out));
    static const char points_prefix[] = "/api/v1/points/";
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    bool builtin = strcmp(r->path, "/api/v1/points") == 0 ||
                   strncmp(r->path, points_prefix, sizeof(points_prefix) - 1) == 0 ||
                   strcmp(r->path, "/api/v1/devices") == 0 ||
                   strcmp(r->path, "/api/v1/health") == 0;
    if (builtin && !get)
        api_reply_error(out, 405, "only GET is supported here");
    else if (strcmp(r->path, "/api/v1/points") == 0)
        api_points(ctx, r->arg(r->req, "prefix"), out);
    else if (strncmp(r->path, points_prefix, sizeof(points_prefix) - 1) == 0)
        api_point(ctx, r->path + sizeof(points_prefix) - 1, out);
    else if (strcmp(r->path, "/api/v1/devices") == 0)
        api_devices(ctx, out);
    else if (strcmp(r->path, "/api/v1/health") == 0)
        api_health(ctx, out);
    else if (!api_dispatch(ctx, r, out))
        api_reply_error(out, 404, "no such API endpoint");
}

void api_reply_free(struct api_reply *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(r->set_cookie); i++) {
        free(r->set_cookie[i]);
        r->set_cookie[i] = NULL;
    }
    if (r->stream.free)
        r->stream.free(r->stream.cls);
    r->stream = (struct api_stream){0};
}

void api_set_access(struct api_ctx *ctx, api_access_fn fn, void *actx)
{
    pthread_rwlock_wrlock(&ctx->lock);
    ctx->access = fn;
    ctx->access_ctx = actx;
    pthread_rwlock_unlock(&ctx->lock);
    pthread_mutex_lock(&ctx->access_mu);
    ctx->access_decided = true;
    pthread_cond_broadcast(&ctx->access_cv);
    pthread_mutex_unlock(&ctx->access_mu);
}

void api_access_suspend(struct api_ctx *ctx)
{
    pthread_mutex_lock(&ctx->access_mu);
    ctx->access_decided = false;
    pthread_mutex_unlock(&ctx->access_mu);
    pthread_rwlock_wrlock(&ctx->lock);
    ctx->access = NULL;
    ctx->access_ctx = NULL;
    pthread_rwlock_unlock(&ctx->lock);
}

bool api_authorize(struct api_ctx *ctx, struct api_request *r, struct api_reply *out)
{
    memset(out, 0, sizeof(*out));
    struct timespec deadline;
    util_mono_deadline(&deadline, API_ACCESS_WAIT_MS);
    pthread_mutex_lock(&ctx->access_mu);
    while (!ctx->access_decided &&
           pthread_cond_timedwait(&ctx->access_cv, &ctx->access_mu, &deadline) != ETIMEDOUT)
        ;
    bool decided = ctx->access_decided;
    pthread_mutex_unlock(&ctx->access_mu);
    if (!decided) {
        api_reply_error(out, 503, "starting or reloading: access control not ready");
        return false;
    }
    bool ok = true;
    pthread_rwlock_rdlock(&ctx->lock);
    if (ctx->access)
        ok = ctx->access(ctx->access_ctx, r, out);
    pthread_rwlock_unlock(&ctx->lock);
    return ok;
}

bool api_require_admin(const struct api_request *r, struct api_reply *out)
{
    if (r->role == API_ROLE_ADMIN || r->from_loopback)
        return true;
    if (r->role == API_ROLE_NONE)
        api_reply_error(out, 401, "log in as an admin to do this");
    else
        api_reply_error(out, 403, "this needs the admin role");
    return false;
}

void api_reply_stream(struct api_reply *out, const char *type, struct api_stream stream)
{
    out->status = 200;
    out->type = type;
    out->stream = stream;
}
