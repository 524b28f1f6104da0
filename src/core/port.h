/* port: byte transport to a device: serial tty (libserialport, termios fallback for ptys) or
 * tcp://host:port for serial-over-IP bridges. Blocking I/O bounded by timeouts. */
#ifndef SITEWATCH_PORT_H
#define SITEWATCH_PORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct port;

/* Opens spec ("/dev/ttyUSB0", "/dev/serial/by-id/...", or "tcp://host:port") at baud 8N1.
 * Symlinks are resolved first. On failure returns -errno and writes a reason into err. */
int port_open(const char *spec, int baud, int timeout_ms, struct port **out, char *err,
              size_t errlen);
/* Reads up to len bytes, waiting at most timeout_ms. Returns the count, 0 on timeout, -ENODEV when
 * the device is gone (unplugged, EOF, connection closed) or another -errno. */
ssize_t port_read(struct port *p, uint8_t *buf, size_t len, int timeout_ms);
/* Writes all of buf within timeout_ms. 0 or -errno. */
int port_write(struct port *p, const void *buf, size_t len, int timeout_ms);
/* Discards pending input. */
void port_flush_input(struct port *p);
/* What was opened: the resolved device path or host:port. */
const char *port_where(const struct port *p);
/* True for a local tty (cheap to reopen), false for TCP. */
int port_is_local(const struct port *p);
void port_close(struct port *p);

#endif
