/* test_conf: configuration parsing, validation messages with file:line, and etc/ coverage. */
#include "core/conf.h"
#include "core/drivers.h"
#include "core/util.h"
#include "test.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <syslog.h>
#include <unistd.h>

static int parse(const char *text, struct conf **c, char *err, size_t errlen)
{
    return conf_parse_string("t.conf", text, c, err, errlen);
}

static void test_valid(void)
{
    struct conf *c = NULL;
    char err[512] = "";
    int r = parse("; comment\n"
                  "[daemon]\n"
                  "state_dir = /tmp/x\n"
                  "log_level = debug\n"
                  "site_name = Tower 17\n"
                  "\n"
                  "[http]\n"
                  "listen = 0.0.0.0:8081\n"
                  "[device bmv]\n"
                  "driver = vedirect\n"
                  "port = /dev/ttyUSB0\n"
                  "timeout = 3s\n"
                  "instance = 7\n"
                  "[device mppt-1]\n"
                  "driver = vedirect\n"
                  "port = tcp://127.0.0.1:4001\n"
                  "hex = no\n",
                  &c, err, sizeof(err));
    TEST_EQ_LONG(r, 0);
    TEST_STREQ(err, "");
    if (!c)
        return;
    TEST_STREQ(c->state_dir, "/tmp/x");
    TEST_EQ_LONG(c->log_level, LOG_DEBUG);
    TEST_STREQ(c->site_name, "Tower 17");
    TEST_STREQ(c->http_listen, "0.0.0.0:8081");
    TEST_STREQ(c->web_root, "/usr/share/sitewatch/web");
    TEST_EQ_LONG(c->ndevices, 2);
    TEST_STREQ(c->devices[0].name, "bmv");
    TEST_CHECK(c->devices[0].drv == drivers_find("vedirect"));
    TEST_EQ_LONG(c->devices[0].instance, 7);
    TEST_EQ_LONG(c->devices[1].instance, -1);
    TEST_STREQ(conf_device_value(&c->devices[1], "port"), "tcp://127.0.0.1:4001");
    TEST_CHECK(conf_device_value(&c->devices[1], "timeout") == NULL);
    TEST_CHECK(!conf_device_equal(&c->devices[0], &c->devices[1]));
    TEST_CHECK(conf_device_equal(&c->devices[0], &c->devices[0]));
    conf_free(c);
}

