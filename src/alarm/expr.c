/* expr: recursive-descent parser to a node array, Kleene three-valued evaluator, window history. */
#include "expr.h"

#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPR_MAX_DEPTH 64
#define EXPR_MAX_NODES 4096
#define EXPR_NAME_MAX 96

enum expr_op {
    OP_NUM,
    OP_REF, /* current value of a point */
    OP_AVG,
    OP_MIN,
    OP_MAX,
    OP_DELTA,
    OP_RATE,
    OP_AGE,
    OP_STALE,
    OP_HOUR,
    OP_WEEKDAY,
    OP_BETWEEN,
    OP_NEG,
    OP_NOT,
    OP_AND,
    OP_OR,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_EQ,
    OP_NE,
};

struct expr_node {
    enum expr_op op;
    int a, b;   /* children (node indices) */
    double num; /* OP_NUM */
    int ref;    /* index into refs for OP_REF, window functions, age, stale */
    int m1, m2; /* OP_BETWEEN: minutes of day */
};

struct expr_ref {
    char *name;
    enum expr_ref_kind kind;
    int64_t window_ms;
};

struct expr {
    struct expr_node *n;
    size_t nn, cap;
    int root;
    struct expr_ref *refs;
    int *slots;
    size_t nrefs;
};

/* Window functions and their ops: a table, not an if chain. */
static const struct {
    const char *name;
    enum expr_op op;
} expr_window_fns[] = {
    {"avg",   OP_AVG  },
    {"min",   OP_MIN  },
    {"max",   OP_MAX  },
    {"delta", OP_DELTA},
    {"rate",  OP_RATE },
};

static const struct {
    const char *text;
    enum expr_op op;
} expr_cmp_ops[] = {
    {"<=", OP_LE},
    {">=", OP_GE},
    {"==", OP_EQ},
    {"!=", OP_NE},
    {"<",  OP_LT},
    {">",  OP_GT},
};

struct expr_parser {
    const char *text;
    size_t pos;
    int depth;
    struct expr *e;
    struct expr_error *err;
    bool failed;
};

static void expr_fail(struct expr_parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void expr_fail(struct expr_parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->err->col = (int)pos + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
}

static void expr_skip_space(struct expr_parser *p)
{
    while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t')
        p->pos++;
}

static bool expr_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '/' || c == '.';
}

/* Reads a word (name or key) at pos into buf; returns its length (0 when none). A '-' joins the
 * word only before the first '/' and between letters or digits, so "mppt-1/Pv/V" is one key while
 * "bmv/Dc/0/Voltage-1" is a subtraction. */
static size_t expr_word(const struct expr_parser *p, size_t pos, char *buf, size_t len)
{
    const char *t = p->text;
    size_t i = pos;
    bool slash = false;
    if (!isalpha((unsigned char)t[i]) && t[i] != '_')
        return 0;
    while (expr_word_char(t[i]) ||
           (t[i] == '-' && !slash && i > pos && isalnum((unsigned char)t[i + 1]))) {
        slash |= t[i] == '/';
        i++;
    }
    size_t n = i - pos;
    if (buf) {
        size_t c = n < len - 1 ? n : len - 1;
        memcpy(buf, t + pos, c);
        buf[c] = '\0';
    }
    return n;
}

static bool expr_accept(struct expr_parser *p, const char *tok)
{
    expr_skip_space(p);
    size_t n = strlen(tok);
    if (strncmp(p->text + p->pos, tok, n) != 0)
        return false;
    if (isalpha((unsigned char)tok[0]) && expr_word_char(p->text[p->pos + n]))
        return false; /* "and" must not match "android/..." */
    p->pos += n;
    return true;
}

static void expr_expect(struct expr_parser *p, const char *tok, const char *what)
{
    if (p->failed)
        return;
    if (!expr_accept(p, tok)) {
        if (p->text[p->pos])
            expr_fail(p, p->pos, "expected %s", what);
        else
            expr_fail(p, p->pos, "expected %s at the end", what);
    }
}

