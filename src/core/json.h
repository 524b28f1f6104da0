/* json: a small append-only JSON writer for hot paths (the points API, SSE). Documents that are
 * built, inspected or parsed go through jansson; this writer only streams out values it is given,
 * about 5x faster than building a jansson tree for a few hundred points. */
#ifndef SITEWATCH_JSON_H
#define SITEWATCH_JSON_H

#include <stddef.h>
#include <stdint.h>

struct json_buf {
    char *data; /* malloc'd, NUL-terminated */
    size_t len;
    size_t cap;
};

void json_buf_init(struct json_buf *b, size_t cap);
/* Raw text, copied as is (for punctuation and keys known to be safe). */
void json_buf_raw(struct json_buf *b, const char *text);
/* A JSON string: quotes added, '"', '\\' and control characters escaped. */
void json_buf_str(struct json_buf *b, const char *s);
/* A number in the shortest form that reads back as the same double (util_format_double), always
 * a JSON real ("12.0"); a NaN or an infinity (which the store never holds) is written as null. */
void json_buf_num(struct json_buf *b, double v);
void json_buf_int(struct json_buf *b, int64_t v);
/* A jansson document as json_dumps(v, flags) writes it (flags: JSON_COMPACT, JSON_INDENT(n); no
 * other flag is honoured), except that every real is in the shortest form that reads back as the
 * same double: jansson writes 17 significant digits (25.283999999999999 for 25.284), or a fixed
 * JSON_REAL_PRECISION that cuts long values short. A new string the caller frees; NULL for NULL. */
struct json_t;
char *json_dumps_exact(const struct json_t *v, size_t flags);
/* Hands the text over (the caller frees it) and leaves b empty. */
char *json_buf_take(struct json_buf *b, size_t *len);

#endif
