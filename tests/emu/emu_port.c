/* emu_port: the emulator's end of a serial line: a pty behind a stable symlink, or loopback TCP. */
#include "emu_port.h"

#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#define PORT_WRITE_WAIT_MS 200 /* how long a TCP client may stall before its bytes are dropped */

enum port_type {
    PORT_PTY,
    PORT_TCP,
};

struct emu_port {
    enum port_type type;
    int fd;        /* pty master, or the TCP client (-1: none) */
    int keep_fd;   /* pty slave held open by us: see emu_port_open_pty */
    int listen_fd; /* TCP */
    char link[PATH_MAX];
    char slave[64];
    char name[PATH_MAX];
};

static struct emu_port *port_alloc(enum port_type type)
{
    struct emu_port *p = xcalloc(1, sizeof(*p));
    p->type = type;
    p->fd = -1;
    p->keep_fd = -1;
    p->listen_fd = -1;
    return p;
}

static int fd_set_flags(int fd, bool nonblock)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, nonblock ? fl | O_NONBLOCK : fl) < 0)
        return -errno;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

/* VE.Direct: 19200 baud, 8 data bits, no parity, 1 stop bit, no flow control; raw bytes. */
static int tty_raw_19200(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        return -errno;
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS | CSIZE);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, B19200) != 0 || cfsetospeed(&t, B19200) != 0)
        return -errno;
    if (tcsetattr(fd, TCSANOW, &t) != 0)
        return -errno;
    return 0;
}

static int dir_of(const char *path, char *dir, size_t n)
{
    if (util_strlcpy(dir, path, n) >= n)
        return -ENAMETOOLONG;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return -ENOENT; /* no directory part: the current one */
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return 0;
}

/* Atomically points link at target: symlink to link.tmp, then rename over link. */
static int symlink_atomic(const char *target, const char *link)
{
    char tmp[PATH_MAX];
    if (util_snprintf(tmp, sizeof(tmp), "%s.tmp", link) != 0)
        return -ENAMETOOLONG;
    if (unlink(tmp) != 0 && errno != ENOENT)
        return -errno;
    if (symlink(target, tmp) != 0)
        return -errno;
    if (rename(tmp, link) != 0) {
        int e = -errno;
        if (unlink(tmp) != 0)
            log_msg(LOG_WARNING, "emu: cannot remove %s: %s", tmp, strerror(errno));
        return e;
    }
    return 0;
}

int emu_port_open_pty(const char *path, struct emu_port **out)
{
    struct emu_port *p = port_alloc(PORT_PTY);
    int rc;
    if (util_strlcpy(p->link, path, sizeof(p->link)) >= sizeof(p->link) ||
        util_strlcpy(p->name, path, sizeof(p->name)) >= sizeof(p->name)) {
        rc = -ENAMETOOLONG;
        goto fail;
    }
    if (openpty(&p->fd, &p->keep_fd, NULL, NULL, NULL) != 0) {
        rc = -errno;
        goto fail;
    }
    rc = ttyname_r(p->keep_fd, p->slave, sizeof(p->slave));
    if (rc != 0) {
        rc = -rc;
        goto fail;
    }
    /* The master is non-blocking: with nobody reading, a full pty must not stall the device.
     * We keep the slave open ourselves so that the master never sees a hang-up (EIO) while the
     * daemon has the port closed, e.g. between its unplug and re-open. */
    if ((rc = fd_set_flags(p->fd, true)) != 0 || (rc = fd_set_flags(p->keep_fd, false)) != 0)
        goto fail;
    if ((rc = tty_raw_19200(p->keep_fd)) != 0 || (rc = tty_raw_19200(p->fd)) != 0)
        goto fail;
    char dir[PATH_MAX];
    if (dir_of(path, dir, sizeof(dir)) == 0 && (rc = util_mkdirs(dir, 0755)) != 0)
        goto fail;
    if ((rc = symlink_atomic(p->slave, path)) != 0)
        goto fail;
    *out = p;
    return 0;
fail:
    log_msg(LOG_ERR, "emu: cannot create pty %s: %s", path, strerror(-rc));
    p->link[0] = '\0';
    emu_port_free(p);
    return rc;
}

int emu_port_open_tcp(const char *hostport, struct emu_port **out)
{
    char host[64];
    int port;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (util_parse_hostport(hostport, host, sizeof(host), &port) != 0 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        log_msg(LOG_ERR, "emu: bad TCP endpoint '%s' (want 127.0.0.1:PORT)", hostport);
        return -EINVAL;
    }
    sa.sin_port = htons((uint16_t)port);
    struct emu_port *p = port_alloc(PORT_TCP);
    int rc;
    int one = 1;
    socklen_t len = sizeof(sa);
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->listen_fd < 0 ||
        setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(p->listen_fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(p->listen_fd, 4) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&sa, &len) != 0) {
        rc = -errno;
        log_msg(LOG_ERR, "emu: cannot listen on %s: %s", hostport, strerror(errno));
        emu_port_free(p);
        return rc;
    }
    if (util_snprintf(p->name, sizeof(p->name), "%s:%u", host, (unsigned)ntohs(sa.sin_port)) != 0) {
        emu_port_free(p);
        return -ENAMETOOLONG;
    }
    *out = p;
    return 0;
}

