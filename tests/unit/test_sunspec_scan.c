/* test_sunspec_scan: what the driver and the scan share when they try unit ids in turn: how
 * each error reads as an answer of a unit, the list of units tried, and the remembered unit. */
#include "core/util.h"
#include "drivers/sunspec_scan.h"
#include "test.h"

#include <errno.h>
#include <modbus.h>

/* Every answer but "found" moves on to the next unit; the ones that leave the connection
 * unusable (reset, closed, timeout, garbage) also reconnect (issue 14). */
static void test_answers(void)
{
    static const struct {
        int r;
        enum sunspec_answer a;
        bool reconnect;
    } cases[] = {
        {0,            SUNSPEC_ANS_FOUND,     false},
        {-ENODEV,      SUNSPEC_ANS_NONE,      false},
        {-EMBXILADD,   SUNSPEC_ANS_NONE,      false},
        {-EMBXGPATH,   SUNSPEC_ANS_NO_UNIT,   false},
        {-EMBXGTAR,    SUNSPEC_ANS_NO_UNIT,   false},
        {-EMBXSFAIL,   SUNSPEC_ANS_EXCEPTION, false},
        {-EMBXILFUN,   SUNSPEC_ANS_EXCEPTION, false},
        {-ETIMEDOUT,   SUNSPEC_ANS_TIMEOUT,   true },
        {-EAGAIN,      SUNSPEC_ANS_TIMEOUT,   true },
        {-ECONNRESET,  SUNSPEC_ANS_RESET,     true }, /* RST, and end of file in libmodbus */
        {-EPIPE,       SUNSPEC_ANS_RESET,     true },
        {-EBADF,       SUNSPEC_ANS_RESET,     true },
        {-EMBBADDATA,  SUNSPEC_ANS_GARBAGE,   true },
        {-EMBBADSLAVE, SUNSPEC_ANS_GARBAGE,   true },
        {-EIO,         SUNSPEC_ANS_IO,        true },
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        enum sunspec_answer a = sunspec_answer_of(cases[i].r);
        TEST_EQ_LONG(a, cases[i].a);
        TEST_EQ_LONG(sunspec_answer_reconnects(a), cases[i].reconnect);
    }
    for (int a = 0; a < SUNSPEC_ANS_MAX; a++)
        TEST_CHECK(strcmp(sunspec_answer_text((enum sunspec_answer)a), "?") != 0);
    TEST_STREQ(sunspec_answer_text(SUNSPEC_ANS_MAX), "?");
}

static void test_tried_list(void)
{
    char t[128] = "";
    sunspec_tried_append(t, sizeof(t), 1, SUNSPEC_ANS_RESET, -ECONNRESET);
    sunspec_tried_append(t, sizeof(t), 2, SUNSPEC_ANS_TIMEOUT, -ETIMEDOUT);
    sunspec_tried_append(t, sizeof(t), 3, SUNSPEC_ANS_NO_UNIT, -EMBXGTAR);
    sunspec_tried_append(t, sizeof(t), 4, SUNSPEC_ANS_EXCEPTION, -EMBXSFAIL);
    sunspec_tried_append(t, sizeof(t), 126, SUNSPEC_ANS_FOUND, 0);
    TEST_STREQ(t, "1: connection reset, 2: timeout, 3: no such unit (exception 0x0B), "
                  "4: Modbus exception 0x04, 126: SunSpec found");

    /* a list that does not fit ends in "..." and stays NUL-terminated */
    char s[40] = "";
    for (int u = 1; u <= 16; u++)
        sunspec_tried_append(s, sizeof(s), u, SUNSPEC_ANS_TIMEOUT, -ETIMEDOUT);
    TEST_STREQ(s, "1: timeout, 2: timeout, 3: timeout...");
    TEST_CHECK(strlen(s) < sizeof(s));
}

static void test_memo(void)
{
    char buf[256];
    int unit = -1;
    TEST_EQ_LONG(sunspec_memo_format(buf, sizeof(buf), "192.0.2.20:502", 126), 0);
    TEST_EQ_LONG(sunspec_memo_parse(buf, "192.0.2.20:502", &unit), 0);
    TEST_EQ_LONG(unit, 126);
    /* the device moved: the memo is not for it */
    TEST_EQ_LONG(sunspec_memo_parse(buf, "192.0.2.21:502", &unit), -ESRCH);
    TEST_EQ_LONG(sunspec_memo_parse(buf, "192.0.2.20:1502", &unit), -ESRCH);
    static const char *const bad[] = {
        "",
        "unit = 126\n",
        "address = 192.0.2.20:502\n",
        "unit = 0\naddress = 192.0.2.20:502\n",
        "unit = 248\naddress = 192.0.2.20:502\n",
        "unit = 12x\naddress = 192.0.2.20:502\n",
        "unit=126\naddress = 192.0.2.20:502\n",
        "unit = 126\naddress = 192.0.2.20:502\ncolour = red\n",
        "\x01\x02\x03",
    };
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        unit = -1;
        TEST_EQ_LONG(sunspec_memo_parse(bad[i], "192.0.2.20:502", &unit), -EINVAL);
        TEST_EQ_LONG(unit, -1);
    }
    TEST_EQ_LONG(sunspec_memo_format(buf, 10, "192.0.2.20:502", 126), -ENOSPC);
}

static void test_units_prefer(void)
{
    int u[] = {1, 2, 126, 7};
    TEST_CHECK(sunspec_units_prefer(u, 4, 126));
    TEST_EQ_LONG(u[0], 126);
    TEST_EQ_LONG(u[1], 1);
    TEST_EQ_LONG(u[2], 2);
    TEST_EQ_LONG(u[3], 7);
    TEST_CHECK(!sunspec_units_prefer(u, 4, 3)); /* not configured: the order stays */
    TEST_EQ_LONG(u[0], 126);
    TEST_CHECK(sunspec_units_prefer(u, 4, 126));
    TEST_EQ_LONG(u[0], 126);
    TEST_EQ_LONG(u[1], 1);
}

int main(void)
{
    TEST_RUN(test_answers);
    TEST_RUN(test_tried_list);
    TEST_RUN(test_memo);
    TEST_RUN(test_units_prefer);
    return test_summary();
}
