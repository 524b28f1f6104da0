/* emu_modem: `sitewatch-emu modem`: a GSM modem answering AT commands (text-mode SMS) on a pty. */
#ifndef SITEWATCH_EMU_MODEM_H
#define SITEWATCH_EMU_MODEM_H

#include <signal.h>

/* Runs the modem until SIGINT/SIGTERM (set: the blocked signals, fetched with sigtimedwait).
 * Returns the exit status. */
int emu_modem_main(int argc, char **argv, const sigset_t *set);

#endif
