/* alarm: the alarm engine: rule and built-in state machines over one store snapshot per tick,
 * acknowledgement, silences, flap detection, the alarm log, and the JSON state file. */
#include "alarm.h"

#include "core/log.h"
#include "core/util.h"
#include "expr.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#define ALARM_ID_MAX 128
#define ALARM_LOG_MAX 500
#define ALARM_FLAP_RING 32
#define ALARM_STORAGE_EVERY_MS 60000

static const char *const alarm_sev_names[] = {"info", "warning", "alarm", "critical"};

int alarm_severity_parse(const char *s)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(alarm_sev_names); i++)
        if (strcmp(s, alarm_sev_names[i]) == 0)
            return (int)i;
    return -EINVAL;
}

const char *alarm_severity_name(enum alarm_severity s)
{
    return (unsigned)s < UTIL_ARRAY_SIZE(alarm_sev_names) ? alarm_sev_names[s] : "?";
}

enum alarm_st { ST_INACTIVE, ST_PENDING, ST_FIRING };

struct alarm_rule {
    char *name;
    struct expr *when, *clear;
    int64_t for_ms, clear_for_ms, repeat_ms;
    enum alarm_severity sev;
    char *route, *description;
};

struct alarm_rec {
    char id[ALARM_ID_MAX];
    char title[160];
    char device[STORE_NAME_MAX];
    char rule[STORE_NAME_MAX];
    char values[256];
    char route[STORE_NAME_MAX];
    enum alarm_severity sev;
    enum alarm_st st;
    int64_t pend_mono, clear_mono;
    bool clearing;
    int64_t since_wall;
    bool acked, notified, flapping, seen;
    char acked_by[64];
    int64_t acked_wall;
    int64_t last_notify_mono;
    int64_t trans[ALARM_FLAP_RING]; /* monotonic times of the last state changes */
    unsigned ntrans;
};

struct alarm_silence {
    long id;
    char target[ALARM_ID_MAX];
    int64_t from_ms, until_ms;
    char who[64], comment[160];
};

/* One input slot of the expressions: a point (by key) or a device (by name). */
struct alarm_slot {
    char name[STORE_KEY_MAX];
    bool device;
    int idx; /* snapshot index of the point, or device id; -1 until it exists */
    struct expr_hist *hist;
};

struct alarm_notice_copy {
    struct alarm_notice n;
    char id[ALARM_ID_MAX], title[160], values[256], route[STORE_NAME_MAX];
    const char *description;
};

struct alarm_engine {
    pthread_mutex_t lock;
    /* State documents are built under lock, numbered, and written under save_lock outside it;
     * an older document never overwrites a newer one. */
    pthread_mutex_t save_lock;
    uint64_t doc_gen, saved_gen;
    struct store *store;
    char *state_path;
    char *state_dir;
    char *site_route;
    /* [alarms] */
    bool device_flags, offline, site_nodata, storage_full, nodata;
    int64_t offline_after_ms, site_nodata_after_ms, nodata_after_ms, flap_window_ms;
    long flap_count;
    double storage_min_free_pct;
    /* rules: records 0 .. nrules-1 belong to rules 0 .. nrules-1 */
    struct alarm_rule *rules;
    size_t nrules;
    struct alarm_rec *recs;
    size_t nrecs;
    struct alarm_slot *slots;
    size_t nslots;
    struct expr_input *inputs;
    /* snapshot and its key index */
    struct point *pts;
    size_t npts, cap_pts, nindexed;
    int *hash; /* open addressing: point index + 1, 0 = empty */
    size_t hash_cap;
    int *flag_idx; /* points whose path is Alarms/... */
    size_t nflags;
    /* silences and log */
    struct alarm_silence *sil;
    size_t nsil;
    long next_silence;
    json_t *log;
    bool dirty;
    int64_t storage_next_mono;
    bool storage_low;
    /* conditions other modules detect */
    struct alarm_external {
        char id[ALARM_ID_MAX], title[160];
        enum alarm_severity sev;
        bool active;
    } ext[8];
    size_t next;
    /* notifier */
    void (*notify)(void *ctx, const struct alarm_notice *n);
    void *notify_ctx;
    struct alarm_notice_copy *pending;
    size_t npending;
};

/* ---- key index ------------------------------------------------------------------------ */

static uint32_t alarm_hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void alarm_hash_put(struct alarm_engine *e, size_t idx)
{
    if ((e->nindexed + 1) * 2 > e->hash_cap) {
        size_t cap = e->hash_cap ? e->hash_cap * 2 : 1024;
        free(e->hash);
        e->hash = xcalloc(cap, sizeof(*e->hash));
        e->hash_cap = cap;
        for (size_t i = 0; i < e->nindexed; i++) {
            size_t h = alarm_hash_str(e->pts[i].key) & (cap - 1);
            while (e->hash[h])
                h = (h + 1) & (cap - 1);
            e->hash[h] = (int)i + 1;
        }
    }
    size_t h = alarm_hash_str(e->pts[idx].key) & (e->hash_cap - 1);
    while (e->hash[h])
        h = (h + 1) & (e->hash_cap - 1);
    e->hash[h] = (int)idx + 1;
}

static int alarm_hash_find(const struct alarm_engine *e, const char *key)
{
    if (!e->hash_cap)
        return -1;
    size_t h = alarm_hash_str(key) & (e->hash_cap - 1);
    while (e->hash[h]) {
        if (strcmp(e->pts[e->hash[h] - 1].key, key) == 0)
            return e->hash[h] - 1;
        h = (h + 1) & (e->hash_cap - 1);
    }
    return -1;
}

