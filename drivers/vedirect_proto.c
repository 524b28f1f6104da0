/* vedirect_proto: VE.Direct text-block framer with interleaved HEX frames, and the HEX codec.
 *
 * Framing facts (shared/reference/protocols.md §1.1, §2): every field is "\r\n<label>\t<value>";
 * a block ends with "Checksum\t<byte>" and the modulo-256 sum of every byte since the previous
 * checksum byte is 0. A HEX frame runs from ':' to '\n' and its bytes are left out of the text sum.
 *
 * Stricter than the Victron reference state machine, which starts a HEX frame at any ':' outside
 * the Checksum state: here a ':' starts a HEX frame only at a frame boundary (before the first
 * text byte, right after a checksum byte, or right after another HEX frame's '\n'), which is where
 * every HEX frame of every real capture sits (testdata/vedirect/SOURCE.md, "Notes"). Otherwise a
 * single corrupted byte turned into ':' could hide the bytes up to the next '\n' from the checksum
 * and get a block with a silently dropped field accepted (found by test_single_byte_corruption).
 * Two more structural rules reject merged blocks: PID, when present, is the first field (a
 * truncated history block followed by a main block otherwise passes when the prefix sums to 0). */
#include "vedirect_proto.h"

#include "vedirect_fields.h"

#include <errno.h>
#include <string.h>

enum {
    ST_IDLE,      /* before a field: waiting for '\n' */
    ST_BEGIN,     /* after '\n': the next byte starts a label */
    ST_LABEL,     /* inside a label, up to TAB */
    ST_VALUE,     /* inside a value, up to '\r' */
    ST_VALUE_END, /* after the value's '\r', expecting '\n' */
    ST_CHECKSUM,  /* the next byte is the checksum */
    ST_HEX,       /* inside a HEX frame */
};

static const char ved_checksum_label[] = "Checksum";

void ved_framer_init(struct ved_framer *f)
{
    memset(f, 0, sizeof(*f));
    f->state = ST_IDLE;
    f->at_boundary = true;
}

const struct ved_block *ved_framer_block(const struct ved_framer *f)
{
    return &f->done;
}

const struct ved_hex_frame *ved_framer_hex(const struct ved_framer *f)
{
    return &f->hex;
}

enum ved_reject ved_framer_reject(const struct ved_framer *f)
{
    return f->last_reject;
}

const char *ved_reject_str(enum ved_reject r)
{
    switch (r) {
    case VED_REJECT_NONE:
        return "ok";
    case VED_REJECT_CHECKSUM:
        return "checksum mismatch";
    case VED_REJECT_SYNTAX:
        return "bad byte in label or value";
    case VED_REJECT_OVERFLOW:
        return "label, value or field count too long";
    case VED_REJECT_FIELD:
        return "field value does not parse or label repeated";
    case VED_REJECT_LABEL:
        return "unknown label";
    }
    return "?";
}

const char *ved_block_get(const struct ved_block *b, const char *label)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->f[i].label, label) == 0)
            return b->f[i].value;
    return NULL;
}

static void framer_mark(struct ved_framer *f, enum ved_reject why)
{
    /* Keep the first reason: it is the one that explains the others. */
    if (f->reject == VED_REJECT_NONE)
        f->reject = why;
}

static bool label_byte_ok(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '#' ||
           c == '_';
}

static bool value_byte_ok(uint8_t c)
{
    return c >= 0x20 && c <= 0x7e;
}

static void framer_reset_block(struct ved_framer *f)
{
    f->sum = 0;
    f->cur.n = 0;
    f->reject = VED_REJECT_NONE;
    f->label_len = 0;
    f->value_len = 0;
    f->state = ST_IDLE;
}

static bool framer_learned(const struct ved_framer *f, const char *label)
{
    for (size_t i = 0; i < f->nlearned; i++)
        if (strcmp(f->learned[i], label) == 0)
            return true;
    return false;
}

/* A checksum-valid block with a label outside the table: a corrupted label (random, never
 * repeats) or a field of newer firmware (comes in every block). Learn it after
 * VED_LEARN_AFTER consecutive blocks; until then reject the block, so that a corruption the
 * checksum missed cannot publish a wrong value under a mangled label. */
static void framer_unknown_label(struct ved_framer *f, const char *label)
{
    if (strcmp(f->candidate, label) == 0) {
        f->candidate_count++;
    } else {
        memcpy(f->candidate, label, sizeof(f->candidate));
        f->candidate_count = 1;
    }
    if (f->candidate_count >= VED_LEARN_AFTER && f->nlearned < VED_LEARNED_MAX) {
        memcpy(f->learned[f->nlearned++], label, VED_LABEL_MAX);
        f->candidate[0] = '\0';
        f->candidate_count = 0;
        return;
    }
    framer_mark(f, VED_REJECT_LABEL);
}

/* Validates the finished block's fields: known labels must parse, no label may repeat, PID
 * comes first, unknown labels only once learned. */
