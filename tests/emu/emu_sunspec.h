/* emu_sunspec: `sitewatch-emu sunspec`: a Modbus-TCP server (libmodbus) on a loopback port that
 * serves one or several SunSpec inverters (unit ids), synthesised or from a dump, with faults. */
#ifndef SITEWATCH_EMU_SUNSPEC_H
#define SITEWATCH_EMU_SUNSPEC_H

#include <signal.h>

/* Runs the subcommand; argv[0] is "sunspec". set holds the signals main() blocked (SIGINT and
 * SIGTERM stop, SIGUSR1 toggles the fault; SIGUSR2, blocked here, logs counters). Returns the exit
 * status. */
int emu_sunspec_main(int argc, char **argv, const sigset_t *set);

#endif
