/* Tests of the alarm engine with a fake clock over a real store: for/clear/clear_for timing,
 * hysteresis, unknown inputs and the no-data alarm, repeat and acknowledgement, silences, flap
 * detection, built-in alarms, persistence across restarts, and rule errors in the config. */
#include "alarm/alarm.h"
#include "core/api.h"
#include "core/conf.h"
#include "core/service.h"
#include "core/store.h"
#include "core/util.h"
#include "test.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#define WALL0 1763700000000LL

struct seen {
    int raised, repeat, cleared, flapping;
    char last_id[128];
    char last_values[256];
};

static void notifier(void *ctx, const struct alarm_notice *n)
{
    struct seen *s = ctx;
    if (n->event == ALARM_EV_RAISED)
        s->raised++;
    else if (n->event == ALARM_EV_REPEAT)
        s->repeat++;
    else if (n->event == ALARM_EV_CLEARED)
        s->cleared++;
    else if (n->event == ALARM_EV_FLAPPING)
        s->flapping++;
    util_strlcpy(s->last_id, n->id, sizeof(s->last_id));
    util_strlcpy(s->last_values, n->values, sizeof(s->last_values));
}

struct rig {
    struct store *store;
    struct conf *conf;
    struct alarm_engine *e;
    struct seen seen;
    int dev, v, i;
    int64_t t; /* fake monotonic ms; wall = WALL0 + t */
    char state[256];
};

static const char *const rig_base = "[daemon]\nstate_dir = /tmp\n"
                                    "[alarms]\nstorage_full = no\nsite_nodata = no\n";

static void rig_start(struct rig *r, const char *rules, const char *state)
{
    memset(r, 0, sizeof(*r));
    char text[4096], err[600];
    snprintf(text, sizeof(text), "%s%s", rig_base, rules);
    int rc = conf_parse_string("t.conf", text, &r->conf, err, sizeof(err));
    TEST_EQ_LONG(rc, 0);
    if (rc != 0)
        printf("    %s\n", err);
    r->store = store_new(256, 8);
    r->dev = store_device_add(r->store, "bmv", "vedirect");
    store_device_set_state(r->store, r->dev, DEV_CONN_OK, "ok");
    r->v = store_point_define(r->store, r->dev, "bmv/Dc/0/Voltage", "V", 0);
    r->i = store_point_define(r->store, r->dev, "bmv/Dc/0/Current", "A", 0);
    store_set(r->store, r->v, 26);
    store_set(r->store, r->i, 5);
    if (state)
        util_strlcpy(r->state, state, sizeof(r->state));
    r->e = alarm_engine_new(r->conf, r->store, state);
    TEST_CHECK(r->e != NULL);
    if (r->e)
        alarm_engine_set_notifier(r->e, notifier, &r->seen);
    r->t = 1000000;
}

static void rig_stop(struct rig *r)
{
    alarm_engine_free(r->e);
    store_free(r->store);
    conf_free(r->conf);
}

/* Advances the fake clock by secs one-second ticks. */
static void rig_run(struct rig *r, int secs)
{
    for (int k = 0; k < secs; k++) {
        r->t += 1000;
        alarm_engine_tick(r->e, r->t, WALL0 + r->t);
    }
}

static bool firing(struct rig *r, const char *id)
{
    bool f = false;
    return alarm_engine_active(r->e, id, &f) && f;
}

static void test_for_timing(void)
{
    struct rig r;
    rig_start(&r,
              "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24 and bmv/Dc/0/Current < 10\n"
              "for = 10s\n",
              NULL);
    rig_run(&r, 3);
    TEST_CHECK(!alarm_engine_active(r.e, "rule:low", NULL));
    store_set(r.store, r.v, 23.1);
    rig_run(&r, 1);
    bool f = true;
    TEST_CHECK(alarm_engine_active(r.e, "rule:low", &f) && !f); /* pending */
    rig_run(&r, 9);
    TEST_CHECK(!firing(&r, "rule:low"));
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "rule:low"));
    TEST_EQ_LONG(r.seen.raised, 1);
    TEST_CHECK(strstr(r.seen.last_values, "bmv/Dc/0/Voltage = 23.1 V") != NULL);
    TEST_CHECK(strstr(r.seen.last_values, "bmv/Dc/0/Current = 5 A") != NULL);
    /* a false sample during `for` restarts the wait */
    store_set(r.store, r.v, 26);
    rig_run(&r, 1);
    TEST_CHECK(!alarm_engine_active(r.e, "rule:low", NULL));
    TEST_EQ_LONG(r.seen.cleared, 1);
    store_set(r.store, r.v, 23);
    rig_run(&r, 5);
    store_set(r.store, r.v, 26);
    rig_run(&r, 1);
    store_set(r.store, r.v, 23);
    rig_run(&r, 10); /* first seen true, then 9 s */
    TEST_CHECK(!firing(&r, "rule:low"));
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "rule:low"));
    rig_stop(&r);
}

