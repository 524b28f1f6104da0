/* emu_vedirect: one emulated VE.Direct device: paced text blocks, HEX answers, faults, replay.
 *
 * Timing as on a real device (protocols.md §1.1): a burst of text once per second (monitors send
 * the main block and then the H-history block, each with its own checksum), written at 19200 baud
 * = 1920 bytes/s in small chunks. HEX answers never go inside a text field: they wait in a queue
 * and leave right after a block's checksum byte or while the line is idle, which is also where
 * real devices put their async frames (SOURCE.md). A BMV-712 main block is ~80 ms on the wire, so
 * an answer waits at most about that long. */
#include "emu_vedirect.h"

#include "core/log.h"
#include "core/util.h"
#include "drivers/vedirect_products.h"
#include "drivers/vedirect_proto.h"
#include "emu_rand.h"
#include "emu_ved_hex.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VED_BYTES_PER_S 1920 /* 19200 baud, 10 bit times per byte */
#define VED_CHUNK 32         /* bytes per write while pacing: ~17 ms */
#define VED_BLOCK_MAX 1024
#define VED_TXQ_MAX 2048
#define VED_POLL_MS 20 /* input and stop-flag latency */
#define VED_LINGER_MS 1000
#define VED_ASYNC_EVERY 10
#define VED_REPLAY_MAX (64u << 20)
#define VED_GARBAGE_MIN 8
#define VED_GARBAGE_MAX 40
#define VED_BURST_CHUNKS_MAX 64 /* replay: chunks in one second, at most */

static const char ved_checksum_label[] = "Checksum\t";

static const struct {
    const char *name;
    enum emu_fault fault;
} fault_names[] = {
    {"none",    EMU_FAULT_NONE   },
    {"garbage", EMU_FAULT_GARBAGE},
    {"silence", EMU_FAULT_SILENCE},
    {"corrupt", EMU_FAULT_CORRUPT},
};

struct emu_ved {
    char *name;
    const struct emu_kind *kind;
    struct emu_site *site;
    struct emu_port *port;
    struct emu_ctl *ctl;
    enum emu_fault fault;
    long fault_after;
    long max_blocks;
    bool async;
    bool log_hex;
    struct emu_hex_dev hex;
    char serial[24];
    char fw[16];
    char model[64];
    int32_t *settings;
    struct emu_rand rng; /* faults only: the model has its own, stateless, noise */
    /* HEX input being assembled */
    char rx[EMU_HEX_FRAME_MAX];
    size_t rx_len;
    bool rx_in;
    /* HEX output waiting for a gap between blocks */
    uint8_t txq[VED_TXQ_MAX];
    size_t txq_len;
    long slots;    /* block slots so far, sent or silenced */
    long sent;     /* blocks actually written */
    uint8_t *work; /* the block being sent; fault injection edits this copy */
    size_t work_cap;
    uint8_t *replay;
    size_t replay_len;
    size_t replay_pos;
    bool replay_has_pid;
};

