/* Tests of the GSM modem dialogue's pure parts: classifying replies (echo, unsolicited lines,
 * final results, the text prompt) and making a text safe for one SMS. */
#include "alarm/sms.h"
#include "test.h"

static enum sms_reply parse(const char *s)
{
    return sms_reply_parse((const uint8_t *)s, strlen(s));
}

static void test_replies(void)
{
    TEST_EQ_LONG(parse(""), SMS_REPLY_PENDING);
    TEST_EQ_LONG(parse("AT\r"), SMS_REPLY_PENDING); /* echo only */
    TEST_EQ_LONG(parse("AT\r\r\nOK\r\n"), SMS_REPLY_OK);
    TEST_EQ_LONG(parse("\r\n+CPIN: READY\r\n\r\nOK\r\n"), SMS_REPLY_OK);
    TEST_EQ_LONG(parse("\r\nERROR\r\n"), SMS_REPLY_ERROR);
    TEST_EQ_LONG(parse("\r\n+CMS ERROR: 38\r\n"), SMS_REPLY_ERROR);
    TEST_EQ_LONG(parse("\r\n+CME ERROR: 10\r\n"), SMS_REPLY_ERROR);
    TEST_EQ_LONG(parse("\r\n> "), SMS_REPLY_PROMPT);
    TEST_EQ_LONG(parse("\r\n+CMGS: 12\r\n"), SMS_REPLY_PENDING); /* OK still to come */
    TEST_EQ_LONG(parse("\r\n+CMGS: 12\r\n\r\nOK\r\n"), SMS_REPLY_OK);
    TEST_EQ_LONG(parse("\r\nOKAY\r\n"), SMS_REPLY_PENDING); /* a whole line, not a prefix */
    TEST_EQ_LONG(parse("\r\nOK"), SMS_REPLY_PENDING);       /* line not ended yet */
    TEST_EQ_LONG(parse("\r\nRING\r\n"), SMS_REPLY_PENDING); /* unsolicited */
}

static void test_text(void)
{
    char out[200];
    sms_text("a\x1a"
             "b\x1b"
             "c\n\xc3\xa9",
             out, sizeof(out));
    TEST_STREQ(out, "a?b?c ??");
    char big[400];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sms_text(big, out, sizeof(out));
    TEST_EQ_LONG(strlen(out), 160);
    char small[8];
    sms_text("hello world", small, sizeof(small));
    TEST_STREQ(small, "hello w");
}

int main(void)
{
    TEST_RUN(test_replies);
    TEST_RUN(test_text);
    return test_summary();
}