static void test_hysteresis(void)
{
    struct rig r;
    rig_start(&r,
              "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\nclear = bmv/Dc/0/Voltage > 25\n"
              "clear_for = 5s\n",
              NULL);
    store_set(r.store, r.v, 23);
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "rule:low"));
    store_set(r.store, r.v, 24.5); /* `when` is false but `clear` is not true */
    rig_run(&r, 30);
    TEST_CHECK(firing(&r, "rule:low"));
    store_set(r.store, r.v, 25.5);
    rig_run(&r, 4);
    TEST_CHECK(firing(&r, "rule:low"));
    store_set(r.store, r.v, 24.9); /* clear_for restarts */
    rig_run(&r, 1);
    store_set(r.store, r.v, 25.5);
    rig_run(&r, 5); /* first seen true, then 4 s */
    TEST_CHECK(firing(&r, "rule:low"));
    rig_run(&r, 1);
    TEST_CHECK(!alarm_engine_active(r.e, "rule:low", NULL));
    TEST_EQ_LONG(r.seen.raised, 1);
    TEST_EQ_LONG(r.seen.cleared, 1);
    rig_stop(&r);
}

static void test_unknown_holds_and_raises_nodata(void)
{
    struct rig r;
    rig_start(&r, "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\n", NULL);
    store_set(r.store, r.v, 23);
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "rule:low"));
    store_set_na(r.store, r.v); /* unknown: never clears */
    rig_run(&r, 30);
    TEST_CHECK(firing(&r, "rule:low"));
    TEST_CHECK(!firing(&r, "nodata:bmv")); /* nodata_after = 30s: first seen, then 29 s */
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "nodata:bmv"));
    store_device_stale(r.store, r.dev);
    rig_run(&r, 60);
    TEST_CHECK(firing(&r, "rule:low"));
    store_set(r.store, r.v, 26);
    rig_run(&r, 1);
    TEST_CHECK(!alarm_engine_active(r.e, "rule:low", NULL));
    TEST_CHECK(!alarm_engine_active(r.e, "nodata:bmv", NULL));
    /* an unknown input never raises the rule itself */
    store_set_na(r.store, r.v);
    rig_run(&r, 100);
    TEST_CHECK(!alarm_engine_active(r.e, "rule:low", NULL));
    rig_stop(&r);
}

static void test_repeat_and_ack(void)
{
    struct rig r;
    rig_start(&r, "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\nrepeat = 60s\n", NULL);
    store_set(r.store, r.v, 23);
    rig_run(&r, 1);
    TEST_EQ_LONG(r.seen.raised, 1);
    rig_run(&r, 59);
    TEST_EQ_LONG(r.seen.repeat, 0);
    rig_run(&r, 1);
    TEST_EQ_LONG(r.seen.repeat, 1);
    rig_run(&r, 60);
    TEST_EQ_LONG(r.seen.repeat, 2);
    TEST_EQ_LONG(alarm_engine_ack(r.e, "rule:low", "alice", WALL0 + r.t), 0);
    TEST_EQ_LONG(alarm_engine_ack(r.e, "rule:nope", "alice", WALL0 + r.t), -ENOENT);
    rig_run(&r, 300);
    TEST_EQ_LONG(r.seen.repeat, 2);
    json_t *log = alarm_engine_log(r.e);
    char *text = json_dumps(log, 0);
    TEST_CHECK(strstr(text, "\"event\": \"acknowledged\"") && strstr(text, "\"who\": \"alice\""));
    free(text);
    json_decref(log);
    /* a new occurrence is not acknowledged */
    store_set(r.store, r.v, 26);
    rig_run(&r, 1);
    store_set(r.store, r.v, 23);
    rig_run(&r, 61);
    TEST_EQ_LONG(r.seen.raised, 2);
    TEST_EQ_LONG(r.seen.repeat, 3);
    rig_stop(&r);
}