/* True when one line of the report err starts with prefix. */
static bool has_line(const char *err, const char *prefix)
{
    for (const char *l = err; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

static size_t count_lines(const char *s)
{
    size_t n = *s != '\0';
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Each bad configuration must be refused with a line of exactly this file:line message prefix. */
static const struct {
    const char *text;
    const char *expect;
} conf_errors[] = {
    {"[daemon]\nstate_dri = /x\n",                                                              "t.conf:2: unknown key 'state_dri' in [daemon]"      },
    {"[daemon]\nlog_level = loud\n",                                                            "t.conf:2: log_level = loud: expected"               },
    {"[http]\nlisten = localhost\n",                                                            "t.conf:2: listen = localhost: expected address:port"},
    {"[htp]\nlisten = 1.2.3.4:5\n",                                                             "t.conf:1: unknown section [htp]"                    },
    {"[device bmv]\ndriver = vedirekt\nport = /dev/x\n",                                        "t.conf:2: unknown driver 'vedirekt'"                },
    {"[device bmv]\nport = /dev/x\n",                                                           "t.conf:1: [device bmv] has no 'driver =' line"      },
    {"[device bmv]\ndriver = vedirect\n",                                                       "t.conf:1: [device bmv] needs 'port ='"              },
    {"[device bmv]\ndriver = vedirect\nprot = /dev/x\n",
     "t.conf:3: unknown key 'prot' for driver vedirect"                                                                                              },
    {"[device bmv]\ndriver = vedirect\nport = /x\ntimeout = 5\n",
     "t.conf:4: timeout = 5: expected a duration"                                                                                                    },
    {"[device bmv]\ndriver = vedirect\nport = /x\nhex = maybe\n",
     "t.conf:4: hex = maybe: expected yes or no"                                                                                                     },
    {"[device bmv]\ndriver = vedirect\nport = /x\nport = /y\n",
     "t.conf:4: port is already set at line 3"                                                                                                       },
    {"[device a]\ndriver = vedirect\nport = /x\n[device a]\ndriver = vedirect\nport = /y\n",
     "t.conf:4: device 'a' is already defined at t.conf:1"                                                                                           },
    {"[device a b]\ndriver = vedirect\n",                                                       "t.conf:1: [device NAME] needs a name"               },
    {"[daemon]\nthis line has no equals sign\n",                                                "t.conf:2: syntax error"                             },
    {"site_name = x\n",                                                                         "t.conf:1: 'site_name' outside any section"          },
    {"[daemon]\n[http\n",                                                                       "t.conf:2: section header without ']'"               },
    {"[http]\nlisten = 127.0.0.1:80\n[daemon]\nsite_name = a\n[http]\nlisten = 127.0.0.1:81\n",
     "t.conf:5: [http] is already defined at t.conf:1"                                                                                               },
    {"[http]\nlisten = 127.0.0.1:80\nlisten = 127.0.0.1:81\n",
     "t.conf:3: listen is already set at line 2"                                                                                                     },
    {"[daemon]\nsite_name =\n",                                                                 "t.conf:2: site_name needs a value"                  },
    {"[daemon x]\n",                                                                            "t.conf:1: section [daemon] takes no name"           },
    {"[device bmv]\ndriver = vedirect\nport = /x\ntimeout = 99999d\n",
     "t.conf:4: timeout = 99999d: out of range, allowed 100ms..1m"                                                                                   },
    {"[device bmv]\ndriver = vedirect\nport = /x\ntimeout = 0s\n",
     "t.conf:4: timeout = 0s: out of range, allowed 100ms..1m"                                                                                       },
    {"[device bmv]\ndriver = vedirect\nport = /x\ninstance = 70000\n",
     "t.conf:4: instance = 70000: out of range, allowed 0..65535"                                                                                    },
    {"[device bmv]\ndriver = vedirect\nport = /x\ninstance = two\n",
     "t.conf:4: instance = two: expected a whole number in 0..65535"                                                                                 },
    {"[modbus_server]\nmax_clients = 0\n",
     "t.conf:2: max_clients = 0: out of range, allowed 1..1000"                                                                                      },
    {"[alarms]\noffline_after = 99999d\n",                                                      "t.conf:2: offline_after = 99999d: out of range"     },
};

static void test_errors(void)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(conf_errors); i++) {
        struct conf *c = NULL;
        char err[512] = "";
        int r = parse(conf_errors[i].text, &c, err, sizeof(err));
        TEST_EQ_LONG(r, -EINVAL);
        TEST_CHECK(c == NULL);
        if (!has_line(err, conf_errors[i].expect)) {
            printf("    case %zu: got \"%s\", expected prefix \"%s\"\n", i, err,
                   conf_errors[i].expect);
            TEST_CHECK(!"error message");
        }
    }
}

/* Every error is reported, sorted by line, not only the first; at most 20 are shown. */
static void test_all_errors(void)
{
    struct conf *c = NULL;
    char err[8192] = "";
    int r = parse("[daemon]\n"
                  "state_dri = /x\n"
                  "[device bmv]\n"
                  "driver = vedirect\n"
                  "port = /dev/ttyUSB0\n"
                  "timeout = 99999d\n"
                  "this line has no equals sign\n"
                  "[htp]\n"
                  "[device mppt]\n"
                  "driver = vedirect\n"
                  "hex = maybe\n",
                  &c, err, sizeof(err));
    TEST_EQ_LONG(r, -EINVAL);
    TEST_CHECK(c == NULL);
    static const char *const want[] = {
        "t.conf:2: unknown key 'state_dri' in [daemon]",
        "t.conf:6: timeout = 99999d: out of range, allowed 100ms..1m",
        "t.conf:7: syntax error",
        "t.conf:8: unknown section [htp]",
        "t.conf:9: [device mppt] needs 'port ='",
        "t.conf:11: hex = maybe: expected yes or no",
    };
    TEST_EQ_LONG(count_lines(err), UTIL_ARRAY_SIZE(want));
    const char *l = err;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(want); i++) {
        TEST_CHECK(l && strncmp(l, want[i], strlen(want[i])) == 0);
        if (!l || strncmp(l, want[i], strlen(want[i])) != 0)
            printf("    line %zu: expected \"%s\" in:\n%s\n", i + 1, want[i], err);
        l = l ? strchr(l, '\n') : NULL;
        l = l ? l + 1 : NULL;
    }

    /* 30 unknown keys: the first 20, then how many more */
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof(text), "[daemon]\n");
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "bad%d = 1\n", i);
    TEST_EQ_LONG(parse(text, &c, err, sizeof(err)), -EINVAL);
    TEST_EQ_LONG(count_lines(err), 21);
    TEST_CHECK(has_line(err, "t.conf:21: unknown key 'bad19'"));
    TEST_CHECK(!has_line(err, "t.conf:22:"));
    TEST_CHECK(has_line(err, "(10 more errors not shown)"));
}