static int expr_node_new(struct expr_parser *p, enum expr_op op, int a, int b)
{
    struct expr *e = p->e;
    if (e->nn >= EXPR_MAX_NODES) {
        expr_fail(p, p->pos, "expression too long");
        return -1;
    }
    if (e->nn == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->n = xrealloc(e->n, e->cap * sizeof(*e->n));
    }
    e->n[e->nn] = (struct expr_node){.op = op, .a = a, .b = b, .ref = -1};
    return (int)e->nn++;
}

static int expr_ref_new(struct expr_parser *p, const char *name, enum expr_ref_kind kind,
                        int64_t window_ms)
{
    struct expr *e = p->e;
    e->refs = xrealloc(e->refs, (e->nrefs + 1) * sizeof(*e->refs));
    e->slots = xrealloc(e->slots, (e->nrefs + 1) * sizeof(*e->slots));
    e->refs[e->nrefs] = (struct expr_ref){xstrdup(name), kind, window_ms};
    e->slots[e->nrefs] = -1;
    return (int)e->nrefs++;
}

static int expr_or(struct expr_parser *p);

/* A key argument: a word containing a '/'. */
static int expr_key_arg(struct expr_parser *p, char *buf, size_t len)
{
    expr_skip_space(p);
    size_t n = expr_word(p, p->pos, buf, len);
    if (n == 0 || !strchr(buf, '/')) {
        expr_fail(p, p->pos, "expected a point key such as bmv/Dc/0/Voltage");
        return -EINVAL;
    }
    if (n >= len) {
        expr_fail(p, p->pos, "point key longer than %zu characters", len - 1);
        return -EINVAL;
    }
    p->pos += n;
    return 0;
}

/* A duration argument: digits and a unit (10m). */
static int expr_duration_arg(struct expr_parser *p, int64_t *ms)
{
    expr_skip_space(p);
    size_t start = p->pos, i = p->pos;
    char buf[32];
    while (isalnum((unsigned char)p->text[i]))
        i++;
    if (i == start || i - start >= sizeof(buf) ||
        (memcpy(buf, p->text + start, i - start), buf[i - start] = '\0',
         util_parse_duration_ms(buf, ms) != 0) ||
        *ms <= 0 || *ms > 7LL * 86400 * 1000) {
        expr_fail(p, start, "expected a duration with a unit (30s, 10m, 1h), at most 7d");
        return -EINVAL;
    }
    p->pos = i;
    return 0;
}

/* "HH:MM" → minutes of day. */
static int expr_time_arg(struct expr_parser *p, int *minutes)
{
    expr_skip_space(p);
    size_t start = p->pos;
    const char *t = p->text + start;
    if (t[0] == '"' && isdigit((unsigned char)t[1]) && isdigit((unsigned char)t[2]) &&
        t[3] == ':' && isdigit((unsigned char)t[4]) && isdigit((unsigned char)t[5]) &&
        t[6] == '"') {
        int h = (t[1] - '0') * 10 + (t[2] - '0'), m = (t[4] - '0') * 10 + (t[5] - '0');
        if (h < 24 && m < 60) {
            *minutes = h * 60 + m;
            p->pos += 7;
            return 0;
        }
    }
    expr_fail(p, start, "expected a time of day in quotes, \"HH:MM\"");
    return -EINVAL;
}