static void test_silences(void)
{
    struct rig r;
    rig_start(&r, "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\n", NULL);
    int64_t wall = WALL0 + r.t;
    TEST_CHECK(alarm_engine_silence_add(r.e, "", 0, wall + 1000, "x", "", wall) < 0);
    TEST_CHECK(alarm_engine_silence_add(r.e, "bmv", 0, wall - 1, "x", "", wall) < 0);
    long id = alarm_engine_silence_add(r.e, "low", 0, wall + 30000, "bob", "maintenance", wall);
    TEST_CHECK(id > 0);
    store_set(r.store, r.v, 23);
    rig_run(&r, 10);
    TEST_CHECK(firing(&r, "rule:low")); /* evaluated and logged ... */
    TEST_EQ_LONG(r.seen.raised, 0);     /* ... but not notified */
    rig_run(&r, 25);                    /* the silence ends: the notice goes out */
    TEST_EQ_LONG(r.seen.raised, 1);
    /* a device silence and its removal */
    store_set(r.store, r.v, 26);
    rig_run(&r, 1);
    wall = WALL0 + r.t;
    long id2 = alarm_engine_silence_add(r.e, "bmv", 0, wall + 3600000, "bob", "", wall);
    store_set(r.store, r.v, 23);
    rig_run(&r, 5);
    TEST_EQ_LONG(r.seen.raised, 1);
    TEST_EQ_LONG(alarm_engine_silence_del(r.e, id2, "bob", WALL0 + r.t), 0);
    TEST_EQ_LONG(alarm_engine_silence_del(r.e, id2, "bob", WALL0 + r.t), -ENOENT);
    rig_run(&r, 1);
    TEST_EQ_LONG(r.seen.raised, 2);
    /* a site silence starting later (a maintenance window) */
    store_set(r.store, r.v, 26);
    rig_run(&r, 1);
    wall = WALL0 + r.t;
    TEST_CHECK(alarm_engine_silence_add(r.e, "site", wall + 10000, wall + 20000, "", "", wall) > 0);
    rig_run(&r, 12);
    store_set(r.store, r.v, 23);
    rig_run(&r, 1);
    TEST_EQ_LONG(r.seen.raised, 2);
    rig_run(&r, 10);
    TEST_EQ_LONG(r.seen.raised, 3);
    rig_stop(&r);
}

static void test_flap(void)
{
    struct rig r;
    memset(&r, 0, sizeof(r));
    char err[600];
    const char *text = "[daemon]\nstate_dir = /tmp\n[alarms]\nstorage_full = no\n"
                       "flap_count = 6\nflap_window = 10m\n"
                       "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\n";
    TEST_EQ_LONG(conf_parse_string("t.conf", text, &r.conf, err, sizeof(err)), 0);
    r.store = store_new(64, 4);
    r.dev = store_device_add(r.store, "bmv", "vedirect");
    store_device_set_state(r.store, r.dev, DEV_CONN_OK, "ok");
    r.v = store_point_define(r.store, r.dev, "bmv/Dc/0/Voltage", "V", 0);
    r.e = alarm_engine_new(r.conf, r.store, NULL);
    alarm_engine_set_notifier(r.e, notifier, &r.seen);
    r.t = 1000000;
    for (int k = 0; k < 50; k++) { /* fifty flips, ten seconds apart */
        store_set(r.store, r.v, k % 2 ? 26 : 23);
        rig_run(&r, 10);
    }
    TEST_EQ_LONG(r.seen.flapping, 1);
    TEST_CHECK(r.seen.raised <= 3); /* before flapping was detected, not fifty */
    int raised = r.seen.raised;
    /* it settles (firing): flapping ends once changes fall off the window, and one notice says
     * it is firing */
    store_set(r.store, r.v, 23);
    rig_run(&r, 700);
    TEST_EQ_LONG(r.seen.raised, raised + 1);
    TEST_CHECK(firing(&r, "rule:low"));
    json_t *l = alarm_engine_list(r.e, WALL0 + r.t);
    TEST_CHECK(json_is_false(
        json_object_get(json_array_get(json_object_get(l, "alarms"), 0), "flapping")));
    json_decref(l);
    rig_stop(&r);
}

