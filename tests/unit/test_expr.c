/* Tests of the alarm expression language: grammar, precedence, functions, unknown propagation,
 * window history, and errors with column and caret on junk (which must never crash). */
#include "alarm/expr.h"
#include "test.h"

#include <stdint.h>

/* A little world of named inputs the tests bind expressions to. */
#define W_MAX 8
struct world {
    const char *names[W_MAX];
    struct expr_input in[W_MAX];
    struct expr_hist hist[W_MAX];
    size_t n;
};

static int world_bind(void *ctx, enum expr_ref_kind kind, const char *name, int64_t window_ms)
{
    struct world *w = ctx;
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->names[i], name) == 0) {
            if (kind == EXPR_REF_WINDOW) {
                expr_hist_init(&w->hist[i], window_ms);
                w->in[i].hist = &w->hist[i];
            }
            return (int)i;
        }
    return -2;
}

static void world_set(struct world *w, const char *name, double v, bool ok)
{
    size_t i;
    for (i = 0; i < w->n && strcmp(w->names[i], name) != 0; i++)
        ;
    if (i == w->n)
        w->names[w->n++] = name;
    w->in[i].value = v;
    w->in[i].ok = ok;
    w->in[i].written = true;
}

static struct world test_world(void)
{
    struct world w;
    memset(&w, 0, sizeof(w));
    world_set(&w, "bmv/Dc/0/Voltage", 23.5, true);
    world_set(&w, "bmv/Dc/0/Current", 5, true);
    world_set(&w, "mppt-1/Pv/V", 40, true);
    world_set(&w, "dead/Soc", 0, false);
    world_set(&w, "bmv", 0, true);
    world_set(&w, "dead", 0, false);
    return w;
}

static struct expr_val eval_in(struct world *w, const char *text, int64_t now, int min_of_day,
                               int weekday)
{
    struct expr_error err;
    struct expr *e = expr_parse(text, &err);
    if (!e) {
        printf("    parse of \"%s\" failed: column %d: %s\n", text, err.col, err.msg);
        test_state.checks_failed++;
        return (struct expr_val){0, false};
    }
    TEST_EQ_LONG(expr_bind(e, world_bind, w), 0);
    struct expr_env env = {.inputs = w->in,
                           .ninputs = w->n,
                           .now_mono_ms = now,
                           .local_min_of_day = min_of_day,
                           .local_weekday = weekday};
    struct expr_val v = expr_eval(e, &env);
    expr_free(e);
    return v;
}

static struct expr_val eval(const char *text)
{
    struct world w = test_world();
    return eval_in(&w, text, 0, 12 * 60, 3);
}

#define CHECK_VAL(text, want)                                                                      \
    do {                                                                                           \
        struct expr_val v_ = eval(text);                                                           \
        TEST_CHECK(v_.known);                                                                      \
        TEST_NEAR(v_.v, (want), 1e-9);                                                             \
    } while (0)
#define CHECK_UNKNOWN(text) TEST_CHECK(!eval(text).known)

static void test_arithmetic_precedence(void)
{
    CHECK_VAL("1 + 2 * 3", 7);
    CHECK_VAL("(1 + 2) * 3", 9);
    CHECK_VAL("10 - 4 - 3", 3); /* left associative */
    CHECK_VAL("24 / 4 / 2", 3); /* left associative */
    CHECK_VAL("-2 * -3", 6);
    CHECK_VAL("7 % 4", 3);
    CHECK_VAL("2.5e1", 25);
    CHECK_VAL("1 + 2 < 4", 1);            /* arithmetic binds tighter than comparison */
    CHECK_VAL("1 < 2 and 3 < 2 or 1", 1); /* and binds tighter than or */
    CHECK_VAL("not 1 < 2", 0);            /* not applies to the comparison */
    CHECK_VAL("not not true", 1);
    CHECK_VAL("3 >= 3 and 3 <= 3 and 3 == 3 and 3 != 4 and 4 > 3", 1);
    CHECK_VAL("false or false", 0);
}

static void test_keys(void)
{
    CHECK_VAL("bmv/Dc/0/Voltage < 24 and bmv/Dc/0/Current < 10", 1);
    CHECK_VAL("bmv/Dc/0/Voltage * bmv/Dc/0/Current", 117.5);
    CHECK_VAL("mppt-1/Pv/V", 40);          /* '-' inside a device name */
    CHECK_VAL("bmv/Dc/0/Voltage-1", 22.5); /* '-' after the path is a minus */
    CHECK_VAL("bmv/Dc/0/Voltage - bmv/Dc/0/Current", 18.5);
    /* "and"/"or"/"not" are words only when whole */
    struct world w = test_world();
    world_set(&w, "android/x", 3, true);
    TEST_NEAR(eval_in(&w, "android/x + 1", 0, 0, 1).v, 4, 1e-9);
}

