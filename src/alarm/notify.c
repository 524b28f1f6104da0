/* notify: [notify ROUTE] config, notice → outbox, grouping into mails for a person, one sender
 * thread per route with back-off, email over SMTP and exec routes, the test-mail API. */
#include "notify.h"

#include "core/log.h"
#include "core/ticker.h"
#include "core/util.h"
#include "outbox.h"
#include "sms.h"
#include "smtp.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOTIFY_MAX_TO 16
#define NOTIFY_BACKOFF_MAX_MS (10 * 60 * 1000)
#define NOTIFY_GROUP_MAX 50

static const struct drv_key notify_keys[] = {
    {"type",           DRV_KEY_STRING,   NULL,   NULL,       "email, exec or sms"                            },
    {"modem",          DRV_KEY_STRING,   "",     NULL,       "sms: serial port of the GSM modem"             },
    {"host",           DRV_KEY_STRING,   "",     NULL,       "email: SMTP server"                            },
    {"port",           DRV_KEY_INT,      "25",   "1..65535", "email: SMTP port (587 STARTTLS, 465 implicit)" },
    {"tls",            DRV_KEY_STRING,   "none", NULL,       "email: none, starttls or implicit"             },
    {"ca_file",        DRV_KEY_STRING,   "",     NULL,       "email: CA bundle to trust instead of system's" },
    {"user",           DRV_KEY_STRING,   "",     NULL,       "email: login (empty: none)"                    },
    {"password",       DRV_KEY_STRING,   "",     NULL,       "email: password"                               },
    {"from",           DRV_KEY_STRING,   "",     NULL,       "email: sender address"                         },
    {"to",             DRV_KEY_STRING,   "",     NULL,       "email: recipients, separated by commas"        },
    {"command",        DRV_KEY_STRING,   "",     NULL,       "exec: shell command run per notice"            },
    {"timeout",        DRV_KEY_DURATION, "30s",  "1s..10m",  "longest a send or a command may take"          },
    {"group_wait",     DRV_KEY_DURATION, "30s",  "0s..1h",
     "wait this long to group a new event's notices"                                                         },
    {"group_interval", DRV_KEY_DURATION, "1m",   "0s..1d",
     "least time between two mails of this route"                                                            },
    {"heartbeat",      DRV_KEY_STRING,   "",     NULL,       "HH:MM: a daily site summary mail (empty: none)"},
    {"console_url",    DRV_KEY_STRING,   "",     NULL,       "link in mails (default: from [http] listen)"   },
    {NULL,             0,                NULL,   NULL,       NULL                                            },
};

enum notify_type { NOTIFY_EMAIL, NOTIFY_EXEC, NOTIFY_SMS };

static int notify_parse_hhmm(const char *s, int *min)
{
    long h, m;
    char hh[3], mm[3];
    if (strlen(s) != 5 || s[2] != ':')
        return -EINVAL;
    memcpy(hh, s, 2), hh[2] = '\0';
    memcpy(mm, s + 3, 2), mm[2] = '\0';
    if (util_parse_long(hh, 10, 0, 23, &h) != 0 || util_parse_long(mm, 10, 0, 59, &m) != 0)
        return -EINVAL;
    *min = (int)(h * 60 + m);
    return 0;
}

static int notify_check(const struct conf_section *s, struct conf_error *e)
{
    const char *type = conf_get(s, "type");
    const struct conf_kv *kv = conf_get_kv(s, "type");
    if (strcmp(type, "email") == 0) {
        static const char *const need[] = {"host", "from", "to"};
        for (size_t i = 0; i < UTIL_ARRAY_SIZE(need); i++)
            if (!*conf_get(s, need[i]))
                return conf_error_at(e, s, NULL, "[notify %s] type = email needs '%s ='", s->name,
                                     need[i]);
        kv = conf_get_kv(s, "tls");
        if (kv && smtp_tls_parse(kv->value) < 0)
            return conf_error_at(e, s, kv, "tls = %s: expected none, starttls or implicit",
                                 kv->value);
    } else if (strcmp(type, "exec") == 0) {
        if (!*conf_get(s, "command"))
            return conf_error_at(e, s, NULL, "[notify %s] type = exec needs 'command ='", s->name);
    } else if (strcmp(type, "sms") == 0) {
        if (!*conf_get(s, "modem") || !*conf_get(s, "to"))
            return conf_error_at(e, s, NULL, "[notify %s] type = sms needs 'modem =' and 'to ='",
                                 s->name);
        /* Numbers go into AT+CMGS="...": digits, '+', spaces and commas only. */
        kv = conf_get_kv(s, "to");
        if (strspn(kv->value, "+0123456789, ") != strlen(kv->value))
            return conf_error_at(e, s, kv, "to = %s: expected phone numbers such as +4915112345678",
                                 kv->value);
    } else {
        return conf_error_at(e, s, kv, "type = %s: expected email, exec or sms", type);
    }
    int m;
    kv = conf_get_kv(s, "heartbeat");
    if (kv && notify_parse_hhmm(kv->value, &m) != 0)
        return conf_error_at(e, s, kv, "heartbeat = %s: expected a time of day HH:MM", kv->value);
    return 0;
}

