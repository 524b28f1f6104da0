/* fuzz_expr: libFuzzer target for the alarm-expression parser, binder, evaluator and error
 * formatter. Every name binds to a slot whose input state (ok, written, value, history) is drawn
 * from the input's first bytes, so unknown values, windows and division by zero are explored. */
#include "alarm/expr.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SLOTS 16

struct fuzz_bind {
    size_t n;
    int64_t window_ms[FUZZ_SLOTS];
};

static int fuzz_bind_fn(void *ctx, enum expr_ref_kind kind, const char *name, int64_t window_ms)
{
    struct fuzz_bind *b = ctx;
    (void)kind;
    (void)name;
    if (b->n >= FUZZ_SLOTS)
        return -1; /* a negative return must abort the bind cleanly */
    b->window_ms[b->n] = window_ms;
    return (int)b->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint8_t mode = data[0], vsel = data[1], hsel = data[2];
    data += 3;
    size -= 3;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct expr_error err;
    struct expr *e = expr_parse(text, &err);
    if (!e) {
        char buf[512];
        (void)expr_error_format(text, &err, buf, sizeof(buf));
        (void)expr_error_format(text, &err, buf, 8); /* truncation path */
        free(text);
        return 0;
    }
    struct fuzz_bind b = {0};
    if (expr_bind(e, fuzz_bind_fn, &b) == 0) {
        static const double values[] = {0, 1, -1, 1e308, -1e308, 5e-324, 12.5, 100};
        struct expr_input in[FUZZ_SLOTS];
        struct expr_hist *hist = calloc(FUZZ_SLOTS, sizeof(*hist));
        if (!hist) {
            expr_free(e);
            free(text);
            return 0;
        }
        for (size_t i = 0; i < b.n; i++) {
            in[i] = (struct expr_input){
                .value = values[(vsel + i) % 8],
                .ok = (mode >> (i % 8)) & 1,
                .written = (hsel >> (i % 8)) & 1,
                .last_mono_ms = 1000 + (int64_t)i,
                .hist = NULL,
            };
            if (b.window_ms[i] > 0) {
                expr_hist_init(&hist[i], b.window_ms[i]);
                for (int k = 0; k < (hsel & 15); k++)
                    expr_hist_add(&hist[i], 1000 + k * 700, values[(vsel + k) % 8]);
                in[i].hist = &hist[i];
            }
        }
        struct expr_env env = {
            .inputs = in,
            .ninputs = b.n,
            .now_mono_ms = 1000 + (int64_t)(hsel & 15) * 700,
            .now_wall_ms = 1763700000000LL,
            .local_min_of_day = (mode * 7) % 1440,
            .local_weekday = 1 + vsel % 7,
        };
        struct expr_val v = expr_eval(e, &env);
        if (v.known && isnan(v.v) && (mode & 0x80))
            (void)v; /* NaN results are tolerated by the engine; nothing to assert here */
        size_t ns;
        const int *slots = expr_slots(e, &ns);
        for (size_t i = 0; i < ns; i++)
            if (slots[i] < 0 || (size_t)slots[i] >= b.n || !expr_ref_name(e, i))
                abort(); /* a slot the binder never returned */
        free(hist);
    }
    expr_free(e);
    free(text);
    return 0;
}
