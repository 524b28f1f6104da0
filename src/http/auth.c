/* auth: users, login rate limit and lockout, sessions through session.c, and the API access hook.
 *
 * Policy (README "Access"): with no [user] configured, logins are off: GETs are open and
 * state-changing requests come from loopback only (the behaviour before logins existed). With
 * users, a request is: a session (cookie), a trusted loopback peer (trust_loopback = yes; the CLI
 * on the box), or anonymous. GETs need a session unless require_login = no; every other method
 * needs an admin session or a trusted loopback peer. Every POST with a session must carry the
 * session's CSRF token in X-CSRF-Token (double submit: the token is also in a readable cookie);
 * any request whose Origin names another host is refused (cross-site). */
#include "auth.h"

#include "core/log.h"
#include "core/util.h"
#include "session.h"

#include <crypt.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_MAX_USERS 32
#define AUTH_MAX_SESSIONS 64
#define AUTH_FAIL_SLOTS 64

static const struct drv_key auth_user_keys[] = {
    {"role",          DRV_KEY_STRING, "viewer", NULL, "viewer (read only) or admin"                 },
    {"password_hash", DRV_KEY_STRING, NULL,     NULL, "crypt(3) hash, written by `sitewatch passwd`"},
    {NULL,            0,              NULL,     NULL, NULL                                          },
};

static const struct drv_key auth_access_keys[] = {
    {"require_login",      DRV_KEY_BOOL,     "yes", NULL,      "viewers must log in too (with users)"   },
    {"trust_loopback",     DRV_KEY_BOOL,     "yes", NULL,      "requests from this machine act as admin"},
    {"session_ttl",        DRV_KEY_DURATION, "12h", "1s..30d", "a login lasts this long"                },
    {"login_max_failures", DRV_KEY_INT,      "5",   "1..1000", "failed logins before a lockout"         },
    {"login_lockout",      DRV_KEY_DURATION, "5m",  "0s..1d",  "lockout of a client address or user"    },
    {NULL,                 0,                NULL,  NULL,      NULL                                     },
};

int auth_role_parse(const char *s)
{
    if (strcmp(s, "viewer") == 0)
        return API_ROLE_VIEWER;
    if (strcmp(s, "admin") == 0)
        return API_ROLE_ADMIN;
    return -EINVAL;
}

const char *auth_role_name(enum api_role r)
{
    return r == API_ROLE_ADMIN ? "admin" : r == API_ROLE_VIEWER ? "viewer" : "none";
}

static int auth_check_user(const struct conf_section *s, struct conf_error *e)
{
    const struct conf_kv *kv = conf_get_kv(s, "role");
    if (kv && auth_role_parse(kv->value) < 0)
        return conf_error_at(e, s, kv, "role = %s: expected viewer or admin", kv->value);
    kv = conf_get_kv(s, "password_hash");
    if (!kv)
        return conf_error_at(e, s, NULL, "[user %s] needs password_hash (sitewatch passwd %s)",
                             s->name, s->name);
    if (crypt_checksalt(kv->value) != CRYPT_SALT_OK)
        return conf_error_at(e, s, kv, "password_hash is not a crypt(3) hash this system accepts");
    if (strlen(s->name) >= SESSION_USER_MAX)
        return conf_error_at(e, s, NULL, "user name longer than %d characters",
                             SESSION_USER_MAX - 1);
    return 0;
}

const struct conf_section_type conf_section_user = {
    .type = "user", .named = true, .keys = auth_user_keys, .check = auth_check_user};
const struct conf_section_type conf_section_access = {.type = "access", .keys = auth_access_keys};

bool auth_password_ok(const char *password, const char *hash)
{
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *h = crypt_rn(password, hash, cd, sizeof(*cd));
    bool ok = h && h[0] != '*' && session_equal(h, hash);
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}

int auth_cookie_get(const char *header, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = n - nl - 1;
            if (vl >= len)
                return -ENOENT;
            memcpy(buf, p + nl + 1, vl);
            buf[vl] = '\0';
            return 0;
        }
        p = end;
    }
    return -ENOENT;
}

struct auth_user {
    char name[SESSION_USER_MAX];
    char *hash;
    enum api_role role;
};

