/* mb_load: a libmodbus Modbus-TCP client for the integration tests and the benchmark.
 *   mb_load read  HOST PORT UNIT START QTY [FC]   prints the registers, or "exception 0xNN"
 *   mb_load write HOST PORT UNIT REG VALUE         prints "ok", or "exception 0xNN"
 *   mb_load load  HOST PORT UNIT START QTY CLIENTS SECONDS
 *       CLIENTS connections (one thread each) read QTY registers at START in a loop; prints
 *       "clients=N reads=N failed=N reads_per_s=N". A failed read is an error reply or a timeout
 *       (libmodbus' 0.5 s response timeout); the connection is reopened after one. */
#include <errno.h>
#include <modbus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mbl_conf {
    const char *host;
    const char *port;
    int unit, start, qty;
    double seconds;
    atomic_long reads, failed, connect_failed;
};

static long mbl_num(const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "mb_load: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static double mbl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static modbus_t *mbl_connect(const char *host, const char *port, int unit)
{
    modbus_t *ctx = modbus_new_tcp_pi(host, port);
    if (!ctx)
        return NULL;
    modbus_set_slave(ctx, unit);
    if (modbus_connect(ctx) != 0) {
        modbus_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Prints the failure of the last call: a Modbus exception code, or the errno text. */
static int mbl_fail(void)
{
    if (errno > MODBUS_ENOBASE && errno < MODBUS_ENOBASE + 64)
        printf("exception 0x%02X\n", errno - MODBUS_ENOBASE);
    else
        printf("error %s\n", modbus_strerror(errno));
    return 1;
}

static void *mbl_worker(void *arg)
{
    struct mbl_conf *c = arg;
    uint16_t regs[MODBUS_MAX_READ_REGISTERS];
    double end = mbl_now() + c->seconds;
    modbus_t *ctx = NULL;
    while (mbl_now() < end) {
        if (!ctx && !(ctx = mbl_connect(c->host, c->port, c->unit))) {
            atomic_fetch_add(&c->connect_failed, 1);
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (modbus_read_registers(ctx, c->start, c->qty, regs) == c->qty) {
            atomic_fetch_add(&c->reads, 1);
        } else {
            atomic_fetch_add(&c->failed, 1);
            modbus_close(ctx);
            modbus_free(ctx);
            ctx = NULL;
        }
    }
    if (ctx) {
        modbus_close(ctx);
        modbus_free(ctx);
    }
    return NULL;
}

static int mbl_load(struct mbl_conf *c, int clients)
{
    pthread_t *t = calloc((size_t)clients, sizeof(*t));
    if (!t)
        return 2;
    double t0 = mbl_now();
    int started = 0;
    for (; started < clients; started++)
        if (pthread_create(&t[started], NULL, mbl_worker, c) != 0)
            break;
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    double dt = mbl_now() - t0;
    free(t);
    printf("clients=%d reads=%ld failed=%ld connect_failed=%ld reads_per_s=%.0f\n", started,
           atomic_load(&c->reads), atomic_load(&c->failed), atomic_load(&c->connect_failed),
           atomic_load(&c->reads) / dt);
    return started == clients ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: mb_load read|write|load HOST PORT UNIT ...\n");
        return 2;
    }
    struct mbl_conf c = {.host = argv[2], .port = argv[3], .unit = (int)mbl_num(argv[4], 0, 255)};
    if (strcmp(argv[1], "load") == 0 && argc == 9) {
        c.start = (int)mbl_num(argv[5], 0, 65535);
        c.qty = (int)mbl_num(argv[6], 1, MODBUS_MAX_READ_REGISTERS);
        c.seconds = (double)mbl_num(argv[8], 1, 3600);
        return mbl_load(&c, (int)mbl_num(argv[7], 1, 1000));
    }
    modbus_t *ctx = mbl_connect(c.host, c.port, c.unit);
    if (!ctx) {
        printf("error connect: %s\n", modbus_strerror(errno));
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[1], "read") == 0 && (argc == 7 || argc == 8)) {
        int start = (int)mbl_num(argv[5], 0, 65535), qty = (int)mbl_num(argv[6], 0, 65535);
        int fc = argc == 8 ? (int)mbl_num(argv[7], 3, 4) : 3;
        uint16_t regs[MODBUS_MAX_READ_REGISTERS];
        /* libmodbus refuses quantities above 125 itself: send those raw to test the server */
        if (qty < 1 || qty > MODBUS_MAX_READ_REGISTERS) {
            uint8_t req[] = {(uint8_t)c.unit, (uint8_t)fc,         (uint8_t)(start >> 8),
                             (uint8_t)start,  (uint8_t)(qty >> 8), (uint8_t)qty};
            uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];
            if (modbus_send_raw_request(ctx, req, sizeof(req)) < 0 ||
                modbus_receive_confirmation(ctx, rsp) < 0)
                rc = mbl_fail();
            else if (rsp[7] & 0x80)
                printf("exception 0x%02X\n", rsp[8]), rc = 1;
            else
                printf("unexpected answer\n"), rc = 1;
        } else {
            int n = fc == 3 ? modbus_read_registers(ctx, start, qty, regs)
                            : modbus_read_input_registers(ctx, start, qty, regs);
            if (n != qty) {
                rc = mbl_fail();
            } else {
                for (int i = 0; i < n; i++)
                    printf("%s%u", i ? " " : "", regs[i]);
                printf("\n");
            }
        }
    } else if (strcmp(argv[1], "write") == 0 && argc == 7) {
        if (modbus_write_register(ctx, (int)mbl_num(argv[5], 0, 65535),
                                  (uint16_t)mbl_num(argv[6], 0, 65535)) != 1)
            rc = mbl_fail();
        else
            printf("ok\n");
    } else {
        fprintf(stderr, "mb_load: bad arguments\n");
        rc = 2;
    }
    modbus_close(ctx);
    modbus_free(ctx);
    return rc;
}
