/* harness: the unit-test runner behind tests/unit/test.h. */
#include "test.h"

#include <errno.h>
#include <stdlib.h>

struct test_state test_state;

void test_run(const char *name, void (*fn)(void))
{
    test_state.checks_failed = 0;
    fn();
    if (test_state.checks_failed == 0) {
        test_state.passed++;
        printf("ok   %s\n", name);
    } else {
        test_state.failed++;
        printf("FAIL %s (%d checks)\n", name, test_state.checks_failed);
    }
    fflush(stdout);
}

int test_summary(void)
{
    printf("%d passed, %d failed\n", test_state.passed, test_state.failed);
    return test_state.failed ? 1 : 0;
}

unsigned char *test_read_testdata(const char *rel, size_t *len)
{
    const char *root = getenv("SITEWATCH_TESTDATA");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root && *root ? root : "../shared/testdata", rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("cannot open test data %s: %s\n", path, strerror(errno));
        exit(2);
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    if (!buf)
        abort();
    *len = n;
    return buf;
}
