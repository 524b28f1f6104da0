/* main: sitewatchd command line, start-up, signal handling and configuration reload. */
#include "core/api.h"
#include "core/conf.h"
#include "core/drivers.h"
#include "core/log.h"
#include "core/runner.h"
#include "core/sdnotify.h"
#include "core/service.h"
#include "core/store.h"
#include "core/util.h"
#include "http/http.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MAIN_MAX_POINTS 8192
#define MAIN_MAX_DEVICES 128
#define MAIN_COMMAND_TIMEOUT_MS 5000
/* In state_dir: flock()ed by the running daemon, holds its pid. */
#define MAIN_LOCK_FILE "sitewatchd.lock"

#define SERVICE(n) extern const struct service service_##n;
#include "core/services.def"
#undef SERVICE

/* The core services in start order, NULL-terminated (the list may be empty). */
static const struct service *const main_services[] = {
#define SERVICE(n) &service_##n,
#include "core/services.def"
#undef SERVICE
    NULL,
};

static volatile sig_atomic_t main_stop;
static volatile sig_atomic_t main_reload;

static void main_on_signal(int sig)
{
    if (sig == SIGHUP)
        main_reload = 1;
    else
        main_stop = 1;
}

static void main_usage(FILE *f)
{
    fprintf(f, "usage: sitewatchd -c FILE [-f] [--check-config]\n"
               "       sitewatchd --list-drivers | --list-points\n"
               "  -c, --config FILE   configuration file (default /etc/sitewatch/sitewatch.conf)\n"
               "  -f, --foreground    log to stderr instead of syslog\n"
               "      --check-config  validate the configuration and exit (0 = valid)\n"
               "      --list-drivers  list the compiled-in drivers and their config keys\n"
               "      --list-points   list every point path each driver can publish\n");
}

static const char *const main_key_types[] = {
    [DRV_KEY_STRING] = "text", [DRV_KEY_BOOL] = "yes/no",    [DRV_KEY_DURATION] = "duration",
    [DRV_KEY_INT] = "number",  [DRV_KEY_DOUBLE] = "decimal", [DRV_KEY_PORT] = "port",
};

static void main_list_drivers(void)
{
    for (size_t i = 0; i < drivers_count; i++) {
        const struct driver *d = drivers_all[i];
        printf("%-10s %s\n", d->name, d->description);
        for (const struct drv_key *k = d->keys; k && k->name; k++) {
            const char *range = conf_key_range(k);
            printf("    %-14s %-8s %-10s %s%s%s%s\n", k->name, main_key_types[k->type],
                   k->def ? k->def : "(required)", k->help, range ? " (" : "", range ? range : "",
                   range ? ")" : "");
        }
    }
}

static void main_emit_point(const struct drv_point_doc *doc, void *ctx)
{
    const char *drv = ctx;
    printf("%-9s %-13s <device>/%-40s %-4s %s\n", drv, doc->service, doc->path, doc->unit,
           doc->help);
}

static void main_list_points(void)
{
    printf("%-9s %-13s %-49s %-4s %s\n", "DRIVER", "SERVICE", "KEY", "UNIT", "SOURCE");
    for (size_t i = 0; i < drivers_count; i++)
        if (drivers_all[i]->list_points)
            drivers_all[i]->list_points(main_emit_point, (void *)(uintptr_t)drivers_all[i]->name);
}

struct main_state {
    struct store *store;
    struct conf *conf;
    struct runner **runners; /* one per conf->devices[i] */
    struct http_server *http;
    struct api_ctx api;
    struct core core;
    pthread_mutex_t runners_lock; /* conf->devices and runners, swapped by a reload */
    void *service_inst[UTIL_ARRAY_SIZE(main_services)];
};

static int main_device_command(struct core *core, const char *device, const char *name,
                               const char *arg)
{
    struct main_state *m = core->priv;
    int rc = -ENOENT;
    pthread_mutex_lock(&m->runners_lock);
    for (size_t i = 0; i < m->conf->ndevices; i++)
        if (m->runners[i] && strcmp(m->conf->devices[i].name, device) == 0)
            rc = runner_command(m->runners[i], name, arg, MAIN_COMMAND_TIMEOUT_MS);
    pthread_mutex_unlock(&m->runners_lock);
    return rc;
}

