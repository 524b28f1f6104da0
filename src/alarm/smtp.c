/* smtp: libcurl's SMTP client: URL smtp:// or smtps://, MAIL FROM / RCPT TO, the body read from
 * memory. libcurl does the protocol, TLS and AUTH; we map its results to retry or give up. */
#include "smtp.h"

#include "core/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int smtp_tls_parse(const char *s)
{
    static const char *const names[] = {"none", "starttls", "implicit"};
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -EINVAL;
}

struct smtp_reader {
    const char *p;
    size_t left;
};

static size_t smtp_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct smtp_reader *r = arg;
    size_t n = size * nmemb;
    if (n > r->left)
        n = r->left;
    memcpy(buf, r->p, n);
    r->p += n;
    r->left -= n;
    return n;
}

int smtp_send(const struct smtp_server *srv, const char *from, const char *const *to, size_t nto,
              const char *data, size_t len, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        (void)util_snprintf(err, errlen, "cannot initialise libcurl");
        return -EAGAIN;
    }
    char url[300], mail_from[300], cerr[CURL_ERROR_SIZE] = "";
    (void)util_snprintf(url, sizeof(url), "%s://%s:%d",
                        srv->tls == SMTP_TLS_IMPLICIT ? "smtps" : "smtp", srv->host, srv->port);
    (void)util_snprintf(mail_from, sizeof(mail_from), "<%s>", from);
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; i < nto; i++)
        rcpt = curl_slist_append(rcpt, to[i]);
    struct smtp_reader rd = {data, len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, smtp_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(srv->timeout_ms > 0 ? srv->timeout_ms : 60000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 15000L);
    if (srv->tls == SMTP_TLS_STARTTLS)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (srv->ca_file && *srv->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, srv->ca_file);
    if (srv->user && *srv->user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, srv->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, srv->password ? srv->password : "");
    }
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK)
        return 0;
    (void)util_snprintf(err, errlen, "%s:%d: %s (SMTP %ld)", srv->host, srv->port,
                        cerr[0] ? cerr : curl_easy_strerror(rc), code);
    /* 5xx is a permanent refusal of this message; everything else (no route, timeout, 4xx,
     * TLS trouble that an operator will fix) is retried. */
    return code >= 500 && code < 600 ? -EPERM : -EAGAIN;
}