/* Failed logins of one client address or one user name. */
struct auth_fail {
    char key[80];
    unsigned count;
    int64_t last_mono_ms;
    int64_t locked_until_mono_ms;
};

struct auth {
    struct api_ctx *api;
    struct auth_user users[AUTH_MAX_USERS];
    size_t nusers;
    bool require_login, trust_loopback;
    bool secure; /* HTTPS: cookies get the Secure flag */
    int64_t ttl_ms, lockout_ms;
    unsigned max_failures;
    struct session_table *sessions;
    pthread_mutex_t login_lock; /* one crypt at a time: logins are serialised */
    struct auth_fail fails[AUTH_FAIL_SLOTS];
};

static struct auth_fail *auth_fail_slot(struct auth *a, const char *key, bool create)
{
    struct auth_fail *oldest = &a->fails[0];
    for (size_t i = 0; i < AUTH_FAIL_SLOTS; i++) {
        if (strcmp(a->fails[i].key, key) == 0)
            return &a->fails[i];
        if (a->fails[i].last_mono_ms < oldest->last_mono_ms)
            oldest = &a->fails[i];
    }
    if (!create)
        return NULL;
    *oldest = (struct auth_fail){0};
    util_strlcpy(oldest->key, key, sizeof(oldest->key));
    return oldest;
}

/* Seconds of lockout left for key, 0 when none. Called with login_lock held. */
static int64_t auth_locked_s(struct auth *a, const char *key, int64_t now)
{
    struct auth_fail *f = auth_fail_slot(a, key, false);
    if (!f || f->locked_until_mono_ms <= now)
        return 0;
    return (f->locked_until_mono_ms - now + 999) / 1000;
}

static void auth_fail_note(struct auth *a, const char *key, int64_t now)
{
    struct auth_fail *f = auth_fail_slot(a, key, true);
    if (now - f->last_mono_ms > a->lockout_ms)
        f->count = 0; /* failures long ago are forgotten */
    f->count++;
    f->last_mono_ms = now;
    if (f->count >= a->max_failures) {
        f->locked_until_mono_ms = now + a->lockout_ms;
        f->count = 0;
        log_msg(LOG_WARNING, "auth: too many failed logins for %s: locked out for %lld s", key,
                (long long)(a->lockout_ms / 1000));
    }
}

static void auth_fail_clear(struct auth *a, const char *key)
{
    struct auth_fail *f = auth_fail_slot(a, key, false);
    if (f)
        *f = (struct auth_fail){0};
}

static const struct auth_user *auth_user_find(const struct auth *a, const char *name)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i].name, name) == 0)
            return &a->users[i];
    return NULL;
}

static char *auth_cookie(const struct auth *a, const char *name, const char *value,
                         int64_t max_age_s, bool http_only)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s=%s; Path=/; Max-Age=%lld; SameSite=Strict%s%s", name, value,
             (long long)max_age_s, http_only ? "; HttpOnly" : "", a->secure ? "; Secure" : "");
    return xstrdup(buf);
}