/* One serial port serves one device: the second is refused, naming both. */
static void test_shared_port(void)
{
    struct conf *c = NULL;
    char err[2048] = "";
    TEST_EQ_LONG(parse("[device bmv]\ndriver = vedirect\nport = /dev/ttyUSB0\n"
                       "[device multi]\ndriver = vebus\nport = /dev/ttyUSB1\n"
                       "[device mppt]\ndriver = vedirect\nport = /dev/ttyUSB0\n",
                       &c, err, sizeof(err)),
                 -EINVAL);
    conf_free(c); /* NULL unless it was (wrongly) accepted */
    c = NULL;
    TEST_STREQ(err, "t.conf:9: [device mppt] port = /dev/ttyUSB0: the port of [device bmv] at "
                    "t.conf:3; one serial port serves one device");
    TEST_EQ_LONG(parse("[device a]\ndriver = vedirect\nport = tcp://127.0.0.1:4001\n"
                       "[device b]\ndriver = vebus\nport = tcp://127.0.0.1:4001\n",
                       &c, err, sizeof(err)),
                 -EINVAL);
    conf_free(c); /* NULL unless it was (wrongly) accepted */
    c = NULL;
    TEST_CHECK(has_line(err, "t.conf:6: [device b] port = tcp://127.0.0.1:4001: the port of "
                             "[device a] at t.conf:3"));
    /* a link and the tty it points to are one port */
    char dir[] = "/tmp/sitewatch-port-XXXXXX", link[64], text[512];
    TEST_CHECK(mkdtemp(dir) != NULL);
    snprintf(link, sizeof(link), "%s/by-id", dir);
    TEST_EQ_LONG(symlink("/dev/null", link), 0);
    snprintf(text, sizeof(text),
             "[device a]\ndriver = vedirect\nport = /dev/null\n"
             "[device b]\ndriver = vedirect\nport = %s\n",
             link);
    TEST_EQ_LONG(parse(text, &c, err, sizeof(err)), -EINVAL);
    conf_free(c);
    c = NULL;
    TEST_CHECK(has_line(err, "t.conf:6: [device b] port = "));
    unlink(link);
    rmdir(dir);
    /* two sunspec devices on one Modbus-TCP port number are fine: `port` there is not serial */
    TEST_EQ_LONG(parse("[device a]\ndriver = sunspec\nhost = 10.0.0.1\n"
                       "[device b]\ndriver = sunspec\nhost = 10.0.0.2\n",
                       &c, err, sizeof(err)),
                 0);
    conf_free(c);
}