/* ---- configuration -------------------------------------------------------------------- */

static int alarm_bind(void *ctx, enum expr_ref_kind kind, const char *name, int64_t window_ms)
{
    struct alarm_engine *e = ctx;
    bool dev = kind == EXPR_REF_DEVICE;
    size_t i;
    for (i = 0; i < e->nslots; i++)
        if (e->slots[i].device == dev && strcmp(e->slots[i].name, name) == 0)
            break;
    if (i == e->nslots) {
        e->slots = xrealloc(e->slots, (e->nslots + 1) * sizeof(*e->slots));
        e->slots[i] = (struct alarm_slot){.device = dev, .idx = -1};
        util_strlcpy(e->slots[i].name, name, sizeof(e->slots[i].name));
        e->nslots++;
    }
    if (kind == EXPR_REF_WINDOW) {
        if (!e->slots[i].hist)
            e->slots[i].hist = xcalloc(1, sizeof(struct expr_hist));
        expr_hist_init(e->slots[i].hist, window_ms);
    }
    return (int)i;
}

static char *alarm_dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

static int alarm_add_rule(struct alarm_engine *e, const struct conf_section *s)
{
    struct expr_error err;
    struct alarm_rule r = {0};
    r.name = xstrdup(s->name);
    r.when = expr_parse(conf_get(s, "when"), &err);
    const char *clear = conf_get(s, "clear");
    if (r.when && clear && *clear)
        r.clear = expr_parse(clear, &err);
    if (!r.when || (clear && *clear && !r.clear)) {
        log_msg(LOG_ERR, "alarm %s: %s", s->name, err.msg);
        expr_free(r.when);
        free(r.name);
        return -EINVAL;
    }
    expr_bind(r.when, alarm_bind, e);
    if (r.clear)
        expr_bind(r.clear, alarm_bind, e);
    r.for_ms = conf_get_ms(s, "for");
    r.clear_for_ms = conf_get_ms(s, "clear_for");
    r.repeat_ms = conf_get_ms(s, "repeat");
    int sev = alarm_severity_parse(conf_get(s, "severity"));
    r.sev = sev < 0 ? ALARM_SEV_WARNING : (enum alarm_severity)sev;
    r.route = alarm_dup_or_empty(conf_get(s, "notify"));
    r.description = alarm_dup_or_empty(conf_get(s, "description"));
    e->rules = xrealloc(e->rules, (e->nrules + 1) * sizeof(*e->rules));
    e->rules[e->nrules++] = r;
    return 0;
}

static struct alarm_rec *alarm_rec_add(struct alarm_engine *e, const char *id)
{
    e->recs = xrealloc(e->recs, (e->nrecs + 1) * sizeof(*e->recs));
    struct alarm_rec *a = &e->recs[e->nrecs++];
    memset(a, 0, sizeof(*a));
    util_strlcpy(a->id, id, sizeof(a->id));
    return a;
}

static struct alarm_rec *alarm_rec_find(struct alarm_engine *e, const char *id)
{
    for (size_t i = 0; i < e->nrecs; i++)
        if (strcmp(e->recs[i].id, id) == 0)
            return &e->recs[i];
    return NULL;
}

/* ---- log and state file --------------------------------------------------------------- */

static void alarm_log_add(struct alarm_engine *e, const struct alarm_rec *a, const char *event,
                          const char *who, int64_t wall_ms)
{
    json_t *ev =
        json_pack("{s:I, s:s, s:s, s:s, s:s}", "ts", (json_int_t)wall_ms, "id", a->id, "event",
                  event, "severity", alarm_severity_name(a->sev), "title", a->title);
    if (who && *who)
        json_object_set_new(ev, "who", json_string(who));
    if (a->values[0])
        json_object_set_new(ev, "values", json_string(a->values));
    json_array_append_new(e->log, ev);
    while (json_array_size(e->log) > ALARM_LOG_MAX)
        json_array_remove(e->log, 0);
    e->dirty = true;
    log_msg(LOG_NOTICE, "alarm %s %s%s%s", a->id, event, who && *who ? " by " : "",
            who && *who ? who : "");
}

static json_t *alarm_rec_json(const struct alarm_rec *a)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:s, s:s}", "id", a->id, "title",
                  a->title, "device", a->device, "rule", a->rule, "severity",
                  alarm_severity_name(a->sev), "since", (json_int_t)a->since_wall, "acked",
                  a->acked, "notified", a->notified, "values", a->values, "route", a->route);
    if (a->acked) {
        json_object_set_new(o, "acked_by", json_string(a->acked_by));
        json_object_set_new(o, "acked_at", json_integer(a->acked_wall));
    }
    return o;
}

static json_t *alarm_silence_json(const struct alarm_silence *s)
{
    return json_pack("{s:I, s:s, s:I, s:I, s:s, s:s}", "id", (json_int_t)s->id, "target", s->target,
                     "from", (json_int_t)s->from_ms, "until", (json_int_t)s->until_ms, "who",
                     s->who, "comment", s->comment);
}

