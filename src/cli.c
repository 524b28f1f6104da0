/* cli: `sitewatch`, the command-line client of the JSON API (status table, one value, devices). */
#include "core/json.h"
#include "core/util.h"
#include "drivers/sunspec_scan.h"
#include "modbus/mbmap.h"

#include <crypt.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

struct cli_buf {
    char *data;
    size_t len;
};

/* The main values shown per service class by `sitewatch status`, as data. */
static const struct {
    const char *service;
    const char *paths[6];
} cli_main_values[] = {
    {"battery",      {"Dc/0/Voltage", "Dc/0/Current", "Dc/0/Power", "Soc", "TimeToGo"}},
    {"solarcharger", {"Dc/0/Voltage", "Dc/0/Current", "Pv/V", "Yield/Power", "State"} },
    {"inverter",     {"Dc/0/Voltage", "Ac/Out/L1/V", "Ac/Out/L1/I", "State"}          },
    {"charger",      {"Dc/0/Voltage", "Dc/0/Current", "State"}                        },
    {"dcdc",         {"Dc/In/V", "Dc/0/Voltage", "Dc/0/Current", "State"}             },
};

static size_t cli_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct cli_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > (16u << 20))
        return 0;
    b->data = xrealloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* GETs base + path and parses the JSON body. NULL (and a message) on failure. */