const struct conf_section_type conf_section_notify = {
    .type = "notify", .named = true, .keys = notify_keys, .check = notify_check};

struct notify_route {
    struct notify *nt;
    char name[STORE_NAME_MAX];
    char notice_key[STORE_NAME_MAX + 2], mail_key[STORE_NAME_MAX + 2];
    enum notify_type type;
    struct smtp_server srv;
    char *host, *user, *password, *ca_file, *from, *command, *console_url, *modem;
    char *to_buf;
    const char *to[NOTIFY_MAX_TO];
    size_t nto;
    int64_t timeout_ms, group_wait_ms, group_interval_ms;
    int heartbeat_min; /* -1 = none */
    /* sender state, only touched by the route's thread */
    int64_t last_mail_mono, next_try_mono, backoff_ms;
    int heartbeat_yday;
    struct log_throttle throttle;
    char last_error[256];           /* guarded by nt->lock */
    uint64_t delivered;             /* since start; guarded by nt->lock */
    int64_t last_delivered_wall_ms; /* guarded by nt->lock */
    struct ticker *ticker;
};

struct notify {
    pthread_mutex_t lock;
    struct outbox *ob;
    struct alarm_engine *engine;
    struct api_ctx *api;
    char site[128];
    char hostname[128];
    struct notify_route *routes;
    size_t nroutes;
    int64_t start_mono;
    bool full_raised;
};

static struct notify_route *notify_route_find(struct notify *nt, const char *name)
{
    for (size_t i = 0; i < nt->nroutes; i++)
        if (strcmp(nt->routes[i].name, name) == 0)
            return &nt->routes[i];
    return NULL;
}

/* The outbox-full alarm is loud: an error in the log and a critical alarm until it drains. */
static void notify_check_full(struct notify *nt)
{
    bool full;
    uint64_t refused;
    outbox_stats(nt->ob, NULL, NULL, &refused, &full);
    if (full != nt->full_raised) {
        nt->full_raised = full;
        if (full)
            log_msg(LOG_ERR,
                    "notify: the outbox is full: new notifications are refused (%llu "
                    "so far) until messages can be delivered",
                    (unsigned long long)refused);
        if (nt->engine)
            alarm_engine_external(nt->engine, "outbox:full",
                                  "the notification outbox is full: new notifications are lost",
                                  ALARM_SEV_CRITICAL, full);
    }
}

static const char *const notify_event_names[] = {"raised", "repeat", "cleared", "flapping"};

void notify_notice(void *ctx, const struct alarm_notice *n)
{
    struct notify *nt = ctx;
    const char *route = n->route;
    if (!*route) {
        if (nt->nroutes == 0)
            return;
        route = nt->routes[0].name; /* no notify =: the first route */
    }
    struct notify_route *r = notify_route_find(nt, route);
    if (!r) {
        log_msg(LOG_WARNING, "notify: alarm %s names route '%s', which is not configured", n->id,
                route);
        return;
    }
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "event", notify_event_names[n->event],
                  "id", n->id, "title", n->title, "description", n->description, "values",
                  n->values, "severity", alarm_severity_name(n->severity), "since",
                  (json_int_t)n->since_wall_ms, "ts", (json_int_t)n->wall_ms);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return;
    int rc = outbox_put(nt->ob, r->notice_key, NULL, nt->hostname, text, strlen(text), NULL);
    free(text);
    if (rc == -ENOSPC)
        notify_check_full(nt);
}

/* ---- composing ------------------------------------------------------------------------ */

struct notify_buf {
    char *p;
    size_t len, cap;
};

static void notify_add(struct notify_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void notify_add(struct notify_buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 256) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
}

static void notify_time(int64_t wall_ms, char *buf, size_t len)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    if (strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
        util_strlcpy(buf, "?", len);
}

static const char *notify_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* A header text for a person (RFC 2047): printable ASCII as it is, anything else (a site name
 * in another language) as UTF-8 base64 encoded-words of at most word_max (<= 297) bytes each
 * (45 keeps a Subject line under 78 characters); CR and LF become spaces (no header injection).
 */
