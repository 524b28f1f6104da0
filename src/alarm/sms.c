/* sms: AT command dialogue with a GSM modem over src/core/port.c.
 *
 * Protocol facts (3GPP TS 27.005 §3.5.1 text mode, and V.25ter): commands end with CR; a modem
 * echoes them until ATE0; final results are "OK", "ERROR", "+CMS ERROR: <n>" (message service)
 * or "+CME ERROR: <n>" (equipment), each on a line of its own; after AT+CMGS="<number>" the modem
 * prompts "> " (no line end) and takes the text up to Ctrl-Z (0x1A; ESC 0x1B cancels), then
 * answers "+CMGS: <mr>" and OK once the network took it, which can take tens of seconds. */
#include "sms.h"

#include "core/port.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SMS_BAUD 115200

/* Finds a final-result line in buf: a line equal to s, or starting with it for "+CMS ERROR". */
static bool sms_has_line(const uint8_t *buf, size_t len, const char *s, bool prefix)
{
    size_t sl = strlen(s), start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && buf[i] != '\r' && buf[i] != '\n')
            continue;
        size_t ll = i - start;
        if (i < len && ((prefix && ll >= sl) || ll == sl) && memcmp(buf + start, s, sl) == 0)
            return true;
        start = i + 1;
    }
    return false;
}

enum sms_reply sms_reply_parse(const uint8_t *buf, size_t len)
{
    if (sms_has_line(buf, len, "OK", false))
        return SMS_REPLY_OK;
    if (sms_has_line(buf, len, "ERROR", false) || sms_has_line(buf, len, "+CMS ERROR:", true) ||
        sms_has_line(buf, len, "+CME ERROR:", true))
        return SMS_REPLY_ERROR;
    if (len >= 2 && buf[len - 2] == '>' && buf[len - 1] == ' ')
        return SMS_REPLY_PROMPT;
    return SMS_REPLY_PENDING;
}

void sms_text(const char *in, char *out, size_t outlen)
{
    size_t n = 0, max = outlen - 1 < 160 ? outlen - 1 : 160;
    for (; *in && n < max; in++) {
        unsigned char c = (unsigned char)*in;
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : (c == '\n' ? ' ' : '?');
    }
    out[n] = '\0';
}

/* Sends cmd (may be NULL: only wait) and waits for a final result or the prompt. */
static enum sms_reply sms_cmd(struct port *p, const char *cmd, int64_t timeout_ms, char *reply,
                              size_t replylen)
{
    uint8_t buf[512];
    size_t len = 0;
    if (cmd) {
        port_flush_input(p);
        if (port_write(p, cmd, strlen(cmd), 2000) != 0)
            return SMS_REPLY_ERROR;
    }
    int64_t deadline = util_mono_ms() + timeout_ms;
    enum sms_reply r = SMS_REPLY_PENDING;
    while (r == SMS_REPLY_PENDING && util_mono_ms() < deadline) {
        if (len == sizeof(buf))
            len = 0; /* a chatty modem: keep the tail only */
        ssize_t n = port_read(p, buf + len, sizeof(buf) - len, 200);
        if (n < 0)
            return SMS_REPLY_ERROR;
        len += (size_t)n;
        r = sms_reply_parse(buf, len);
    }
    size_t c = len < replylen - 1 ? len : replylen - 1;
    for (size_t i = 0; i < c; i++)
        reply[i] = buf[i] == '\r' || buf[i] == '\n' ? ' ' : (char)buf[i];
    reply[c] = '\0';
    return r;
}

int sms_send(const char *port, const char *const *to, size_t nto, const char *text,
             int64_t timeout_ms, char *err, size_t errlen)
{
    struct port *p;
    char reply[256], line[96], body[200];
    int r = port_open(port, SMS_BAUD, 2000, &p, err, errlen);
    if (r < 0)
        return -EAGAIN;
    /* A modem left in the text prompt by an earlier crash: ESC cancels it, then AT syncs. */
    (void)port_write(p, "\x1b\r", 2, 1000);
    static const char *const setup[] = {"AT\r", "ATE0\r", "AT+CMGF=1\r"};
    r = 0;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(setup) && r == 0; i++)
        if (sms_cmd(p, setup[i], 5000, reply, sizeof(reply)) != SMS_REPLY_OK) {
            (void)util_snprintf(err, errlen, "%s: '%.*s' answered '%s'", port,
                                (int)strlen(setup[i]) - 1, setup[i], reply);
            r = -EAGAIN;
        }
    sms_text(text, body, sizeof(body));
    for (size_t i = 0; i < nto && r == 0; i++) {
        (void)util_snprintf(line, sizeof(line), "AT+CMGS=\"%s\"\r", to[i]);
        if (sms_cmd(p, line, 10000, reply, sizeof(reply)) != SMS_REPLY_PROMPT) {
            (void)util_snprintf(err, errlen, "%s: AT+CMGS to %s answered '%s'", port, to[i], reply);
            r = -EAGAIN;
            break;
        }
        char tail = 0x1a;
        if (port_write(p, body, strlen(body), 5000) != 0 || port_write(p, &tail, 1, 1000) != 0 ||
            sms_cmd(p, NULL, timeout_ms, reply, sizeof(reply)) != SMS_REPLY_OK) {
            (void)util_snprintf(err, errlen, "%s: sending to %s: '%s'", port, to[i], reply);
            r = -EAGAIN;
        }
    }
    port_close(p);
    return r;
}