static json_t *cli_get(const char *base, const char *path, long *status)
{
    char url[1024];
    if (util_snprintf(url, sizeof(url), "%s%s", base, path) != 0) {
        fprintf(stderr, "sitewatch: URL too long\n");
        return NULL;
    }
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    struct cli_buf b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cli_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode cr = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    if (cr != CURLE_OK) {
        fprintf(stderr, "sitewatch: cannot reach sitewatchd at %s: %s\n", base,
                curl_easy_strerror(cr));
        free(b.data);
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(b.data ? b.data : "", b.len, 0, &je);
    free(b.data);
    if (!doc)
        fprintf(stderr, "sitewatch: bad reply from %s: %s\n", url, je.text);
    return doc;
}

static void cli_print_value(json_t *p)
{
    json_t *v = json_object_get(p, "value");
    const char *unit = json_string_value(json_object_get(p, "unit"));
    const char *state = json_string_value(json_object_get(p, "state"));
    char num[UTIL_DOUBLE_MAX];
    /* the value as the device sent it: 25.284, never 25.283999999999999 (nor %g's 6 digits) */
    if (json_is_number(v) && util_format_double(num, sizeof(num), json_number_value(v)) >= 0)
        printf("%s%s%s", num, unit && *unit ? " " : "", unit ? unit : "");
    else
        printf("(%s)", state ? state : "?");
}

static int cli_status(const char *base)
{
    long st;
    json_t *devs = cli_get(base, "/api/v1/devices", &st);
    json_t *pts = devs ? cli_get(base, "/api/v1/points", &st) : NULL;
    if (!devs || !pts) {
        json_decref(devs);
        return 1;
    }
    json_t *points = json_object_get(pts, "points");
    size_t i;
    json_t *d;
    printf("%-12s %-34s %-13s %-6s %s\n", "DEVICE", "PRODUCT", "CLASS", "STATE", "VALUES");
    json_array_foreach(json_object_get(devs, "devices"), i, d)
    {
        const char *name = json_string_value(json_object_get(d, "name"));
        const char *prod = json_string_value(json_object_get(d, "product_name"));
        const char *svc = json_string_value(json_object_get(d, "service"));
        const char *state = json_string_value(json_object_get(d, "state"));
        printf("%-12s %-34s %-13s %-6s", name ? name : "?", prod ? prod : "?", svc ? svc : "?",
               state ? state : "?");
        for (size_t k = 0; svc && k < UTIL_ARRAY_SIZE(cli_main_values); k++) {
            if (strcmp(cli_main_values[k].service, svc) != 0)
                continue;
            for (size_t j = 0; j < 6 && cli_main_values[k].paths[j]; j++) {
                char key[160];
                snprintf(key, sizeof(key), "%s/%s", name, cli_main_values[k].paths[j]);
                json_t *p = json_object_get(points, key);
                if (!p)
                    continue;
                printf(" %s=", cli_main_values[k].paths[j]);
                cli_print_value(p);
            }
        }
        if (state && strcmp(state, "ok") != 0)
            printf(" [%s]", json_string_value(json_object_get(d, "status")));
        printf("\n");
    }
    json_decref(devs);
    json_decref(pts);
    return 0;
}

static int cli_get_point(const char *base, const char *key)
{
    char path[512];
    if (util_snprintf(path, sizeof(path), "/api/v1/points/%s", key) != 0)
        return 2;
    long st;
    json_t *p = cli_get(base, path, &st);
    if (!p)
        return 1;
    if (st == 404) {
        fprintf(stderr, "sitewatch: no point %s\n", key);
        json_decref(p);
        return 1;
    }
    cli_print_value(p);
    printf("\n");
    const char *state = json_string_value(json_object_get(p, "state"));
    int rc = state && strcmp(state, "ok") == 0 ? 0 : 3;
    json_decref(p);
    return rc;
}

static int cli_dump(const char *base, const char *path)
{
    long st;
    json_t *doc = cli_get(base, path, &st);
    if (!doc)
        return 1;
    /* jansson's own dump writes reals with 17 digits (25.283999999999999) */
    char *text = json_dumps_exact(doc, JSON_INDENT(2));
    printf("%s\n", text ? text : "null");
    free(text);
    json_decref(doc);
    return st == 200 ? 0 : 1;
}

/* `sitewatch test-mail ROUTE`: POST /api/v1/notify/ROUTE/test; the daemon queues a test message
 * through its outbox and answers once it is delivered (or after 20 s). */
static int cli_test_mail(const char *base, const char *route)
{
    char url[1024];
    if (util_snprintf(url, sizeof(url), "%s/api/v1/notify/%s/test", base, route) != 0)
        return 2;
    CURL *c = curl_easy_init();
    if (!c)
        return 1;
    struct cli_buf b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cli_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 40L);
    CURLcode cr = curl_easy_perform(c);
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(c);
    json_t *doc = cr == CURLE_OK && b.data ? json_loads(b.data, 0, NULL) : NULL;
    free(b.data);
    if (!doc) {
        fprintf(stderr, "sitewatch: cannot reach sitewatchd at %s: %s\n", base,
                curl_easy_strerror(cr));
        return 1;
    }
    const char *err = json_string_value(json_object_get(doc, "error"));
    if (st == 200)
        printf("test message sent through route %s\n", route);
    else
        fprintf(stderr, "sitewatch: test-mail %s: %s\n", route, err ? err : "failed");
    json_decref(doc);
    return st == 200 ? 0 : 1;
}