static void notify_add_header_text(struct notify_buf *b, const char *text, size_t word_max)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bool plain = true;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        plain &= *p >= 0x20 && *p < 0x7f;
    if (plain) {
        notify_add(b, "%s", text);
        return;
    }
    size_t len = strlen(text);
    for (size_t off = 0; off < len;) {
        size_t n = len - off > word_max ? word_max : len - off;
        /* never split a UTF-8 sequence between two encoded-words */
        while (n < len - off && n > 1 && ((unsigned char)text[off + n] & 0xC0) == 0x80)
            n--;
        char enc[400];
        size_t e = 0;
        for (size_t i = 0; i < n; i += 3) {
            unsigned char c[3] = {0, 0, 0};
            size_t k;
            for (k = 0; k < 3 && i + k < n; k++) {
                c[k] = (unsigned char)text[off + i + k];
                if (c[k] == '\r' || c[k] == '\n')
                    c[k] = ' ';
            }
            enc[e++] = b64[c[0] >> 2];
            enc[e++] = b64[((c[0] & 3) << 4) | (c[1] >> 4)];
            enc[e++] = k > 1 ? b64[((c[1] & 15) << 2) | (c[2] >> 6)] : '=';
            enc[e++] = k > 2 ? b64[c[2] & 63] : '=';
        }
        enc[e] = '\0';
        notify_add(b, "%s=?UTF-8?B?%s?=", off ? "\r\n " : "", enc);
        off += n;
    }
}

/* The mail headers; Message-ID is made here once and stays with the message in the outbox. */
static void notify_headers(struct notify_route *r, struct notify_buf *b, const char *subject,
                           uint64_t unique, char *id, size_t idlen)
{
    struct notify *nt = r->nt;
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
    char name[200];
    (void)util_snprintf(name, sizeof(name), "sitewatch %s", nt->site);
    bool plain = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
                              "-_.") == strlen(name);
    notify_add(b, "From: ");
    if (plain)
        notify_add(b, "%s", name);
    else
        notify_add_header_text(b, name, 200); /* one word: parsers keep folds in a phrase */
    notify_add(b, " <%s>\r\n", r->from);
    notify_add(b, "To: ");
    for (size_t i = 0; i < r->nto; i++)
        notify_add(b, "%s<%s>", i ? ", " : "", r->to[i]);
    notify_add(b, "\r\nSubject: ");
    notify_add_header_text(b, subject, 45);
    notify_add(b, "\r\nDate: %s\r\n", date);
    (void)util_snprintf(id, idlen, "<%lld.%llu.%s@%s>", (long long)util_wall_ms(),
                        (unsigned long long)unique, r->name, nt->hostname);
    notify_add(b, "Message-ID: %s\r\n", id);
    notify_add(b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n");
}

static void notify_footer(struct notify_route *r, struct notify_buf *b, const json_t *exclude)
{
    struct notify *nt = r->nt;
    if (nt->engine) {
        json_t *l = alarm_engine_list(nt->engine, util_wall_ms());
        json_t *alarms = json_object_get(l, "alarms"), *a;
        size_t i, shown = 0;
        json_array_foreach(alarms, i, a)
        {
            const char *id = notify_str(a, "id");
            if (strcmp(notify_str(a, "state"), "firing") != 0 || json_object_get(exclude, id))
                continue;
            if (shown++ == 0)
                notify_add(b, "\r\n%s active alarms:\r\n", exclude ? "Other" : "All");
            char since[64];
            notify_time(json_integer_value(json_object_get(a, "since")), since, sizeof(since));
            notify_add(b, "  - [%s] %s (since %s)%s\r\n", notify_str(a, "severity"),
                       notify_str(a, "title"), since,
                       json_is_true(json_object_get(a, "acked")) ? ", acknowledged" : "");
        }
        if (shown == 0)
            notify_add(b, "\r\nNo %salarm is active.\r\n", exclude ? "other " : "");
        json_decref(l);
    }
    if (r->console_url[0])
        notify_add(b, "\r\nConsole: %s\r\n", r->console_url);
    notify_add(b, "\r\n-- \r\nsitewatch at %s (%s)\r\n", nt->site, nt->hostname);
}