static void test_unknown(void)
{
    CHECK_UNKNOWN("dead/Soc < 20");
    CHECK_UNKNOWN("dead/Soc + 1 > 0");
    CHECK_UNKNOWN("not dead/Soc < 20");
    CHECK_UNKNOWN("dead/Soc < 20 and 1");
    CHECK_VAL("dead/Soc < 20 and 0", 0); /* Kleene: false and unknown = false */
    CHECK_VAL("dead/Soc < 20 or 1", 1);  /* true or unknown = true */
    CHECK_UNKNOWN("dead/Soc < 20 or 0");
    CHECK_UNKNOWN("1 / 0");
    CHECK_UNKNOWN("1 % 0");
    CHECK_UNKNOWN("1e308 * 1e308 > 0"); /* overflow is not a number */
    CHECK_UNKNOWN("avg(dead/Soc, 1m)");
    struct world w = test_world();
    w.names[w.n++] = "nothing/Here"; /* bound but never written */
    TEST_CHECK(!eval_in(&w, "age(nothing/Here)", 0, 0, 1).known);
    CHECK_VAL("stale(dead)", 1);
    CHECK_VAL("stale(bmv)", 0);
}

static void test_window_functions(void)
{
    struct world w = test_world();
    const char *key = "bmv/Dc/0/Voltage";
    struct expr_error err;
    struct expr *e = expr_parse("avg(bmv/Dc/0/Voltage, 10m)", &err);
    TEST_CHECK(e != NULL);
    TEST_EQ_LONG(expr_bind(e, world_bind, &w), 0);
    expr_free(e);
    struct expr_hist *h = &w.hist[0];
    /* 60 samples one second apart: 20, 21, ... 79 */
    for (int i = 0; i < 60; i++)
        expr_hist_add(h, 1000000 + i * 1000, 20 + i);
    world_set(&w, key, 79, true);
    int64_t now = 1000000 + 59 * 1000;
    TEST_NEAR(eval_in(&w, "avg(bmv/Dc/0/Voltage, 10m)", now, 0, 1).v, 49.5, 1e-9);
    TEST_NEAR(eval_in(&w, "min(bmv/Dc/0/Voltage, 10m)", now, 0, 1).v, 20, 1e-9);
    TEST_NEAR(eval_in(&w, "max(bmv/Dc/0/Voltage, 10m)", now, 0, 1).v, 79, 1e-9);
    TEST_NEAR(eval_in(&w, "delta(bmv/Dc/0/Voltage, 10m)", now, 0, 1).v, 59, 1e-9);
    TEST_NEAR(eval_in(&w, "rate(bmv/Dc/0/Voltage, 10m)", now, 0, 1).v, 1.0, 1e-9);
    /* a 10 s window sees only the newest buckets; buckets are 10m / 240 = 2.5 s wide, so the
     * window starts at the bucket holding 1049000 - 10000: [1047500, 1050000), first sample 68 */
    TEST_NEAR(eval_in(&w, "min(bmv/Dc/0/Voltage, 10s)", now, 0, 1).v, 68, 1e-9);
    /* nothing within the window: unknown */
    TEST_CHECK(!eval_in(&w, "avg(bmv/Dc/0/Voltage, 10s)", now + 3600000, 0, 1).known);
    /* memory is bounded: a day of samples into a 1 h window keeps a fixed ring */
    struct expr_hist big;
    memset(&big, 0, sizeof(big));
    expr_hist_init(&big, 3600000);
    TEST_EQ_LONG(big.width_ms, 15000);
    for (int i = 0; i < 86400; i++)
        expr_hist_add(&big, (int64_t)i * 1000, i % 2 ? 10 : 30);
    struct world w2 = test_world();
    w2.hist[0] = big; /* binding keeps a history that is already wide enough */
    TEST_NEAR(eval_in(&w2, "avg(bmv/Dc/0/Voltage, 1h)", 86399000, 0, 1).v, 20, 0.1);
    TEST_NEAR(eval_in(&w2, "max(bmv/Dc/0/Voltage, 1h)", 86399000, 0, 1).v, 30, 1e-9);
}

