/* port: serial and TCP byte transports behind one small interface.
 *
 * Local ttys are opened with libserialport. libserialport 0.1.1 refuses ports it cannot describe
 * (ptys among them: sp_get_port_by_name fails on a pty), so those fall back to plain termios.
 * Either way the file descriptor is then read with poll(), which also notices an unplugged USB
 * adapter (POLLHUP/POLLERR, or read() failing with EIO). */
#include "port.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

struct port {
    int fd;
    struct sp_port *sp; /* non-NULL when libserialport owns the fd */
    int local;
    char where[PATH_MAX];
};

static speed_t port_speed(int baud)
{
    switch (baud) {
    case 2400:
        return B2400;
    case 4800:
        return B4800;
    case 9600:
        return B9600;
    case 19200:
        return B19200;
    case 38400:
        return B38400;
    case 57600:
        return B57600;
    case 115200:
        return B115200;
    default:
        return B0;
    }
}

static int port_open_termios(struct port *p, int baud, char *err, size_t errlen)
{
    int fd = open(p->where, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", p->where, strerror(e));
        return -e;
    }
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s is not a tty: %s", p->where, strerror(e));
        close(fd);
        return -e;
    }
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS);
    speed_t sp = port_speed(baud);
    cfsetispeed(&tio, sp);
    cfsetospeed(&tio, sp);
    if (tcsetattr(fd, TCSANOW, &tio) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot set %d 8N1 on %s: %s", baud, p->where, strerror(e));
        close(fd);
        return -e;
    }
    p->fd = fd;
    return 0;
}

static int port_open_serial(struct port *p, int baud, char *err, size_t errlen)
{
    struct sp_port *sp = NULL;
    if (sp_get_port_by_name(p->where, &sp) == SP_OK && sp_open(sp, SP_MODE_READ_WRITE) == SP_OK) {
        if (sp_set_baudrate(sp, baud) == SP_OK && sp_set_bits(sp, 8) == SP_OK &&
            sp_set_parity(sp, SP_PARITY_NONE) == SP_OK && sp_set_stopbits(sp, 1) == SP_OK &&
            sp_set_flowcontrol(sp, SP_FLOWCONTROL_NONE) == SP_OK) {
            int fd;
            if (sp_get_port_handle(sp, &fd) == SP_OK) {
                p->sp = sp;
                p->fd = fd;
                return 0;
            }
        }
        sp_close(sp);
    }
    if (sp)
        sp_free_port(sp);
    /* Not describable by libserialport (a pty, or an odd driver): plain termios. */
    return port_open_termios(p, baud, err, errlen);
}

static int port_open_tcp(struct port *p, const char *hostport, int timeout_ms, char *err,
                         size_t errlen)
{
    char host[256];
    int portno;
    if (util_parse_hostport(hostport, host, sizeof(host), &portno) != 0 || portno == 0) {
        snprintf(err, errlen, "bad tcp address '%s' (expected tcp://host:port)", hostport);
        return -EINVAL;
    }
    char service[8];
    snprintf(service, sizeof(service), "%d", portno);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int g = getaddrinfo(host, service, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(g));
        return -EHOSTUNREACH;
    }
    int e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            e = errno;
            close(fd);
            continue;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int pr = poll(&pfd, 1, timeout_ms);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (pr <= 0) {
            e = pr == 0 ? ETIMEDOUT : errno;
            close(fd);
            continue;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr != 0) {
            e = soerr;
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        p->fd = fd;
        freeaddrinfo(res);
        return 0;
    }
    freeaddrinfo(res);
    snprintf(err, errlen, "cannot connect to %s: %s", hostport, strerror(e));
    return -e;
}

int port_open(const char *spec, int baud, int timeout_ms, struct port **out, char *err,
              size_t errlen)
{
    struct port *p = xcalloc(1, sizeof(*p));
    p->fd = -1;
    int r;
    if (strncmp(spec, "tcp://", 6) == 0) {
        util_strlcpy(p->where, spec + 6, sizeof(p->where));
        r = port_open_tcp(p, spec + 6, timeout_ms, err, errlen);
    } else {
        p->local = 1;
        if (port_speed(baud) == B0) {
            snprintf(err, errlen, "unsupported baud rate %d", baud);
            free(p);
            return -EINVAL;
        }
        /* /dev/serial/by-id/... names are symlinks; resolve them so logs show the real tty and
         * a vanished link reads as "not present". */
        if (!realpath(spec, p->where)) {
            int e = errno;
            snprintf(err, errlen, "%s: %s", spec,
                     e == ENOENT ? "not present (unplugged?)" : strerror(e));
            free(p);
            return -e;
        }
        r = port_open_serial(p, baud, err, errlen);
    }
    if (r < 0) {
        free(p);
        return r;
    }
    *out = p;
    return 0;
}

ssize_t port_read(struct port *p, uint8_t *buf, size_t len, int timeout_ms)
{
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr < 0)
        return errno == EINTR ? 0 : -errno;
    if (pr == 0)
        return 0;
    if (pfd.revents & POLLNVAL)
        return -ENODEV;
    ssize_t n = read(p->fd, buf, len);
    if (n > 0)
        return n;
    if (n == 0)
        return -ENODEV; /* EOF: TCP peer closed, or the pty master went away */
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    if (errno == EIO || errno == ENXIO || errno == ENODEV || errno == ECONNRESET)
        return -ENODEV;
    return -errno;
}

int port_write(struct port *p, const void *buf, size_t len, int timeout_ms)
{
    const uint8_t *b = buf;
    int64_t deadline = util_mono_ms() + timeout_ms;
    while (len > 0) {
        ssize_t n = write(p->fd, b, len);
        if (n > 0) {
            b += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return errno == EIO ? -ENODEV : -errno;
        int left = (int)(deadline - util_mono_ms());
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
        poll(&pfd, 1, left);
    }
    return 0;
}

void port_flush_input(struct port *p)
{
    if (p->local)
        tcflush(p->fd, TCIFLUSH);
}

const char *port_where(const struct port *p)
{
    return p->where;
}

int port_is_local(const struct port *p)
{
    return p->local;
}

void port_close(struct port *p)
{
    if (!p)
        return;
    if (p->sp) {
        sp_close(p->sp);
        sp_free_port(p->sp);
    } else if (p->fd >= 0) {
        close(p->fd);
    }
    free(p);
}
