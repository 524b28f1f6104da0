/* Tests of the durable outbox: order, persistence across reopen, bounds, crash leftovers and
 * corrupt files. */
#include "alarm/outbox.h"
#include "core/util.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static char dir[] = "/tmp/sitewatch-outbox-XXXXXX";

static size_t count_files(const char *suffix)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        n += l > sl && strcmp(de->d_name + l - sl, suffix) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static void clean(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
}

static void test_order_and_reopen(void)
{
    struct outbox *ob = outbox_open(dir, 100, 1 << 20);
    TEST_CHECK(ob != NULL);
    char text[64];
    uint64_t seqs[10];
    for (int i = 0; i < 10; i++) {
        snprintf(text, sizeof(text), "message %d\r\nwith a NUL-free body", i);
        TEST_EQ_LONG(
            outbox_put(ob, i % 2 ? "b" : "a", NULL, "site.example", text, strlen(text), &seqs[i]),
            0);
    }
    TEST_EQ_LONG(count_files(".msg"), 10);
    struct outbox_msg m;
    TEST_EQ_LONG(outbox_peek(ob, "b", &m), 0);
    TEST_STREQ(m.data, "message 1\r\nwith a NUL-free body");
    TEST_CHECK(strstr(m.message_id, "@site.example>") != NULL);
    char id1[256];
    util_strlcpy(id1, m.message_id, sizeof(id1));
    outbox_msg_clear(&m);
    TEST_EQ_LONG(outbox_done(ob, seqs[0]), 0); /* a's first */
    outbox_close(ob);
    /* reopen (a restart, or kill -9: every put was already on disk) */
    ob = outbox_open(dir, 100, 1 << 20);
    size_t n;
    outbox_stats(ob, &n, NULL, NULL, NULL);
    TEST_EQ_LONG(n, 9);
    TEST_EQ_LONG(outbox_peek(ob, "a", &m), 0);
    TEST_STREQ(m.data, "message 2\r\nwith a NUL-free body");
    outbox_msg_clear(&m);
    TEST_EQ_LONG(outbox_peek(ob, "b", &m), 0);
    TEST_STREQ(m.message_id, id1); /* the Message-ID is stable across restarts */
    outbox_msg_clear(&m);
    uint64_t list[10];
    TEST_EQ_LONG(outbox_list(ob, "b", list, 10), 5);
    TEST_CHECK(list[0] < list[1] && list[3] < list[4]);
    /* new messages come after the old ones */
    uint64_t s;
    TEST_EQ_LONG(outbox_put(ob, "a", "<fixed@x>", NULL, "late", 4, &s), 0);
    TEST_CHECK(s > seqs[9]);
    TEST_EQ_LONG(outbox_get(ob, s, &m), 0);
    TEST_STREQ(m.message_id, "<fixed@x>");
    outbox_msg_clear(&m);
    while (outbox_peek(ob, NULL, &m) == 0) {
        TEST_EQ_LONG(outbox_done(ob, m.seq), 0);
        outbox_msg_clear(&m);
    }
    TEST_EQ_LONG(count_files(".msg"), 0);
    TEST_EQ_LONG(outbox_peek(ob, NULL, &m), -ENOENT);
    outbox_close(ob);
    clean();
}

static void test_bounds(void)
{
    struct outbox *ob = outbox_open(dir, 3, 1000);
    bool full;
    uint64_t refused;
    for (int i = 0; i < 3; i++)
        TEST_EQ_LONG(outbox_put(ob, "a", NULL, NULL, "x", 1, NULL), 0);
    outbox_stats(ob, NULL, NULL, &refused, &full);
    TEST_CHECK(full);
    /* full: what is queued is kept, the new message is refused and counted */
    TEST_EQ_LONG(outbox_put(ob, "a", NULL, NULL, "y", 1, NULL), -ENOSPC);
    outbox_stats(ob, NULL, NULL, &refused, &full);
    TEST_EQ_LONG(refused, 1);
    struct outbox_msg m;
    TEST_EQ_LONG(outbox_peek(ob, "a", &m), 0);
    TEST_STREQ(m.data, "x");
    TEST_EQ_LONG(outbox_done(ob, m.seq), 0);
    outbox_msg_clear(&m);
    outbox_stats(ob, NULL, NULL, NULL, &full);
    TEST_CHECK(!full);
    /* a message replacing queued ones may go over the bound, so a full outbox can drain */
    TEST_EQ_LONG(outbox_put(ob, "a", NULL, NULL, "z", 1, NULL), 0);
    TEST_EQ_LONG(outbox_put(ob, "a", NULL, NULL, "z", 1, NULL), -ENOSPC);
    TEST_EQ_LONG(outbox_put_replacing(ob, "m", NULL, NULL, "mail", 4, NULL), 0);
    size_t n;
    outbox_stats(ob, &n, NULL, NULL, &full);
    TEST_EQ_LONG(n, 4);
    TEST_CHECK(full);
    outbox_close(ob);
    clean();
    /* the byte bound */
    ob = outbox_open(dir, 100, 10);
    TEST_EQ_LONG(outbox_put(ob, "a", NULL, NULL, "0123456789", 10, NULL), 0);
    TEST_EQ_LONG(outbox_put(ob, "a", NULL, NULL, "z", 1, NULL), -ENOSPC);
    outbox_close(ob);
    clean();
}

static void test_crash_leftovers(void)
{
    char path[512];
    /* a tmp file a crash left, a corrupt message, a stranger */
    snprintf(path, sizeof(path), "%s/00000000000000000007.msg.tmp", dir);
    TEST_EQ_LONG(util_write_atomic(path, "{\"rou", 5), 0);
    snprintf(path, sizeof(path), "%s/00000000000000000005.msg", dir);
    TEST_EQ_LONG(util_write_atomic(path, "{\"route\": \"a\", \"data\"", 21), 0);
    snprintf(path, sizeof(path), "%s/00000000000000000006.msg", dir);
    const char *good = "{\"route\":\"a\",\"message_id\":\"<6@x>\",\"created\":1,\"data\":\"six\"}";
    TEST_EQ_LONG(util_write_atomic(path, good, strlen(good)), 0);
    struct outbox *ob = outbox_open(dir, 100, 1 << 20);
    TEST_CHECK(ob != NULL);
    TEST_EQ_LONG(count_files(".tmp"), 0);
    TEST_EQ_LONG(count_files(".bad"), 1);
    struct outbox_msg m;
    TEST_EQ_LONG(outbox_peek(ob, "a", &m), 0);
    TEST_STREQ(m.data, "six");
    outbox_msg_clear(&m);
    uint64_t s;
    TEST_EQ_LONG(outbox_put(ob, "a", NULL, NULL, "seven", 5, &s), 0);
    TEST_EQ_LONG(s, 7); /* numbering continues after what is on disk */
    outbox_close(ob);
    clean();
    /* an unusable directory: NULL, no crash */
    TEST_CHECK(outbox_open("/proc/nope/outbox", 10, 10) == NULL);
}

int main(void)
{
    TEST_CHECK(mkdtemp(dir) != NULL);
    TEST_RUN(test_order_and_reopen);
    TEST_RUN(test_bounds);
    TEST_RUN(test_crash_leftovers);
    rmdir(dir);
    return test_summary();
}