const char *emu_port_name(const struct emu_port *p)
{
    return p->name;
}

static void tcp_drop_client(struct emu_port *p, const char *why)
{
    if (p->fd < 0)
        return;
    log_msg(LOG_INFO, "emu: %s: client %s", p->name, why);
    close(p->fd);
    p->fd = -1;
}

static int tcp_accept(struct emu_port *p)
{
    int c = accept(p->listen_fd, NULL, NULL);
    if (c < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
            return 0;
        return -errno;
    }
    int rc = fd_set_flags(c, true);
    if (rc != 0) {
        close(c);
        return rc;
    }
    tcp_drop_client(p, "replaced by a new connection");
    p->fd = c;
    log_msg(LOG_INFO, "emu: %s: client connected", p->name);
    return 0;
}

int emu_port_read(struct emu_port *p, uint8_t *buf, size_t len, int timeout_ms, size_t *got)
{
    struct pollfd pf[2];
    nfds_t n = 0;
    int data_idx = -1;
    int listen_idx = -1;
    *got = 0;
    if (p->type == PORT_TCP) {
        pf[n] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
        listen_idx = (int)n++;
    }
    if (p->fd >= 0) {
        pf[n] = (struct pollfd){.fd = p->fd, .events = POLLIN};
        data_idx = (int)n++;
    }
    if (n == 0) {
        util_sleep_ms(timeout_ms);
        return 0;
    }
    int r = poll(pf, n, timeout_ms < 0 ? 0 : timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (r == 0)
        return 0;
    if (listen_idx >= 0 && (pf[listen_idx].revents & POLLIN)) {
        int rc = tcp_accept(p);
        if (rc != 0)
            return rc;
        return 0; /* the old client's pending bytes (if any) went with it */
    }
    if (data_idx < 0 || !(pf[data_idx].revents & (POLLIN | POLLHUP | POLLERR)))
        return 0;
    ssize_t k = read(p->fd, buf, len);
    if (k > 0) {
        *got = (size_t)k;
        return 0;
    }
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (p->type == PORT_TCP) {
        tcp_drop_client(p, k == 0 ? "disconnected" : strerror(errno));
        return 0;
    }
    if (k == 0 || errno == EIO) {
        /* cannot happen while we hold the slave; do not spin if it does */
        util_sleep_ms(timeout_ms);
        return 0;
    }
    return -errno;
}

static int pty_write(struct emu_port *p, const uint8_t *buf, size_t len)
{
    bool flushed = false;
    while (len > 0) {
        ssize_t k = write(p->fd, buf, len);
        if (k > 0) {
            buf += k;
            len -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Nobody reads: like a real line, old bytes are lost. Drop what is queued once,
             * then drop the rest of this write if the pty is still full. */
            if (flushed)
                return 0;
            if (tcflush(p->keep_fd, TCIFLUSH) != 0)
                return -errno;
            flushed = true;
            continue;
        }
        return k < 0 ? -errno : -EIO;
    }
    return 0;
}

static int tcp_write(struct emu_port *p, const uint8_t *buf, size_t len)
{
    int64_t deadline = util_mono_ms() + PORT_WRITE_WAIT_MS;
    while (len > 0 && p->fd >= 0) {
        ssize_t k = send(p->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            buf += k;
            len -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int64_t left = deadline - util_mono_ms();
            if (left <= 0)
                return 0; /* a stalled client loses bytes, as behind a real bridge */
            struct pollfd pf = {.fd = p->fd, .events = POLLOUT};
            if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
                return -errno;
            continue;
        }
        tcp_drop_client(p, k < 0 ? strerror(errno) : "closed");
        return 0;
    }
    return 0;
}

int emu_port_write(struct emu_port *p, const uint8_t *buf, size_t len)
{
    if (p->type == PORT_PTY)
        return pty_write(p, buf, len);
    return tcp_write(p, buf, len);
}

void emu_port_free(struct emu_port *p)
{
    if (!p)
        return;
    if (p->type == PORT_PTY && p->link[0] && p->slave[0]) {
        char target[sizeof(p->slave)];
        ssize_t n = readlink(p->link, target, sizeof(target) - 1);
        if (n >= 0) {
            target[n] = '\0';
            if (strcmp(target, p->slave) == 0 && unlink(p->link) != 0)
                log_msg(LOG_WARNING, "emu: cannot remove %s: %s", p->link, strerror(errno));
        }
    }
    if (p->fd >= 0)
        close(p->fd);
    if (p->keep_fd >= 0)
        close(p->keep_fd);
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    free(p);
}