static void framer_check_fields(struct ved_framer *f)
{
    if (f->cur.n == 0)
        framer_mark(f, VED_REJECT_SYNTAX);
    const char *unknown = NULL;
    for (size_t i = 0; i < f->cur.n; i++) {
        const struct ved_field *fl = &f->cur.f[i];
        if (ved_field_check(fl->label, fl->value) != 0)
            framer_mark(f, VED_REJECT_FIELD);
        if (i > 0 && strcmp(fl->label, "PID") == 0)
            framer_mark(f, VED_REJECT_FIELD); /* every device sends PID first */
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->cur.f[j].label, fl->label) == 0)
                framer_mark(f, VED_REJECT_FIELD);
        if (!unknown && !ved_label_known(fl->label) && !framer_learned(f, fl->label))
            unknown = fl->label;
    }
    if (unknown && f->reject == VED_REJECT_NONE)
        framer_unknown_label(f, unknown);
}

static void framer_end_field(struct ved_framer *f)
{
    if (f->cur.n < VED_MAX_FIELDS) {
        struct ved_field *fl = &f->cur.f[f->cur.n];
        fl->value[f->value_len] = '\0';
        f->cur.n++;
    }
}

static enum ved_event framer_hex_end(struct ved_framer *f)
{
    f->state = f->hex_prev_state;
    f->at_boundary = true;
    if (f->hex_overflow)
        return VED_EV_BAD_HEX;
    return ved_hex_decode(f->hexbuf, f->hex_len, &f->hex) == 0 ? VED_EV_HEX : VED_EV_BAD_HEX;
}

/* One byte of text (not HEX). Returns an event when the byte completes a block. */
static enum ved_event framer_text_byte(struct ved_framer *f, uint8_t c)
{
    f->at_boundary = false;
    f->sum = (uint8_t)(f->sum + c);
    switch (f->state) {
    case ST_IDLE:
        if (c == '\n')
            f->state = ST_BEGIN;
        else if (c != '\r')
            framer_mark(f, VED_REJECT_SYNTAX);
        return VED_EV_NONE;
    case ST_BEGIN:
        f->label_len = 0;
        f->state = ST_LABEL;
        /* fall through: this byte is the label's first */
        __attribute__((fallthrough));
    case ST_LABEL:
        if (c == '\t') {
            f->lbuf[f->label_len] = '\0';
            if (strcmp(f->lbuf, ved_checksum_label) == 0) {
                f->state = ST_CHECKSUM;
                return VED_EV_NONE;
            }
            if (f->label_len == 0)
                framer_mark(f, VED_REJECT_SYNTAX);
            if (f->cur.n >= VED_MAX_FIELDS)
                framer_mark(f, VED_REJECT_OVERFLOW);
            else
                memcpy(f->cur.f[f->cur.n].label, f->lbuf, f->label_len + 1);
            f->value_len = 0;
            f->state = ST_VALUE;
            return VED_EV_NONE;
        }
        if (!label_byte_ok(c)) {
            framer_mark(f, VED_REJECT_SYNTAX);
            if (c == '\n')
                f->state = ST_BEGIN;
            return VED_EV_NONE;
        }
        if (f->label_len + 1 >= VED_LABEL_MAX) {
            framer_mark(f, VED_REJECT_OVERFLOW);
            return VED_EV_NONE;
        }
        f->lbuf[f->label_len++] = (char)c;
        return VED_EV_NONE;
    case ST_VALUE:
        if (c == '\r') {
            framer_end_field(f);
            f->state = ST_VALUE_END;
            return VED_EV_NONE;
        }
        if (!value_byte_ok(c)) {
            framer_mark(f, VED_REJECT_SYNTAX);
            if (c == '\n') {
                framer_end_field(f);
                f->state = ST_BEGIN;
            }
            return VED_EV_NONE;
        }
        if (f->value_len + 1 >= VED_VALUE_MAX) {
            framer_mark(f, VED_REJECT_OVERFLOW);
            return VED_EV_NONE;
        }
        if (f->cur.n < VED_MAX_FIELDS)
            f->cur.f[f->cur.n].value[f->value_len] = (char)c;
        f->value_len++;
        return VED_EV_NONE;
    case ST_VALUE_END:
        if (c == '\n') {
            f->state = ST_BEGIN;
        } else {
            framer_mark(f, VED_REJECT_SYNTAX);
            f->state = ST_IDLE;
        }
        return VED_EV_NONE;
    case ST_CHECKSUM: {
        /* f->sum now includes the checksum byte. */
        enum ved_event ev;
        if (f->sum != 0)
            framer_mark(f, VED_REJECT_CHECKSUM);
        else
            framer_check_fields(f);
        if (f->reject == VED_REJECT_NONE) {
            f->done = f->cur;
            ev = VED_EV_BLOCK;
        } else {
            ev = VED_EV_BAD_BLOCK;
        }
        f->last_reject = f->reject;
        framer_reset_block(f);
        f->at_boundary = true;
        return ev;
    }
    default:
        framer_reset_block(f);
        return VED_EV_NONE;
    }
}