/* One mail from a group of notices (JSON objects). */
static char *notify_compose(struct notify_route *r, json_t *notices, uint64_t unique, char *id,
                            size_t idlen)
{
    struct notify_buf b = {0};
    size_t n = json_array_size(notices), i;
    json_t *x, *ids = json_object();
    size_t firing = 0;
    json_array_foreach(notices, i, x)
    {
        json_object_set_new(ids, notify_str(x, "id"), json_true());
        firing += strcmp(notify_str(x, "event"), "cleared") != 0;
    }
    json_t *first = json_array_get(notices, 0);
    const char *ev = notify_str(first, "event");
    char subject[300];
    const char *what = strcmp(ev, "cleared") == 0    ? "RESOLVED"
                       : strcmp(ev, "flapping") == 0 ? "FLAPPING"
                       : strcmp(ev, "repeat") == 0   ? "STILL FIRING"
                                                     : "ALARM";
    if (n == 1)
        (void)util_snprintf(subject, sizeof(subject), "[%s] %s (%s): %s", r->nt->site, what,
                            notify_str(first, "severity"), notify_str(first, "title"));
    else
        (void)util_snprintf(subject, sizeof(subject), "[%s] %zu alarm(s) fired, %zu resolved: %s",
                            r->nt->site, firing, n - firing, notify_str(first, "title"));
    notify_headers(r, &b, subject, unique, id, idlen);
    notify_add(&b, "Site: %s\r\n", r->nt->site);
    json_array_foreach(notices, i, x)
    {
        char since[64], at[64];
        const char *e = notify_str(x, "event");
        notify_time(json_integer_value(json_object_get(x, "since")), since, sizeof(since));
        notify_time(json_integer_value(json_object_get(x, "ts")), at, sizeof(at));
        const char *label = strcmp(e, "cleared") == 0    ? "RESOLVED"
                            : strcmp(e, "flapping") == 0 ? "FLAPPING (notices held while it flaps)"
                            : strcmp(e, "repeat") == 0   ? "STILL FIRING"
                                                         : "FIRED";
        notify_add(&b, "\r\n%s: %s\r\n", label, notify_str(x, "title"));
        notify_add(&b, "  alarm:    %s, severity %s\r\n", notify_str(x, "id"),
                   notify_str(x, "severity"));
        notify_add(&b, "  since:    %s\r\n", since);
        if (strcmp(e, "cleared") == 0)
            notify_add(&b, "  cleared:  %s\r\n", at);
        if (*notify_str(x, "values"))
            notify_add(&b, "  values:   %s\r\n", notify_str(x, "values"));
        if (*notify_str(x, "description"))
            notify_add(&b, "  %s\r\n", notify_str(x, "description"));
    }
    notify_footer(r, &b, ids);
    json_decref(ids);
    return b.p;
}

static char *notify_heartbeat_mail(struct notify_route *r, uint64_t unique, char *id, size_t idlen)
{
    struct notify_buf b = {0};
    char subject[200];
    (void)util_snprintf(subject, sizeof(subject), "[%s] daily heartbeat: sitewatch is running",
                        r->nt->site);
    notify_headers(r, &b, subject, unique, id, idlen);
    size_t q = 0;
    outbox_stats(r->nt->ob, &q, NULL, NULL, NULL);
    notify_add(&b,
               "Site: %s\r\n\r\nsitewatch is running (up %lld h). If this mail does not arrive "
               "one day, the site or its link is down.\r\nMessages waiting in the outbox: %zu\r\n",
               r->nt->site, (long long)((util_mono_ms() - r->nt->start_mono) / 3600000), q);
    notify_footer(r, &b, NULL);
    return b.p;
}

/* ---- sending -------------------------------------------------------------------------- */

/* Runs the route's command with the notice in its environment; 0 when it exits 0 in time. */
static int notify_exec(struct notify_route *r, const char *data, char *err, size_t errlen)
{
    json_t *doc = json_loads(data, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        (void)util_snprintf(err, errlen, "corrupt notice");
        return -EINVAL;
    }
    static const char *const keys[] = {"event", "id", "title", "severity", "values", "description"};
    static const char *const names[] = {"SITEWATCH_EVENT",  "SITEWATCH_ALARM_ID",
                                        "SITEWATCH_TITLE",  "SITEWATCH_SEVERITY",
                                        "SITEWATCH_VALUES", "SITEWATCH_DESCRIPTION"};
    char *env[UTIL_ARRAY_SIZE(keys) + 3];
    size_t ne = 0;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(keys); i++) {
        const char *v = notify_str(doc, keys[i]);
        size_t l = strlen(names[i]) + strlen(v) + 2;
        env[ne] = xmalloc(l);
        snprintf(env[ne++], l, "%s=%s", names[i], v);
    }
    size_t l = strlen(r->nt->site) + 32;
    env[ne] = xmalloc(l);
    snprintf(env[ne++], l, "SITEWATCH_SITE=%s", r->nt->site);
    env[ne++] = xstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
    env[ne] = NULL;
    json_decref(doc);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
        }
        execle("/bin/sh", "sh", "-c", r->command, (char *)NULL, env);
        _exit(127);
    }
    for (size_t i = 0; i < ne; i++)
        free(env[i]);
    if (pid < 0) {
        (void)util_snprintf(err, errlen, "fork: %s", strerror(errno));
        return -EAGAIN;
    }
    int64_t deadline = util_mono_ms() + r->timeout_ms;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            (void)util_snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return -EAGAIN;
        }
        if (util_mono_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            (void)util_snprintf(err, errlen, "'%s' did not finish within %lld ms: killed",
                                r->command, (long long)r->timeout_ms);
            return -EAGAIN;
        }
        util_sleep_ms(20);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    (void)util_snprintf(err, errlen, "'%s' failed (status %d)", r->command,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return -EAGAIN;
}

