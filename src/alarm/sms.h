/* sms: sends a text message through a GSM modem on a serial port with AT commands (3GPP TS 27.005
 * text mode: AT+CMGF=1, AT+CMGS). */
#ifndef SITEWATCH_SMS_H
#define SITEWATCH_SMS_H

#include <stddef.h>
#include <stdint.h>

/* What a modem's reply so far amounts to. */
enum sms_reply {
    SMS_REPLY_PENDING, /* no final result yet */
    SMS_REPLY_OK,
    SMS_REPLY_ERROR,  /* ERROR, +CMS ERROR: n or +CME ERROR: n */
    SMS_REPLY_PROMPT, /* "> ": the modem waits for the message text */
};

/* Classifies the bytes a modem sent since the last command (echo and unsolicited lines are
 * skipped). Pure function, for the tests. */
enum sms_reply sms_reply_parse(const uint8_t *buf, size_t len);

/* Makes text fit one SMS: printable ASCII (others become '?'), at most 160 characters, so no
 * byte can end the message early (0x1A) or cancel it (0x1B). */
void sms_text(const char *in, char *out, size_t outlen);

/* Sends text to each of to[nto] through the modem at port (a tty path). 0 when the modem
 * accepted every message (+CMGS), -EAGAIN with err set otherwise (retry later). */
int sms_send(const char *port, const char *const *to, size_t nto, const char *text,
             int64_t timeout_ms, char *err, size_t errlen);

#endif