/* POST /api/v1/devices/<name>/command with {"command": "...", "value": "..."}. Until logins exist
 * (the console issue) only clients on this machine may send commands. */
static void main_command_route(void *ctx, const struct api_request *r, struct api_reply *out)
{
    struct core *core = ctx;
    static const char prefix[] = "/api/v1/devices/";
    const char *name = r->path + sizeof(prefix) - 1;
    const char *slash = strchr(name, '/');
    char device[STORE_NAME_MAX];
    if (!slash || strcmp(slash, "/command") != 0 || (size_t)(slash - name) >= sizeof(device)) {
        api_reply_error(out, 404, "expected /api/v1/devices/<name>/command");
        return;
    }
    memcpy(device, name, (size_t)(slash - name));
    device[slash - name] = '\0';
    if (!api_require_admin(r, out)) /* an admin, or this machine (src/http/auth.c) */
        return;
    json_error_t je;
    json_t *doc = json_loadb(r->body, r->body_len, 0, &je);
    const char *cmd = json_string_value(json_object_get(doc, "command"));
    json_t *jv = json_object_get(doc, "value");
    char value[64] = "";
    if (json_is_string(jv))
        util_strlcpy(value, json_string_value(jv), sizeof(value));
    else if (json_is_number(jv))
        (void)util_format_double(value, sizeof(value), json_number_value(jv));
    if (!cmd) {
        json_decref(doc);
        api_reply_error(out, 400, "body must be {\"command\": \"...\", \"value\": ...}");
        return;
    }
    int rc = core->device_command(core, device, cmd, value);
    json_decref(doc);
    if (rc == 0)
        api_reply_json(out, 200, json_pack("{s:b}", "ok", 1));
    else if (rc == -ENOENT)
        api_reply_error(out, 404, "no such device");
    else if (rc == -EOPNOTSUPP || rc == -EPERM || rc == -EACCES)
        api_reply_error(out, 403, strerror(-rc));
    else if (rc == -EINVAL || rc == -ERANGE)
        api_reply_error(out, 400, strerror(-rc));
    else
        api_reply_error(out, 503, strerror(-rc));
}

/* Logs each line of a multi-line conf_load report (one error per line). */
static void main_log_lines(int prio, const char *prefix, const char *text)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        log_msg(prio, "%s%.*s", prefix, (int)n, text);
        text += n + (text[n] == '\n');
    }
}

/* One daemon per state directory: two would share the serial links' state, raise and clear each
 * other's alarms and write the same RRD files out of time order. Takes an exclusive flock on
 * state_dir/sitewatchd.lock (released by the kernel when the process ends, however it ends) and
 * writes this pid into it. Returns the open descriptor to keep, or -errno after logging why; a
 * lock held by another daemon names that daemon's pid. */
