/* test_sdnotify: the sd_notify messages and the watchdog pace, received on a real NOTIFY_SOCKET. */
#include "core/sdnotify.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct notify_rig {
    int fd;
    char path[108];
};

/* A datagram socket like systemd's, and NOTIFY_SOCKET pointing at it. */
static void rig_open(struct notify_rig *r)
{
    snprintf(r->path, sizeof(r->path), "/tmp/sitewatch-notify-%ld.sock", (long)getpid());
    unlink(r->path);
    r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    TEST_CHECK(r->fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, r->path, strlen(r->path) + 1);
    TEST_EQ_LONG(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    TEST_EQ_LONG(setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    TEST_EQ_LONG(setenv("NOTIFY_SOCKET", r->path, 1), 0);
}

/* The next message, "" when none arrived within 200 ms. */
static void rig_recv(struct notify_rig *r, char *buf, size_t len)
{
    ssize_t n = recv(r->fd, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
}

static void rig_close(struct notify_rig *r)
{
    close(r->fd);
    unlink(r->path);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

static void test_life_cycle(void)
{
    struct notify_rig r;
    char msg[256];
    rig_open(&r);
    TEST_EQ_LONG(sdnotify_ready(3), 0);
    rig_recv(&r, msg, sizeof(msg));
    TEST_STREQ(msg, "READY=1\nSTATUS=running, 3 devices");
    TEST_EQ_LONG(sdnotify_ready(1), 0); /* not "1 devices" */
    rig_recv(&r, msg, sizeof(msg));
    TEST_STREQ(msg, "READY=1\nSTATUS=running, 1 device");
    TEST_EQ_LONG(sdnotify_reloading(), 0);
    rig_recv(&r, msg, sizeof(msg));
    TEST_CHECK(strncmp(msg, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
    char *end;
    long long usec = strtoll(msg + 27, &end, 10);
    TEST_CHECK(usec > 0 && *end == '\n');
    TEST_EQ_LONG(sdnotify_stopping(), 0);
    rig_recv(&r, msg, sizeof(msg));
    TEST_STREQ(msg, "STOPPING=1\nSTATUS=stopping");
    rig_close(&r);
}

static void test_watchdog_pace(void)
{
    struct notify_rig r;
    struct sdnotify n;
    char msg[256];
    rig_open(&r);
    TEST_EQ_LONG(setenv("WATCHDOG_USEC", "1000000", 1), 0);
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    TEST_EQ_LONG(setenv("WATCHDOG_PID", pid, 1), 0);
    sdnotify_init(&n);
    TEST_EQ_LONG(n.watchdog_interval_ms, 500); /* half of WatchdogSec= */
    sdnotify_watchdog(&n, 10000);
    rig_recv(&r, msg, sizeof(msg));
    TEST_STREQ(msg, "WATCHDOG=1");
    sdnotify_watchdog(&n, 10499); /* too early: nothing */
    rig_recv(&r, msg, sizeof(msg));
    TEST_STREQ(msg, "");
    sdnotify_watchdog(&n, 10500);
    rig_recv(&r, msg, sizeof(msg));
    TEST_STREQ(msg, "WATCHDOG=1");
    rig_close(&r);
}

static void test_not_for_us(void)
{
    struct notify_rig r;
    struct sdnotify n;
    char msg[256];
    rig_open(&r);
    /* The watchdog was asked of another process (WATCHDOG_PID): this one stays silent. */
    TEST_EQ_LONG(setenv("WATCHDOG_USEC", "1000000", 1), 0);
    TEST_EQ_LONG(setenv("WATCHDOG_PID", "1", 1), 0);
    sdnotify_init(&n);
    TEST_EQ_LONG(n.watchdog_interval_ms, 0);
    sdnotify_watchdog(&n, 10000);
    rig_recv(&r, msg, sizeof(msg));
    TEST_STREQ(msg, "");
    rig_close(&r);
    /* Not under systemd at all: every call is a successful no-op. */
    TEST_EQ_LONG(sdnotify_ready(1), 0);
    TEST_EQ_LONG(sdnotify_stopping(), 0);
}

int main(void)
{
    TEST_RUN(test_life_cycle);
    TEST_RUN(test_watchdog_pace);
    TEST_RUN(test_not_for_us);
    return test_summary();
}