int emu_fault_parse(const char *s, enum emu_fault *out)
{
    for (size_t i = 0; i < UTIL_ARRAY_SIZE(fault_names); i++) {
        if (strcmp(s, fault_names[i].name) == 0) {
            *out = fault_names[i].fault;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- byte helpers ---- */

static size_t find_bytes(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return i;
    return SIZE_MAX;
}

/* The label at the start of a line ("\nPID\t") or of the buffer; index of its value, or
 * SIZE_MAX. */
static size_t find_field(const uint8_t *buf, size_t n, const char *label)
{
    char pat[16];
    if (util_snprintf(pat, sizeof(pat), "\n%s\t", label) != 0)
        return SIZE_MAX;
    size_t llen = strlen(label);
    if (n > llen && memcmp(buf, label, llen) == 0 && buf[llen] == '\t')
        return llen + 1;
    size_t i = find_bytes(buf, n, pat);
    return i == SIZE_MAX ? SIZE_MAX : i + strlen(pat);
}

/* Copies a field value (up to CR/LF) as a C string; 0 or -ENOENT. */
static int field_text(const uint8_t *buf, size_t n, const char *label, char *out, size_t outlen)
{
    size_t v = find_field(buf, n, label);
    if (v == SIZE_MAX)
        return -ENOENT;
    size_t k = 0;
    while (v + k < n && buf[v + k] != '\r' && buf[v + k] != '\n' && k + 1 < outlen) {
        out[k] = (char)buf[v + k];
        k++;
    }
    out[k] = '\0';
    return 0;
}

/* FNV-1a, to mix a device name into its made-up serial number. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001B3ULL;
    return h;
}

/* "HQ" + year + week + 5 characters, like HQ2117NTVX4. */
static void make_serial(uint64_t seed, const char *name, char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    uint64_t h = emu_hash(seed, hash_str(name), 0);
    char tail[6];
    for (size_t i = 0; i < 5; i++) {
        tail[i] = alphabet[h % (sizeof(alphabet) - 1)];
        h /= sizeof(alphabet) - 1;
    }
    tail[5] = '\0';
    if (util_snprintf(out, n, "HQ%02u%02u%s", (unsigned)(19 + h % 5), (unsigned)(1 + (h / 5) % 52),
                      tail) != 0)
        out[0] = '\0';
}

/* Firmware text → 0x0XYZ: "0416" → 0x416, "161" → 0x161, FWE "0342FF" → 0x342. */
static int fw_version(const char *fw, bool fwe, uint16_t *out)
{
    char digits[8];
    size_t n = strlen(fw);
    if (fwe) {
        if (n < 3 || n > 6 || strcmp(fw + n - 2, "FF") != 0)
            return -EINVAL;
        n -= 2;
    }
    if (n < 1 || n >= sizeof(digits))
        return -EINVAL;
    memcpy(digits, fw, n);
    digits[n] = '\0';
    long v;
    if (util_parse_long(digits, 16, 0, 0xFFFF, &v) != 0)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

/* ---- replay files ---- */

/* End of the chunk starting at pos: just after the next Checksum byte, or the end of the file.
 * *is_block tells whether it ended at a checksum. */
static size_t replay_chunk_end(const struct emu_ved *d, size_t pos, bool *is_block)
{
    size_t i = find_bytes(d->replay + pos, d->replay_len - pos, ved_checksum_label);
    size_t lab = sizeof(ved_checksum_label) - 1;
    if (i == SIZE_MAX || pos + i + lab >= d->replay_len) {
        *is_block = false;
        return d->replay_len;
    }
    *is_block = true;
    return pos + i + lab + 1;
}

static bool chunk_has_pid(const uint8_t *buf, size_t n)
{
    return find_field(buf, n, "PID") != SIZE_MAX;
}

static int replay_load(struct emu_ved *d, const char *path)
{
    char *buf;
    size_t len;
    int rc = util_read_file(path, VED_REPLAY_MAX, &buf, &len);
    if (rc != 0) {
        log_msg(LOG_ERR, "%s: cannot read replay file %s: %s", d->name, path, strerror(-rc));
        return rc;
    }
    if (len == 0) {
        free(buf);
        log_msg(LOG_ERR, "%s: replay file %s is empty", d->name, path);
        return -EINVAL;
    }
    d->replay = (uint8_t *)buf;
    d->replay_len = len;
    d->replay_has_pid = chunk_has_pid(d->replay, len);
    /* the work buffer must hold the longest chunk */
    size_t pos = 0;
    while (pos < len) {
        bool blk;
        size_t end = replay_chunk_end(d, pos, &blk);
        if (end - pos > d->work_cap)
            d->work_cap = end - pos;
        pos = end;
    }
    return 0;
}

/* Without --kind, a replayed capture answers HEX as the product its PID names. */
static void replay_identity(struct emu_ved *d, uint16_t *pid)
{
    char v[40];
    long p;
    if (field_text(d->replay, d->replay_len, "PID", v, sizeof(v)) == 0 && v[0] == '0' &&
        (v[1] == 'x' || v[1] == 'X') && util_parse_long(v + 2, 16, 0, 0xFFFF, &p) == 0) {
        if (!*pid)
            *pid = (uint16_t)p;
        if (!d->kind) {
            const char *service = ved_product_service((uint16_t)p);
            d->kind = service ? emu_kind_for_service(service) : NULL;
        }
    }
    if (!d->kind)
        d->kind = emu_kind_find("bmv712");
    if (!d->serial[0] && field_text(d->replay, d->replay_len, "SER#", v, sizeof(v)) == 0)
        util_strlcpy(d->serial, v, sizeof(d->serial));
    if (!d->fw[0] &&
        field_text(d->replay, d->replay_len, d->kind->fwe ? "FWE" : "FW", v, sizeof(v)) == 0)
        util_strlcpy(d->fw, v, sizeof(d->fw));
}

/* ---- life cycle ---- */

static void model_name(const struct emu_ved *d, uint16_t pid, char *out, size_t n)
{
    const struct ved_product *p = pid == d->kind->pid ? NULL : ved_product_find(pid);
    util_strlcpy(out, p ? p->name : d->kind->model, n);
    /* the product table writes 100|30; devices answer 100/30 */
    for (char *c = out; *c; c++)
        if (*c == '|')
            *c = '/';
}

int emu_ved_new(const struct emu_ved_conf *conf, struct emu_site *site, struct emu_port *port,
                struct emu_ctl *ctl, struct emu_ved **out)
{
    struct emu_ved *d = xcalloc(1, sizeof(*d));
    int rc = 0;
    d->name = xstrdup(conf->name);
    d->kind = conf->kind;
    d->site = site;
    d->port = port;
    d->ctl = ctl;
    d->fault = conf->fault;
    d->fault_after = conf->fault_after;
    d->max_blocks = conf->blocks;
    d->async = conf->async;
    d->log_hex = conf->log_hex;
    d->work_cap = VED_BLOCK_MAX;
    emu_rand_init(&d->rng, emu_hash(conf->seed, hash_str(conf->name), 1));
    if (conf->serial)
        util_strlcpy(d->serial, conf->serial, sizeof(d->serial));
    if (conf->fw)
        util_strlcpy(d->fw, conf->fw, sizeof(d->fw));
    uint16_t pid = conf->pid;
    if (conf->replay_path) {
        if ((rc = replay_load(d, conf->replay_path)) != 0)
            goto fail;
        replay_identity(d, &pid);
    }
    if (!d->kind) {
        rc = -EINVAL;
        goto fail;
    }
    if (!pid)
        pid = d->kind->pid;
    if (!d->serial[0])
        make_serial(conf->seed, conf->name, d->serial, sizeof(d->serial));
    if (!d->fw[0])
        util_strlcpy(d->fw, d->kind->fw, sizeof(d->fw));
    if (conf->model)
        util_strlcpy(d->model, conf->model, sizeof(d->model));
    else
        model_name(d, pid, d->model, sizeof(d->model));
    d->work = xmalloc(d->work_cap);
    d->settings = xcalloc(d->kind->n_regs ? d->kind->n_regs : 1, sizeof(*d->settings));
    for (size_t i = 0; i < d->kind->n_regs; i++)
        d->settings[i] = d->kind->regs[i].def;
    d->hex = (struct emu_hex_dev){
        .kind = d->kind,
        .site = site,
        .index = conf->index,
        .pid = pid,
        .serial = d->serial,
        .model = d->model,
        .settings = d->settings,
        .start_ms = util_mono_ms(),
    };
    if ((rc = fw_version(d->fw, d->kind->fwe, &d->hex.version)) != 0) {
        log_msg(LOG_ERR, "%s: bad firmware text '%s' for %s (%s)", d->name, d->fw, d->kind->name,
                d->kind->fwe ? "FWE: like 0342FF" : "FW: like 0416 or 161");
        goto fail;
    }
    *out = d;
    return 0;
fail:
    emu_ved_free(d);
    return rc;
}

void emu_ved_free(struct emu_ved *d)
{
    if (!d)
        return;
    free(d->settings);
    free(d->work);
    free(d->replay);
    free(d->name);
    free(d);
}

/* ---- run state ---- */

static bool ved_stopping(const struct emu_ved *d)
{
    return atomic_load(&d->ctl->stop);
}

static bool ved_finished(const struct emu_ved *d)
{
    return d->max_blocks > 0 && d->slots >= d->max_blocks;
}

static bool ved_fault_in(const struct emu_ved *d, long slot, enum emu_fault f)
{
    return d->fault == f && slot > d->fault_after;
}

/* Silent for block slot: the silence fault, toggled by SIGUSR1. */
static bool ved_silent(const struct emu_ved *d, long slot)
{
    bool toggled = (atomic_load(&d->ctl->silence) & 1) != 0;
    return ved_fault_in(d, slot, EMU_FAULT_SILENCE) != toggled;
}

/* ---- HEX ---- */

static void ved_log_frame(const struct emu_ved *d, const char *dir, const char *text, size_t len)
{
    if (!d->log_hex)
        return;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    log_msg(LOG_INFO, "%s: hex %s %.*s", d->name, dir, (int)len, text);
}

static void ved_queue(struct emu_ved *d, const char *frame, size_t len)
{
    if (len == 0)
        return;
    if (d->txq_len + len > sizeof(d->txq)) {
        log_msg(LOG_WARNING, "%s: HEX reply queue full, reply dropped", d->name);
        return;
    }
    ved_log_frame(d, ">", frame, len);
    memcpy(d->txq + d->txq_len, frame, len);
    d->txq_len += len;
}

static void ved_frame(struct emu_ved *d)
{
    char reply[EMU_HEX_FRAME_MAX];
    struct ved_hex_frame fr;
    size_t n;
    ved_log_frame(d, "<", d->rx, d->rx_len);
    if (ved_silent(d, d->slots + 1))
        return;
    if (ved_hex_decode(d->rx, d->rx_len, &fr) != 0)
        n = emu_hex_frame_error(reply, sizeof(reply));
    else
        n = emu_hex_answer(&d->hex, &fr, reply, sizeof(reply));
    ved_queue(d, reply, n);
}

/* Bytes from the host: HEX frames run from ':' to '\n'; anything else is ignored. */
static void ved_rx(struct emu_ved *d, const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = buf[i];
        if (c == ':') {
            d->rx_in = true;
            d->rx_len = 0;
        }
        if (!d->rx_in)
            continue;
        if (c == '\n') {
            d->rx_in = false;
            ved_frame(d);
            continue;
        }
        if (d->rx_len + 1 >= sizeof(d->rx)) {
            d->rx_in = false; /* too long to be a frame */
            continue;
        }
        d->rx[d->rx_len++] = (char)c;
    }
}

static int ved_flush(struct emu_ved *d)
{
    if (d->txq_len == 0)
        return 0;
    size_t n = d->txq_len;
    d->txq_len = 0;
    if (ved_silent(d, d->slots + 1))
        return 0;
    return emu_port_write(d->port, d->txq, n);
}

/* Reads and answers the host until deadline (monotonic ms). Queued answers go out only when
 * replies_ok, i.e. between blocks. */
static int ved_service(struct emu_ved *d, int64_t deadline, bool replies_ok)
{
    uint8_t in[256];
    for (;;) {
        if (replies_ok) {
            int rc = ved_flush(d);
            if (rc != 0)
                return rc;
        }
        int64_t now = util_mono_ms();
        if (now >= deadline || ved_stopping(d))
            return 0;
        int64_t wait = deadline - now < VED_POLL_MS ? deadline - now : VED_POLL_MS;
        size_t got;
        int rc = emu_port_read(d->port, in, sizeof(in), (int)wait, &got);
        if (rc != 0)
            return rc;
        ved_rx(d, in, got);
    }
}

/* ---- text output ---- */

static int ved_write_paced(struct emu_ved *d, const uint8_t *buf, size_t len)
{
    int64_t t0 = util_mono_ms();
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < VED_CHUNK ? len - off : VED_CHUNK;
        int rc = emu_port_write(d->port, buf + off, n);
        if (rc != 0)
            return rc;
        off += n;
        rc = ved_service(d, t0 + (int64_t)(off * 1000 / VED_BYTES_PER_S), false);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Changes one character of a value (never the checksum byte, never a separator), so that the
 * block keeps its shape but fails its checksum. */
static void ved_corrupt(struct emu_ved *d, uint8_t *buf, size_t len)
{
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t pick = pass == 1 && count > 0 ? emu_rand_below(&d->rng, (uint32_t)count) : 0;
        size_t k = 0;
        bool in_value = false;
        for (size_t i = 0; i + 1 < len; i++) {
            if (buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n') {
                in_value = buf[i] == '\t';
                continue;
            }
            if (!in_value || !isalnum(buf[i]))
                continue;
            if (pass == 1 && k == pick) {
                uint8_t c = buf[i];
                uint8_t base = isdigit(c) ? '0' : isupper(c) ? 'A' : 'a';
                uint8_t span = isdigit(c) ? 10 : 26;
                buf[i] =
                    (uint8_t)(base + (c - base + 1 + emu_rand_below(&d->rng, span - 1u)) % span);
                return;
            }
            k++;
        }
        count = k;
        if (count == 0)
            return;
    }
}

static int ved_garbage(struct emu_ved *d)
{
    uint8_t g[VED_GARBAGE_MAX];
    size_t n = VED_GARBAGE_MIN + emu_rand_below(&d->rng, VED_GARBAGE_MAX - VED_GARBAGE_MIN + 1);
    for (size_t i = 0; i < n; i++) {
        do
            g[i] = (uint8_t)emu_rand_below(&d->rng, 256);
        while (g[i] == ':'); /* a ':' would start a HEX frame and hide the next block */
    }
    return ved_write_paced(d, g, n);
}

/* Sends one text block (or, when replaying, the bytes after the last block) with the active
 * faults, then any queued HEX answers and the async frame. */
static int ved_send(struct emu_ved *d, const uint8_t *buf, size_t len, bool is_block)
{
    long slot = is_block ? ++d->slots : d->slots + 1;
    if (ved_silent(d, slot))
        return 0;
    if (len > d->work_cap)
        len = d->work_cap;
    memcpy(d->work, buf, len);
    if (is_block && ved_fault_in(d, slot, EMU_FAULT_CORRUPT) && (slot - d->fault_after) % 3 == 0)
        ved_corrupt(d, d->work, len);
    int rc = ved_write_paced(d, d->work, len);
    if (rc == 0)
        rc = ved_flush(d);
    if (rc != 0 || !is_block)
        return rc;
    d->sent++;
    if (ved_fault_in(d, slot, EMU_FAULT_GARBAGE) && (rc = ved_garbage(d)) != 0)
        return rc;
    if (!d->replay && d->async && d->kind->daily_history && d->sent % VED_ASYNC_EVERY == 0) {
        char frame[EMU_HEX_FRAME_MAX];
        ved_queue(d, frame, emu_hex_async_today(&d->hex, frame, sizeof(frame)));
        rc = ved_flush(d);
    }
    return rc;
}

static int field_value(const struct emu_ved *d, const struct emu_field *f,
                       const struct emu_values *v, char *out, size_t n)
{
    double q = v->q[f->q];
    switch (f->fmt) {
    case EMU_FMT_NUM:
        return util_snprintf(out, n, "%lld", isnan(q) ? 0LL : llround(q * f->scale));
    case EMU_FMT_NUM_NA:
        if (isnan(q))
            return util_snprintf(out, n, "---");
        return util_snprintf(out, n, "%lld", llround(q * f->scale));
    case EMU_FMT_ONOFF:
        return util_snprintf(out, n, "%s", q > 0.5 ? "ON" : "OFF");
    case EMU_FMT_HEX32:
        return util_snprintf(out, n, "0x%08X", isnan(q) ? 0u : (unsigned)q);
    case EMU_FMT_PID:
        return util_snprintf(out, n, "0x%X", (unsigned)d->hex.pid);
    case EMU_FMT_FW:
        return util_snprintf(out, n, "%s", d->fw);
    case EMU_FMT_SERIAL:
        return util_snprintf(out, n, "%s", d->serial);
    case EMU_FMT_TEXT:
        return util_snprintf(out, n, "%s", f->text ? f->text : "");
    }
    return -EINVAL;
}

static int put(uint8_t *out, size_t cap, size_t *o, const char *s)
{
    size_t n = strlen(s);
    if (*o + n > cap)
        return -ENOSPC;
    memcpy(out + *o, s, n);
    *o += n;
    return 0;
}

/* A block: "\r\n<label>\t<value>" per field, then "\r\nChecksum\t" and the byte that makes the
 * sum of the block 0 mod 256 (not followed by CR LF). */
static int ved_render(const struct emu_ved *d, const struct emu_field *f, size_t nf,
                      const struct emu_values *v, uint8_t *out, size_t cap, size_t *len)
{
    size_t o = 0;
    char val[48];
    int rc = 0;
    for (size_t i = 0; i < nf && rc == 0; i++) {
        if ((rc = field_value(d, &f[i], v, val, sizeof(val))) != 0)
            break;
        if ((rc = put(out, cap, &o, "\r\n")) == 0 && (rc = put(out, cap, &o, f[i].label)) == 0 &&
            (rc = put(out, cap, &o, "\t")) == 0)
            rc = put(out, cap, &o, val);
    }
    if (rc == 0 && (rc = put(out, cap, &o, "\r\n")) == 0)
        rc = put(out, cap, &o, ved_checksum_label);
    if (rc != 0 || o + 1 > cap)
        return rc ? rc : -ENOSPC;
    uint8_t sum = 0;
    for (size_t i = 0; i < o; i++)
        sum = (uint8_t)(sum + out[i]);
    out[o++] = ved_text_checksum(sum);
    *len = o;
    return 0;
}

static int ved_burst_generated(struct emu_ved *d)
{
    uint8_t block[VED_BLOCK_MAX];
    size_t len;
    struct emu_values v;
    emu_hex_values(&d->hex, &v);
    int rc = ved_render(d, d->kind->main, d->kind->n_main, &v, block, sizeof(block), &len);
    if (rc == 0)
        rc = ved_send(d, block, len, true);
    if (rc != 0 || !d->kind->hist || ved_finished(d) || ved_stopping(d))
        return rc;
    rc = ved_render(d, d->kind->hist, d->kind->n_hist, &v, block, sizeof(block), &len);
    if (rc == 0)
        rc = ved_send(d, block, len, true);
    return rc;
}

/* One second of a capture: the chunk at the current position and those after it, up to the next
 * chunk holding a PID (a main block); one chunk when the capture has no PID at all. */
static int ved_burst_replay(struct emu_ved *d)
{
    for (int k = 0; k < VED_BURST_CHUNKS_MAX; k++) {
        bool is_block;
        size_t start = d->replay_pos;
        size_t end = replay_chunk_end(d, start, &is_block);
        int rc = ved_send(d, d->replay + start, end - start, is_block);
        if (rc != 0)
            return rc;
        d->replay_pos = end >= d->replay_len ? 0 : end;
        if (!d->replay_has_pid || ved_finished(d) || ved_stopping(d))
            return 0;
        end = replay_chunk_end(d, d->replay_pos, &is_block);
        if (chunk_has_pid(d->replay + d->replay_pos, end - d->replay_pos))
            return 0;
    }
    return 0;
}

int emu_ved_run(struct emu_ved *d)
{
    int64_t next = util_mono_ms();
    int rc = 0;
    while (rc == 0 && !ved_stopping(d) && !ved_finished(d)) {
        rc = ved_service(d, next, true);
        if (rc != 0 || ved_stopping(d))
            break;
        rc = d->replay ? ved_burst_replay(d) : ved_burst_generated(d);
        next += 1000;
        int64_t now = util_mono_ms();
        if (now - next > 1000)
            next = now; /* we were stopped or starved: do not rush to catch up */
    }
    if (rc == 0 && ved_finished(d) && !ved_stopping(d))
        rc = ved_service(d, util_mono_ms() + VED_LINGER_MS, true);
    if (rc != 0)
        log_msg(LOG_ERR, "%s: port error: %s", d->name, strerror(-rc));
    return rc;
}
