/* emu_ved_kinds: the emulated VE.Direct products as data: identity, text blocks, HEX registers. */
#ifndef SITEWATCH_EMU_VED_KINDS_H
#define SITEWATCH_EMU_VED_KINDS_H

#include "emu.h"
#include "emu_site.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a text field's value is written. */
enum emu_fmt {
    EMU_FMT_NUM,    /* round(q × scale) in decimal */
    EMU_FMT_NUM_NA, /* the same, or "---" when q is not available (no sensor) */
    EMU_FMT_ONOFF,  /* ON / OFF */
    EMU_FMT_HEX32,  /* 0x%08X (OR) */
    EMU_FMT_PID,    /* 0x%X: real BMV-700s send 0x203, not zero-padded */
    EMU_FMT_FW,     /* the device's firmware text (FW or FWE) */
    EMU_FMT_SERIAL, /* the device's serial number */
    EMU_FMT_TEXT,   /* the row's literal text */
};

/* One text-block field. */
struct emu_field {
    const char *label;
    enum emu_fmt fmt;
    enum emu_q q;
    double scale;     /* SI × scale = wire integer (V → mV: 1000) */
    const char *text; /* EMU_FMT_TEXT */
};

/* HEX register value types. */
enum emu_rtype {
    EMU_R_U8,
    EMU_R_U16,
    EMU_R_S16,
    EMU_R_U32,
    EMU_R_S32,
    EMU_R_PRODUCT, /* 0x0100: 4 bytes 00, PID lo, PID hi, FF */
    EMU_R_SERIAL,  /* string + NUL */
    EMU_R_MODEL,   /* string + NUL */
};

/* What a successful Set does beyond storing the value. */
enum emu_effect {
    EMU_EFF_NONE,
    EMU_EFF_MODE, /* device mode: 4 switches the device off, anything else on */
    EMU_EFF_LOAD, /* MPPT load output control */
};

/* One HEX register. Read-only rows show a model quantity; writable rows are settings the device
 * keeps per instance, starting at def. A NaN or negative quantity reads as "not available":
 * all ones for unsigned types, the maximum for signed ones (as real devices send 0xFFFF / 0x7FFF).
 */
struct emu_reg {
    uint16_t reg;
    enum emu_rtype type;
    enum emu_q q;
    double scale;
    bool writable;
    int32_t def;
    int32_t min;
    int32_t max;
    uint32_t allowed; /* writable: bit v set = value v accepted (values < 32); 0 = whole range */
    enum emu_effect effect;
};

/* What a monitor's auxiliary input measures. */
enum emu_aux {
    EMU_AUX_NONE,
    EMU_AUX_TEMP,    /* T field; no sensor fitted, so "---" */
    EMU_AUX_STARTER, /* VS field: starter battery */
};

struct emu_kind {
    const char *name; /* --kind value */
    enum emu_role role;
    uint16_t pid;
    const char *fw; /* default firmware text */
    bool fwe;       /* firmware field is FWE (24-bit, "0342FF") rather than FW */
    const char *model;
    enum emu_aux aux;
    const struct emu_field *main; /* the block sent every second */
    size_t n_main;
    const struct emu_field *hist; /* monitors: the H1..H18 block that follows it; else NULL */
    size_t n_hist;
    const struct emu_reg *regs; /* the kind's own registers (the common ones come first) */
    size_t n_regs;
    bool daily_history; /* 0x1050..0x106E records and the async 0x1050 after every 10th block */
};

/* The kind called name, or NULL. */
const struct emu_kind *emu_kind_find(const char *name);
/* The default kind for a Venus service class ("battery", "solarcharger", ...), or NULL. */
const struct emu_kind *emu_kind_for_service(const char *service);
/* Kinds in table order, for usage text: NULL past the end. */
const struct emu_kind *emu_kind_at(size_t i);

/* The row of register reg for kind k: the common rows (product id, serial, model, uptime), then
 * the kind's. *row is the index into k->regs, or SIZE_MAX for a common row. NULL if unknown. */
const struct emu_reg *emu_kind_reg(const struct emu_kind *k, uint16_t reg, size_t *row);

/* Wire width in bytes of a numeric register type, 0 for strings and the product id. */
size_t emu_reg_width(enum emu_rtype t);

#endif
