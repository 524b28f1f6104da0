/* test_runner: driver commands through runner_command against a fake driver: each caller gets
 * the result of its own command, also after a command that timed out while the driver ran it
 * (issue 14), and under concurrent callers; withdrawn commands never run; the device's thread
 * is the only one that calls the driver. */
#include "core/driver.h"
#include "core/log.h"
#include "core/runner.h"
#include "core/store.h"
#include "core/util.h"
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#define FAKE_LOG_MAX 512
#define DEADLINE_MS 10000

/* What the fake driver did, and the gates the test holds it at. One fake device per test. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool hold_slow;      /* the "slow" command waits while this is set */
    bool slow_started;   /* the driver thread is in the "slow" command */
    bool hold_poll;      /* poll waits while this is set */
    bool poll_held;      /* the driver thread waits in poll */
    pthread_t driver_th; /* the thread that called open */
    bool wrong_thread;   /* a driver call came from another thread */
    char log[FAKE_LOG_MAX][48];
    size_t nlog;
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void fake_reset(void)
{
    pthread_mutex_lock(&fake.lock);
    fake.hold_slow = fake.slow_started = fake.hold_poll = fake.poll_held = false;
    fake.wrong_thread = false;
    fake.nlog = 0;
    pthread_mutex_unlock(&fake.lock);
}

static void fake_set(bool *flag, bool v)
{
    pthread_mutex_lock(&fake.lock);
    *flag = v;
    pthread_cond_broadcast(&fake.cond);
    pthread_mutex_unlock(&fake.lock);
}

/* Waits (with a deadline) until *flag is true: false when it never became so. */
static bool fake_wait_for(const bool *flag)
{
    struct timespec ts;
    util_mono_deadline(&ts, DEADLINE_MS); /* fake.cond runs on CLOCK_MONOTONIC (main) */
    pthread_mutex_lock(&fake.lock);
    while (!*flag)
        if (pthread_cond_timedwait(&fake.cond, &fake.lock, &ts) == ETIMEDOUT)
            break;
    bool ok = *flag;
    pthread_mutex_unlock(&fake.lock);
    return ok;
}

static bool fake_wrong_thread(void)
{
    pthread_mutex_lock(&fake.lock);
    bool w = fake.wrong_thread;
    pthread_mutex_unlock(&fake.lock);
    return w;
}

/* Called with fake.lock held. */
static void fake_check_thread(void)
{
    if (!pthread_equal(pthread_self(), fake.driver_th))
        fake.wrong_thread = true;
}

static int fake_open(struct drv_instance *di)
{
    (void)di;
    pthread_mutex_lock(&fake.lock);
    fake.driver_th = pthread_self();
    pthread_mutex_unlock(&fake.lock);
    return 0;
}

static int fake_poll(struct drv_instance *di)
{
    (void)di;
    pthread_mutex_lock(&fake.lock);
    fake_check_thread();
    while (fake.hold_poll && !drv_stopping(di)) {
        fake.poll_held = true;
        pthread_cond_broadcast(&fake.cond);
        pthread_cond_wait(&fake.cond, &fake.lock);
    }
    pthread_mutex_unlock(&fake.lock);
    util_sleep_ms(1);
    return 0;
}

static void fake_close(struct drv_instance *di)
{
    (void)di;
}

/* Logs "name arg"; "slow" waits at its gate and fails with -EIO; "echo N" returns -N so that the
 * caller can tell its own result from another's; anything else returns 0. */
static int fake_command(struct drv_instance *di, const char *name, const char *arg)
{
    (void)di;
    pthread_mutex_lock(&fake.lock);
    fake_check_thread();
    if (fake.nlog < FAKE_LOG_MAX)
        snprintf(fake.log[fake.nlog++], sizeof(fake.log[0]), "%s %s", name, arg);
    int rc = 0;
    if (strcmp(name, "slow") == 0) {
        fake.slow_started = true;
        pthread_cond_broadcast(&fake.cond);
        while (fake.hold_slow)
            pthread_cond_wait(&fake.cond, &fake.lock);
        rc = -EIO;
    } else if (strcmp(name, "echo") == 0) {
        long n = 0;
        rc = util_parse_long(arg, 10, 1, 4000, &n) == 0 ? -(int)n : -EINVAL;
    }
    pthread_mutex_unlock(&fake.lock);
    return rc;
}

static const struct driver fake_driver = {
    .name = "fake",
    .description = "test_runner's fake driver",
    .open = fake_open,
    .poll = fake_poll,
    .close = fake_close,
    .command = fake_command,
};

struct fixture {
    struct store *store;
    struct runner *runner;
};

static void fixture_start(struct fixture *f)
{
    fake_reset();
    f->store = store_new(64, 4);
    char name[] = "dev";
    struct conf_device cd = {.name = name, .drv = &fake_driver, .instance = -1};
    f->runner = runner_start(f->store, &cd, NULL);
    TEST_CHECK(f->runner != NULL);
}

static void fixture_stop(struct fixture *f)
{
    fake_set(&fake.hold_slow, false);
    fake_set(&fake.hold_poll, false);
    runner_stop(f->runner);
    store_free(f->store);
}

struct call {
    struct runner *r;
    const char *name;
    char arg[16];
    int timeout_ms;
    int rc;
    pthread_t th;
};

static void *call_thread(void *p)
{
    struct call *c = p;
    c->rc = runner_command(c->r, c->name, c->arg, c->timeout_ms);
    return NULL;
}

static void call_start(struct call *c, struct runner *r, const char *name, const char *arg,
                       int timeout_ms)
{
    *c = (struct call){.r = r, .name = name, .timeout_ms = timeout_ms};
    util_strlcpy(c->arg, arg, sizeof(c->arg));
    if (pthread_create(&c->th, NULL, call_thread, c) != 0)
        abort();
}