static void check_key_table(const char *what, const struct drv_key *keys)
{
    for (const struct drv_key *k = keys; k && k->name; k++) {
        double min, max;
        const char *range = conf_key_range(k);
        bool numeric =
            k->type == DRV_KEY_INT || k->type == DRV_KEY_DURATION || k->type == DRV_KEY_DOUBLE;
        TEST_CHECK(numeric == (range != NULL));
        TEST_CHECK(numeric || k->range == NULL);
        if (!numeric)
            continue;
        if (conf_key_limits(k, &min, &max) != 0) {
            printf("    %s %s: bad range \"%s\"\n", what, k->name, range);
            TEST_CHECK(!"range parses");
            continue;
        }
        /* a numeric default lies in the range (a word default such as "auto" is allowed) */
        double d = NAN;
        int64_t ms;
        long l;
        if (k->type == DRV_KEY_DURATION && k->def && util_parse_duration_ms(k->def, &ms) == 0)
            d = (double)ms;
        else if (k->type == DRV_KEY_INT && k->def &&
                 util_parse_long(k->def, 10, LONG_MIN, LONG_MAX, &l) == 0)
            d = (double)l;
        else if (k->type == DRV_KEY_DOUBLE && k->def)
            (void)util_parse_double(k->def, -1e300, 1e300, &d);
        if (!isnan(d) && (d < min || d > max)) {
            printf("    %s %s: default %s outside %s\n", what, k->name, k->def, range);
            TEST_CHECK(!"default in range");
        }
    }
}

/* Every number and duration of every key table has a range that parses and holds its default. */
static void test_key_ranges(void)
{
    static const char *const types[] = {"daemon", "http",   "alarm",         "alarms",
                                        "notify", "rrd",    "battery",       "system",
                                        "user",   "access", "modbus_server", "pvscan"};
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(types); i++) {
        const struct drv_key *keys = conf_section_keys(types[i]);
        TEST_CHECK(keys != NULL);
        check_key_table(types[i], keys);
    }
    check_key_table("device", conf_device_keys);
    for (size_t d = 0; d < drivers_count; d++)
        check_key_table(drivers_all[d]->name, drivers_all[d]->keys);
}

/* instance = auto: each driver's devices numbered in configuration order, past the instances
 * configured by hand; not in the order the devices answer. */
static void test_auto_instances(void)
{
    struct conf *c = NULL;
    char err[1024] = "";
    TEST_EQ_LONG(parse("[device bmv]\ndriver = vedirect\nport = /dev/a\n"
                       "[device mppt1]\ndriver = vedirect\nport = /dev/b\n"
                       "[device multi]\ndriver = vebus\nport = /dev/c\n"
                       "[device mppt2]\ndriver = vedirect\nport = /dev/d\n"
                       "[device mppt3]\ndriver = vedirect\nport = /dev/e\ninstance = 1\n"
                       "[device mppt4]\ndriver = vedirect\nport = /dev/f\n",
                       &c, err, sizeof(err)),
                 0);
    if (!c) {
        printf("    %s\n", err);
        return;
    }
    static const int want[] = {0, 2, 0, 3, 1, 4};
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(want); i++) {
        TEST_EQ_LONG(c->devices[i].auto_instance, want[i]);
        TEST_EQ_LONG(c->devices[i].instance, i == 4 ? 1 : -1);
    }
    conf_free(c);
}

static void test_long_line_and_missing_file(void)
{
    char text[600];
    memset(text, 'x', sizeof(text));
    memcpy(text, "[daemon]\nsite_name = ", 21);
    text[sizeof(text) - 2] = '\n';
    text[sizeof(text) - 1] = '\0';
    struct conf *c = NULL;
    char err[512] = "";
    TEST_EQ_LONG(parse(text, &c, err, sizeof(err)), -EINVAL);
    TEST_CHECK(strstr(err, "t.conf:2: line longer than") == err);
    TEST_CHECK(conf_load("/nonexistent/sitewatch.conf", &c, err, sizeof(err)) == -ENOENT);
    TEST_CHECK(strstr(err, "/nonexistent/sitewatch.conf: cannot read") == err);
}