/* Reads one line from stdin without echo when it is a terminal; strips the newline. */
static int cli_read_secret(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(buf, (int)len, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!got)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* sitewatch passwd USER [ROLE]: prints a [user] section with a yescrypt hash of the password read
 * from stdin (asked twice on a terminal), to append to the configuration. */
static int cli_passwd(const char *user, const char *role)
{
    char pw[256], again[256];
    if (cli_read_secret("Password: ", pw, sizeof(pw)) != 0 || pw[0] == '\0') {
        fprintf(stderr, "sitewatch: no password given\n");
        return 2;
    }
    if (isatty(STDIN_FILENO) &&
        (cli_read_secret("Again: ", again, sizeof(again)) != 0 || strcmp(pw, again) != 0)) {
        fprintf(stderr, "sitewatch: the passwords differ\n");
        return 2;
    }
    /* "$y$": yescrypt, the Debian default; libxcrypt takes the salt bytes from getrandom. */
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *hash = NULL;
    if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
        hash = crypt_rn(pw, salt, cd, sizeof(*cd));
    explicit_bzero(pw, sizeof(pw));
    explicit_bzero(again, sizeof(again));
    int rc = 1;
    if (hash && hash[0] != '*') {
        printf("[user %s]\nrole = %s\npassword_hash = %s\n", user, role, hash);
        rc = 0;
    } else {
        fprintf(stderr, "sitewatch: crypt(3) failed\n");
    }
    free(cd);
    return rc;
}

static void cli_usage(FILE *f)
{
    fprintf(f, "usage: sitewatch [-u URL] COMMAND\n"
               "  status          devices and their main values\n"
               "  get KEY         one value, e.g. sitewatch get bmv/Dc/0/Voltage\n"
               "                  (exit 3 when the point is stale or not available)\n"
               "  points [PREFIX] all points as JSON\n"
               "  devices         devices with identity and link counters as JSON\n"
               "  health          daemon health as JSON\n"
               "  modbus-map [--format csv|md|html] [--map FILE]\n"
               "                  the Modbus-TCP register sheet, from the map the server uses\n"
               "  passwd USER [viewer|admin]\n"
               "                  print a [user] section with the hash of a password read\n"
               "                  from stdin, e.g. sitewatch passwd ann admin >> sitewatch.conf\n"
               "  test-mail ROUTE send a test message through a [notify ROUTE] and wait\n"
               "  scan CIDR [--port N] [--timeout MS]\n"
               "                  find SunSpec inverters (units 1, 2, 126) on a.b.c.d/nn\n"
               "  -u URL          daemon address (default $SITEWATCH_URL or "
               "http://127.0.0.1:8080)\n");
}

int main(int argc, char **argv)
{
    const char *base = getenv("SITEWATCH_URL");
    if (!base || !*base)
        base = "http://127.0.0.1:8080";
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-u") == 0) {
        base = argv[i + 1];
        i += 2;
    }
    if (i >= argc) {
        cli_usage(stderr);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 2;
    const char *cmd = argv[i];
    if (strcmp(cmd, "status") == 0 && argc == i + 1) {
        rc = cli_status(base);
    } else if (strcmp(cmd, "get") == 0 && argc == i + 2) {
        rc = cli_get_point(base, argv[i + 1]);
    } else if (strcmp(cmd, "points") == 0 && argc <= i + 2) {
        char path[512] = "/api/v1/points";
        if (argc == i + 2 &&
            util_snprintf(path, sizeof(path), "/api/v1/points?prefix=%s", argv[i + 1]) != 0)
            rc = 2;
        else
            rc = cli_dump(base, path);
    } else if (strcmp(cmd, "devices") == 0 && argc == i + 1) {
        rc = cli_dump(base, "/api/v1/devices");
    } else if (strcmp(cmd, "health") == 0 && argc == i + 1) {
        rc = cli_dump(base, "/api/v1/health");
    } else if (strcmp(cmd, "modbus-map") == 0) {
        rc = mbmap_sheet_main(argc - i - 1, argv + i + 1, MBMAP_DEFAULT_PATH);
    } else if (strcmp(cmd, "passwd") == 0 && (argc == i + 2 || argc == i + 3)) {
        const char *role = argc == i + 3 ? argv[i + 2] : "viewer";
        if (strcmp(role, "viewer") == 0 || strcmp(role, "admin") == 0)
            rc = cli_passwd(argv[i + 1], role);
        else
            cli_usage(stderr);
    } else if (strcmp(cmd, "test-mail") == 0 && argc == i + 2) {
        rc = cli_test_mail(base, argv[i + 1]);
    } else if (strcmp(cmd, "scan") == 0) {
        rc = sunspec_scan_cli(argc - i - 1, argv + i + 1);
        if (rc < 0) {
            cli_usage(stderr);
            rc = 2;
        }
    } else if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        cli_usage(stdout);
        rc = 0;
    } else {
        cli_usage(stderr);
    }
    curl_global_cleanup();
    return rc;
}