static int notify_deliver(struct notify_route *r, const struct outbox_msg *m, char *err,
                          size_t errlen)
{
    if (r->type == NOTIFY_EXEC)
        return notify_exec(r, m->data, err, errlen);
    if (r->type == NOTIFY_SMS)
        return sms_send(r->modem, r->to, r->nto, m->data, r->timeout_ms, err, errlen);
    return smtp_send(&r->srv, r->from, r->to, r->nto, m->data, m->len, err, errlen);
}

/* Stage 2: the route's queued notices become messages once the group is due. */
static void notify_group(struct notify_route *r, int64_t now)
{
    struct notify *nt = r->nt;
    json_t *notices = json_array();
    uint64_t seqs[NOTIFY_GROUP_MAX];
    size_t n = outbox_list(nt->ob, r->notice_key, seqs, NOTIFY_GROUP_MAX);
    if (n == 0) {
        json_decref(notices);
        return;
    }
    struct outbox_msg m;
    if (outbox_get(nt->ob, seqs[0], &m) != 0) {
        json_decref(notices);
        return;
    }
    int64_t age = util_wall_ms() - m.created_wall_ms;
    outbox_msg_clear(&m);
    if (age < r->group_wait_ms ||
        (r->last_mail_mono && now - r->last_mail_mono < r->group_interval_ms)) {
        json_decref(notices);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (outbox_get(nt->ob, seqs[i], &m) != 0)
            continue;
        json_t *x = json_loads(m.data, 0, NULL);
        if (r->type == NOTIFY_EXEC) {
            /* one command per notice: its environment describes one alarm */
            if (outbox_put_replacing(nt->ob, r->mail_key, m.message_id, NULL, m.data, m.len,
                                     NULL) == 0)
                (void)outbox_done(nt->ob, seqs[i]);
        } else if (r->type == NOTIFY_SMS && x) {
            /* one short text per notice */
            char text[400], sms[200];
            const char *ev = notify_str(x, "event");
            (void)util_snprintf(text, sizeof(text), "[%s] %s %s: %s %s", nt->site,
                                strcmp(ev, "cleared") == 0 ? "RESOLVED" : "ALARM",
                                notify_str(x, "severity"), notify_str(x, "title"),
                                notify_str(x, "values"));
            sms_text(text, sms, sizeof(sms));
            if (outbox_put_replacing(nt->ob, r->mail_key, m.message_id, NULL, sms, strlen(sms),
                                     NULL) == 0)
                (void)outbox_done(nt->ob, seqs[i]);
        } else if (x) {
            json_array_append(notices, x);
        }
        json_decref(x);
        outbox_msg_clear(&m);
    }
    if (r->type == NOTIFY_EMAIL && json_array_size(notices) > 0) {
        char id[256];
        char *mail = notify_compose(r, notices, seqs[0], id, sizeof(id));
        /* The mail is on disk before its notices go: a crash between the two sends the group
         * twice (at-least-once), never zero times. */
        if (outbox_put_replacing(nt->ob, r->mail_key, id, NULL, mail, strlen(mail), NULL) == 0)
            for (size_t i = 0; i < n; i++)
                (void)outbox_done(nt->ob, seqs[i]);
        else
            notify_check_full(nt);
        free(mail);
    }
    r->last_mail_mono = now;
    json_decref(notices);
    notify_check_full(nt); /* grouping frees room */
}

static void notify_heartbeat(struct notify_route *r)
{
    if (r->heartbeat_min < 0 || r->type != NOTIFY_EMAIL)
        return;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    if (tm.tm_hour * 60 + tm.tm_min < r->heartbeat_min || tm.tm_yday == r->heartbeat_yday)
        return;
    r->heartbeat_yday = tm.tm_yday;
    char id[256];
    char *mail = notify_heartbeat_mail(r, (uint64_t)t, id, sizeof(id));
    if (outbox_put(r->nt->ob, r->mail_key, id, NULL, mail, strlen(mail), NULL) != 0)
        notify_check_full(r->nt);
    free(mail);
}

