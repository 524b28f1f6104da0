/* test_util: strict number, bool, duration and address parsing; atomic writes. */
#include "core/util.h"
#include "test.h"

#include <errno.h>
#include <unistd.h>

static void test_numbers(void)
{
    long l;
    TEST_EQ_LONG(util_parse_long("42", 10, 0, 100, &l), 0);
    TEST_EQ_LONG(l, 42);
    TEST_EQ_LONG(util_parse_long("-7", 10, -10, 10, &l), 0);
    TEST_EQ_LONG(l, -7);
    TEST_EQ_LONG(util_parse_long("42x", 10, 0, 100, &l), -EINVAL);
    TEST_EQ_LONG(util_parse_long("", 10, 0, 100, &l), -EINVAL);
    TEST_EQ_LONG(util_parse_long(" 4", 10, 0, 100, &l), -EINVAL);
    TEST_EQ_LONG(util_parse_long("101", 10, 0, 100, &l), -ERANGE);
    TEST_EQ_LONG(util_parse_long("99999999999999999999", 10, 0, 100, &l), -ERANGE);
    double d;
    TEST_EQ_LONG(util_parse_double("1.5", 0, 2, &d), 0);
    TEST_NEAR(d, 1.5, 0);
    TEST_EQ_LONG(util_parse_double("nan", -1e9, 1e9, &d), -EINVAL);
    TEST_EQ_LONG(util_parse_double("inf", -1e9, 1e9, &d), -EINVAL);
    bool b;
    TEST_EQ_LONG(util_parse_bool("yes", &b), 0);
    TEST_CHECK(b);
    TEST_EQ_LONG(util_parse_bool("Off", &b), 0);
    TEST_CHECK(!b);
    TEST_EQ_LONG(util_parse_bool("maybe", &b), -EINVAL);
}

static void test_durations(void)
{
    static const struct {
        const char *text;
        int64_t ms;
        int rc;
    } cases[] = {
        {"500ms", 500,      0      },
        {"5s",    5000,     0      },
        {"2m",    120000,   0      },
        {"1h",    3600000,  0      },
        {"1d",    86400000, 0      },
        {"2.5s",  2500,     0      },
        {"5",     0,        -EINVAL},
        {"s",     0,        -EINVAL},
        {"-1s",   0,        -EINVAL},
        {"5 s",   0,        -EINVAL},
        {"5sec",  0,        -EINVAL},
        {"",      0,        -EINVAL},
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        int64_t ms = 0;
        int rc = util_parse_duration_ms(cases[i].text, &ms);
        TEST_EQ_LONG(rc, cases[i].rc);
        if (rc == 0)
            TEST_EQ_LONG(ms, cases[i].ms);
    }
}

static void test_hostport(void)
{
    char host[64];
    int port;
    TEST_EQ_LONG(util_parse_hostport("127.0.0.1:8080", host, sizeof(host), &port), 0);
    TEST_STREQ(host, "127.0.0.1");
    TEST_EQ_LONG(port, 8080);
    TEST_EQ_LONG(util_parse_hostport("[::1]:502", host, sizeof(host), &port), 0);
    TEST_STREQ(host, "::1");
    TEST_EQ_LONG(port, 502);
    TEST_EQ_LONG(util_parse_hostport("host", host, sizeof(host), &port), -EINVAL);
    TEST_EQ_LONG(util_parse_hostport(":80", host, sizeof(host), &port), -EINVAL);
    TEST_EQ_LONG(util_parse_hostport("h:99999", host, sizeof(host), &port), -EINVAL);
}

static void test_atomic_write(void)
{
    char dir[] = "/tmp/sitewatch-test-XXXXXX";
    TEST_CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/a/b/state.json", dir);
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    TEST_EQ_LONG(util_mkdirs(sub, 0755), 0);
    TEST_EQ_LONG(util_write_atomic(path, "one", 3), 0);
    TEST_EQ_LONG(util_write_atomic(path, "second", 6), 0);
    char *text = NULL;
    size_t len = 0;
    TEST_EQ_LONG(util_read_file(path, 100, &text, &len), 0);
    TEST_EQ_LONG(len, 6);
    TEST_STREQ(text, "second");
    free(text);
    TEST_EQ_LONG(util_read_file(path, 3, &text, &len), -EFBIG);
    char tmp[140];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    TEST_CHECK(access(tmp, F_OK) != 0); /* no temporary file left behind */
    unlink(path);
    rmdir(sub);
    snprintf(sub, sizeof(sub), "%s/a", dir);
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    TEST_RUN(test_numbers);
    TEST_RUN(test_durations);
    TEST_RUN(test_hostport);
    TEST_RUN(test_atomic_write);
    return test_summary();
}
