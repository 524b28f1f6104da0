/* emu_vebus: `sitewatch-emu vebus`: an MK3-USB with a MultiPlus system behind it on a pty,
 * answering the MK2 host protocol like the real device, driven by the site model. */
#ifndef SITEWATCH_EMU_VEBUS_H
#define SITEWATCH_EMU_VEBUS_H

#include <signal.h>

/* Runs the vebus subcommand: argv[0] is "vebus", options follow (see --help). Signals in *set are
 * already blocked in every thread; SIGUSR2 (grid on/lost) is added here. Returns the exit status.
 */
int emu_vebus_main(int argc, char **argv, const sigset_t *set);

#endif