/* The state document: firing alarms, silences and the log. Called under the lock. */
static json_t *alarm_state_json(struct alarm_engine *e)
{
    json_t *alarms = json_array(), *sil = json_array();
    for (size_t i = 0; i < e->nrecs; i++)
        if (e->recs[i].st == ST_FIRING)
            json_array_append_new(alarms, alarm_rec_json(&e->recs[i]));
    for (size_t i = 0; i < e->nsil; i++)
        json_array_append_new(sil, alarm_silence_json(&e->sil[i]));
    return json_pack("{s:i, s:I, s:o, s:o, s:O, s:I}", "version", 1, "next_silence",
                     (json_int_t)e->next_silence, "alarms", alarms, "silences", sil, "log", e->log,
                     "gen", (json_int_t)++e->doc_gen);
}

static void alarm_save(struct alarm_engine *e, json_t *doc)
{
    uint64_t gen = (uint64_t)json_integer_value(json_object_get(doc, "gen"));
    json_object_del(doc, "gen");
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return;
    pthread_mutex_lock(&e->save_lock);
    if (gen > e->saved_gen) {
        int r = util_write_atomic(e->state_path, text, strlen(text));
        if (r < 0)
            log_msg(LOG_WARNING, "alarm: cannot write %s: %s", e->state_path, strerror(-r));
        else
            e->saved_gen = gen;
    }
    pthread_mutex_unlock(&e->save_lock);
    free(text);
}

static void alarm_copy_str(json_t *o, const char *key, char *dst, size_t len)
{
    const char *s = json_string_value(json_object_get(o, key));
    util_strlcpy(dst, s ? s : "", len);
}

/* Restores firing alarms (as firing, without a new notice), silences and the log. */
static void alarm_load(struct alarm_engine *e)
{
    char *text;
    size_t len;
    int r = util_read_file(e->state_path, 16 << 20, &text, &len);
    if (r == -ENOENT)
        return;
    if (r < 0) {
        log_msg(LOG_WARNING, "alarm: cannot read %s: %s; starting with no alarm state",
                e->state_path, strerror(-r));
        return;
    }
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    free(text);
    if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "alarms"))) {
        log_msg(LOG_WARNING, "alarm: %s is corrupt (%s); starting with no alarm state",
                e->state_path, doc ? "not an alarm state" : jerr.text);
        json_decref(doc);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "alarms"), i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        if (!id || !*id)
            continue;
        struct alarm_rec *a = alarm_rec_find(e, id);
        if (!a) {
            if (strncmp(id, "rule:", 5) == 0)
                continue; /* the rule is gone from the configuration */
            a = alarm_rec_add(e, id);
        }
        a->st = ST_FIRING;
        alarm_copy_str(v, "title", a->title, sizeof(a->title));
        alarm_copy_str(v, "device", a->device, sizeof(a->device));
        alarm_copy_str(v, "values", a->values, sizeof(a->values));
        alarm_copy_str(v, "acked_by", a->acked_by, sizeof(a->acked_by));
        if (strncmp(id, "rule:", 5) != 0)
            alarm_copy_str(v, "route", a->route, sizeof(a->route));
        int sev = alarm_severity_parse(json_string_value(json_object_get(v, "severity"))
                                           ? json_string_value(json_object_get(v, "severity"))
                                           : "");
        if (sev >= 0)
            a->sev = (enum alarm_severity)sev;
        a->since_wall = json_integer_value(json_object_get(v, "since"));
        a->acked = json_is_true(json_object_get(v, "acked"));
        a->acked_wall = json_integer_value(json_object_get(v, "acked_at"));
        a->notified = json_is_true(json_object_get(v, "notified"));
    }
    json_array_foreach(json_object_get(doc, "silences"), i, v)
    {
        e->sil = xrealloc(e->sil, (e->nsil + 1) * sizeof(*e->sil));
        struct alarm_silence *s = &e->sil[e->nsil++];
        memset(s, 0, sizeof(*s));
        s->id = (long)json_integer_value(json_object_get(v, "id"));
        alarm_copy_str(v, "target", s->target, sizeof(s->target));
        alarm_copy_str(v, "who", s->who, sizeof(s->who));
        alarm_copy_str(v, "comment", s->comment, sizeof(s->comment));
        s->from_ms = json_integer_value(json_object_get(v, "from"));
        s->until_ms = json_integer_value(json_object_get(v, "until"));
    }
    long next = (long)json_integer_value(json_object_get(doc, "next_silence"));
    if (next > e->next_silence)
        e->next_silence = next;
    json_t *log = json_object_get(doc, "log");
    if (json_is_array(log)) {
        json_decref(e->log);
        e->log = json_incref(log);
    }
    json_decref(doc);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static const struct conf_section alarm_no_section;