static void test_builtins(void)
{
    struct rig r;
    /* the rig's [alarms] leaves offline_after at its 60 s default */
    rig_start(&r, "", NULL);
    int flag = store_point_define(r.store, r.dev, "bmv/Alarms/LowVoltage", "", 0);
    store_set(r.store, flag, 0);
    rig_run(&r, 2);
    TEST_CHECK(!alarm_engine_active(r.e, "flag:bmv/Alarms/LowVoltage", NULL));
    store_set(r.store, flag, 2);
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "flag:bmv/Alarms/LowVoltage"));
    json_t *l = alarm_engine_list(r.e, WALL0 + r.t);
    json_t *a = json_array_get(json_object_get(l, "alarms"), 0);
    TEST_STREQ(json_string_value(json_object_get(a, "severity")), "alarm");
    TEST_STREQ(json_string_value(json_object_get(a, "device")), "bmv");
    json_decref(l);
    store_set_na(r.store, flag); /* unknown holds it */
    rig_run(&r, 5);
    TEST_CHECK(firing(&r, "flag:bmv/Alarms/LowVoltage"));
    store_set(r.store, flag, 0);
    rig_run(&r, 1);
    TEST_CHECK(!alarm_engine_active(r.e, "flag:bmv/Alarms/LowVoltage", NULL));
    /* offline after 60 s of a lost connection, cleared when it is back */
    store_device_set_state(r.store, r.dev, DEV_CONN_LOST, "no data for 3 s");
    rig_run(&r, 60);
    TEST_CHECK(!firing(&r, "offline:bmv"));
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "offline:bmv"));
    store_device_set_state(r.store, r.dev, DEV_CONN_OK, "ok");
    rig_run(&r, 1);
    TEST_CHECK(!alarm_engine_active(r.e, "offline:bmv", NULL));
    rig_stop(&r);
}

/* A condition another module detects (the outbox filling up) goes through the same states. */
static void test_external(void)
{
    struct rig r;
    rig_start(&r, "", NULL);
    alarm_engine_external(r.e, "outbox:full", "the outbox is full", ALARM_SEV_CRITICAL, true);
    TEST_CHECK(!alarm_engine_active(r.e, "outbox:full", NULL)); /* on the next tick */
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "outbox:full"));
    TEST_EQ_LONG(r.seen.raised, 1);
    TEST_STREQ(r.seen.last_id, "outbox:full");
    alarm_engine_external(r.e, "outbox:full", "the outbox is full", ALARM_SEV_CRITICAL, false);
    rig_run(&r, 1);
    TEST_CHECK(!alarm_engine_active(r.e, "outbox:full", NULL));
    TEST_EQ_LONG(r.seen.cleared, 1);
    rig_stop(&r);
}

static void test_site_nodata_and_storage(void)
{
    struct rig r;
    memset(&r, 0, sizeof(r));
    char err[600];
    const char *text = "[daemon]\nstate_dir = /tmp\n[alarms]\nsite_nodata_after = 10s\n"
                       "storage_min_free = 100\noffline = no\n";
    TEST_EQ_LONG(conf_parse_string("t.conf", text, &r.conf, err, sizeof(err)), 0);
    r.store = store_new(64, 4);
    r.dev = store_device_add(r.store, "bmv", "vedirect");
    r.v = store_point_define(r.store, r.dev, "bmv/Dc/0/Voltage", "V", 0);
    store_set(r.store, r.v, 26);
    r.e = alarm_engine_new(r.conf, r.store, NULL);
    r.t = 1000000;
    rig_run(&r, 1);
    /* 100 % free required: /tmp is "full" */
    TEST_CHECK(firing(&r, "storage:full"));
    store_device_stale(r.store, r.dev);
    rig_run(&r, 10);
    TEST_CHECK(!firing(&r, "site:nodata"));
    rig_run(&r, 1);
    TEST_CHECK(firing(&r, "site:nodata"));
    store_set(r.store, r.v, 26);
    rig_run(&r, 1);
    TEST_CHECK(!alarm_engine_active(r.e, "site:nodata", NULL));
    rig_stop(&r);
}

