/* emu_vedirect: one emulated VE.Direct device: paced text blocks, HEX answers, faults, replay. */
#ifndef SITEWATCH_EMU_VEDIRECT_H
#define SITEWATCH_EMU_VEDIRECT_H

#include "emu.h"
#include "emu_port.h"
#include "emu_site.h"
#include "emu_ved_kinds.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum emu_fault {
    EMU_FAULT_NONE,
    EMU_FAULT_GARBAGE, /* random bytes (never ':') after every block */
    EMU_FAULT_SILENCE, /* no text, no async, no HEX answers; the port stays open */
    EMU_FAULT_CORRUPT, /* one value byte changed in every 3rd block, so its checksum fails */
};

/* "none|garbage|silence|corrupt" → fault. 0 or -EINVAL. */
int emu_fault_parse(const char *s, enum emu_fault *out);

struct emu_ved_conf {
    const char *name;            /* for logs and serial numbers: "bmv", "mppt1" */
    const struct emu_kind *kind; /* NULL with replay_path: taken from the capture's PID */
    size_t index;                /* which MPPT of the site (solar kinds) */
    uint16_t pid;                /* 0: from the kind (or the capture) */
    const char *serial;          /* NULL: made up from seed and name */
    const char *fw;              /* NULL: the kind's */
    const char *model;           /* NULL: the kind's, or the product table's for another pid */
    const char *replay_path;     /* NULL: generate from the site model */
    enum emu_fault fault;
    long fault_after; /* blocks sent normally before the fault starts */
    long blocks;      /* stop after this many blocks; 0 = until stopped */
    bool async;       /* MPPT: ":A" 0x1050 after every 10th block */
    bool log_hex;     /* HEX traffic to the log */
    uint64_t seed;
};

struct emu_ved;

/* Creates a device on port, showing site. Copies the strings of conf; site, port and ctl must
 * outlive the device. Reads the replay file if any. 0 or -errno (-EINVAL: bad fw text). */
int emu_ved_new(const struct emu_ved_conf *conf, struct emu_site *site, struct emu_port *port,
                struct emu_ctl *ctl, struct emu_ved **out);

/* Runs the device until ctl->stop or until conf.blocks blocks were sent (then it answers HEX for
 * one more second so the host can read the tail). 0 or -errno on a port error. */
int emu_ved_run(struct emu_ved *d);

/* NULL is a no-op. */
void emu_ved_free(struct emu_ved *d);

#endif