struct alarm_engine *alarm_engine_new(const struct conf *conf, struct store *store,
                                      const char *state_path)
{
    struct alarm_engine *e = xcalloc(1, sizeof(*e));
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->save_lock, NULL);
    e->store = store;
    e->log = json_array();
    e->next_silence = 1;
    e->state_path = state_path ? xstrdup(state_path) : NULL;
    e->state_dir = xstrdup(conf->state_dir ? conf->state_dir : "/");
    const struct conf_section *g = conf_section_nth(conf, "alarms", 0);
    struct conf_section dflt = alarm_no_section;
    dflt.type = conf_section_type_find("alarms");
    if (!g)
        g = &dflt;
    e->device_flags = conf_get_bool(g, "device_flags");
    e->offline = conf_get_bool(g, "offline");
    e->offline_after_ms = conf_get_ms(g, "offline_after");
    e->site_nodata = conf_get_bool(g, "site_nodata");
    e->site_nodata_after_ms = conf_get_ms(g, "site_nodata_after");
    e->nodata = conf_get_bool(g, "nodata");
    e->nodata_after_ms = conf_get_ms(g, "nodata_after");
    e->storage_full = conf_get_bool(g, "storage_full");
    e->storage_min_free_pct = conf_get_double(g, "storage_min_free");
    e->flap_window_ms = conf_get_ms(g, "flap_window");
    e->flap_count = conf_get_long(g, "flap_count");
    e->site_route = alarm_dup_or_empty(conf_get(g, "notify"));
    const struct conf_section *s;
    for (size_t i = 0; (s = conf_section_nth(conf, "alarm", i)) != NULL; i++)
        if (alarm_add_rule(e, s) != 0) {
            alarm_engine_free(e);
            return NULL;
        }
    for (size_t i = 0; i < e->nrules; i++) {
        char id[ALARM_ID_MAX];
        snprintf(id, sizeof(id), "rule:%s", e->rules[i].name);
        struct alarm_rec *a = alarm_rec_add(e, id);
        util_strlcpy(a->rule, e->rules[i].name, sizeof(a->rule));
        util_strlcpy(a->route, e->rules[i].route, sizeof(a->route));
        a->sev = e->rules[i].sev;
        /* The rule's name and condition say what fired, for a person reading the mail. */
        const struct conf_section *rs = conf_section_nth(conf, "alarm", i);
        snprintf(a->title, sizeof(a->title), "%s: %.120s", e->rules[i].name,
                 rs ? conf_get(rs, "when") : "");
        /* The device of the rule's first input, for device silences and the no-data alarm. */
        const char *first = expr_ref_name(e->rules[i].when, 0);
        if (first) {
            util_strlcpy(a->device, first, sizeof(a->device));
            a->device[strcspn(a->device, "/")] = '\0';
        }
    }
    e->inputs = xcalloc(e->nslots + 1, sizeof(*e->inputs));
    if (e->state_path)
        alarm_load(e);
    return e;
}

void alarm_engine_free(struct alarm_engine *e)
{
    if (!e)
        return;
    if (e->state_path && e->dirty)
        alarm_save(e, alarm_state_json(e));
    for (size_t i = 0; i < e->nrules; i++) {
        expr_free(e->rules[i].when);
        expr_free(e->rules[i].clear);
        free(e->rules[i].name);
        free(e->rules[i].route);
        free(e->rules[i].description);
    }
    for (size_t i = 0; i < e->nslots; i++)
        free(e->slots[i].hist);
    free(e->rules);
    free(e->recs);
    free(e->slots);
    free(e->inputs);
    free(e->pts);
    free(e->hash);
    free(e->flag_idx);
    free(e->sil);
    free(e->pending);
    json_decref(e->log);
    free(e->state_path);
    free(e->state_dir);
    free(e->site_route);
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->save_lock);
    free(e);
}

void alarm_engine_set_notifier(struct alarm_engine *e,
                               void (*fn)(void *ctx, const struct alarm_notice *n), void *ctx)
{
    pthread_mutex_lock(&e->lock);
    e->notify = fn;
    e->notify_ctx = ctx;
    pthread_mutex_unlock(&e->lock);
}

/* ---- the state machine ---------------------------------------------------------------- */

static bool alarm_silenced(const struct alarm_engine *e, const struct alarm_rec *a, int64_t wall)
{
    for (size_t i = 0; i < e->nsil; i++) {
        const struct alarm_silence *s = &e->sil[i];
        if (wall < s->from_ms || wall >= s->until_ms)
            continue;
        if (strcmp(s->target, "site") == 0 || strcmp(s->target, a->id) == 0 ||
            (a->device[0] && strcmp(s->target, a->device) == 0) ||
            (a->rule[0] && strcmp(s->target, a->rule) == 0))
            return true;
    }
    return false;
}

static void alarm_queue(struct alarm_engine *e, const struct alarm_rec *a, enum alarm_event ev,
                        const char *description, int64_t wall)
{
    if (!e->notify)
        return;
    e->pending = xrealloc(e->pending, (e->npending + 1) * sizeof(*e->pending));
    struct alarm_notice_copy *c = &e->pending[e->npending++];
    memcpy(c->id, a->id, sizeof(c->id));
    memcpy(c->title, a->title, sizeof(c->title));
    memcpy(c->values, a->values, sizeof(c->values));
    util_strlcpy(c->route, a->route[0] ? a->route : e->site_route, sizeof(c->route));
    c->n = (struct alarm_notice){.event = ev,
                                 .description = description ? description : "",
                                 .severity = a->sev,
                                 .since_wall_ms = a->since_wall,
                                 .wall_ms = wall};
}

/* Records a state change for flap detection: flapping starts at flap_count changes within the
 * window and ends when they fall to a third of it (high/low thresholds, as Nagios does with its
 * percent state change; counted in time because rules are evaluated every second). */
static void alarm_flap(struct alarm_engine *e, struct alarm_rec *a, int64_t now, bool changed,
                       int64_t wall)
{
    if (e->flap_count <= 0)
        return;
    if (changed)
        a->trans[a->ntrans++ % ALARM_FLAP_RING] = now;
    long n = 0;
    unsigned have = a->ntrans < ALARM_FLAP_RING ? a->ntrans : ALARM_FLAP_RING;
    for (unsigned i = 0; i < have; i++)
        n += now - a->trans[i] <= e->flap_window_ms;
    if (!a->flapping && n >= e->flap_count) {
        a->flapping = true;
        alarm_log_add(e, a, "flapping", NULL, wall);
        alarm_queue(e, a, ALARM_EV_FLAPPING, NULL, wall);
    } else if (a->flapping && n <= e->flap_count / 3) {
        a->flapping = false;
        alarm_log_add(e, a, "stopped flapping", NULL, wall);
    }
}