static int call_join(struct call *c)
{
    pthread_join(c->th, NULL);
    return c->rc;
}

/* The driver's log as one line, "slow |fast " etc. */
static void fake_log_line(char *buf, size_t len)
{
    buf[0] = '\0';
    pthread_mutex_lock(&fake.lock);
    for (size_t i = 0; i < fake.nlog; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", i ? "|" : "", fake.log[i]);
    }
    pthread_mutex_unlock(&fake.lock);
}

/* Issue 14: a command that timed out while the driver ran it finished later, and its result was
 * taken for the next command's, which then never ran at all. */
static void test_late_result_is_not_the_next_commands(void)
{
    struct fixture f;
    fixture_start(&f);
    fake_set(&fake.hold_slow, true);
    struct call slow, fast;
    call_start(&slow, f.runner, "slow", "", 200);
    TEST_CHECK(fake_wait_for(&fake.slow_started));
    TEST_EQ_LONG(call_join(&slow), -ETIMEDOUT); /* the driver is still in it */
    call_start(&fast, f.runner, "fast", "", DEADLINE_MS);
    util_sleep_ms(100); /* lets "fast" be submitted before "slow" ends (not needed to pass) */
    fake_set(&fake.hold_slow, false);
    TEST_EQ_LONG(call_join(&fast), 0); /* its own result, not slow's -EIO */
    char line[256];
    fake_log_line(line, sizeof(line));
    TEST_STREQ(line, "slow |fast ");
    TEST_EQ_LONG(runner_command(f.runner, "echo", "7", DEADLINE_MS), -7);
    TEST_CHECK(!fake_wrong_thread());
    fixture_stop(&f);
}

/* While a command runs past another caller's whole timeout, that caller gets -EBUSY and its
 * command is never sent. */
static void test_busy_while_another_runs(void)
{
    struct fixture f;
    fixture_start(&f);
    fake_set(&fake.hold_slow, true);
    struct call slow;
    call_start(&slow, f.runner, "slow", "", DEADLINE_MS);
    TEST_CHECK(fake_wait_for(&fake.slow_started));
    TEST_EQ_LONG(runner_command(f.runner, "other", "", 100), -EBUSY);
    fake_set(&fake.hold_slow, false);
    TEST_EQ_LONG(call_join(&slow), -EIO);
    char line[256];
    fake_log_line(line, sizeof(line));
    TEST_STREQ(line, "slow ");
    fixture_stop(&f);
}

/* A command that timed out before the driver took it is withdrawn: it never runs later. */
static void test_withdrawn_command_never_runs(void)
{
    struct fixture f;
    fixture_start(&f);
    fake_set(&fake.hold_poll, true);
    TEST_CHECK(fake_wait_for(&fake.poll_held));
    TEST_EQ_LONG(runner_command(f.runner, "late", "", 100), -ETIMEDOUT);
    fake_set(&fake.hold_poll, false);
    TEST_EQ_LONG(runner_command(f.runner, "echo", "3", DEADLINE_MS), -3);
    char line[256];
    fake_log_line(line, sizeof(line));
    TEST_STREQ(line, "echo 3");
    fixture_stop(&f);
}

/* 8 threads × 40 commands at once (the HTTP route and the Modbus writer can both send): every
 * caller gets its own command's result and every command runs exactly once, on the device's
 * thread. */
static void test_concurrent_callers_get_their_own_results(void)
{
    enum { THREADS = 8, EACH = 40 };
    struct fixture f;
    fixture_start(&f);
    struct call c[THREADS];
    int wrong = 0;
    for (int round = 0; round < EACH; round++) {
        for (int t = 0; t < THREADS; t++) {
            char arg[16];
            snprintf(arg, sizeof(arg), "%d", 1 + round * THREADS + t);
            call_start(&c[t], f.runner, "echo", arg, DEADLINE_MS);
        }
        for (int t = 0; t < THREADS; t++)
            if (call_join(&c[t]) != -(1 + round * THREADS + t))
                wrong++;
    }
    TEST_EQ_LONG(wrong, 0);
    pthread_mutex_lock(&fake.lock);
    size_t nlog = fake.nlog;
    pthread_mutex_unlock(&fake.lock);
    TEST_EQ_LONG(nlog, THREADS * EACH);
    TEST_CHECK(!fake_wrong_thread());
    fixture_stop(&f);
}

/* A driver without commands, and names too long for the slot. */
static void test_unsupported_and_too_long(void)
{
    static const struct driver mute = {
        .name = "mute", .open = fake_open, .poll = fake_poll, .close = fake_close};
    fake_reset();
    struct store *st = store_new(64, 4);
    char name[] = "m";
    struct conf_device cd = {.name = name, .drv = &mute, .instance = -1};
    struct runner *r = runner_start(st, &cd, NULL);
    TEST_EQ_LONG(runner_command(r, "mode", "on", 100), -EOPNOTSUPP);
    runner_stop(r);
    struct fixture f;
    fixture_start(&f);
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    TEST_EQ_LONG(runner_command(f.runner, big, "", 100), -E2BIG);
    TEST_EQ_LONG(runner_command(f.runner, "echo", big, 100), -E2BIG);
    fixture_stop(&f);
    store_free(st);
}

int main(void)
{
    log_init("test_runner", LOG_WARNING, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fake.cond, &ca);
    pthread_condattr_destroy(&ca);
    TEST_RUN(test_late_result_is_not_the_next_commands);
    TEST_RUN(test_busy_while_another_runs);
    TEST_RUN(test_withdrawn_command_never_runs);
    TEST_RUN(test_concurrent_callers_get_their_own_results);
    TEST_RUN(test_unsupported_and_too_long);
    return test_summary();
}
