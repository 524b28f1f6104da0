/* vedirect_proto: pure VE.Direct text + HEX framing, checksums and field syntax (no I/O). */
#ifndef SITEWATCH_VEDIRECT_PROTO_H
#define SITEWATCH_VEDIRECT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Victron's reference code allows 22 fields, 8-char labels, 32-char values; we keep margin. */
#define VED_MAX_FIELDS 32
#define VED_LABEL_MAX 12 /* including NUL */
#define VED_VALUE_MAX 40 /* including NUL */
#define VED_HEX_MAX 64   /* decoded payload bytes of one HEX frame (model name strings reach 35) */

struct ved_field {
    char label[VED_LABEL_MAX];
    char value[VED_VALUE_MAX];
};

struct ved_block {
    size_t n;
    struct ved_field f[VED_MAX_FIELDS];
};

/* A decoded HEX frame: command nibble and payload bytes, checksum already verified and removed. */
struct ved_hex_frame {
    uint8_t cmd;
    size_t len;
    uint8_t data[VED_HEX_MAX];
};

enum ved_event {
    VED_EV_NONE = 0,  /* all bytes consumed, nothing completed */
    VED_EV_BLOCK,     /* a text block with a good checksum whose every field parses */
    VED_EV_BAD_BLOCK, /* a text block that failed the checksum or field syntax (reason set) */
    VED_EV_HEX,       /* a valid HEX frame */
    VED_EV_BAD_HEX,   /* a HEX frame with bad syntax or checksum */
};

enum ved_reject {
    VED_REJECT_NONE = 0,
    VED_REJECT_CHECKSUM,
    VED_REJECT_SYNTAX,   /* bad byte in a label or value, field without TAB, ... */
    VED_REJECT_OVERFLOW, /* label, value or field count beyond the limits */
    VED_REJECT_FIELD,    /* a known label whose value does not parse, or a duplicate label */
    VED_REJECT_LABEL,    /* a label outside the protocol's table, not (yet) learned */
};

/* A label missing from the protocol table is learned once it has come in this many consecutive
 * checksum-valid blocks (new firmware adds fields; a corrupted label never repeats). */
#define VED_LEARN_AFTER 3
#define VED_LEARNED_MAX 8

/* Framer state: one per port, no statics, so two devices never share a buffer. */
struct ved_framer {
    int state;
    int hex_prev_state; /* the text state a HEX frame interrupted */
    bool at_boundary;   /* a ':' here starts a HEX frame */
    uint8_t sum;
    bool in_block;
    bool field_bad;
    enum ved_reject reject;      /* of the block being read */
    enum ved_reject last_reject; /* of the block last completed */
    size_t label_len;
    char lbuf[VED_LABEL_MAX]; /* the label being read */
    size_t value_len;
    struct ved_block cur;
    struct ved_block done;
    char hexbuf[2 * VED_HEX_MAX + 8];
    size_t hex_len;
    bool hex_overflow;
    struct ved_hex_frame hex;
    char learned[VED_LEARNED_MAX][VED_LABEL_MAX];
    size_t nlearned;
    char candidate[VED_LABEL_MAX];
    unsigned candidate_count;
};

void ved_framer_init(struct ved_framer *f);

/* Feed len bytes. Stops after the byte that completes an event and returns how many bytes were
 * consumed; *ev tells which event (VED_EV_NONE when all bytes were consumed without one).
 * After VED_EV_BLOCK, ved_framer_block() is valid until the next feed; after VED_EV_HEX,
 * ved_framer_hex(). After VED_EV_BAD_BLOCK, ved_framer_reject() says why. */
size_t ved_framer_feed(struct ved_framer *f, const uint8_t *buf, size_t len, enum ved_event *ev);
const struct ved_block *ved_framer_block(const struct ved_framer *f);
const struct ved_hex_frame *ved_framer_hex(const struct ved_framer *f);
enum ved_reject ved_framer_reject(const struct ved_framer *f);
const char *ved_reject_str(enum ved_reject r);

/* Looks a field up in a block by label; NULL when absent. */
const char *ved_block_get(const struct ved_block *b, const char *label);

/* The byte that makes a text block's sum 0 mod 256, given the sum of every byte before it. */
uint8_t ved_text_checksum(uint8_t sum_before);

/* HEX codec. ved_hex_encode writes ":<cmd><payload hex><chk>\n" (uppercase) into out and returns
 * its length, or 0 when out is too small. ved_hex_decode parses one frame from ':' up to but not
 * including '\n' (a trailing '\r' is tolerated); 0 or -EINVAL (syntax) / -EBADMSG (checksum). */
size_t ved_hex_encode(uint8_t cmd, const uint8_t *data, size_t len, char *out, size_t outlen);
int ved_hex_decode(const char *text, size_t len, struct ved_hex_frame *out);

/* HEX commands and response codes (VE.Direct HEX protocol, go-victron definitions.go). */
enum {
    VED_CMD_PING = 0x1,
    VED_CMD_APP_VERSION = 0x3,
    VED_CMD_PRODUCT_ID = 0x4,
    VED_CMD_RESTART = 0x6,
    VED_CMD_GET = 0x7,
    VED_CMD_SET = 0x8,
    VED_CMD_ASYNC = 0xA,
    VED_RSP_DONE = 0x1,
    VED_RSP_UNKNOWN = 0x3,
    VED_RSP_ERROR = 0x4,
    VED_RSP_PING = 0x5,
};

/* Get/Set/Async flags byte. */
enum {
    VED_FLAG_OK = 0x00,
    VED_FLAG_UNKNOWN_ID = 0x01,
    VED_FLAG_NOT_SUPPORTED = 0x02,
    VED_FLAG_PARAM_ERROR = 0x04,
};

/* Builds a Get (cmd 7) or Set (cmd 8, value of width 1, 2 or 4 bytes LE) request for register reg.
 * Returns the frame length written to out, or 0 when out is too small or width is invalid. */
size_t ved_hex_get(uint16_t reg, char *out, size_t outlen);
size_t ved_hex_set(uint16_t reg, uint32_t value, size_t width, char *out, size_t outlen);

/* For a Get/Set/Async reply: register id, flags and a pointer to the value bytes. 0 or -EINVAL. */
int ved_hex_frame_register(const struct ved_hex_frame *fr, uint16_t *reg, uint8_t *flags,
                           const uint8_t **val, size_t *vlen);

/* Little-endian value of up to 4 bytes; signed variant sign-extends from the width. */
uint32_t ved_le_u32(const uint8_t *p, size_t n);
int32_t ved_le_s32(const uint8_t *p, size_t n);

#endif