static void alarm_fire(struct alarm_engine *e, struct alarm_rec *a, int64_t now, int64_t wall)
{
    a->st = ST_FIRING;
    a->since_wall = wall;
    a->acked = false;
    a->acked_by[0] = '\0';
    a->notified = false;
    a->clearing = false;
    alarm_log_add(e, a, "raised", NULL, wall);
    alarm_flap(e, a, now, true, wall);
}

static void alarm_clear(struct alarm_engine *e, struct alarm_rec *a, const char *description,
                        int64_t now, int64_t wall)
{
    a->st = ST_INACTIVE;
    alarm_log_add(e, a, "cleared", NULL, wall);
    /* People told that it fired are told that it cleared, even under a silence started since
     * (Icinga does the same); a flapping alarm stays quiet. */
    if (a->notified && !a->flapping)
        alarm_queue(e, a, ALARM_EV_CLEARED, description, wall);
    a->notified = false;
    alarm_flap(e, a, now, true, wall);
}

/* One step of an alarm: raise/clear are three-valued; unknown never clears a firing alarm and
 * resets a pending one (the condition must hold, known, for the whole `for`). */
static void alarm_step(struct alarm_engine *e, struct alarm_rec *a, struct expr_val raise,
                       struct expr_val clear, int64_t for_ms, int64_t clear_for_ms,
                       int64_t repeat_ms, const char *description, int64_t now, int64_t wall)
{
    bool raise_true = raise.known && raise.v != 0;
    bool clear_true = clear.known && clear.v != 0;
    switch (a->st) {
    case ST_INACTIVE:
    case ST_PENDING:
        if (!raise_true) {
            a->st = ST_INACTIVE;
            break;
        }
        if (a->st == ST_INACTIVE) {
            a->st = ST_PENDING;
            a->pend_mono = now;
        }
        if (now - a->pend_mono >= for_ms)
            alarm_fire(e, a, now, wall);
        break;
    case ST_FIRING:
        if (!clear_true) {
            a->clearing = false;
            break;
        }
        if (!a->clearing) {
            a->clearing = true;
            a->clear_mono = now;
        }
        if (now - a->clear_mono >= clear_for_ms)
            alarm_clear(e, a, description, now, wall);
        break;
    }
    alarm_flap(e, a, now, false, wall);
    if (a->st != ST_FIRING || a->flapping || alarm_silenced(e, a, wall))
        return;
    if (!a->notified) {
        a->notified = true;
        a->last_notify_mono = now;
        e->dirty = true;
        alarm_queue(e, a, ALARM_EV_RAISED, description, wall);
    } else if (!a->acked && repeat_ms > 0 && now - a->last_notify_mono >= repeat_ms) {
        a->last_notify_mono = now;
        alarm_queue(e, a, ALARM_EV_REPEAT, description, wall);
    }
}

/* ---- inputs --------------------------------------------------------------------------- */

static void alarm_snapshot(struct alarm_engine *e)
{
    for (;;) {
        size_t n = store_snapshot(e->store, NULL, e->pts, e->cap_pts);
        if (n <= e->cap_pts) {
            e->npts = n;
            break;
        }
        e->cap_pts = n + n / 4 + 64;
        e->pts = xrealloc(e->pts, e->cap_pts * sizeof(*e->pts));
        free(e->hash); /* points moved: index again */
        e->hash = NULL;
        e->hash_cap = 0;
        e->nindexed = 0;
        e->nflags = 0;
    }
    /* Points are never deleted and keep their definition order: index only the new ones. */
    if (e->npts > e->nindexed) {
        e->flag_idx = xrealloc(e->flag_idx, e->npts * sizeof(*e->flag_idx));
        for (size_t i = e->nindexed; i < e->npts; i++) {
            alarm_hash_put(e, i);
            e->nindexed = i + 1;
            const char *slash = strchr(e->pts[i].key, '/');
            if (slash && strncmp(slash + 1, "Alarms/", 7) == 0)
                e->flag_idx[e->nflags++] = (int)i;
        }
    }
}

static void alarm_fill_inputs(struct alarm_engine *e, int64_t now)
{
    for (size_t i = 0; i < e->nslots; i++) {
        struct alarm_slot *s = &e->slots[i];
        struct expr_input *in = &e->inputs[i];
        if (s->device) {
            struct device_info di;
            int id = store_device_find(e->store, s->name);
            in->ok = id >= 0 && store_device_get(e->store, id, &di) == 0 && di.conn == DEV_CONN_OK;
            continue;
        }
        if (s->idx < 0)
            s->idx = alarm_hash_find(e, s->name);
        if (s->idx < 0) {
            *in = (struct expr_input){.hist = s->hist};
            continue;
        }
        const struct point *p = &e->pts[s->idx];
        *in = (struct expr_input){.value = p->value,
                                  .ok = p->state == POINT_OK,
                                  .written = p->wall_ms != 0,
                                  .last_mono_ms = p->mono_ms,
                                  .hist = s->hist};
        if (s->hist && in->ok)
            expr_hist_add(s->hist, now, p->value);
    }
}

