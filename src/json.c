/* json: append-only JSON text writer with escaping, for replies built in a hot loop. */
#include "json.h"

#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void json_buf_init(struct json_buf *b, size_t cap)
{
    b->cap = cap < 64 ? 64 : cap;
    b->data = xmalloc(b->cap);
    b->len = 0;
    b->data[0] = '\0';
}

static void json_buf_room(struct json_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    while (b->len + n + 1 > b->cap)
        b->cap *= 2;
    b->data = xrealloc(b->data, b->cap);
}

static void json_buf_mem(struct json_buf *b, const char *p, size_t n)
{
    json_buf_room(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void json_buf_raw(struct json_buf *b, const char *text)
{
    json_buf_mem(b, text, strlen(text));
}

void json_buf_str(struct json_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    json_buf_mem(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        json_buf_mem(b, run, (size_t)(s - run));
        char esc[7] = {'\\', (char)c, 0};
        if (c < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            json_buf_mem(b, esc, 6);
        } else {
            json_buf_mem(b, esc, 2);
        }
        run = s + 1;
    }
    json_buf_mem(b, run, (size_t)(s - run));
    json_buf_mem(b, "\"", 1);
}

void json_buf_num(struct json_buf *b, double v)
{
    if (!isfinite(v)) {
        json_buf_mem(b, "null", 4);
        return;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.10g", v);
    /* keep it a JSON real, as jansson does, so clients see 12.0 rather than 12 */
    if (!strpbrk(tmp, ".eEn"))
        n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, ".0");
    json_buf_mem(b, tmp, (size_t)n);
}

void json_buf_int(struct json_buf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    json_buf_mem(b, tmp, (size_t)n);
}

char *json_buf_take(struct json_buf *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