/* POST /api/v1/login {"user": "...", "password": "..."}. */
static void auth_login(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct auth *a = ctx;
    json_error_t je;
    json_t *doc = json_loadb(r->body, r->body_len, 0, &je);
    const char *juser = json_string_value(json_object_get(doc, "user"));
    const char *pw = json_string_value(json_object_get(doc, "password"));
    if (!juser || !pw || strlen(juser) >= SESSION_USER_MAX || strlen(pw) > 256) {
        json_decref(doc);
        api_reply_error(out, 400, "body must be {\"user\": \"...\", \"password\": \"...\"}");
        return;
    }
    char user[SESSION_USER_MAX];
    util_strlcpy(user, juser, sizeof(user));
    char ipkey[80], userkey[80];
    snprintf(ipkey, sizeof(ipkey), "address %s", r->client);
    snprintf(userkey, sizeof(userkey), "user %s", user);
    pthread_mutex_lock(&a->login_lock);
    int64_t now = util_mono_ms();
    int64_t wait_s = auth_locked_s(a, ipkey, now);
    int64_t wait_u = auth_locked_s(a, userkey, now);
    if (wait_s || wait_u) {
        pthread_mutex_unlock(&a->login_lock);
        json_decref(doc);
        api_reply_error(out, 429, "too many failed logins: try again later");
        return;
    }
    const struct auth_user *u = auth_user_find(a, user);
    /* An unknown user costs the same crypt as a known one: no user enumeration by timing. */
    bool ok = auth_password_ok(pw, u ? u->hash : a->users[0].hash) && u;
    if (!ok) {
        auth_fail_note(a, ipkey, now);
        auth_fail_note(a, userkey, now);
    } else {
        auth_fail_clear(a, ipkey);
        auth_fail_clear(a, userkey);
    }
    pthread_mutex_unlock(&a->login_lock);
    json_decref(doc);
    if (!ok) {
        log_msg(LOG_NOTICE, "auth: failed login for '%s' from %s", user, r->client);
        api_reply_error(out, 401, "wrong user or password");
        return;
    }
    struct session_info s;
    int rc = session_create(a->sessions, u->name, u->role, &s);
    if (rc < 0) {
        api_reply_error(out, 503, "cannot create a session");
        return;
    }
    log_msg(LOG_INFO, "auth: %s logged in from %s (%s)", u->name, r->client,
            auth_role_name(u->role));
    api_reply_json(
        out, 200,
        json_pack("{s:s,s:s,s:s}", "user", s.user, "role", auth_role_name(s.role), "csrf", s.csrf));
    out->set_cookie[0] = auth_cookie(a, AUTH_COOKIE_SESSION, s.id, a->ttl_ms / 1000, true);
    out->set_cookie[1] = auth_cookie(a, AUTH_COOKIE_CSRF, s.csrf, a->ttl_ms / 1000, false);
}

static bool auth_session_of(struct auth *a, const struct api_request *r, struct session_info *s)
{
    const char *cookie = r->header(r->req, "Cookie");
    char id[SESSION_ID_LEN + 2];
    return cookie && auth_cookie_get(cookie, AUTH_COOKIE_SESSION, id, sizeof(id)) == 0 &&
           session_find(a->sessions, id, s) == 0;
}

/* POST /api/v1/logout. */
static void auth_logout(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct auth *a = ctx;
    struct session_info s;
    if (auth_session_of(a, r, &s))
        session_destroy(a->sessions, s.id);
    api_reply_json(out, 200, json_pack("{s:b}", "ok", 1));
    out->set_cookie[0] = auth_cookie(a, AUTH_COOKIE_SESSION, "", 0, true);
    out->set_cookie[1] = auth_cookie(a, AUTH_COOKIE_CSRF, "", 0, false);
}

/* GET /api/v1/session: who am I, and must I log in. */
static void auth_session_get(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct auth *a = ctx;
    struct session_info s;
    bool have = auth_session_of(a, r, &s);
    json_t *o = json_object();
    json_object_set_new(o, "logins", json_true());
    json_object_set_new(o, "login_required", json_boolean(a->require_login));
    json_object_set_new(o, "user", have ? json_string(s.user) : json_null());
    json_object_set_new(o, "role", json_string(auth_role_name(r->role)));
    json_object_set_new(o, "csrf", have ? json_string(s.csrf) : json_null());
    api_reply_json(out, 200, o);
}

static bool auth_is(const struct api_request *r, const char *method, const char *path)
{
    return strcmp(r->path, path) == 0 && strcmp(r->method, method) == 0;
}

/* Origin of a browser request naming another host than Host: a cross-site request. */
static bool auth_cross_site(const struct api_request *r)
{
    const char *origin = r->header(r->req, "Origin");
    const char *host = r->header(r->req, "Host");
    if (!origin)
        return false;
    const char *o = strstr(origin, "://");
    return !host || !o || strcmp(o + 3, host) != 0;
}

