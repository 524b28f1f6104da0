/* emu_port: the emulator's end of a serial line: a pty behind a stable symlink, or loopback TCP. */
#ifndef SITEWATCH_EMU_PORT_H
#define SITEWATCH_EMU_PORT_H

#include <stddef.h>
#include <stdint.h>

struct emu_port;

/* Creates a pty (raw, 19200 8N1 on the slave) and makes path a symlink to its slave device,
 * atomically (path.tmp + rename); missing parent directories are created. 0 or -errno. */
int emu_port_open_pty(const char *path, struct emu_port **out);

/* Listens on "127.0.0.1:PORT" (PORT 0 picks a free one) and serves one client at a time: a new
 * connection replaces the old one, as a serial-over-IP bridge does. 0 or -errno. */
int emu_port_open_tcp(const char *hostport, struct emu_port **out);

/* "PATH" or "127.0.0.1:PORT" (the real port); valid until emu_port_free. */
const char *emu_port_name(const struct emu_port *p);

/* Waits up to timeout_ms for bytes from the host and reads at most len of them into buf;
 * *got = 0 on timeout. Accepts new TCP clients on the way. 0 or -errno. */
int emu_port_read(struct emu_port *p, uint8_t *buf, size_t len, int timeout_ms, size_t *got);

/* Writes buf to the host. Without a listener the bytes are dropped, as on a real line.
 * 0 or -errno on a hard error. */
int emu_port_write(struct emu_port *p, const uint8_t *buf, size_t len);

/* Closes the port and removes the symlink if it still points at this pty. NULL is a no-op. */
void emu_port_free(struct emu_port *p);

#endif