/* name '(' ... ')' once the name is read; fn_pos is where the name started. */
static int expr_call(struct expr_parser *p, const char *name, size_t fn_pos)
{
    char key[EXPR_NAME_MAX];
    int64_t ms = 0;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(expr_window_fns); i++) {
        if (strcmp(name, expr_window_fns[i].name) != 0)
            continue;
        if (expr_key_arg(p, key, sizeof(key)) < 0)
            return -1;
        expr_expect(p, ",", "',' and a window such as 10m");
        if (p->failed || expr_duration_arg(p, &ms) < 0)
            return -1;
        expr_expect(p, ")", "')'");
        int n = expr_node_new(p, expr_window_fns[i].op, -1, -1);
        if (n >= 0)
            p->e->n[n].ref = expr_ref_new(p, key, EXPR_REF_WINDOW, ms);
        return p->failed ? -1 : n;
    }
    if (strcmp(name, "age") == 0 || strcmp(name, "stale") == 0) {
        bool age = name[0] == 'a';
        if (age) {
            if (expr_key_arg(p, key, sizeof(key)) < 0)
                return -1;
        } else {
            expr_skip_space(p);
            size_t n = expr_word(p, p->pos, key, sizeof(key));
            if (n == 0 || n >= sizeof(key) || strchr(key, '/')) {
                expr_fail(p, p->pos, "expected a device name");
                return -1;
            }
            p->pos += n;
        }
        expr_expect(p, ")", "')'");
        int n = expr_node_new(p, age ? OP_AGE : OP_STALE, -1, -1);
        if (n >= 0)
            p->e->n[n].ref = expr_ref_new(p, key, age ? EXPR_REF_POINT : EXPR_REF_DEVICE, 0);
        return p->failed ? -1 : n;
    }
    if (strcmp(name, "hour") == 0 || strcmp(name, "weekday") == 0) {
        expr_expect(p, ")", "')': this function takes no argument");
        return p->failed ? -1 : expr_node_new(p, name[0] == 'h' ? OP_HOUR : OP_WEEKDAY, -1, -1);
    }
    if (strcmp(name, "between") == 0) {
        int m1, m2;
        if (expr_time_arg(p, &m1) < 0)
            return -1;
        expr_expect(p, ",", "','");
        if (p->failed || expr_time_arg(p, &m2) < 0)
            return -1;
        expr_expect(p, ")", "')'");
        int n = expr_node_new(p, OP_BETWEEN, -1, -1);
        if (n >= 0) {
            p->e->n[n].m1 = m1;
            p->e->n[n].m2 = m2;
        }
        return p->failed ? -1 : n;
    }
    expr_fail(p, fn_pos,
              "unknown function '%s' (avg, min, max, delta, rate, age, stale, hour, weekday, "
              "between)",
              name);
    return -1;
}

static int expr_primary(struct expr_parser *p)
{
    expr_skip_space(p);
    const char *t = p->text + p->pos;
    size_t start = p->pos;
    if (*t == '\0') {
        expr_fail(p, start, "expression ends where a value was expected");
        return -1;
    }
    if (*t == '(') {
        p->pos++;
        int n = expr_or(p);
        expr_expect(p, ")", "')'");
        return p->failed ? -1 : n;
    }
    if (isdigit((unsigned char)*t) || (*t == '.' && isdigit((unsigned char)t[1]))) {
        char *end;
        errno = 0;
        double d = strtod(t, &end);
        if (errno != 0 || !isfinite(d) || isalpha((unsigned char)*end) || *end == '_') {
            expr_fail(p, start, "bad number (a duration like 10m is only a window argument)");
            return -1;
        }
        p->pos += (size_t)(end - t);
        int n = expr_node_new(p, OP_NUM, -1, -1);
        if (n >= 0)
            p->e->n[n].num = d;
        return n;
    }
    char name[EXPR_NAME_MAX];
    size_t len = expr_word(p, start, name, sizeof(name));
    if (len == 0) {
        expr_fail(p, start, "unexpected '%c'", *t);
        return -1;
    }
    if (len >= sizeof(name)) {
        expr_fail(p, start, "name longer than %zu characters", sizeof(name) - 1);
        return -1;
    }
    p->pos += len;
    if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0) {
        int n = expr_node_new(p, OP_NUM, -1, -1);
        if (n >= 0)
            p->e->n[n].num = name[0] == 't';
        return n;
    }
    expr_skip_space(p);
    if (p->text[p->pos] == '(' && !strchr(name, '/')) {
        p->pos++;
        return expr_call(p, name, start);
    }
    if (!strchr(name, '/')) {
        expr_fail(p, start,
                  "'%s' is not a point key (device/path, e.g. bmv/Dc/0/Voltage) nor a function",
                  name);
        return -1;
    }
    int n = expr_node_new(p, OP_REF, -1, -1);
    if (n >= 0)
        p->e->n[n].ref = expr_ref_new(p, name, EXPR_REF_POINT, 0);
    return n;
}

static int expr_unary(struct expr_parser *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) {
        expr_fail(p, p->pos, "expression nested too deeply");
        return -1;
    }
    int n;
    if (expr_accept(p, "-")) {
        int a = expr_unary(p);
        n = a < 0 ? -1 : expr_node_new(p, OP_NEG, a, -1);
    } else {
        n = expr_primary(p);
    }
    p->depth--;
    return n;
}

