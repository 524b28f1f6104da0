/* console: log ring, masked configuration and diagnostics bundle routes for the web console. */
#include "console.h"

#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CONSOLE_MASK "********"

struct console {
    struct core *core;
    const struct conf *conf;
};

bool console_key_secret(const char *key)
{
    static const char *const words[] = {"password", "secret", "token", "hash", "passphrase"};
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(words); i++)
        if (strstr(key, words[i]))
            return true;
    return false;
}

static json_t *console_section_json(const char *type, const char *name, const char *file, int line,
                                    const struct conf_kv *kv, size_t nkv)
{
    json_t *keys = json_object();
    for (size_t i = 0; i < nkv; i++)
        json_object_set_new(
            keys, kv[i].key,
            json_string(console_key_secret(kv[i].key) ? CONSOLE_MASK : kv[i].value));
    return json_pack("{s:s,s:o,s:s,s:i,s:o}", "type", type, "name",
                     name ? json_string(name) : json_null(), "file", file ? file : "", "line", line,
                     "keys", keys);
}

json_t *console_config_json(const struct conf *c)
{
    json_t *secs = json_array();
    for (size_t i = 0; i < c->nsections; i++) {
        const struct conf_section *s = &c->sections[i];
        json_array_append_new(
            secs, console_section_json(s->type->type, s->name, s->file, s->line, s->kv, s->nkv));
    }
    for (size_t i = 0; i < c->ndevices; i++) {
        const struct conf_device *d = &c->devices[i];
        json_array_append_new(
            secs, console_section_json("device", d->name, d->file, d->line, d->kv, d->nkv));
    }
    return json_pack("{s:s,s:o}", "file", c->path ? c->path : "", "sections", secs);
}

static json_t *console_log_json(void)
{
    struct log_line *lines = xmalloc(LOG_RING_LINES * sizeof(*lines));
    size_t n = log_recent(lines, LOG_RING_LINES);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I,s:s,s:s}", "ts", (json_int_t)lines[i].wall_ms,
                                             "level", log_level_name(lines[i].prio), "text",
                                             lines[i].text));
    free(lines);
    return arr;
}

/* GET /api/v1/log (admin: log lines name clients and users). */
static void console_log(void *ctx, const struct api_request *r, struct api_reply *out)
{
    (void)ctx;
    if (!api_require_admin(r, out))
        return;
    api_reply_json(out, 200, json_pack("{s:o}", "lines", console_log_json()));
}

/* GET /api/v1/console: what this daemon offers, so that the console asks only for what exists
 * (no 404s in the browser's console). Runs under the API's route lock, held by the dispatcher. */
static void console_caps(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct console *c = ctx;
    struct api_ctx *api = c->core->api;
    static const char *const builtin[] = {"/api/v1/points", "/api/v1/points/", "/api/v1/devices",
                                          "/api/v1/health"};
    json_t *routes = json_array();
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(builtin); i++)
        json_array_append_new(routes, json_pack("{s:s,s:s}", "method", "GET", "path", builtin[i]));
    for (size_t i = 0; i < api->nroutes; i++)
        json_array_append_new(routes, json_pack("{s:s,s:s}", "method", api->routes[i].method,
                                                "path", api->routes[i].path));
    api_reply_json(out, 200,
                   json_pack("{s:o,s:b,s:s,s:s?}", "routes", routes, "can_change",
                             r->role == API_ROLE_ADMIN || r->from_loopback, "role",
                             r->role == API_ROLE_ADMIN    ? "admin"
                             : r->role == API_ROLE_VIEWER ? "viewer"
                                                          : "none",
                             "user", r->user[0] ? r->user : NULL));
}

/* GET /api/v1/config. */
static void console_config(void *ctx, const struct api_request *r, struct api_reply *out)
{
    (void)r;
    struct console *c = ctx;
    api_reply_json(out, 200, console_config_json(c->conf));
}

/* A built-in GET answered through the API itself, as JSON (NULL when not JSON). */
static json_t *console_get(struct console *c, const struct api_request *r, const char *path)
{
    struct api_request sub = *r;
    sub.method = "GET";
    sub.path = path;
    sub.body = "";
    sub.body_len = 0;
    struct api_reply rep;
    api_handle(c->core->api, &sub, &rep);
    json_error_t je;
    json_t *doc = rep.status == 200 && rep.body && !rep.stream.read
                      ? json_loadb(rep.body, rep.len, 0, &je)
                      : NULL;
    api_reply_free(&rep);
    return doc ? doc : json_null();
}

/* GET /api/v1/diagnostics: everything an installer sends to support, in one file. */
static void console_diagnostics(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct console *c = ctx;
    if (!api_require_admin(r, out))
        return;
    json_t *o = json_object();
    json_object_set_new(o, "generated_ms", json_integer(util_wall_ms()));
    json_object_set_new(o, "health", console_get(c, r, "/api/v1/health"));
    json_object_set_new(o, "devices", console_get(c, r, "/api/v1/devices"));
    json_object_set_new(o, "points", console_get(c, r, "/api/v1/points"));
    json_object_set_new(o, "alarms", console_get(c, r, "/api/v1/alarms"));
    json_object_set_new(o, "config", console_config_json(c->conf));
    json_object_set_new(o, "log", console_log_json());
    api_reply_json(out, 200, o);
    out->extra_header = "Content-Disposition: attachment; filename=\"sitewatch-diagnostics.json\"";
}

static void console_stop(void *inst)
{
    struct console *c = inst;
    if (!c)
        return;
    api_route_remove(c->core->api, c);
    free(c);
}

static int console_start(struct core *core, void **inst)
{
    struct console *c = xcalloc(1, sizeof(*c));
    c->core = core;
    c->conf = core->conf;
    int r = api_route_add(core->api, "GET", "/api/v1/log", console_log, c);
    r |= api_route_add(core->api, "GET", "/api/v1/console", console_caps, c);
    r |= api_route_add(core->api, "GET", "/api/v1/config", console_config, c);
    r |= api_route_add(core->api, "GET", "/api/v1/diagnostics", console_diagnostics, c);
    if (r != 0) {
        console_stop(c);
        return -ENOSPC;
    }
    *inst = c;
    return 0;
}

const struct service service_console = {
    .name = "console", .start = console_start, .stop = console_stop};
