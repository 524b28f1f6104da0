/* rainflow: ASTM E1049-85 §5.4.4 rainflow counting, streaming (see rainflow.h). */
#include "rainflow.h"

#include <math.h>
#include <string.h>

void rainflow_init(struct rainflow *rf, double hysteresis)
{
    memset(rf, 0, sizeof(*rf));
    rf->hysteresis = hysteresis;
}

size_t rainflow_bin(double range)
{
    /* Right-edge binning as `rainflow.count_cycles(binsize=10)` (v3): ceil(range/10) - 1. */
    double b = ceil(range / 10.0) - 1.0;
    if (b < 0)
        b = 0;
    if (b > RAINFLOW_BINS - 1)
        b = RAINFLOW_BINS - 1;
    return (size_t)b;
}

static void rainflow_out(struct rainflow *rf, double a, double b, double count,
                         rainflow_emit_fn emit, void *ctx)
{
    double range = fabs(a - b);
    rf->bins[rainflow_bin(range)] += count;
    if (emit)
        emit(ctx, range, (a + b) / 2.0, count);
}

void rainflow_push_reversal(struct rainflow *rf, double x, rainflow_emit_fn emit, void *ctx)
{
    if (rf->n == RAINFLOW_STACK_MAX) {
        /* Cannot happen with a real series (the residue shrinks in amplitude), but a bound is a
         * bound: the oldest range leaves as a half cycle, as it would at the end of the data. */
        rainflow_out(rf, rf->stack[0], rf->stack[1], 0.5, emit, ctx);
        memmove(rf->stack, rf->stack + 1, (rf->n - 1) * sizeof(rf->stack[0]));
        rf->n--;
    }
    rf->stack[rf->n++] = x;
    while (rf->n >= 3) {
        double xr = fabs(rf->stack[rf->n - 1] - rf->stack[rf->n - 2]); /* most recent range */
        double yr = fabs(rf->stack[rf->n - 2] - rf->stack[rf->n - 3]); /* previous range */
        if (xr < yr)
            break;
        if (rf->n == 3) {
            /* Y holds the starting point: a half cycle, and the start point goes. */
            rainflow_out(rf, rf->stack[0], rf->stack[1], 0.5, emit, ctx);
            rf->stack[0] = rf->stack[1];
            rf->stack[1] = rf->stack[2];
            rf->n = 2;
        } else {
            rainflow_out(rf, rf->stack[rf->n - 3], rf->stack[rf->n - 2], 1.0, emit, ctx);
            rf->stack[rf->n - 3] = rf->stack[rf->n - 1];
            rf->n -= 2;
        }
    }
}

void rainflow_sample(struct rainflow *rf, double x, rainflow_emit_fn emit, void *ctx)
{
    if (isnan(x))
        return;
    if (!rf->started) {
        /* The first point is always a reversal (rainflow v3). */
        rf->started = true;
        rf->dir = 0;
        rf->extreme = x;
        rainflow_push_reversal(rf, x, emit, ctx);
        return;
    }
    if (rf->dir == 0) {
        double first = rf->stack[rf->n - 1];
        if (fabs(x - first) >= rf->hysteresis && x != first) {
            rf->dir = x > first ? 1 : -1;
            rf->extreme = x;
        }
        return;
    }
    if ((rf->dir > 0 && x > rf->extreme) || (rf->dir < 0 && x < rf->extreme)) {
        rf->extreme = x;
        return;
    }
    double back = fabs(rf->extreme - x);
    if (back > 0 && back >= rf->hysteresis) {
        rainflow_push_reversal(rf, rf->extreme, emit, ctx);
        rf->dir = -rf->dir;
        rf->extreme = x;
    }
}

void rainflow_residue(const struct rainflow *rf, rainflow_emit_fn emit, void *ctx)
{
    for (size_t k = 0; k + 1 < rf->n; k++)
        emit(ctx, fabs(rf->stack[k] - rf->stack[k + 1]), (rf->stack[k] + rf->stack[k + 1]) / 2.0,
             0.5);
    if (rf->started && rf->dir != 0 && rf->n > 0 && rf->extreme != rf->stack[rf->n - 1])
        emit(ctx, fabs(rf->extreme - rf->stack[rf->n - 1]),
             (rf->extreme + rf->stack[rf->n - 1]) / 2.0, 0.5);
}

static void rainflow_hist_emit(void *ctx, double range, double mean, double count)
{
    double *out = ctx;
    (void)mean;
    out[rainflow_bin(range)] += count;
}

void rainflow_histogram(const struct rainflow *rf, double out[RAINFLOW_BINS])
{
    memcpy(out, rf->bins, sizeof(rf->bins));
    rainflow_residue(rf, rainflow_hist_emit, out);
}
