/* test: a minimal unit-test harness. Each test is a function; a failed check fails it with
 * file:line; test_summary() prints "N passed, N failed" and returns the exit code. */
#ifndef SITEWATCH_TEST_H
#define SITEWATCH_TEST_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_state {
    int passed;
    int failed;
    int checks_failed; /* in the current test */
};

extern struct test_state test_state;

#define TEST_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_state.checks_failed++;                                                            \
            printf("    %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                    \
        }                                                                                          \
    } while (0)

#define TEST_EQ_LONG(a, b)                                                                         \
    do {                                                                                           \
        long test_a_ = (long)(a), test_b_ = (long)(b);                                             \
        if (test_a_ != test_b_) {                                                                  \
            test_state.checks_failed++;                                                            \
            printf("    %s:%d: %s == %ld, expected %s == %ld\n", __FILE__, __LINE__, #a, test_a_,  \
                   #b, test_b_);                                                                   \
        }                                                                                          \
    } while (0)

#define TEST_NEAR(a, b, eps)                                                                       \
    do {                                                                                           \
        double test_a_ = (double)(a), test_b_ = (double)(b);                                       \
        if (!(fabs(test_a_ - test_b_) <= (eps))) {                                                 \
            test_state.checks_failed++;                                                            \
            printf("    %s:%d: %s == %.9g, expected %.9g\n", __FILE__, __LINE__, #a, test_a_,      \
                   test_b_);                                                                       \
        }                                                                                          \
    } while (0)

#define TEST_STREQ(a, b)                                                                           \
    do {                                                                                           \
        const char *test_a_ = (a), *test_b_ = (b);                                                 \
        if (!test_a_ || !test_b_ || strcmp(test_a_, test_b_) != 0) {                               \
            test_state.checks_failed++;                                                            \
            printf("    %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,           \
                   test_a_ ? test_a_ : "(null)", test_b_ ? test_b_ : "(null)");                    \
        }                                                                                          \
    } while (0)

#define TEST_RUN(fn) test_run(#fn, fn)

void test_run(const char *name, void (*fn)(void));
int test_summary(void);

/* Reads a file of ../shared/testdata (or $SITEWATCH_TESTDATA) into a malloc'd buffer; aborts the
 * test binary when it is missing, because a missing capture must fail loudly. */
unsigned char *test_read_testdata(const char *rel, size_t *len);

#endif
