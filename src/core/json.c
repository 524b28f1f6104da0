/* json: append-only JSON text writer with escaping, for replies built in a hot loop. */
#include "json.h"

#include "util.h"

#include <inttypes.h>
#include <jansson.h>
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

static void json_buf_strn(struct json_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    json_buf_mem(b, "\"", 1);
    const char *run = s, *end = s + len;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        json_buf_mem(b, run, (size_t)(s - run));
        char esc[7] = {'\\', (char)c, 0};
        /* the short escapes where JSON has them, as jansson writes them */
        char named = c == '\b'   ? 'b'
                     : c == '\f' ? 'f'
                     : c == '\n' ? 'n'
                     : c == '\r' ? 'r'
                     : c == '\t' ? 't'
                                 : 0;
        if (named) {
            esc[1] = named;
            json_buf_mem(b, esc, 2);
        } else if (c < 0x20) {
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

void json_buf_str(struct json_buf *b, const char *s)
{
    json_buf_strn(b, s, strlen(s));
}

void json_buf_num(struct json_buf *b, double v)
{
    if (!isfinite(v)) {
        json_buf_mem(b, "null", 4);
        return;
    }
    char tmp[UTIL_DOUBLE_MAX + 2];
    int n = util_format_double(tmp, sizeof(tmp) - 2, v);
    if (n < 0) { /* cannot happen: UTIL_DOUBLE_MAX holds any double */
        json_buf_mem(b, "null", 4);
        return;
    }
    /* keep it a JSON real, as jansson does, so clients see 12.0 rather than 12 */
    if (!strpbrk(tmp, ".eEn")) {
        memcpy(tmp + n, ".0", 3);
        n += 2;
    }
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

static void json_buf_newline(struct json_buf *b, size_t indent, size_t depth)
{
    if (!indent)
        return;
    json_buf_mem(b, "\n", 1);
    for (size_t i = 0; i < indent * depth; i++)
        json_buf_mem(b, " ", 1);
}

/* One value in jansson's own layout (separators, indentation), reals through json_buf_num. */
static void json_buf_tree(struct json_buf *b, const json_t *v, size_t flags, size_t depth)
{
    size_t indent = flags & JSON_MAX_INDENT;
    const char *sep = indent || (flags & JSON_COMPACT) ? "," : ", ";
    const char *colon = flags & JSON_COMPACT ? ":" : ": ";
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) {
            json_buf_mem(b, "{}", 2);
            return;
        }
        json_buf_mem(b, "{", 1);
        bool first = true;
        /* json_object_foreach wants a non-const object; iterating does not change it */
        json_t *o = (json_t *)(uintptr_t)v;
        const char *key;
        json_t *val;
        json_object_foreach(o, key, val)
        {
            if (!first)
                json_buf_raw(b, sep);
            first = false;
            json_buf_newline(b, indent, depth + 1);
            json_buf_str(b, key);
            json_buf_raw(b, colon);
            json_buf_tree(b, val, flags, depth + 1);
        }
        json_buf_newline(b, indent, depth);
        json_buf_mem(b, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) {
            json_buf_mem(b, "[]", 2);
            return;
        }
        json_buf_mem(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                json_buf_raw(b, sep);
            json_buf_newline(b, indent, depth + 1);
            json_buf_tree(b, json_array_get(v, i), flags, depth + 1);
        }
        json_buf_newline(b, indent, depth);
        json_buf_mem(b, "]", 1);
        return;
    }
    case JSON_STRING:
        json_buf_strn(b, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        json_buf_int(b, (int64_t)json_integer_value(v));
        return;
    case JSON_REAL:
        json_buf_num(b, json_real_value(v));
        return;
    case JSON_TRUE:
        json_buf_mem(b, "true", 4);
        return;
    case JSON_FALSE:
        json_buf_mem(b, "false", 5);
        return;
    case JSON_NULL:
        json_buf_mem(b, "null", 4);
        return;
    }
}

char *json_dumps_exact(const json_t *v, size_t flags)
{
    if (!v)
        return NULL;
    struct json_buf b;
    json_buf_init(&b, 256);
    json_buf_tree(&b, v, flags, 0);
    return json_buf_take(&b, NULL);
}