/* "key = value unit" for each input of a rule, for the log and the mail. */
static void alarm_values(struct alarm_engine *e, const struct expr *x, char *buf, size_t len)
{
    size_t n, off = strlen(buf);
    const int *slots = expr_slots(x, &n);
    for (size_t i = 0; i < n && off < len; i++) {
        const struct alarm_slot *s = &e->slots[slots[i]];
        if (s->device || strstr(buf, s->name))
            continue;
        const struct point *p = s->idx >= 0 ? &e->pts[s->idx] : NULL;
        int w;
        char num[UTIL_DOUBLE_MAX];
        if (p && p->state == POINT_OK && util_format_double(num, sizeof(num), p->value) >= 0)
            w = snprintf(buf + off, len - off, "%s%s = %s %s", off ? ", " : "", s->name, num,
                         p->unit); /* as the device sent it: 23.954 V, not 23.95 */
        else
            w = snprintf(buf + off, len - off, "%s%s = no data", off ? ", " : "", s->name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (off >= len)
        buf[len - 1] = '\0';
}

/* Marks the devices of the rule's dead inputs as lacking data. */
static void alarm_mark_nodata(struct alarm_engine *e, const struct expr *x, char (*devs)[32],
                              size_t *ndevs, size_t max)
{
    size_t n;
    const int *slots = expr_slots(x, &n);
    for (size_t i = 0; i < n; i++) {
        if (e->inputs[slots[i]].ok || e->slots[slots[i]].device)
            continue;
        char dev[32];
        util_strlcpy(dev, e->slots[slots[i]].name, sizeof(dev));
        char *sl = strchr(dev, '/');
        if (sl)
            *sl = '\0';
        size_t k;
        for (k = 0; k < *ndevs && strcmp(devs[k], dev) != 0; k++)
            ;
        if (k == *ndevs && *ndevs < max)
            util_strlcpy(devs[(*ndevs)++], dev, 32);
    }
}

static struct alarm_rec *alarm_dyn(struct alarm_engine *e, const char *id, bool raise)
{
    struct alarm_rec *a = NULL;
    for (size_t i = e->nrules; i < e->nrecs; i++)
        if (strcmp(e->recs[i].id, id) == 0)
            a = &e->recs[i];
    if (!a && raise)
        a = alarm_rec_add(e, id);
    if (a)
        a->seen = true;
    return a;
}

static struct expr_val alarm_bool(bool known, bool v)
{
    return (struct expr_val){v, known};
}

static void alarm_builtin_step(struct alarm_engine *e, const char *id, const char *device,
                               enum alarm_severity sev, const char *title, bool known, bool raise,
                               int64_t for_ms, int64_t now, int64_t wall)
{
    struct alarm_rec *a = alarm_dyn(e, id, known && raise);
    if (!a)
        return;
    if (a->st == ST_INACTIVE) {
        a->sev = sev;
        util_strlcpy(a->device, device, sizeof(a->device));
        util_strlcpy(a->title, title, sizeof(a->title));
    }
    alarm_step(e, a, alarm_bool(known, raise), alarm_bool(known, !raise), for_ms, 0, 0, NULL, now,
               wall);
}

static void alarm_builtins(struct alarm_engine *e, char (*nodata)[32], size_t nnodata, int64_t now,
                           int64_t wall)
{
    char id[ALARM_ID_MAX], title[160];
    if (e->device_flags) {
        for (size_t i = 0; i < e->nflags; i++) {
            const struct point *p = &e->pts[e->flag_idx[i]];
            char dev[STORE_NAME_MAX];
            util_strlcpy(dev, p->key, sizeof(dev));
            char *sl = strchr(dev, '/');
            if (sl)
                *sl = '\0';
            snprintf(id, sizeof(id), "flag:%s", p->key);
            snprintf(title, sizeof(title), "%s reports %s", dev, strchr(p->key, '/') + 1);
            bool ok = p->state == POINT_OK;
            alarm_builtin_step(e, id, dev,
                               ok && p->value >= 2 ? ALARM_SEV_ALARM : ALARM_SEV_WARNING, title, ok,
                               ok && p->value >= 1, 0, now, wall);
        }
    }
    size_t ndev = store_device_count_all(e->store);
    if (e->offline) {
        for (size_t d = 0; d < ndev; d++) {
            struct device_info di;
            if (store_device_get(e->store, (int)d, &di) != 0 || di.conn == DEV_CONN_STOPPED)
                continue;
            snprintf(id, sizeof(id), "offline:%s", di.name);
            snprintf(title, sizeof(title), "%s is offline (%.100s)", di.name, di.status);
            bool known = di.conn != DEV_CONN_INIT;
            alarm_builtin_step(e, id, di.name, ALARM_SEV_ALARM, title, known,
                               di.conn == DEV_CONN_LOST, e->offline_after_ms, now, wall);
        }
    }
    if (e->nodata) {
        for (size_t i = 0; i < nnodata; i++) {
            snprintf(id, sizeof(id), "nodata:%s", nodata[i]);
            snprintf(title, sizeof(title), "no data from %s for alarm rules", nodata[i]);
            alarm_builtin_step(e, id, nodata[i], ALARM_SEV_WARNING, title, true, true,
                               e->nodata_after_ms, now, wall);
        }
        for (size_t i = e->nrules; i < e->nrecs; i++) /* the others have data again */
            if (strncmp(e->recs[i].id, "nodata:", 7) == 0 && !e->recs[i].seen)
                alarm_builtin_step(e, e->recs[i].id, e->recs[i].device, ALARM_SEV_WARNING,
                                   e->recs[i].title, true, false, 0, now, wall);
    }
    if (e->site_nodata && ndev > 0) {
        bool any = false;
        for (size_t i = 0; i < e->npts && !any; i++)
            any = e->pts[i].state == POINT_OK && e->pts[i].dev >= 0;
        alarm_builtin_step(e, "site:nodata", "", ALARM_SEV_CRITICAL,
                           "no data at all from the site's devices", true, !any,
                           e->site_nodata_after_ms, now, wall);
    }
    if (e->storage_full) {
        if (now >= e->storage_next_mono) {
            struct statvfs vfs;
            e->storage_next_mono = now + ALARM_STORAGE_EVERY_MS;
            if (statvfs(e->state_dir, &vfs) == 0 && vfs.f_blocks > 0)
                e->storage_low =
                    100.0 * (double)vfs.f_bavail / (double)vfs.f_blocks < e->storage_min_free_pct;
        }
        snprintf(title, sizeof(title), "storage of %s is almost full (less than %.0f%% free)",
                 e->state_dir, e->storage_min_free_pct);
        alarm_builtin_step(e, "storage:full", "", ALARM_SEV_ALARM, title, true, e->storage_low, 0,
                           now, wall);
    }
}

void alarm_engine_external(struct alarm_engine *e, const char *id, const char *title,
                           enum alarm_severity sev, bool active)
{
    pthread_mutex_lock(&e->lock);
    size_t i;
    for (i = 0; i < e->next && strcmp(e->ext[i].id, id) != 0; i++)
        ;
    if (i == e->next && i < UTIL_ARRAY_SIZE(e->ext)) {
        e->next++;
        util_strlcpy(e->ext[i].id, id, sizeof(e->ext[i].id));
    }
    if (i < e->next) {
        util_strlcpy(e->ext[i].title, title, sizeof(e->ext[i].title));
        e->ext[i].sev = sev;
        e->ext[i].active = active;
    }
    pthread_mutex_unlock(&e->lock);
}

/* Drops inactive records nothing refers to any more (built-ins that cleared). */
static void alarm_compact(struct alarm_engine *e)
{
    size_t w = e->nrules;
    for (size_t i = e->nrules; i < e->nrecs; i++) {
        struct alarm_rec *a = &e->recs[i];
        bool keep = a->st != ST_INACTIVE || a->flapping;
        a->seen = false;
        if (keep && w != i)
            e->recs[w] = *a;
        w += keep;
    }
    e->nrecs = w;
}

void alarm_engine_tick(struct alarm_engine *e, int64_t mono_ms, int64_t wall_ms)
{
    pthread_mutex_lock(&e->lock);
    alarm_snapshot(e);
    alarm_fill_inputs(e, mono_ms);
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    struct expr_env env = {.inputs = e->inputs,
                           .ninputs = e->nslots,
                           .now_mono_ms = mono_ms,
                           .now_wall_ms = wall_ms,
                           .local_min_of_day = tm.tm_hour * 60 + tm.tm_min,
                           .local_weekday = tm.tm_wday == 0 ? 7 : tm.tm_wday};
    char nodata[64][32];
    size_t nnodata = 0;
    for (size_t i = 0; i < e->nrules; i++) {
        const struct alarm_rule *r = &e->rules[i];
        struct alarm_rec *a = &e->recs[i];
        struct expr_val w = expr_eval(r->when, &env);
        struct expr_val c;
        if (r->clear) {
            c = expr_eval(r->clear, &env);
        } else {
            c = w;
            c.v = c.v == 0;
        }
        if (!w.known || (a->st == ST_FIRING && !c.known))
            alarm_mark_nodata(e, r->clear && a->st == ST_FIRING ? r->clear : r->when, nodata,
                              &nnodata, UTIL_ARRAY_SIZE(nodata));
        enum alarm_st before = a->st;
        if (before != ST_FIRING && w.known && w.v != 0) {
            a->values[0] = '\0';
            alarm_values(e, r->when, a->values, sizeof(a->values));
        }
        alarm_step(e, a, w, c, r->for_ms, r->clear_for_ms, r->repeat_ms, r->description, mono_ms,
                   wall_ms);
    }
    alarm_builtins(e, nodata, nnodata, mono_ms, wall_ms);
    for (size_t i = 0; i < e->next; i++)
        alarm_builtin_step(e, e->ext[i].id, "", e->ext[i].sev, e->ext[i].title, true,
                           e->ext[i].active, 0, mono_ms, wall_ms);
    alarm_compact(e);
    /* Expired silences go. */
    size_t w = 0;
    for (size_t i = 0; i < e->nsil; i++) {
        if (e->sil[i].until_ms > wall_ms)
            e->sil[w++] = e->sil[i];
        else
            e->dirty = true;
    }
    e->nsil = w;
    json_t *doc = e->dirty && e->state_path ? alarm_state_json(e) : NULL;
    e->dirty = false;
    struct alarm_notice_copy *pend = e->pending;
    size_t npend = e->npending;
    e->pending = NULL;
    e->npending = 0;
    void (*fn)(void *, const struct alarm_notice *) = e->notify;
    void *ctx = e->notify_ctx;
    pthread_mutex_unlock(&e->lock);
    /* Disk and notifier run outside the lock: the API stays responsive. The state is on disk
     * before the notifier sees the event. */
    if (doc)
        alarm_save(e, doc);
    for (size_t i = 0; i < npend && fn; i++) {
        struct alarm_notice_copy *c = &pend[i];
        c->n.id = c->id;
        c->n.title = c->title;
        c->n.values = c->values;
        c->n.route = c->route;
        fn(ctx, &c->n);
    }
    free(pend);
}

/* ---- operations ----------------------------------------------------------------------- */

json_t *alarm_engine_list(struct alarm_engine *e, int64_t wall_ms)
{
    json_t *arr = json_array(), *sil = json_array();
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->nrecs; i++) {
        const struct alarm_rec *a = &e->recs[i];
        if (a->st == ST_INACTIVE)
            continue;
        json_t *o = alarm_rec_json(a);
        json_object_del(o, "notified");
        json_object_set_new(o, "state", json_string(a->st == ST_FIRING ? "firing" : "pending"));
        json_object_set_new(o, "silenced", json_boolean(alarm_silenced(e, a, wall_ms)));
        json_object_set_new(o, "flapping", json_boolean(a->flapping));
        if (a->rule[0]) {
            for (size_t k = 0; k < e->nrules; k++)
                if (strcmp(e->rules[k].name, a->rule) == 0)
                    json_object_set_new(o, "description", json_string(e->rules[k].description));
        }
        json_array_append_new(arr, o);
    }
    for (size_t i = 0; i < e->nsil; i++)
        json_array_append_new(sil, alarm_silence_json(&e->sil[i]));
    pthread_mutex_unlock(&e->lock);
    return json_pack("{s:o, s:o}", "alarms", arr, "silences", sil);
}

json_t *alarm_engine_log(struct alarm_engine *e)
{
    pthread_mutex_lock(&e->lock);
    json_t *copy = json_deep_copy(e->log);
    pthread_mutex_unlock(&e->lock);
    return json_pack("{s:o}", "log", copy);
}

static void alarm_save_now(struct alarm_engine *e)
{
    json_t *doc = e->state_path ? alarm_state_json(e) : NULL;
    e->dirty = false;
    pthread_mutex_unlock(&e->lock);
    if (doc)
        alarm_save(e, doc);
}

int alarm_engine_ack(struct alarm_engine *e, const char *id, const char *who, int64_t wall_ms)
{
    pthread_mutex_lock(&e->lock);
    struct alarm_rec *a = alarm_rec_find(e, id);
    if (!a || a->st != ST_FIRING) {
        pthread_mutex_unlock(&e->lock);
        return -ENOENT;
    }
    a->acked = true;
    a->acked_wall = wall_ms;
    util_strlcpy(a->acked_by, who && *who ? who : "unknown", sizeof(a->acked_by));
    alarm_log_add(e, a, "acknowledged", a->acked_by, wall_ms);
    alarm_save_now(e);
    return 0;
}

long alarm_engine_silence_add(struct alarm_engine *e, const char *target, int64_t from_ms,
                              int64_t until_ms, const char *who, const char *comment,
                              int64_t wall_ms)
{
    if (!target || !*target || strlen(target) >= ALARM_ID_MAX || until_ms <= wall_ms ||
        (from_ms && from_ms >= until_ms))
        return -EINVAL;
    pthread_mutex_lock(&e->lock);
    e->sil = xrealloc(e->sil, (e->nsil + 1) * sizeof(*e->sil));
    struct alarm_silence *s = &e->sil[e->nsil++];
    memset(s, 0, sizeof(*s));
    s->id = e->next_silence++;
    util_strlcpy(s->target, target, sizeof(s->target));
    util_strlcpy(s->who, who ? who : "", sizeof(s->who));
    util_strlcpy(s->comment, comment ? comment : "", sizeof(s->comment));
    s->from_ms = from_ms ? from_ms : wall_ms;
    s->until_ms = until_ms;
    long id = s->id;
    struct alarm_rec tmp = {0};
    snprintf(tmp.id, sizeof(tmp.id), "silence:%ld", id);
    snprintf(tmp.title, sizeof(tmp.title), "silence of %s until %lld", target, (long long)until_ms);
    alarm_log_add(e, &tmp, "silenced", who, wall_ms);
    alarm_save_now(e);
    return id;
}

int alarm_engine_silence_del(struct alarm_engine *e, long id, const char *who, int64_t wall_ms)
{
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->nsil; i++) {
        if (e->sil[i].id != id)
            continue;
        struct alarm_rec tmp = {0};
        snprintf(tmp.id, sizeof(tmp.id), "silence:%ld", id);
        snprintf(tmp.title, sizeof(tmp.title), "silence of %s removed", e->sil[i].target);
        e->sil[i] = e->sil[--e->nsil];
        alarm_log_add(e, &tmp, "unsilenced", who, wall_ms);
        alarm_save_now(e);
        return 0;
    }
    pthread_mutex_unlock(&e->lock);
    return -ENOENT;
}

bool alarm_engine_active(struct alarm_engine *e, const char *id, bool *firing)
{
    pthread_mutex_lock(&e->lock);
    struct alarm_rec *a = alarm_rec_find(e, id);
    bool active = a && a->st != ST_INACTIVE;
    if (firing)
        *firing = a && a->st == ST_FIRING;
    pthread_mutex_unlock(&e->lock);
    return active;
}