static void test_persistence(void)
{
    char dir[] = "/tmp/sitewatch-alarm-XXXXXX";
    TEST_CHECK(mkdtemp(dir) != NULL);
    char path[300];
    snprintf(path, sizeof(path), "%s/alarms.json", dir);
    struct rig r;
    rig_start(&r, "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\nrepeat = 1h\n", path);
    store_set(r.store, r.v, 23);
    rig_run(&r, 1);
    TEST_EQ_LONG(r.seen.raised, 1);
    TEST_EQ_LONG(alarm_engine_ack(r.e, "rule:low", "carol", WALL0 + r.t), 0);
    long sid =
        alarm_engine_silence_add(r.e, "bmv", 0, WALL0 + r.t + 86400000, "carol", "x", WALL0 + r.t);
    /* what is on disk right now is what a kill -9 leaves: read it without freeing the engine */
    char *text;
    size_t len;
    TEST_EQ_LONG(util_read_file(path, 1 << 20, &text, &len), 0);
    TEST_CHECK(strstr(text, "rule:low") && strstr(text, "carol"));
    free(text);
    rig_stop(&r);
    /* restart: still firing and acknowledged, no new notice, the log and silence are back */
    rig_start(&r, "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\nrepeat = 1h\n", path);
    store_set(r.store, r.v, 23);
    TEST_CHECK(firing(&r, "rule:low"));
    rig_run(&r, 5);
    TEST_EQ_LONG(r.seen.raised, 0);
    json_t *l = alarm_engine_list(r.e, WALL0 + r.t);
    json_t *a = json_array_get(json_object_get(l, "alarms"), 0);
    TEST_CHECK(json_is_true(json_object_get(a, "acked")));
    TEST_EQ_LONG(json_integer_value(
                     json_object_get(json_array_get(json_object_get(l, "silences"), 0), "id")),
                 sid);
    json_decref(l);
    l = alarm_engine_log(r.e);
    TEST_CHECK(json_array_size(json_object_get(l, "log")) >= 3); /* raised, acked, silenced */
    json_decref(l);
    store_set(r.store, r.v, 26);
    rig_run(&r, 1);
    TEST_CHECK(!alarm_engine_active(r.e, "rule:low", NULL));
    rig_stop(&r);
    /* a corrupt state file: a warning and an empty state, no crash */
    TEST_EQ_LONG(util_write_atomic(path, "{\"alarms\": [1, {\"id\": 3}", 24), 0);
    rig_start(&r, "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\n", path);
    TEST_CHECK(r.e != NULL && !alarm_engine_active(r.e, "rule:low", NULL));
    rig_stop(&r);
    TEST_EQ_LONG(util_write_atomic(path, "{\"alarms\": [1, {\"id\": 3}, {}]}", 31), 0);
    rig_start(&r, "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\n", path);
    TEST_CHECK(r.e != NULL);
    rig_stop(&r);
    unlink(path);
    rmdir(dir);
}

static const char *no_arg(void *req, const char *name)
{
    (void)req;
    (void)name;
    return NULL;
}

static int api_call(struct api_ctx *api, const char *method, const char *path, const char *body,
                    bool loopback, char *out, size_t outlen)
{
    struct api_request rq = {.method = method,
                             .path = path,
                             .body = body,
                             .body_len = strlen(body),
                             .client = loopback ? "127.0.0.1" : "192.0.2.7",
                             .from_loopback = loopback,
                             .arg = no_arg,
                             .header = no_arg};
    struct api_reply rep = {0};
    api_handle(api, &rq, &rep);
    snprintf(out, outlen, "%.*s", (int)rep.len, rep.body ? rep.body : "");
    int st = rep.status;
    api_reply_free(&rep);
    return st;
}

/* The service's routes: changes need an admin or this machine (401 for an anonymous remote
 * peer, see api_require_admin). */