static void test_age_and_time(void)
{
    struct world w = test_world();
    w.in[0].last_mono_ms = 5000;
    TEST_NEAR(eval_in(&w, "age(bmv/Dc/0/Voltage)", 17500, 0, 1).v, 12.5, 1e-9);
    TEST_NEAR(eval_in(&w, "hour()", 0, 13 * 60 + 59, 1).v, 13, 1e-9);
    TEST_NEAR(eval_in(&w, "weekday()", 0, 0, 7).v, 7, 1e-9);
    /* between wraps past midnight and is half-open */
    TEST_NEAR(eval_in(&w, "between(\"22:00\", \"06:00\")", 0, 23 * 60, 1).v, 1, 0);
    TEST_NEAR(eval_in(&w, "between(\"22:00\", \"06:00\")", 0, 5 * 60 + 59, 1).v, 1, 0);
    TEST_NEAR(eval_in(&w, "between(\"22:00\", \"06:00\")", 0, 6 * 60, 1).v, 0, 0);
    TEST_NEAR(eval_in(&w, "between(\"08:30\", \"17:00\")", 0, 8 * 60 + 30, 1).v, 1, 0);
    TEST_NEAR(eval_in(&w, "between(\"08:30\", \"17:00\")", 0, 8 * 60 + 29, 1).v, 0, 0);
}

/* An error names the right column and the caret sits under it. */
static void check_error(const char *text, int col, const char *words)
{
    struct expr_error err;
    struct expr *e = expr_parse(text, &err);
    TEST_CHECK(e == NULL);
    expr_free(e);
    if (err.col != col || !strstr(err.msg, words)) {
        printf("    \"%s\": column %d \"%s\", expected column %d with \"%s\"\n", text, err.col,
               err.msg, col, words);
        test_state.checks_failed++;
    }
    char buf[512];
    TEST_EQ_LONG(expr_error_format(text, &err, buf, sizeof(buf)), 0);
    const char *caret_line = strrchr(buf, '\n');
    TEST_CHECK(caret_line != NULL);
    if (caret_line)
        TEST_EQ_LONG(strchr(caret_line, '^') - (caret_line + 1), 4 + col - 1);
}

static void test_errors(void)
{
    check_error("bmv/Dc/0/Voltage <", 19, "ends where a value");
    check_error("bmv/Dc/0/Voltage < 24 and", 26, "ends where a value");
    check_error("(1 + 2", 7, "expected ')'");
    check_error("1 + 2)", 6, "after a complete expression");
    check_error("avg(bmv/Dc/0/Voltage)", 21, "','");
    check_error("avg(bmv/Dc/0/Voltage, 10)", 23, "duration");
    check_error("avg(bmv, 10m)", 5, "point key");
    check_error("foo(1)", 1, "unknown function 'foo'");
    check_error("Voltage < 3", 1, "not a point key");
    check_error("1 < 2 < 3", 7, "do not chain");
    check_error("1 = 2", 3, "'=='");
    check_error("between(\"25:00\", \"06:00\")", 9, "HH:MM");
    check_error("10m > 3", 1, "bad number");
    check_error("", 1, "ends where a value");
    check_error("1 + $", 5, "unexpected '$'");
    check_error("hour(3)", 6, "no argument");
}

/* Junk of every kind: no crash, no leak (ASan), and an error with a column inside the text. */
static void test_junk_never_crashes(void)
{
    static const char alphabet[] = "()+-*/%<>=!,\" \tabdnortv0123456789.:_/xyz&|^~";
    uint32_t seed = 12345;
    char text[64];
    int parsed = 0;
    for (int i = 0; i < 200000; i++) {
        size_t n = (seed = seed * 1103515245u + 12345u) >> 16 & 63;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            text[k] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        text[n] = '\0';
        struct expr_error err;
        struct expr *e = expr_parse(text, &err);
        if (e) {
            parsed++;
            struct world w = test_world();
            (void)expr_bind(e, world_bind, &w);
            expr_free(e);
        } else if (err.col < 1 || (size_t)err.col > n + 1 || !err.msg[0]) {
            printf("    \"%s\": column %d \"%s\"\n", text, err.col, err.msg);
            test_state.checks_failed++;
            break;
        }
    }
    TEST_CHECK(parsed > 0); /* the generator also produces valid expressions */
    /* deep nesting is refused, not a stack overflow */
    char deep[20001];
    memset(deep, '(', 10000);
    memset(deep + 10000, ')', 10000);
    deep[20000] = '\0';
    struct expr_error err;
    TEST_CHECK(expr_parse(deep, &err) == NULL && strstr(err.msg, "nested"));
    memset(deep, '-', 20000);
    TEST_CHECK(expr_parse(deep, &err) == NULL && strstr(err.msg, "nested"));
    TEST_CHECK(expr_parse(NULL, &err) == NULL);
}

int main(void)
{
    TEST_RUN(test_arithmetic_precedence);
    TEST_RUN(test_keys);
    TEST_RUN(test_unknown);
    TEST_RUN(test_window_functions);
    TEST_RUN(test_age_and_time);
    TEST_RUN(test_errors);
    TEST_RUN(test_junk_never_crashes);
    return test_summary();
}
