/* bench_vebus_latency: time from a VE.Bus DC info frame arriving on the pty to its battery voltage
 * updating in the store, through the real vebus driver and runner. The bench plays the MK2 on the
 * pty's master side (answering at once, no 2400 baud pacing, so the driver polls back to back)
 * and stamps each DC frame with a new voltage; a watcher thread sees the store change.
 * The driver polls at its shortest interval (100 ms), so a sample costs about 0.1 s.
 * Usage: bench_vebus_latency [samples] [phases]. Prints p50/p99/max in microseconds. */
#include "core/conf.h"
#include "core/log.h"
#include "core/runner.h"
#include "core/store.h"
#include "core/util.h"
#include "drivers/vebus_proto.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 100000

struct bench {
    int master;
    unsigned phases;
    size_t want;
    atomic_bool stop;
    atomic_uint dc_seq;     /* sequence number of the last DC frame written */
    int64_t sent_ns[65536]; /* write time of DC frame k (k mod 65536) */
    struct store *store;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void reply(struct bench *b, uint8_t marker, const uint8_t *d, size_t n)
{
    uint8_t buf[VEBUS_FRAME_MAX];
    size_t len = vebus_build_marked(marker, d, n, buf, sizeof(buf));
    if (write(b->master, buf, len) != (ssize_t)len)
        perror("write");
}

static void answer(struct bench *b, const struct vebus_frame *f)
{
    if (f->marker != VEBUS_MARK_CMD || f->len < 1)
        return;
    uint8_t d[16] = {0};
    switch (f->data[0]) {
    case 'A':
        reply(b, 0xFF, (const uint8_t[]){'A', 1, 0}, 3);
        break;
    case 'V':
        reply(b, 0xFF, (const uint8_t[]){'V', 0x28, 0xDB, 0x11, 0, 0}, 6);
        break;
    case 'L':
        reply(b, 0xFF, (const uint8_t[]){'L', 1, 0, 0, 0}, 5);
        break;
    case 'S':
        reply(b, 0xFF, (const uint8_t[]){'S', 0x88}, 2);
        break;
    case 'F':
        if (f->len < 2)
            return;
        if (f->data[1] == 0) { /* DC: a new voltage every frame, 20.00 .. 29.99 V */
            unsigned k = atomic_load(&b->dc_seq) + 1;
            d[4] = 0x0C;
            put16(d + 5, 2000 + k % 1000);
            d[13] = 136;
            b->sent_ns[k % 65536] = now_ns();
            reply(b, 0x20, d, 14);
            atomic_store(&b->dc_seq, k);
        } else if (f->data[1] <= b->phases) {
            d[0] = d[1] = 1;
            d[3] = 9;
            d[4] = f->data[1] == 1 ? (uint8_t)(7 + b->phases) : (uint8_t)(9 - f->data[1]);
            put16(d + 5, 23000);
            put16(d + 7, 300);
            put16(d + 9, 23000);
            put16(d + 11, 100);
            d[13] = 195;
            reply(b, 0x20, d, 14);
        } else if (f->data[1] == 5) {
            uint8_t c[12] = {1, 0, 0, 0, 0x10, 60, 0, 0xF4, 1, 160, 0, 0x30};
            reply(b, 0x41, c, sizeof(c));
        }
        break;
    case 'W':
        if (f->len >= 3 && f->data[1] == 0x36) {
            static const uint16_t sc[] = {0x7F9C, 0x8064, 0x7F9C, 0x7F9C, 0x7F9C, 0x8064, 0x7F9C,
                                          0x7857, 0x7C2F, 0x8064, 4,      1,      2,      0x7F38};
            uint8_t id = f->data[2];
            if (id >= sizeof(sc) / sizeof(sc[0])) {
                reply(b, 0xFF, (const uint8_t[]){'W', 0x90}, 2);
                return;
            }
            uint8_t r[7] = {'W', 0x8E, 0, 0, 0x8F, 0, 0};
            put16(r + 2, sc[id]);
            put16(r + 5, id == 7 ? 0x0100 : id >= 10 && id <= 12 ? 0x8000 : 0);
            reply(b, 0xFF, r, sizeof(r));
        } else if (f->len >= 3 && f->data[1] == 0x30) {
            reply(b, 0xFF, (const uint8_t[]){'W', 0x85, 160, 0}, 4);
        } else if (f->len >= 2 && f->data[1] == 0x0E) {
            reply(b, 0xFF, (const uint8_t[]){'W', 0x94, 9, 1}, 4);
        }
        break;
    default:
        break;
    }
}

static void *mk2_thread(void *arg)
{
    struct bench *b = arg;
    struct vebus_framer fr;
    vebus_framer_init(&fr);
    uint8_t buf[256];
    while (!atomic_load(&b->stop)) {
        struct pollfd pf = {.fd = b->master, .events = POLLIN};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t n = read(b->master, buf, sizeof(buf));
        if (n <= 0) {
            util_sleep_ms(10);
            continue;
        }
        size_t off = 0;
        for (;;) {
            enum vebus_event ev;
            off += vebus_framer_feed(&fr, buf + off, (size_t)n - off, &ev);
            if (ev == VEBUS_EV_NONE)
                break;
            if (ev == VEBUS_EV_FRAME)
                answer(b, vebus_framer_frame(&fr));
        }
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static struct bench b;
    long samples = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    b.phases = argc > 2 && strcmp(argv[2], "3") == 0 ? 3 : 1;
    if (samples < 10 || samples > MAX_SAMPLES)
        samples = 2000;
    log_init("bench_vebus", LOG_WARNING, false);
    int slave;
    char name[64];
    if (openpty(&b.master, &slave, name, NULL, NULL) != 0) {
        perror("openpty");
        return 1;
    }
    struct termios tio;
    tcgetattr(slave, &tio);
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
    char text[256], err[256];
    snprintf(text, sizeof(text),
             "[device multi]\ndriver = vebus\nport = %s\ninterval = 100ms\ntimeout = 2s\n", name);
    struct conf *conf;
    if (conf_parse_string("bench", text, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    b.store = store_new(4096, 16);
    pthread_t th;
    pthread_create(&th, NULL, mk2_thread, &b);
    struct runner *r = runner_start(b.store, &conf->devices[0], NULL);
    if (!r)
        return 1;
    static int64_t lat[MAX_SAMPLES];
    size_t n = 0;
    double last = NAN;
    /* one sample per polling round (100 ms, the shortest interval the driver accepts) */
    int64_t deadline = now_ns() + (samples / 5 + 10) * 1000000000LL;
    while (n < (size_t)samples && now_ns() < deadline) {
        struct point pt;
        if (store_get(b.store, "multi/Dc/0/Voltage", &pt) == 0 && pt.state == POINT_OK &&
            pt.value != last) {
            int64_t t = now_ns();
            unsigned k = atomic_load(&b.dc_seq);
            /* the value names the frame: 20.00 + (k mod 1000) / 100 */
            unsigned want = (unsigned)lround(pt.value * 100) - 2000;
            if (!isnan(last) && k % 1000 == want)
                lat[n++] = t - b.sent_ns[k % 65536];
            last = pt.value;
        }
        struct timespec ts = {0, 20000}; /* 20 µs */
        nanosleep(&ts, NULL);
    }
    runner_stop(r);
    atomic_store(&b.stop, true);
    pthread_join(th, NULL);
    if (n == 0) {
        fprintf(stderr, "no samples\n");
        return 1;
    }
    qsort(lat, n, sizeof(lat[0]), cmp_i64);
    printf("vebus frame → store (%u phase%s, %zu samples): p50 %.0f us, p99 %.0f us, max %.0f us\n",
           b.phases, b.phases == 1 ? "" : "s", n, lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3,
           lat[n - 1] / 1e3);
    store_free(b.store);
    conf_free(conf);
    close(slave);
    close(b.master);
    return 0;
}