/* The route's thread, once a second: group, heartbeat, then send what is queued, in order. */
static void notify_route_tick(void *arg)
{
    struct notify_route *r = arg;
    int64_t now = util_mono_ms();
    notify_group(r, now);
    notify_heartbeat(r);
    while (now >= r->next_try_mono) {
        struct outbox_msg m;
        if (outbox_peek(r->nt->ob, r->mail_key, &m) != 0)
            break;
        char err[300] = "";
        int rc = notify_deliver(r, &m, err, sizeof(err));
        if (rc == 0) {
            (void)outbox_done(r->nt->ob, m.seq);
            log_msg(LOG_INFO, "notify[%s]: delivered %s", r->name, m.message_id);
            log_release(&r->throttle, "notify[%s]: delivering again", r->name);
            r->backoff_ms = 0;
            pthread_mutex_lock(&r->nt->lock);
            r->last_error[0] = '\0';
            r->delivered++;
            r->last_delivered_wall_ms = util_wall_ms();
            pthread_mutex_unlock(&r->nt->lock);
            outbox_msg_clear(&m);
            notify_check_full(r->nt);
            now = util_mono_ms();
            continue;
        }
        /* Kept for as long as it takes: days without a link are normal at a remote site. */
        r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 1000;
        if (r->backoff_ms > NOTIFY_BACKOFF_MAX_MS)
            r->backoff_ms = NOTIFY_BACKOFF_MAX_MS;
        r->next_try_mono = util_mono_ms() + r->backoff_ms;
        log_complain(&r->throttle, LOG_WARNING, "notify[%s]: cannot deliver %s: %s; retrying",
                     r->name, m.message_id, err);
        pthread_mutex_lock(&r->nt->lock);
        util_strlcpy(r->last_error, err, sizeof(r->last_error));
        pthread_mutex_unlock(&r->nt->lock);
        outbox_msg_clear(&m);
        break;
    }
}

/* ---- outbox listing --------------------------------------------------------------------- */

#define NOTIFY_LIST_MAX 200

static const char *const notify_type_names[] = {
    [NOTIFY_EMAIL] = "email",
    [NOTIFY_EXEC] = "exec",
    [NOTIFY_SMS] = "sms",
};

/* GET /api/v1/outbox: what waits in the durable outbox, per route, oldest first (at most
 * NOTIFY_LIST_MAX per route), with each route's delivery state: the console's mail outbox. */
static void notify_api_outbox(void *ctx, const struct api_request *rq, struct api_reply *out)
{
    struct notify *nt = ctx;
    (void)rq;
    json_t *msgs = json_array();
    json_t *routes = json_array();
    uint64_t *seqs = xmalloc(NOTIFY_LIST_MAX * sizeof(*seqs));
    for (size_t i = 0; i < nt->nroutes; i++) {
        struct notify_route *r = &nt->routes[i];
        char err[256];
        uint64_t delivered;
        int64_t last_ok;
        pthread_mutex_lock(&nt->lock);
        util_strlcpy(err, r->last_error, sizeof(err));
        delivered = r->delivered;
        last_ok = r->last_delivered_wall_ms;
        pthread_mutex_unlock(&nt->lock);
        size_t n = outbox_list(nt->ob, r->mail_key, seqs, NOTIFY_LIST_MAX);
        size_t shown = n < NOTIFY_LIST_MAX ? n : NOTIFY_LIST_MAX;
        for (size_t k = 0; k < shown; k++) {
            struct outbox_msg m;
            if (outbox_get(nt->ob, seqs[k], &m) != 0)
                continue;
            /* the first message is the one being tried; the others wait behind it */
            const char *state = k == 0 && err[0] ? "failed, retrying" : "queued";
            json_array_append_new(msgs, json_pack("{s:I, s:s, s:s?, s:I, s:s, s:s?}", "seq",
                                                  (json_int_t)m.seq, "route", r->name, "message_id",
                                                  m.message_id, "ts", (json_int_t)m.created_wall_ms,
                                                  "state", state, "error",
                                                  k == 0 && err[0] ? err : NULL));
            outbox_msg_clear(&m);
        }
        json_array_append_new(routes,
                              json_pack("{s:s, s:s, s:I, s:I, s:I, s:s?}", "name", r->name, "type",
                                        notify_type_names[r->type], "queued", (json_int_t)n,
                                        "delivered", (json_int_t)delivered, "last_delivered",
                                        (json_int_t)last_ok, "last_error", err[0] ? err : NULL));
    }
    free(seqs);
    size_t count = 0, bytes = 0;
    uint64_t refused = 0;
    bool full = false;
    outbox_stats(nt->ob, &count, &bytes, &refused, &full);
    api_reply_json(out, 200,
                   json_pack("{s:o, s:o, s:I, s:I, s:I, s:b}", "messages", msgs, "routes", routes,
                             "total", (json_int_t)count, "bytes", (json_int_t)bytes, "refused",
                             (json_int_t)refused, "full", full));
}

