/* expr: the alarm-rule expression language: parser, three-valued evaluator and the per-key
 * point history the window functions read.
 *
 * Grammar (lowest precedence first):
 *   or      := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | cmp
 *   cmp     := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
 *   sum     := product (('+' | '-') product)*
 *   product := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | primary
 *   primary := NUMBER | 'true' | 'false' | KEY | '(' or ')' | FUNC '(' args ')'
 * KEY is a point key such as bmv/Dc/0/Voltage. Functions: avg/min/max/delta/rate(KEY, DURATION),
 * age(KEY) (seconds since the last write), stale(DEVICE), hour(), weekday() (1 = Monday ..
 * 7 = Sunday), between("HH:MM", "HH:MM") (local time of day, wrapping past midnight).
 *
 * Every value is a number or *unknown*: a stale / n.a. / unset input, an empty window, a division
 * by zero. Unknown propagates through arithmetic and comparisons; `and` is false when either side
 * is known false, `or` true when either side is known true (Kleene logic). */
#ifndef SITEWATCH_EXPR_H
#define SITEWATCH_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Result of an evaluation: known says whether v means anything. Truth is v != 0. */
struct expr_val {
    double v;
    bool known;
};

/* A parse error: 1-based column of the fault in the text and what is wrong. */
struct expr_error {
    int col;
    char msg[160];
};

/* What a name in an expression refers to, for expr_bind. */
enum expr_ref_kind {
    EXPR_REF_POINT,  /* a point key (its current value) */
    EXPR_REF_WINDOW, /* a point key read by a window function: needs history */
    EXPR_REF_DEVICE, /* a device name (stale()) */
};

/* Point history for the window functions: a ring of fixed-width time buckets, so memory per key
 * is bounded (EXPR_HIST_BUCKETS buckets) whatever the window. */
#define EXPR_HIST_BUCKETS 240
struct expr_bucket {
    int64_t t0_ms;    /* start of the bucket (monotonic); 0 = empty */
    int64_t first_ms; /* time of the first sample */
    int64_t last_ms;  /* time of the last sample */
    double first, last, min, max, sum;
    uint32_t n;
};
struct expr_hist {
    int64_t width_ms; /* bucket width: the longest window / buckets, at least 1 s */
    unsigned head;    /* index of the newest bucket */
    struct expr_bucket b[EXPR_HIST_BUCKETS];
};

/* The current state of one bound input, filled by the caller before expr_eval. */
struct expr_input {
    double value;
    bool ok;                /* value is current (point state ok; for a device: not stale) */
    bool written;           /* the point was written at least once (age is meaningful) */
    int64_t last_mono_ms;   /* monotonic time of the last write */
    struct expr_hist *hist; /* NULL unless bound as EXPR_REF_WINDOW */
};

/* The evaluation context: inputs indexed by the slots expr_bind returned, and the clocks. */
struct expr_env {
    const struct expr_input *inputs;
    size_t ninputs;
    int64_t now_mono_ms;
    int64_t now_wall_ms;
    int local_min_of_day; /* local time, minutes since midnight */
    int local_weekday;    /* 1 = Monday .. 7 = Sunday */
};

struct expr;

/* Parses text. Returns the expression (free with expr_free) or NULL with err filled. Never crashes
 * on any input; nesting deeper than 64 is an error. */
struct expr *expr_parse(const char *text, struct expr_error *err);
void expr_free(struct expr *e);

/* Resolves every name: calls bind(ctx, kind, name, window_ms) once per reference and stores the
 * slot it returns (>= 0) for expr_eval; window_ms is the window for EXPR_REF_WINDOW, else 0.
 * A negative return aborts and is returned. */
int expr_bind(struct expr *e,
              int (*bind)(void *ctx, enum expr_ref_kind kind, const char *name, int64_t window_ms),
              void *ctx);
/* Evaluates a bound expression. */
struct expr_val expr_eval(const struct expr *e, const struct expr_env *env);
/* The slots the expression reads (after expr_bind), n of them; duplicates possible. */
const int *expr_slots(const struct expr *e, size_t *n);
/* The name of the i-th reference (same order as expr_slots). */
const char *expr_ref_name(const struct expr *e, size_t i);

/* Formats an error for a person: "column N: msg\n    TEXT\n    ^" with the caret under the
 * fault. Returns 0 or -ENOSPC when truncated. */
int expr_error_format(const char *text, const struct expr_error *err, char *buf, size_t len);

/* History: sets the bucket width for the longest window read (kept when already wider) and
 * records a sample at now_mono_ms. */
void expr_hist_init(struct expr_hist *h, int64_t max_window_ms);
void expr_hist_add(struct expr_hist *h, int64_t now_mono_ms, double value);

#endif