/* etc/sitewatch.conf must parse and mention every key of every section and driver. */
static void test_shipped_config(void)
{
    struct conf *c = NULL;
    char err[512] = "";
    TEST_EQ_LONG(conf_load("etc/sitewatch.conf", &c, err, sizeof(err)), 0);
    if (err[0])
        printf("    %s\n", err);
    conf_free(c);
    char *text = NULL;
    TEST_EQ_LONG(util_read_file("etc/sitewatch.conf", 1 << 20, &text, NULL), 0);
    if (!text)
        return;
    static const char *const sections[] = {"daemon", "http"};
    for (size_t s = 0; s < UTIL_ARRAY_SIZE(sections); s++)
        for (const struct drv_key *k = conf_section_keys(sections[s]); k->name; k++) {
            char needle[64];
            snprintf(needle, sizeof(needle), "%s = %s", k->name, k->def);
            if (!strstr(text, needle)) {
                printf("    etc/sitewatch.conf lacks \"%s\"\n", needle);
                TEST_CHECK(!"key documented at its default");
            }
        }
    for (size_t d = 0; d < drivers_count; d++)
        for (const struct drv_key *k = drivers_all[d]->keys; k->name; k++) {
            char needle[64];
            snprintf(needle, sizeof(needle), "%s = ", k->name);
            if (!strstr(text, needle)) {
                printf("    etc/sitewatch.conf lacks driver key \"%s\"\n", needle);
                TEST_CHECK(!"driver key documented");
            }
        }
    free(text);
}

/* alarms.d/NAME.conf beside the main file is read too, and its errors name that file. */
static void test_alarms_d(void)
{
    char dir[] = "/tmp/sitewatch-conf-XXXXXX";
    TEST_CHECK(mkdtemp(dir) != NULL);
    char main_path[128], sub[128], extra[160];
    snprintf(main_path, sizeof(main_path), "%s/sitewatch.conf", dir);
    snprintf(sub, sizeof(sub), "%s/alarms.d", dir);
    snprintf(extra, sizeof(extra), "%s/10-extra.conf", sub);
    TEST_EQ_LONG(util_write_atomic(main_path, "[daemon]\nsite_name = x\n", 23), 0);
    TEST_EQ_LONG(util_mkdirs(sub, 0755), 0);
    const char *bad = "; extra\n[http]\nlisten = nowhere\n";
    TEST_EQ_LONG(util_write_atomic(extra, bad, strlen(bad)), 0);
    struct conf *c = NULL;
    char err[512] = "", want[256];
    TEST_EQ_LONG(conf_load(main_path, &c, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:3: listen = nowhere", extra);
    TEST_CHECK(strncmp(err, want, strlen(want)) == 0);
    if (strncmp(err, want, strlen(want)) != 0)
        printf("    got \"%s\"\n", err);
    const char *good = "[http]\nlisten = 127.0.0.1:9999\n";
    TEST_EQ_LONG(util_write_atomic(extra, good, strlen(good)), 0);
    TEST_EQ_LONG(conf_load(main_path, &c, err, sizeof(err)), 0);
    if (c) {
        TEST_STREQ(c->http_listen, "127.0.0.1:9999");
        TEST_STREQ(c->site_name, "x");
        const struct conf_section *h = conf_section_nth(c, "http", 0);
        TEST_CHECK(h && strcmp(h->file, extra) == 0 && h->line == 1);
        TEST_STREQ(h ? conf_get(h, "web_root") : NULL, "/usr/share/sitewatch/web");
    }
    conf_free(c);
    unlink(extra);
    rmdir(sub);
    unlink(main_path);
    rmdir(dir);
}

int main(void)
{
    TEST_RUN(test_valid);
    TEST_RUN(test_errors);
    TEST_RUN(test_all_errors);
    TEST_RUN(test_shared_port);
    TEST_RUN(test_key_ranges);
    TEST_RUN(test_auto_instances);
    TEST_RUN(test_long_line_and_missing_file);
    TEST_RUN(test_shipped_config);
    TEST_RUN(test_alarms_d);
    return test_summary();
}