/* ---- test mail ------------------------------------------------------------------------ */

/* POST /api/v1/notify/<route>/test: queues a test message (through the outbox like any other)
 * and waits up to 20 s for its delivery. */
static void notify_api_test(void *ctx, const struct api_request *rq, struct api_reply *out)
{
    struct notify *nt = ctx;
    if (!api_require_admin(rq, out)) /* an admin session, or this machine (src/http/auth.c) */
        return;
    static const char prefix[] = "/api/v1/notify/";
    const char *name = rq->path + sizeof(prefix) - 1;
    const char *slash = strchr(name, '/');
    char route[STORE_NAME_MAX];
    if (!slash || strcmp(slash, "/test") != 0 || (size_t)(slash - name) >= sizeof(route)) {
        api_reply_error(out, 404, "expected POST /api/v1/notify/<route>/test");
        return;
    }
    memcpy(route, name, (size_t)(slash - name));
    route[slash - name] = '\0';
    struct notify_route *r = notify_route_find(nt, route);
    if (!r) {
        api_reply_error(out, 404, "no such [notify] route");
        return;
    }
    uint64_t seq;
    int rc;
    if (r->type == NOTIFY_EMAIL) {
        struct notify_buf b = {0};
        char subject[200];
        (void)util_snprintf(subject, sizeof(subject), "[%s] test mail from sitewatch", nt->site);
        char id[256];
        notify_headers(r, &b, subject, (uint64_t)util_mono_ms(), id, sizeof(id));
        notify_add(&b,
                   "Site: %s\r\n\r\nThis is a test of the notification route '%s'. If you "
                   "read this, alarms of this site reach you.\r\n",
                   nt->site, r->name);
        notify_footer(r, &b, NULL);
        rc = outbox_put(nt->ob, r->mail_key, id, NULL, b.p, b.len, &seq);
        free(b.p);
    } else if (r->type == NOTIFY_SMS) {
        char text[200];
        (void)util_snprintf(text, sizeof(text), "[%s] test message from sitewatch", nt->site);
        rc = outbox_put(nt->ob, r->mail_key, NULL, nt->hostname, text, strlen(text), &seq);
    } else {
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "event", "test", "id", "test", "title",
                                "test notification from sitewatch", "severity", "info");
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        rc = outbox_put(nt->ob, r->mail_key, NULL, nt->hostname, text, strlen(text), &seq);
        free(text);
    }
    if (rc != 0) {
        api_reply_error(out, 507, rc == -ENOSPC ? "the outbox is full" : "cannot queue");
        return;
    }
    r->next_try_mono = 0; /* try now, whatever the back-off */
    int64_t deadline = util_mono_ms() + 20000;
    while (outbox_has(nt->ob, seq) && util_mono_ms() < deadline)
        util_sleep_ms(100);
    bool sent = !outbox_has(nt->ob, seq);
    char err[256];
    pthread_mutex_lock(&nt->lock);
    util_strlcpy(err, r->last_error, sizeof(err));
    pthread_mutex_unlock(&nt->lock);
    json_t *doc = json_pack("{s:s, s:b}", "route", r->name, "sent", sent);
    if (!sent)
        json_object_set_new(doc, "error",
                            json_string(err[0] ? err : "not delivered yet: still queued"));
    api_reply_json(out, sent ? 200 : 504, doc);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void notify_route_init(struct notify *nt, struct notify_route *r,
                              const struct conf_section *s, const struct conf *conf)
{
    r->nt = nt;
    util_strlcpy(r->name, s->name, sizeof(r->name));
    (void)util_snprintf(r->notice_key, sizeof(r->notice_key), "n:%s", s->name);
    (void)util_snprintf(r->mail_key, sizeof(r->mail_key), "m:%s", s->name);
    const char *type = conf_get(s, "type");
    r->type = strcmp(type, "exec") == 0  ? NOTIFY_EXEC
              : strcmp(type, "sms") == 0 ? NOTIFY_SMS
                                         : NOTIFY_EMAIL;
    r->modem = xstrdup(conf_get(s, "modem"));
    r->host = xstrdup(conf_get(s, "host"));
    r->user = xstrdup(conf_get(s, "user"));
    r->password = xstrdup(conf_get(s, "password"));
    r->ca_file = xstrdup(conf_get(s, "ca_file"));
    r->from = xstrdup(conf_get(s, "from"));
    r->command = xstrdup(conf_get(s, "command"));
    r->to_buf = xstrdup(conf_get(s, "to"));
    for (char *p = r->to_buf; p && *p && r->nto < NOTIFY_MAX_TO;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        while (*p == ' ')
            p++;
        char *e = p + strlen(p);
        while (e > p && e[-1] == ' ')
            *--e = '\0';
        if (*p)
            r->to[r->nto++] = p;
        p = comma ? comma + 1 : NULL;
    }
    const char *url = conf_get(s, "console_url");
    if (*url) {
        r->console_url = xstrdup(url);
    } else {
        char buf[200], host[128];
        int port = 0;
        /* A wildcard listen address is no link: name this machine instead. */
        if (util_parse_hostport(conf->http_listen, host, sizeof(host), &port) == 0 &&
            (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || !host[0]))
            (void)util_snprintf(buf, sizeof(buf), "http://%s:%d/", nt->hostname, port);
        else
            (void)util_snprintf(buf, sizeof(buf), "http://%s/", conf->http_listen);
        r->console_url = xstrdup(buf);
    }
    r->timeout_ms = conf_get_ms(s, "timeout");
    r->group_wait_ms = conf_get_ms(s, "group_wait");
    r->group_interval_ms = conf_get_ms(s, "group_interval");
    r->heartbeat_min = -1;
    const char *hb = conf_get(s, "heartbeat");
    if (*hb)
        (void)notify_parse_hhmm(hb, &r->heartbeat_min);
    r->heartbeat_yday = -1;
    r->srv = (struct smtp_server){.host = r->host,
                                  .port = (int)conf_get_long(s, "port"),
                                  .tls = (enum smtp_tls)smtp_tls_parse(conf_get(s, "tls")),
                                  .user = r->user,
                                  .password = r->password,
                                  .ca_file = r->ca_file,
                                  .timeout_ms = r->timeout_ms};
    log_throttle_init(&r->throttle, 10 * 60 * 1000);
}

