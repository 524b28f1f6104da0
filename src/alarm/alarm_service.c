/* alarm_service: the [alarm NAME] and [alarms] section types, the alarm service (a 1 s tick of
 * the engine) and its API routes (alarms, log, ack, silences). */
#include "alarm.h"
#include "core/api.h"
#include "core/log.h"
#include "core/service.h"
#include "core/ticker.h"
#include "core/util.h"
#include "expr.h"
#include "notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct drv_key alarm_rule_keys[] = {
    {"when",        DRV_KEY_STRING,   NULL,      NULL,     "condition that raises it"     },
    {"for",         DRV_KEY_DURATION, "0s",      "0s..7d", "when holds this long: fire"   },
    {"clear",       DRV_KEY_STRING,   "",        NULL,     "clears it (default: not when)"},
    {"clear_for",   DRV_KEY_DURATION, "0s",      "0s..7d", "clear holds this long: clear" },
    {"repeat",      DRV_KEY_DURATION, "0s",      "0s..7d", "re-notify (0s: never)"        },
    {"severity",    DRV_KEY_STRING,   "warning", NULL,     "info/warning/alarm/critical"  },
    {"notify",      DRV_KEY_STRING,   "",        NULL,     "the [notify ROUTE] to tell"   },
    {"description", DRV_KEY_STRING,   "",        NULL,     "free text for the mail"       },
    {NULL,          0,                NULL,      NULL,     NULL                           },
};

static const struct drv_key alarm_global_keys[] = {
    {"device_flags",        DRV_KEY_BOOL,     "yes",  NULL,         "devices' own alarm flags"  },
    {"offline",             DRV_KEY_BOOL,     "yes",  NULL,         "device offline alarm"      },
    {"offline_after",       DRV_KEY_DURATION, "60s",  "1s..7d",     "lost this long: offline"   },
    {"nodata",              DRV_KEY_BOOL,     "yes",  NULL,         "no-data alarm on unknown"  },
    {"nodata_after",        DRV_KEY_DURATION, "30s",  "1s..7d",     "unknown this long: no data"},
    {"site_nodata",         DRV_KEY_BOOL,     "yes",  NULL,         "site-wide no data alarm"   },
    {"site_nodata_after",   DRV_KEY_DURATION, "5m",   "10s..7d",    "silent this long: fire"    },
    {"storage_full",        DRV_KEY_BOOL,     "yes",  NULL,         "state_dir filling up alarm"},
    {"storage_min_free",    DRV_KEY_DOUBLE,   "5",    "0..100",     "percent free under which"  },
    {"flap_window",         DRV_KEY_DURATION, "10m",  "1m..1d",     "changes counted over this" },
    {"flap_count",          DRV_KEY_INT,      "6",    "2..1000",    "changes that mean flapping"},
    {"notify",              DRV_KEY_STRING,   "",     NULL,         "route for built-in alarms" },
    {"outbox_max_messages", DRV_KEY_INT,      "1000", "1..1000000", "outbox bound, messages"    },
    {"outbox_max_mb",       DRV_KEY_DOUBLE,   "10",   "0.1..10000", "outbox bound, megabytes"   },
    {NULL,                  0,                NULL,   NULL,         NULL                        },
};

/* Parses one expression key and reports a fault as file:line plus column and caret. */
static int alarm_check_expr(const struct conf_section *s, const struct conf_kv *kv,
                            struct conf_error *e)
{
    struct expr_error err;
    struct expr *x = expr_parse(kv->value, &err);
    if (x) {
        expr_free(x);
        return 0;
    }
    char msg[400];
    (void)expr_error_format(kv->value, &err, msg, sizeof(msg));
    return conf_error_at(e, s, kv, "%s: %s", kv->key, msg);
}

static int alarm_check_rule(const struct conf_section *s, struct conf_error *e)
{
    const struct conf_kv *kv = conf_get_kv(s, "when");
    if (kv && alarm_check_expr(s, kv, e) != 0)
        return -EINVAL;
    kv = conf_get_kv(s, "clear");
    if (kv && alarm_check_expr(s, kv, e) != 0)
        return -EINVAL;
    kv = conf_get_kv(s, "severity");
    if (kv && alarm_severity_parse(kv->value) < 0)
        return conf_error_at(e, s, kv, "severity = %s: expected info, warning, alarm or critical",
                             kv->value);
    return 0;
}