static bool auth_access(void *actx, struct api_request *r, struct api_reply *out)
{
    struct auth *a = actx;
    if (!a->trust_loopback)
        r->from_loopback = false;
    struct session_info s;
    if (auth_session_of(a, r, &s)) {
        r->role = s.role;
        util_strlcpy(r->user, s.user, sizeof(r->user));
    }
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    /* Open to all: liveness, "who am I", and which routes exist (the console's boot). */
    if (auth_is(r, "GET", "/api/v1/health") || auth_is(r, "GET", "/api/v1/session") ||
        auth_is(r, "GET", "/api/v1/console"))
        return true;
    if (get) {
        if (r->role == API_ROLE_NONE && a->require_login && !r->from_loopback) {
            api_reply_error(out, 401, "log in first");
            return false;
        }
        return true;
    }
    if (auth_cross_site(r)) {
        api_reply_error(out, 403, "cross-site request refused");
        return false;
    }
    if (auth_is(r, "POST", "/api/v1/login"))
        return true;
    if (r->role != API_ROLE_NONE) {
        const char *tok = r->header(r->req, AUTH_CSRF_HEADER);
        if (!tok || !session_equal(tok, s.csrf)) {
            api_reply_error(out, 403, "missing or wrong CSRF token (X-CSRF-Token)");
            return false;
        }
    }
    if (auth_is(r, "POST", "/api/v1/logout"))
        return true;
    return api_require_admin(r, out);
}

static void auth_stop(void *inst)
{
    struct auth *a = inst;
    if (!a)
        return;
    api_access_suspend(a->api);
    api_route_remove(a->api, a);
    session_table_free(a->sessions);
    for (size_t i = 0; i < a->nusers; i++) {
        explicit_bzero(a->users[i].hash, strlen(a->users[i].hash));
        free(a->users[i].hash);
    }
    pthread_mutex_destroy(&a->login_lock);
    free(a);
}

static int auth_start(struct core *core, void **inst)
{
    struct auth *a = xcalloc(1, sizeof(*a));
    a->api = core->api;
    pthread_mutex_init(&a->login_lock, NULL);
    *inst = a; /* even with logins off: stop must suspend access while services restart */
    if (!conf_section_nth(core->conf, "user", 0)) {
        log_msg(LOG_WARNING, "auth: no [user] configured: logins are off, the console is open to "
                             "anyone who can reach it, and changes are accepted from this machine "
                             "only");
        api_set_access(core->api, NULL, NULL);
        return 0;
    }
    const struct conf_section *s;
    for (size_t i = 0; (s = conf_section_nth(core->conf, "user", i)) && i < AUTH_MAX_USERS; i++) {
        struct auth_user *u = &a->users[a->nusers++];
        util_strlcpy(u->name, s->name, sizeof(u->name));
        u->hash = xstrdup(conf_get(s, "password_hash"));
        u->role = (enum api_role)auth_role_parse(conf_get(s, "role"));
    }
    static const struct conf_section defaults = {.type = &conf_section_access};
    const struct conf_section *ac = conf_section_nth(core->conf, "access", 0);
    if (!ac)
        ac = &defaults;
    a->require_login = conf_get_bool(ac, "require_login");
    a->secure = core->conf->tls_cert && core->conf->tls_cert[0];
    a->trust_loopback = conf_get_bool(ac, "trust_loopback");
    a->ttl_ms = conf_get_ms(ac, "session_ttl");
    a->lockout_ms = conf_get_ms(ac, "login_lockout");
    long mf = conf_get_long(ac, "login_max_failures");
    a->max_failures = mf > 0 ? (unsigned)mf : 1;
    a->sessions = session_table_new(AUTH_MAX_SESSIONS, a->ttl_ms);
    int r = api_route_add(core->api, "POST", "/api/v1/login", auth_login, a);
    r |= api_route_add(core->api, "POST", "/api/v1/logout", auth_logout, a);
    r |= api_route_add(core->api, "GET", "/api/v1/session", auth_session_get, a);
    if (r != 0) {
        auth_stop(a);
        *inst = NULL;
        return -ENOSPC;
    }
    api_set_access(core->api, auth_access, a);
    log_msg(LOG_INFO, "auth: %zu user%s, viewers %s log in", a->nusers, a->nusers == 1 ? "" : "s",
            a->require_login ? "must" : "need not");
    return 0;
}

const struct service service_auth = {.name = "auth", .start = auth_start, .stop = auth_stop};