struct notify *notify_new(const struct conf *conf, struct alarm_engine *engine, struct api_ctx *api)
{
    char dir[PATH_MAX];
    if (util_snprintf(dir, sizeof(dir), "%s/outbox", conf->state_dir) != 0)
        return NULL;
    long max_msgs = 1000;
    double max_mb = 10;
    const struct conf_section *g = conf_section_nth(conf, "alarms", 0);
    if (g) {
        max_msgs = conf_get_long(g, "outbox_max_messages");
        max_mb = conf_get_double(g, "outbox_max_mb");
    }
    struct outbox *ob = outbox_open(dir, (size_t)max_msgs, (size_t)(max_mb * 1024 * 1024));
    if (!ob)
        return NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct notify *nt = xcalloc(1, sizeof(*nt));
    pthread_mutex_init(&nt->lock, NULL);
    nt->ob = ob;
    nt->engine = engine;
    nt->api = api;
    nt->start_mono = util_mono_ms();
    util_strlcpy(nt->site, conf->site_name ? conf->site_name : "sitewatch", sizeof(nt->site));
    if (gethostname(nt->hostname, sizeof(nt->hostname) - 1) != 0 || !nt->hostname[0])
        util_strlcpy(nt->hostname, "sitewatch", sizeof(nt->hostname));
    const struct conf_section *s;
    size_t count = 0;
    while (conf_section_nth(conf, "notify", count))
        count++;
    nt->routes = xcalloc(count ? count : 1, sizeof(*nt->routes));
    for (size_t i = 0; (s = conf_section_nth(conf, "notify", i)) != NULL; i++)
        notify_route_init(nt, &nt->routes[nt->nroutes++], s, conf);
    for (size_t i = 0; i < nt->nroutes; i++)
        nt->routes[i].ticker = ticker_start("notify", 1000, notify_route_tick, &nt->routes[i]);
    if (api && (api_route_add(api, "POST", "/api/v1/notify/", notify_api_test, nt) != 0 ||
                api_route_add(api, "GET", "/api/v1/outbox", notify_api_outbox, nt) != 0)) {
        log_msg(LOG_ERR, "notify: cannot register the API routes (the route table is full)");
        notify_free(nt);
        return NULL;
    }
    notify_check_full(nt);
    return nt;
}

void notify_free(struct notify *nt)
{
    if (!nt)
        return;
    if (nt->api)
        api_route_remove(nt->api, nt);
    for (size_t i = 0; i < nt->nroutes; i++)
        ticker_stop(nt->routes[i].ticker);
    for (size_t i = 0; i < nt->nroutes; i++) {
        struct notify_route *r = &nt->routes[i];
        free(r->host);
        free(r->user);
        free(r->password);
        free(r->ca_file);
        free(r->from);
        free(r->command);
        free(r->to_buf);
        free(r->console_url);
        free(r->modem);
    }
    free(nt->routes);
    outbox_close(nt->ob);
    pthread_mutex_destroy(&nt->lock);
    free(nt);
}