static int expr_binary_loop(struct expr_parser *p, int (*sub)(struct expr_parser *),
                            const char *const *toks, const enum expr_op *ops, size_t nops)
{
    int a = sub(p);
    while (a >= 0 && !p->failed) {
        size_t i;
        for (i = 0; i < nops; i++)
            if (expr_accept(p, toks[i]))
                break;
        if (i == nops)
            break;
        int b = sub(p);
        if (b < 0)
            return -1;
        a = expr_node_new(p, ops[i], a, b);
    }
    return p->failed ? -1 : a;
}

static int expr_product(struct expr_parser *p)
{
    static const char *const toks[] = {"*", "/", "%"};
    static const enum expr_op ops[] = {OP_MUL, OP_DIV, OP_MOD};
    return expr_binary_loop(p, expr_unary, toks, ops, 3);
}

static int expr_sum(struct expr_parser *p)
{
    static const char *const toks[] = {"+", "-"};
    static const enum expr_op ops[] = {OP_ADD, OP_SUB};
    return expr_binary_loop(p, expr_product, toks, ops, 2);
}

static int expr_cmp(struct expr_parser *p)
{
    int a = expr_sum(p);
    if (a < 0)
        return -1;
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(expr_cmp_ops); i++)
        if (expr_accept(p, expr_cmp_ops[i].text)) {
            int b = expr_sum(p);
            if (b < 0)
                return -1;
            a = expr_node_new(p, expr_cmp_ops[i].op, a, b);
            expr_skip_space(p);
            if (strchr("<>=!", p->text[p->pos]) && p->text[p->pos])
                expr_fail(p, p->pos, "comparisons do not chain: use 'and'");
            return p->failed ? -1 : a;
        }
    expr_skip_space(p);
    if (p->text[p->pos] == '=' || p->text[p->pos] == '!')
        expr_fail(p, p->pos, "expected '==' or '!='");
    return p->failed ? -1 : a;
}

static int expr_not(struct expr_parser *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) {
        expr_fail(p, p->pos, "expression nested too deeply");
        return -1;
    }
    int n;
    if (expr_accept(p, "not")) {
        int a = expr_not(p);
        n = a < 0 ? -1 : expr_node_new(p, OP_NOT, a, -1);
    } else {
        n = expr_cmp(p);
    }
    p->depth--;
    return n;
}

static int expr_and(struct expr_parser *p)
{
    static const char *const toks[] = {"and"};
    static const enum expr_op ops[] = {OP_AND};
    return expr_binary_loop(p, expr_not, toks, ops, 1);
}

static int expr_or(struct expr_parser *p)
{
    static const char *const toks[] = {"or"};
    static const enum expr_op ops[] = {OP_OR};
    if (++p->depth > EXPR_MAX_DEPTH) {
        expr_fail(p, p->pos, "expression nested too deeply");
        return -1;
    }
    int n = expr_binary_loop(p, expr_and, toks, ops, 1);
    p->depth--;
    return n;
}

struct expr *expr_parse(const char *text, struct expr_error *err)
{
    struct expr_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof(*err));
    struct expr *e = xcalloc(1, sizeof(*e));
    struct expr_parser p = {.text = text ? text : "", .e = e, .err = err};
    e->root = expr_or(&p);
    expr_skip_space(&p);
    if (!p.failed && p.text[p.pos] != '\0')
        expr_fail(&p, p.pos, "unexpected '%c' after a complete expression", p.text[p.pos]);
    if (p.failed || e->root < 0) {
        if (!p.failed)
            expr_fail(&p, p.pos, "invalid expression");
        expr_free(e);
        return NULL;
    }
    return e;
}

void expr_free(struct expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nrefs; i++)
        free(e->refs[i].name);
    free(e->refs);
    free(e->slots);
    free(e->n);
    free(e);
}

int expr_bind(struct expr *e,
              int (*bind)(void *ctx, enum expr_ref_kind kind, const char *name, int64_t window_ms),
              void *ctx)
{
    for (size_t i = 0; i < e->nrefs; i++) {
        int s = bind(ctx, e->refs[i].kind, e->refs[i].name, e->refs[i].window_ms);
        if (s < 0)
            return s;
        e->slots[i] = s;
    }
    return 0;
}