static int main_lock_state_dir(const char *state_dir)
{
    char path[PATH_MAX];
    if (util_snprintf(path, sizeof(path), "%s/%s", state_dir, MAIN_LOCK_FILE) != 0) {
        log_msg(LOG_ERR, "state_dir %s: path too long", state_dir);
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        log_msg(LOG_ERR, "cannot open the lock file %s: %s", path, strerror(e));
        return -e;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[24] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            log_msg(LOG_ERR,
                    "state_dir %s is in use by another sitewatchd (pid %s, holding %s): one daemon "
                    "per state directory; stop it or give this one its own state_dir",
                    state_dir, pid[0] ? pid : "unknown", path);
        else
            log_msg(LOG_ERR, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    char pid[24];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        log_msg(LOG_WARNING, "cannot write the pid into %s: %s", path, strerror(errno));
    return fd;
}

static int main_start_services(struct main_state *m)
{
    m->core = (struct core){.store = m->store,
                            .conf = m->conf,
                            .api = &m->api,
                            .device_command = main_device_command,
                            .priv = m};
    for (size_t i = 0; main_services[i]; i++) {
        int r = main_services[i]->start(&m->core, &m->service_inst[i]);
        if (r < 0) {
            log_msg(LOG_ERR, "%s: cannot start: %s", main_services[i]->name, strerror(-r));
            while (i-- > 0) {
                main_services[i]->stop(m->service_inst[i]);
                m->service_inst[i] = NULL;
            }
            return r;
        }
    }
    return 0;
}

static void main_stop_services(struct main_state *m)
{
    size_t n = 0;
    while (main_services[n])
        n++;
    for (size_t i = n; i-- > 0;) {
        main_services[i]->stop(m->service_inst[i]);
        m->service_inst[i] = NULL;
    }
}

static void main_start_devices(struct main_state *m, struct runner **keep)
{
    m->runners = xcalloc(m->conf->ndevices ? m->conf->ndevices : 1, sizeof(*m->runners));
    for (size_t i = 0; i < m->conf->ndevices; i++)
        m->runners[i] = keep && keep[i]
                            ? keep[i]
                            : runner_start(m->store, &m->conf->devices[i], m->conf->state_dir);
}

/* SIGHUP: parse the file again; swap only a configuration that validates. Devices whose section
 * did not change keep running untouched. */
static void main_reload_conf(struct main_state *m)
{
    struct conf *nc;
    char err[8192];
    if (conf_load(m->conf->path, &nc, err, sizeof(err)) != 0) {
        log_msg(LOG_ERR, "reload refused, keeping the running configuration:");
        main_log_lines(LOG_ERR, "  ", err);
        return;
    }
    if (strcmp(nc->state_dir, m->conf->state_dir) != 0) {
        /* the lock (and every service's files) belong to the state_dir the daemon started on */
        log_msg(LOG_ERR, "reload refused: state_dir changed from %s to %s; restart sitewatchd",
                m->conf->state_dir, nc->state_dir);
        conf_free(nc);
        return;
    }
    main_stop_services(m);
    pthread_mutex_lock(&m->runners_lock);
    struct runner **keep = xcalloc(nc->ndevices ? nc->ndevices : 1, sizeof(*keep));
    for (size_t i = 0; i < m->conf->ndevices; i++) {
        struct runner *r = m->runners[i];
        bool kept = false;
        for (size_t j = 0; r && j < nc->ndevices; j++) {
            if (conf_device_equal(runner_conf(r), &nc->devices[j])) {
                keep[j] = r;
                kept = true;
            }
        }
        if (!kept)
            runner_stop(r);
    }
    bool http_changed = strcmp(nc->http_listen, m->conf->http_listen) != 0 ||
                        strcmp(nc->web_root, m->conf->web_root) != 0 ||
                        strcmp(nc->tls_cert, m->conf->tls_cert) != 0 ||
                        strcmp(nc->tls_key, m->conf->tls_key) != 0;
    free(m->runners);
    conf_free(m->conf);
    m->conf = nc;
    api_set_site_name(&m->api, nc->site_name);
    log_set_level(nc->log_level);
    main_start_devices(m, keep);
    free(keep);
    pthread_mutex_unlock(&m->runners_lock);
    if (main_start_services(m) < 0)
        log_msg(LOG_ERR, "reload: some services did not start; see above");
    if (http_changed) {
        http_stop(m->http);
        m->http = http_start(nc->http_listen, nc->web_root, nc->tls_cert, nc->tls_key, &m->api);
    }
    log_msg(LOG_NOTICE, "configuration reloaded: %zu device%s", nc->ndevices,
            nc->ndevices == 1 ? "" : "s");
}

static int main_run(struct conf *conf, bool foreground)
{
    log_init("sitewatchd", conf->log_level, !foreground);
    int r = util_mkdirs(conf->state_dir, 0755);
    if (r < 0) {
        log_msg(LOG_ERR, "cannot create state_dir %s: %s", conf->state_dir, strerror(-r));
        conf_free(conf);
        return 1;
    }
    int lock_fd = main_lock_state_dir(conf->state_dir);
    if (lock_fd < 0) {
        conf_free(conf);
        return 1;
    }
    struct main_state m = {.conf = conf};
    pthread_mutex_init(&m.runners_lock, NULL);
    int exit_code = 0;
    m.store = store_new(MAIN_MAX_POINTS, MAIN_MAX_DEVICES);
    api_init(&m.api, m.store, conf->site_name);

    struct sigaction sa = {.sa_handler = main_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    m.http = http_start(conf->http_listen, conf->web_root, conf->tls_cert, conf->tls_key, &m.api);
    if (!m.http) {
        api_destroy(&m.api);
        store_free(m.store);
        conf_free(conf);
        close(lock_fd);
        return 1;
    }
    main_start_devices(&m, NULL);
    m.core.priv = &m;
    int route_err = api_route_add(&m.api, "POST", "/api/v1/devices/", main_command_route, &m.core);
    if (route_err != 0)
        log_msg(LOG_ERR, "cannot register POST /api/v1/devices/: %s", strerror(-route_err));
    if (route_err != 0 || main_start_services(&m) < 0) {
        /* a configured service that cannot run (a Modbus server without its map or port ...)
         * is a start-up error, not a daemon that runs on without it */
        log_msg(LOG_ERR, "sitewatchd not started: a configured service failed (see above)");
        main_stop = 1;
        exit_code = 1;
    } else {
        log_msg(LOG_NOTICE, "sitewatchd started: site '%s', %zu device%s", conf->site_name,
                conf->ndevices, conf->ndevices == 1 ? "" : "s");
    }
    struct sdnotify sn;
    sdnotify_init(&sn);
    if (!main_stop)
        (void)sdnotify_ready(conf->ndevices);
    while (!main_stop) {
        util_sleep_ms(200);
        sdnotify_watchdog(&sn, util_mono_ms());
        if (main_reload) {
            main_reload = 0;
            (void)sdnotify_reloading();
            main_reload_conf(&m);
            (void)sdnotify_ready(m.conf->ndevices);
        }
    }
    (void)sdnotify_stopping();
    log_msg(LOG_NOTICE, "sitewatchd stopping");
    http_stop(m.http);
    main_stop_services(&m);
    for (size_t i = 0; i < m.conf->ndevices; i++)
        runner_stop(m.runners[i]);
    free(m.runners);
    api_destroy(&m.api);
    store_free(m.store);
    conf_free(m.conf);
    close(lock_fd); /* the lock goes with it; the file stays (removing it would race a starter) */
    return exit_code;
}

int main(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_DRIVERS, OPT_POINTS };
    static const struct option opts[] = {
        {"config",     required_argument, NULL, 'c'},
        {"foreground",        no_argument, NULL, 'f'},
        {"help",            no_argument, NULL, 'h'},
        {"check-config",no_argument, NULL, OPT_CHECK},
        {"list-drivers",         no_argument, NULL, OPT_DRIVERS},
        {"list-points",       no_argument, NULL, OPT_POINTS},
        {0       },
    };
    const char *path = "/etc/sitewatch/sitewatch.conf";
    bool foreground = false, check = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 'h':
            main_usage(stdout);
            return 0;
        case OPT_CHECK:
            check = true;
            break;
        case OPT_DRIVERS:
            main_list_drivers();
            return 0;
        case OPT_POINTS:
            main_list_points();
            return 0;
        default:
            main_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        main_usage(stderr);
        return 2;
    }
    struct conf *conf;
    char err[8192];
    if (conf_load(path, &conf, err, sizeof(err)) != 0) {
        for (const char *l = err; *l;) {
            size_t n = strcspn(l, "\n");
            /* An error's continuation lines (the source line and its caret) start with a
             * space: they stay unprefixed so the caret still points at the column. */
            fprintf(stderr, "%s%.*s\n", *l == ' ' ? "" : "sitewatchd: ", (int)n, l);
            l += n + (l[n] == '\n');
        }
        return 1;
    }
    if (check) {
        printf("%s: configuration is valid (%zu device%s)\n", path, conf->ndevices,
               conf->ndevices == 1 ? "" : "s");
        conf_free(conf);
        return 0;
    }
    return main_run(conf, foreground);
}
