/* test_conf: configuration parsing, validation messages with file:line, and etc/ coverage. */
#include "conf.h"
#include "drivers.h"
#include "test.h"
#include "util.h"

#include <errno.h>
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

/* Each bad configuration must be refused with exactly this file:line message prefix. */
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
};

static void test_errors(void)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(conf_errors); i++) {
        struct conf *c = NULL;
        char err[512] = "";
        int r = parse(conf_errors[i].text, &c, err, sizeof(err));
        TEST_EQ_LONG(r, -EINVAL);
        TEST_CHECK(c == NULL);
        if (strncmp(err, conf_errors[i].expect, strlen(conf_errors[i].expect)) != 0) {
            printf("    case %zu: got \"%s\", expected prefix \"%s\"\n", i, err,
                   conf_errors[i].expect);
            TEST_CHECK(!"error message");
        }
    }
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
    TEST_RUN(test_long_line_and_missing_file);
    TEST_RUN(test_shipped_config);
    TEST_RUN(test_alarms_d);
    return test_summary();
}