const int *expr_slots(const struct expr *e, size_t *n)
{
    *n = e->nrefs;
    return e->slots;
}

const char *expr_ref_name(const struct expr *e, size_t i)
{
    return i < e->nrefs ? e->refs[i].name : NULL;
}

static const struct expr_val expr_unknown = {0, false};

static struct expr_val expr_known(double v)
{
    return (struct expr_val){v, true};
}

/* Folds the buckets of h inside [now - window, now] for a window function. */
static struct expr_val expr_window(const struct expr_hist *h, enum expr_op op, int64_t window_ms,
                                   int64_t now)
{
    if (!h || h->width_ms <= 0)
        return expr_unknown;
    int64_t from = now - window_ms;
    double mn = INFINITY, mx = -INFINITY, sum = 0, first = 0, last = 0;
    int64_t first_ms = 0, last_ms = 0;
    uint64_t n = 0;
    for (unsigned k = 0; k < EXPR_HIST_BUCKETS; k++) {
        /* newest to oldest */
        const struct expr_bucket *b = &h->b[(h->head + EXPR_HIST_BUCKETS - k) % EXPR_HIST_BUCKETS];
        if (b->n == 0 || b->last_ms < from)
            break;
        if (b->last_ms > now)
            continue;
        mn = fmin(mn, b->min);
        mx = fmax(mx, b->max);
        sum += b->sum;
        n += b->n;
        if (last_ms == 0) {
            last = b->last;
            last_ms = b->last_ms;
        }
        first = b->first;
        first_ms = b->first_ms;
    }
    if (n == 0)
        return expr_unknown;
    switch (op) {
    case OP_AVG:
        return expr_known(sum / (double)n);
    case OP_MIN:
        return expr_known(mn);
    case OP_MAX:
        return expr_known(mx);
    case OP_DELTA:
        return expr_known(last - first);
    case OP_RATE: /* per second */
        if (last_ms <= first_ms)
            return expr_unknown;
        return expr_known((last - first) * 1000.0 / (double)(last_ms - first_ms));
    default:
        return expr_unknown;
    }
}

static const struct expr_input *expr_input_of(const struct expr *e, const struct expr_env *env,
                                              int ref)
{
    if (ref < 0 || (size_t)ref >= e->nrefs)
        return NULL;
    int s = e->slots[ref];
    if (s < 0 || (size_t)s >= env->ninputs)
        return NULL;
    return &env->inputs[s];
}

