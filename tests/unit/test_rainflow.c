/* test_rainflow: ASTM E1049-85 rainflow counting on the standard's example and the vectors of
 * battery-and-alarms.md §3.1 (from the Python `rainflow` package's tests), streaming with a
 * hysteresis, the bins, and the bounded stack. */
#include "battery/rainflow.h"
#include "test.h"

#include <string.h>

struct cycles {
    double range[64], mean[64], count[64];
    size_t n;
};

static void collect(void *ctx, double range, double mean, double count)
{
    struct cycles *c = ctx;
    if (c->n < 64) {
        c->range[c->n] = range;
        c->mean[c->n] = mean;
        c->count[c->n] = count;
        c->n++;
    }
}

/* The ASTM series, pushed as reversals: emission order (3, half) (4, half) (4, full) then the
 * residue (8, half) (9, half) (8, half) (6, half); totals {3: .5, 4: 1.5, 6: .5, 8: 1, 9: .5}. */
static void test_astm_example(void)
{
    static const double series[] = {-2, 1, -3, 5, -1, 3, -4, 4, -2};
    static const double exp_range[] = {3, 4, 4, 8, 9, 8, 6};
    static const double exp_count[] = {0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 0.5};
    struct rainflow rf;
    rainflow_init(&rf, 0);
    struct cycles c = {0};
    for (size_t k = 0; k < sizeof(series) / sizeof(series[0]); k++)
        rainflow_push_reversal(&rf, series[k], collect, &c);
    rainflow_residue(&rf, collect, &c);
    TEST_EQ_LONG(c.n, 7);
    for (size_t k = 0; k < 7 && k < c.n; k++) {
        TEST_NEAR(c.range[k], exp_range[k], 1e-12);
        TEST_NEAR(c.count[k], exp_count[k], 1e-12);
    }
    double total[10] = {0};
    for (size_t k = 0; k < c.n; k++)
        total[(int)c.range[k]] += c.count[k];
    TEST_NEAR(total[3], 0.5, 1e-12);
    TEST_NEAR(total[4], 1.5, 1e-12);
    TEST_NEAR(total[6], 0.5, 1e-12);
    TEST_NEAR(total[8], 1.0, 1e-12);
    TEST_NEAR(total[9], 0.5, 1e-12);
}

/* The padded series through the streaming sampler (first and last points are reversals, as in
 * rainflow v3): counts [.5,.5,.5,1,.5,.5,.5,.5,.5] with means [-1,-.5,-1,1,1,.5,0,1,-1] in the
 * order of test_order_of_remaining_halves (the extra range-2 halves of the 0 endpoints come
 * first and last). */
static void test_padded_series_streaming(void)
{
    static const double series[] = {0, -2, 1, -3, 5, -1, 3, -4, 4, -2, 0};
    static const double exp_count[] = {.5, .5, .5, 1, .5, .5, .5, .5, .5};
    static const double exp_mean[] = {-1, -.5, -1, 1, 1, .5, 0, 1, -1};
    struct rainflow rf;
    rainflow_init(&rf, 0);
    struct cycles c = {0};
    for (size_t k = 0; k < sizeof(series) / sizeof(series[0]); k++)
        rainflow_sample(&rf, series[k], collect, &c);
    rainflow_residue(&rf, collect, &c);
    TEST_EQ_LONG(c.n, 9);
    for (size_t k = 0; k < 9 && k < c.n; k++) {
        TEST_NEAR(c.count[k], exp_count[k], 1e-12);
        TEST_NEAR(c.mean[k], exp_mean[k], 1e-12);
    }
}

/* A sampled SoC series: noise below the hysteresis makes no cycles; each daily 80 → 40 → 80
 * swing is one 40 % cycle in the 30-40 % bin. */
static void test_soc_series_bins(void)
{
    struct rainflow rf;
    rainflow_init(&rf, 1.0);
    double soc = 80;
    for (int day = 0; day < 10; day++) {
        for (int k = 0; k < 400; k++) {
            soc -= 0.1;
            rainflow_sample(&rf, 100 - soc + ((k % 2) ? 0.3 : 0), NULL, NULL);
        }
        for (int k = 0; k < 400; k++) {
            soc += 0.1;
            rainflow_sample(&rf, 100 - soc + ((k % 2) ? 0.3 : 0), NULL, NULL);
        }
    }
    double h[RAINFLOW_BINS];
    rainflow_histogram(&rf, h);
    double total = 0;
    for (int k = 0; k < RAINFLOW_BINS; k++)
        total += h[k];
    TEST_NEAR(h[3] + h[4], total, 1e-9); /* 40.x % ranges only */
    TEST_CHECK(total >= 9.5 && total <= 10.5);
    TEST_CHECK(rf.n <= 4); /* the residue stays short */
    TEST_EQ_LONG(rainflow_bin(0), 0);
    TEST_EQ_LONG(rainflow_bin(10), 0);
    TEST_EQ_LONG(rainflow_bin(10.5), 1);
    TEST_EQ_LONG(rainflow_bin(100), 9);
    TEST_EQ_LONG(rainflow_bin(150), 9);
}

/* Growing amplitudes would grow the stack without bound; the bound holds. */
static void test_stack_bound(void)
{
    struct rainflow rf;
    rainflow_init(&rf, 0);
    struct cycles c = {0};
    for (int k = 0; k < 200; k++) /* decreasing amplitude: never closes */
        rainflow_push_reversal(&rf, (k % 2 ? 1 : -1) * (1000.0 - k), collect, &c);
    TEST_CHECK(rf.n <= RAINFLOW_STACK_MAX);
    TEST_CHECK(c.n > 0);
}

int main(void)
{
    TEST_RUN(test_astm_example);
    TEST_RUN(test_padded_series_streaming);
    TEST_RUN(test_soc_series_bins);
    TEST_RUN(test_stack_bound);
    return test_summary();
}
