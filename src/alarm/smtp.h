/* smtp: sends one ready-made mail through an SMTP server with libcurl (plain, STARTTLS or
 * implicit TLS, optional login). */
#ifndef SITEWATCH_SMTP_H
#define SITEWATCH_SMTP_H

#include <stddef.h>
#include <stdint.h>

enum smtp_tls {
    SMTP_TLS_NONE,     /* plain SMTP (a relay on the LAN) */
    SMTP_TLS_STARTTLS, /* STARTTLS required: refuse to send in clear */
    SMTP_TLS_IMPLICIT, /* SMTPS: TLS from the first byte (port 465) */
};

struct smtp_server {
    const char *host;
    int port;
    enum smtp_tls tls;
    const char *user; /* NULL or "" = no login */
    const char *password;
    const char *ca_file; /* NULL = the system's CAs */
    int64_t timeout_ms;
};

/* "none", "starttls", "implicit"; -EINVAL otherwise. */
int smtp_tls_parse(const char *s);

/* Sends data (a whole RFC 5322 message with CRLF line ends) from `from` to each of to[nto].
 * 0 once the server accepted it (250 after DATA); -EAGAIN for a failure worth retrying (network,
 * 4xx), -EPERM for a permanent refusal (5xx); err gets the reason in words. */
int smtp_send(const struct smtp_server *srv, const char *from, const char *const *to, size_t nto,
              const char *data, size_t len, char *err, size_t errlen);

#endif