static void test_api_loopback_only(void)
{
    char dir[] = "/tmp/sitewatch-alarmapi-XXXXXX";
    TEST_CHECK(mkdtemp(dir) != NULL);
    char text[512], err[600], out[4096];
    snprintf(text, sizeof(text),
             "[daemon]\nstate_dir = %s\n[alarms]\nstorage_full = no\n"
             "[alarm low]\nwhen = bmv/Dc/0/Voltage < 24\n",
             dir);
    struct conf *conf = NULL;
    TEST_EQ_LONG(conf_parse_string("t.conf", text, &conf, err, sizeof(err)), 0);
    struct store *st = store_new(16, 2);
    struct api_ctx api;
    api_init(&api, st, "t");
    struct core core = {.store = st, .conf = conf, .api = &api};
    extern const struct service service_alarm;
    void *inst = NULL;
    TEST_EQ_LONG(service_alarm.start(&core, &inst), 0);
    TEST_EQ_LONG(api_call(&api, "GET", "/api/v1/alarms", "", false, out, sizeof(out)), 200);
    TEST_CHECK(strstr(out, "\"alarms\"") != NULL);
    TEST_EQ_LONG(api_call(&api, "POST", "/api/v1/silences",
                          "{\"target\":\"site\",\"duration\":\"1h\"}", false, out, sizeof(out)),
                 401);
    TEST_EQ_LONG(api_call(&api, "POST", "/api/v1/alarms/rule:low/ack", "", false, out, sizeof(out)),
                 401);
    TEST_EQ_LONG(api_call(&api, "POST", "/api/v1/silences",
                          "{\"target\":\"site\",\"duration\":\"1h\"}", true, out, sizeof(out)),
                 201);
    TEST_EQ_LONG(
        api_call(&api, "POST", "/api/v1/silences", "{\"target\":\"site\"}", true, out, sizeof(out)),
        400);
    TEST_EQ_LONG(api_call(&api, "GET", "/api/v1/silences", "", false, out, sizeof(out)), 200);
    TEST_CHECK(strstr(out, "\"target\": \"site\"") || strstr(out, "\"target\":\"site\""));
    TEST_EQ_LONG(api_call(&api, "DELETE", "/api/v1/silences/1", "", false, out, sizeof(out)), 401);
    TEST_EQ_LONG(api_call(&api, "DELETE", "/api/v1/silences/1", "", true, out, sizeof(out)), 200);
    TEST_EQ_LONG(api_call(&api, "DELETE", "/api/v1/silences/1", "", true, out, sizeof(out)), 404);
    TEST_EQ_LONG(api_call(&api, "POST", "/api/v1/alarms/rule:low/ack", "", true, out, sizeof(out)),
                 404); /* not firing */
    service_alarm.stop(inst);
    api_destroy(&api);
    store_free(st);
    conf_free(conf);
    char path[128];
    snprintf(path, sizeof(path), "%s/alarms.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/outbox", dir);
    rmdir(path);
    rmdir(dir);
}

static void check_conf_error(const char *rules, const char *want)
{
    char text[2048], err[600];
    struct conf *c = NULL;
    snprintf(text, sizeof(text), "[daemon]\nsite_name = x\n%s", rules);
    TEST_CHECK(conf_parse_string("site.conf", text, &c, err, sizeof(err)) != 0);
    conf_free(c);
    if (!strstr(err, want)) {
        printf("    got \"%s\"\n    expected to contain \"%s\"\n", err, want);
        test_state.checks_failed++;
    }
}

static void test_config_errors(void)
{
    check_conf_error("[alarm a]\nfor = 5s\n", "site.conf:3: [alarm a] needs 'when ='");
    check_conf_error("[alarm a]\nwhen = bmv/Dc/0/Voltage < 24 and\n",
                     "site.conf:4: when: column 26: expression ends where a value was expected\n"
                     "    bmv/Dc/0/Voltage < 24 and\n"
                     "                             ^");
    check_conf_error("[alarm a]\nwhen = 1\nclear = foo(3)\n",
                     "site.conf:5: clear: column 1: unknown function 'foo'");
    check_conf_error("[alarm a]\nwhen = 1\nseverity = loud\n",
                     "site.conf:5: severity = loud: expected info, warning, alarm or critical");
    check_conf_error("[alarm a]\nwhen = 1\nfor = 5\n", "site.conf:5: for = 5: expected a duration");
    check_conf_error("[alarms]\nflap_cont = 3\n", "site.conf:4: unknown key 'flap_cont'");
}

int main(void)
{
    TEST_RUN(test_for_timing);
    TEST_RUN(test_hysteresis);
    TEST_RUN(test_unknown_holds_and_raises_nodata);
    TEST_RUN(test_repeat_and_ack);
    TEST_RUN(test_silences);
    TEST_RUN(test_flap);
    TEST_RUN(test_builtins);
    TEST_RUN(test_external);
    TEST_RUN(test_site_nodata_and_storage);
    TEST_RUN(test_persistence);
    TEST_RUN(test_config_errors);
    TEST_RUN(test_api_loopback_only);
    return test_summary();
}