static struct expr_val expr_eval_node(const struct expr *e, const struct expr_env *env, int i)
{
    const struct expr_node *n = &e->n[i];
    const struct expr_input *in;
    struct expr_val a, b;
    switch (n->op) {
    case OP_NUM:
        return expr_known(n->num);
    case OP_REF:
        in = expr_input_of(e, env, n->ref);
        return in && in->ok ? expr_known(in->value) : expr_unknown;
    case OP_AVG:
    case OP_MIN:
    case OP_MAX:
    case OP_DELTA:
    case OP_RATE:
        in = expr_input_of(e, env, n->ref);
        if (!in || !in->ok) /* a window over a dead input says nothing about now */
            return expr_unknown;
        return expr_window(in->hist, n->op, e->refs[n->ref].window_ms, env->now_mono_ms);
    case OP_AGE:
        in = expr_input_of(e, env, n->ref);
        if (!in || !in->written)
            return expr_unknown;
        return expr_known((double)(env->now_mono_ms - in->last_mono_ms) / 1000.0);
    case OP_STALE:
        in = expr_input_of(e, env, n->ref);
        return expr_known(!in || !in->ok);
    case OP_HOUR:
        return expr_known(env->local_min_of_day / 60);
    case OP_WEEKDAY:
        return expr_known(env->local_weekday);
    case OP_BETWEEN: {
        int t = env->local_min_of_day;
        bool in_range = n->m1 <= n->m2 ? (t >= n->m1 && t < n->m2) : (t >= n->m1 || t < n->m2);
        return expr_known(in_range);
    }
    case OP_NEG:
        a = expr_eval_node(e, env, n->a);
        return a.known ? expr_known(-a.v) : expr_unknown;
    case OP_NOT:
        a = expr_eval_node(e, env, n->a);
        return a.known ? expr_known(a.v == 0) : expr_unknown;
    case OP_AND:
        a = expr_eval_node(e, env, n->a);
        if (a.known && a.v == 0)
            return expr_known(0);
        b = expr_eval_node(e, env, n->b);
        if (b.known && b.v == 0)
            return expr_known(0);
        return a.known && b.known ? expr_known(1) : expr_unknown;
    case OP_OR:
        a = expr_eval_node(e, env, n->a);
        if (a.known && a.v != 0)
            return expr_known(1);
        b = expr_eval_node(e, env, n->b);
        if (b.known && b.v != 0)
            return expr_known(1);
        return a.known && b.known ? expr_known(0) : expr_unknown;
    default:
        break;
    }
    a = expr_eval_node(e, env, n->a);
    b = expr_eval_node(e, env, n->b);
    if (!a.known || !b.known)
        return expr_unknown;
    double r;
    switch (n->op) {
    case OP_ADD:
        r = a.v + b.v;
        break;
    case OP_SUB:
        r = a.v - b.v;
        break;
    case OP_MUL:
        r = a.v * b.v;
        break;
    case OP_DIV:
        if (b.v == 0)
            return expr_unknown;
        r = a.v / b.v;
        break;
    case OP_MOD:
        if (b.v == 0)
            return expr_unknown;
        r = fmod(a.v, b.v);
        break;
    case OP_LT:
        return expr_known(a.v < b.v);
    case OP_LE:
        return expr_known(a.v <= b.v);
    case OP_GT:
        return expr_known(a.v > b.v);
    case OP_GE:
        return expr_known(a.v >= b.v);
    case OP_EQ:
        return expr_known(a.v == b.v);
    case OP_NE:
        return expr_known(a.v != b.v);
    default:
        return expr_unknown;
    }
    return isfinite(r) ? expr_known(r) : expr_unknown; /* overflow is not a number to alarm on */
}

struct expr_val expr_eval(const struct expr *e, const struct expr_env *env)
{
    if (!e || e->root < 0)
        return expr_unknown;
    return expr_eval_node(e, env, e->root);
}

int expr_error_format(const char *text, const struct expr_error *err, char *buf, size_t len)
{
    /* The caret line mirrors tabs so it lines up under the fault. */
    char caret[256];
    size_t col = err->col > 0 ? (size_t)err->col - 1 : 0;
    size_t tl = strlen(text);
    if (col > tl)
        col = tl;
    if (col >= sizeof(caret) - 1)
        col = sizeof(caret) - 2;
    for (size_t i = 0; i < col; i++)
        caret[i] = text[i] == '\t' ? '\t' : ' ';
    caret[col] = '^';
    caret[col + 1] = '\0';
    return util_snprintf(buf, len, "column %d: %s\n    %s\n    %s", err->col, err->msg, text,
                         caret);
}

void expr_hist_init(struct expr_hist *h, int64_t max_window_ms)
{
    int64_t w = (max_window_ms + EXPR_HIST_BUCKETS - 1) / EXPR_HIST_BUCKETS;
    if (w < 1000)
        w = 1000;
    if (h->width_ms >= w)
        return;
    memset(h, 0, sizeof(*h));
    h->width_ms = w;
}

void expr_hist_add(struct expr_hist *h, int64_t now_mono_ms, double value)
{
    if (h->width_ms <= 0 || !isfinite(value))
        return;
    int64_t t0 = now_mono_ms - now_mono_ms % h->width_ms;
    struct expr_bucket *b = &h->b[h->head];
    if (b->n > 0 && b->t0_ms != t0) {
        if (t0 < b->t0_ms)
            return; /* time never goes back on the monotonic clock */
        h->head = (h->head + 1) % EXPR_HIST_BUCKETS;
        b = &h->b[h->head];
        b->n = 0;
    }
    if (b->n == 0) {
        *b = (struct expr_bucket){
            .t0_ms = t0, .first_ms = now_mono_ms, .first = value, .min = value, .max = value};
    }
    b->last_ms = now_mono_ms;
    b->last = value;
    b->min = fmin(b->min, value);
    b->max = fmax(b->max, value);
    b->sum += value;
    b->n++;
}