static int alarm_check_global(const struct conf_section *s, struct conf_error *e)
{
    const struct conf_kv *kv = conf_get_kv(s, "storage_min_free");
    if (kv && (conf_get_double(s, "storage_min_free") < 0 ||
               conf_get_double(s, "storage_min_free") > 100))
        return conf_error_at(e, s, kv, "storage_min_free = %s: expected a percentage 0..100",
                             kv->value);
    return 0;
}

const struct conf_section_type conf_section_alarm = {
    .type = "alarm", .named = true, .keys = alarm_rule_keys, .check = alarm_check_rule};
const struct conf_section_type conf_section_alarms = {
    .type = "alarms", .keys = alarm_global_keys, .check = alarm_check_global};

struct alarm_service {
    struct alarm_engine *engine;
    struct ticker *ticker;
    struct api_ctx *api;
    struct notify *notify;
};

static void alarm_service_tick(void *arg)
{
    struct alarm_service *as = arg;
    alarm_engine_tick(as->engine, util_mono_ms(), util_wall_ms());
}

/* The "who" of a change: the logged-in user, else the body's "who", else the peer address. */
static void alarm_api_who(const struct api_request *r, json_t *body, char *who, size_t len)
{
    const char *w = json_string_value(json_object_get(body, "who"));
    if (r->user[0])
        w = r->user;
    util_strlcpy(who, w && *w ? w : (r->client ? r->client : "api"), len);
}

static void alarm_api_get(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct alarm_service *as = ctx;
    (void)r;
    api_reply_json(out, 200, alarm_engine_list(as->engine, util_wall_ms()));
}

static void alarm_api_log(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct alarm_service *as = ctx;
    (void)r;
    api_reply_json(out, 200, alarm_engine_log(as->engine));
}

/* POST /api/v1/alarms/<id>/ack (ids may contain '/', e.g. flag:bmv/Alarms/LowVoltage). */
static void alarm_api_post(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct alarm_service *as = ctx;
    static const char prefix[] = "/api/v1/alarms/";
    static const char suffix[] = "/ack";
    if (!api_require_admin(r, out)) /* an admin, or this machine (src/http/auth.c) */
        return;
    size_t pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1, n = strlen(r->path);
    if (n <= pl + sl || strcmp(r->path + n - sl, suffix) != 0) {
        api_reply_error(out, 404, "expected POST /api/v1/alarms/<id>/ack");
        return;
    }
    char id[160];
    if (n - pl - sl >= sizeof(id)) {
        api_reply_error(out, 404, "no such alarm");
        return;
    }
    memcpy(id, r->path + pl, n - pl - sl);
    id[n - pl - sl] = '\0';
    json_t *body = r->body_len ? json_loads(r->body, 0, NULL) : NULL;
    char who[64];
    alarm_api_who(r, body, who, sizeof(who));
    json_decref(body);
    if (alarm_engine_ack(as->engine, id, who, util_wall_ms()) != 0) {
        api_reply_error(out, 404, "no such firing alarm");
        return;
    }
    api_reply_json(out, 200, json_pack("{s:s, s:s}", "acknowledged", id, "by", who));
}

static void alarm_api_silences(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct alarm_service *as = ctx;
    json_t *l = alarm_engine_list(as->engine, util_wall_ms());
    api_reply_json(out, 200, json_pack("{s:O}", "silences", json_object_get(l, "silences")));
    json_decref(l);
    (void)r;
}

/* POST /api/v1/silences {"target": "bmv", "duration": "2h" | "until": epoch_ms,
 * "from": epoch_ms, "who": "...", "comment": "..."} */