size_t ved_framer_feed(struct ved_framer *f, const uint8_t *buf, size_t len, enum ved_event *ev)
{
    *ev = VED_EV_NONE;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];
        if (f->state == ST_HEX) {
            if (c == '\n') {
                *ev = framer_hex_end(f);
                return i + 1;
            }
            if (f->hex_len + 1 < sizeof(f->hexbuf))
                f->hexbuf[f->hex_len++] = (char)c;
            else
                f->hex_overflow = true;
            continue;
        }
        if (c == ':' && f->at_boundary) {
            f->hex_prev_state = f->state;
            f->state = ST_HEX;
            f->hex_len = 0;
            f->hex_overflow = false;
            f->hexbuf[f->hex_len++] = ':';
            continue;
        }
        enum ved_event e = framer_text_byte(f, c);
        if (e != VED_EV_NONE) {
            *ev = e;
            return i + 1;
        }
    }
    return len;
}

uint8_t ved_text_checksum(uint8_t sum_before)
{
    return (uint8_t)(256 - sum_before);
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static const char hex_digits[] = "0123456789ABCDEF";

size_t ved_hex_encode(uint8_t cmd, const uint8_t *data, size_t len, char *out, size_t outlen)
{
    size_t need = 1 + 1 + 2 * len + 2 + 1;
    if (cmd > 0xF || outlen < need + 1)
        return 0;
    uint8_t sum = cmd;
    size_t o = 0;
    out[o++] = ':';
    out[o++] = hex_digits[cmd];
    for (size_t i = 0; i < len; i++) {
        out[o++] = hex_digits[data[i] >> 4];
        out[o++] = hex_digits[data[i] & 0xF];
        sum = (uint8_t)(sum + data[i]);
    }
    uint8_t chk = (uint8_t)(0x55 - sum);
    out[o++] = hex_digits[chk >> 4];
    out[o++] = hex_digits[chk & 0xF];
    out[o++] = '\n';
    out[o] = '\0';
    return o;
}

int ved_hex_decode(const char *text, size_t len, struct ved_hex_frame *out)
{
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len > 0 && text[len - 1] == '\r')
        len--;
    /* ':' + command nibble + at least the checksum byte, and whole bytes after the nibble. */
    if (len < 4 || text[0] != ':' || (len - 2) % 2 != 0)
        return -EINVAL;
    int cmd = hex_nibble(text[1]);
    if (cmd < 0)
        return -EINVAL;
    size_t nbytes = (len - 2) / 2; /* payload + checksum */
    if (nbytes - 1 > VED_HEX_MAX)
        return -EINVAL;
    uint8_t sum = (uint8_t)cmd;
    for (size_t i = 0; i < nbytes; i++) {
        int hi = hex_nibble(text[2 + 2 * i]);
        int lo = hex_nibble(text[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        uint8_t b = (uint8_t)(hi << 4 | lo);
        sum = (uint8_t)(sum + b);
        if (i + 1 < nbytes)
            out->data[i] = b;
    }
    if (sum != 0x55)
        return -EBADMSG;
    out->cmd = (uint8_t)cmd;
    out->len = nbytes - 1;
    return 0;
}

size_t ved_hex_get(uint16_t reg, char *out, size_t outlen)
{
    uint8_t d[3] = {(uint8_t)(reg & 0xFF), (uint8_t)(reg >> 8), 0};
    return ved_hex_encode(VED_CMD_GET, d, sizeof(d), out, outlen);
}

size_t ved_hex_set(uint16_t reg, uint32_t value, size_t width, char *out, size_t outlen)
{
    if (width != 1 && width != 2 && width != 4)
        return 0;
    uint8_t d[7] = {(uint8_t)(reg & 0xFF), (uint8_t)(reg >> 8), 0};
    for (size_t i = 0; i < width; i++)
        d[3 + i] = (uint8_t)(value >> (8 * i));
    return ved_hex_encode(VED_CMD_SET, d, 3 + width, out, outlen);
}

int ved_hex_frame_register(const struct ved_hex_frame *fr, uint16_t *reg, uint8_t *flags,
                           const uint8_t **val, size_t *vlen)
{
    if ((fr->cmd != VED_CMD_GET && fr->cmd != VED_CMD_SET && fr->cmd != VED_CMD_ASYNC) ||
        fr->len < 3)
        return -EINVAL;
    *reg = (uint16_t)(fr->data[0] | fr->data[1] << 8);
    *flags = fr->data[2];
    *val = fr->data + 3;
    *vlen = fr->len - 3;
    return 0;
}

uint32_t ved_le_u32(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n && i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

int32_t ved_le_s32(const uint8_t *p, size_t n)
{
    uint32_t v = ved_le_u32(p, n);
    if (n >= 1 && n < 4 && (v & (1u << (8 * n - 1))))
        v |= ~0u << (8 * n);
    return (int32_t)v;
}