static void alarm_api_silence_add(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct alarm_service *as = ctx;
    if (!api_require_admin(r, out)) /* an admin, or this machine (src/http/auth.c) */
        return;
    json_t *body = json_loads(r->body, 0, NULL);
    const char *target = json_string_value(json_object_get(body, "target"));
    const char *dur = json_string_value(json_object_get(body, "duration"));
    int64_t now = util_wall_ms(), from = json_integer_value(json_object_get(body, "from"));
    int64_t until = json_integer_value(json_object_get(body, "until")), ms;
    if (dur && util_parse_duration_ms(dur, &ms) == 0)
        until = (from ? from : now) + ms;
    char who[64];
    alarm_api_who(r, body, who, sizeof(who));
    long id = -EINVAL;
    if (json_is_object(body) && target)
        id = alarm_engine_silence_add(as->engine, target, from, until, who,
                                      json_string_value(json_object_get(body, "comment")), now);
    json_decref(body);
    if (id < 0) {
        api_reply_error(out, 400,
                        "expected {\"target\": \"site\" | device | rule | alarm id, \"duration\": "
                        "\"2h\" or \"until\": epoch ms in the future}");
        return;
    }
    api_reply_json(out, 201, json_pack("{s:I}", "id", (json_int_t)id));
}

static void alarm_api_silence_del(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct alarm_service *as = ctx;
    if (!api_require_admin(r, out)) /* an admin, or this machine (src/http/auth.c) */
        return;
    long id;
    const char *p = r->path + strlen("/api/v1/silences/");
    char who[64];
    alarm_api_who(r, NULL, who, sizeof(who));
    if (util_parse_long(p, 10, 1, 2147483647L, &id) != 0 ||
        alarm_engine_silence_del(as->engine, id, who, util_wall_ms()) != 0) {
        api_reply_error(out, 404, "no such silence");
        return;
    }
    api_reply_json(out, 200, json_pack("{s:I}", "deleted", (json_int_t)id));
}

static void alarm_service_stop(void *inst)
{
    struct alarm_service *as = inst;
    if (!as)
        return;
    ticker_stop(as->ticker);
    api_route_remove(as->api, as);
    notify_free(as->notify);
    alarm_engine_free(as->engine);
    free(as);
}

static int alarm_service_start(struct core *core, void **inst)
{
    char path[4096];
    *inst = NULL;
    if (util_mkdirs(core->conf->state_dir, 0755) != 0)
        log_msg(LOG_WARNING, "alarm: cannot create %s: alarm state will not persist",
                core->conf->state_dir);
    if (util_snprintf(path, sizeof(path), "%s/alarms.json", core->conf->state_dir) != 0)
        return -ENAMETOOLONG;
    struct alarm_service *as = xcalloc(1, sizeof(*as));
    as->api = core->api;
    as->engine = alarm_engine_new(core->conf, core->store, path);
    if (!as->engine) {
        free(as);
        return -EINVAL;
    }
    as->notify = notify_new(core->conf, as->engine, core->api);
    if (!as->notify) {
        alarm_service_stop(as);
        return -EIO;
    }
    alarm_engine_set_notifier(as->engine, notify_notice, as->notify);
    int r = 0;
    r |= api_route_add(as->api, "GET", "/api/v1/alarms", alarm_api_get, as);
    r |= api_route_add(as->api, "GET", "/api/v1/alarms/log", alarm_api_log, as);
    r |= api_route_add(as->api, "POST", "/api/v1/alarms/", alarm_api_post, as);
    r |= api_route_add(as->api, "GET", "/api/v1/silences", alarm_api_silences, as);
    r |= api_route_add(as->api, "POST", "/api/v1/silences", alarm_api_silence_add, as);
    r |= api_route_add(as->api, "DELETE", "/api/v1/silences/", alarm_api_silence_del, as);
    as->ticker = ticker_start("alarm", 1000, alarm_service_tick, as);
    if (r != 0 || !as->ticker) {
        alarm_service_stop(as);
        return r ? r : -EAGAIN;
    }
    *inst = as;
    return 0;
}

const struct service service_alarm = {
    .name = "alarm", .start = alarm_service_start, .stop = alarm_service_stop};
