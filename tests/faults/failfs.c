/* failfs: an LD_PRELOAD shim that makes file-system calls on one directory fail on demand, to
 * test the daemon with a full disk or a read-only state directory without root or a loop mount.
 *
 * FAILFS_DIR names the directory (its subdirectories included); FAILFS_CTL names a control
 * file whose first word selects the fault: "ENOSPC" (disk full: writes, fsync and file creation
 * fail, statvfs reports no free block), "EROFS" (read-only: every modification fails), anything
 * else or no file: no fault. The control file is re-read at most every 100 ms, so the test flips
 * the fault while the daemon runs. Calls on other paths (sockets, ptys, /proc) pass through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

enum failfs_mode { FAILFS_NONE, FAILFS_ENOSPC, FAILFS_EROFS };

/* The shim's own state: one process, set once, read by every thread (an LD_PRELOAD library has
 * no other place for it). */
static pthread_mutex_t failfs_lock = PTHREAD_MUTEX_INITIALIZER;
static enum failfs_mode failfs_cached;
static struct timespec failfs_checked;

static enum failfs_mode failfs_mode(void)
{
    const char *ctl = getenv("FAILFS_CTL");
    if (!ctl)
        return FAILFS_NONE;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&failfs_lock);
    long ms = (now.tv_sec - failfs_checked.tv_sec) * 1000 +
              (now.tv_nsec - failfs_checked.tv_nsec) / 1000000;
    if (ms >= 100 || (failfs_checked.tv_sec == 0 && failfs_checked.tv_nsec == 0)) {
        failfs_checked = now;
        /* raw syscalls through the real functions: the shim's own open/read must not recurse */
        int (*ropen)(const char *, int, ...) =
            (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
        ssize_t (*rread)(int, void *, size_t) =
            (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
        char buf[16] = {0};
        int fd = ropen(ctl, O_RDONLY | O_CLOEXEC);
        failfs_cached = FAILFS_NONE;
        if (fd >= 0) {
            ssize_t n = rread(fd, buf, sizeof(buf) - 1);
            close(fd);
            if (n > 0 && strncmp(buf, "ENOSPC", 6) == 0)
                failfs_cached = FAILFS_ENOSPC;
            else if (n > 0 && strncmp(buf, "EROFS", 5) == 0)
                failfs_cached = FAILFS_EROFS;
        }
    }
    enum failfs_mode m = failfs_cached;
    pthread_mutex_unlock(&failfs_lock);
    return m;
}

/* Whether path (absolute, or relative to the working directory) lies under FAILFS_DIR. */
static bool failfs_path(const char *path)
{
    const char *dir = getenv("FAILFS_DIR");
    if (!dir || !path)
        return false;
    char abs[PATH_MAX];
    if (path[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)) ||
            (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs))
            return false;
        path = abs;
    }
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static bool failfs_fd(int fd)
{
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
        return false;
    target[n] = '\0';
    return failfs_path(target);
}

#define FAILFS_REAL(ret, name, ...)                                                                \
    static ret (*real)(__VA_ARGS__);                                                               \
    if (!real)                                                                                     \
    real = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, name)

ssize_t write(int fd, const void *buf, size_t n)
{
    FAILFS_REAL(ssize_t, "write", int, const void *, size_t);
    enum failfs_mode m = failfs_mode();
    if (m != FAILFS_NONE && n > 0 && failfs_fd(fd)) {
        errno = m == FAILFS_ENOSPC ? ENOSPC : EROFS;
        return -1;
    }
    return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    FAILFS_REAL(ssize_t, "pwrite", int, const void *, size_t, off_t);
    enum failfs_mode m = failfs_mode();
    if (m != FAILFS_NONE && n > 0 && failfs_fd(fd)) {
        errno = m == FAILFS_ENOSPC ? ENOSPC : EROFS;
        return -1;
    }
    return real(fd, buf, n, off);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    FAILFS_REAL(size_t, "fwrite", const void *, size_t, size_t, FILE *);
    enum failfs_mode m = failfs_mode();
    if (m != FAILFS_NONE && size && n && failfs_fd(fileno(f))) {
        errno = m == FAILFS_ENOSPC ? ENOSPC : EROFS;
        return 0;
    }
    return real(p, size, n, f);
}

int fsync(int fd)
{
    FAILFS_REAL(int, "fsync", int);
    if (failfs_mode() == FAILFS_ENOSPC && failfs_fd(fd)) {
        errno = ENOSPC; /* delayed allocation: a full disk often shows up only here */
        return -1;
    }
    return real(fd);
}

int fdatasync(int fd)
{
    FAILFS_REAL(int, "fdatasync", int);
    if (failfs_mode() == FAILFS_ENOSPC && failfs_fd(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd);
}

static int failfs_open_check(const char *path, int flags)
{
    enum failfs_mode m = failfs_mode();
    if (m == FAILFS_NONE || !failfs_path(path))
        return 0;
    bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
    if (m == FAILFS_EROFS && writing)
        return EROFS;
    if (m == FAILFS_ENOSPC && (flags & O_CREAT) && access(path, F_OK) != 0)
        return ENOSPC; /* no inode left for a new file */
    return 0;
}

int open(const char *path, int flags, ...)
{
    FAILFS_REAL(int, "open", const char *, int, ...);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int e = failfs_open_check(path, flags);
    if (e) {
        errno = e;
        return -1;
    }
    return real(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    FAILFS_REAL(int, "open64", const char *, int, ...);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int e = failfs_open_check(path, flags);
    if (e) {
        errno = e;
        return -1;
    }
    return real(path, flags, mode);
}

FILE *fopen(const char *path, const char *how)
{
    FAILFS_REAL(FILE *, "fopen", const char *, const char *);
    int flags = how[0] == 'r' && !strchr(how, '+') ? O_RDONLY : O_WRONLY | O_CREAT;
    int e = failfs_open_check(path, flags);
    if (e) {
        errno = e;
        return NULL;
    }
    return real(path, how);
}

FILE *fopen64(const char *path, const char *how)
{
    FAILFS_REAL(FILE *, "fopen64", const char *, const char *);
    int flags = how[0] == 'r' && !strchr(how, '+') ? O_RDONLY : O_WRONLY | O_CREAT;
    int e = failfs_open_check(path, flags);
    if (e) {
        errno = e;
        return NULL;
    }
    return real(path, how);
}

int rename(const char *from, const char *to)
{
    FAILFS_REAL(int, "rename", const char *, const char *);
    enum failfs_mode m = failfs_mode();
    if (m == FAILFS_EROFS && (failfs_path(from) || failfs_path(to))) {
        errno = EROFS;
        return -1;
    }
    return real(from, to);
}

int mkdir(const char *path, mode_t mode)
{
    FAILFS_REAL(int, "mkdir", const char *, mode_t);
    enum failfs_mode m = failfs_mode();
    if (m != FAILFS_NONE && failfs_path(path) && access(path, F_OK) != 0) {
        errno = m == FAILFS_ENOSPC ? ENOSPC : EROFS;
        return -1;
    }
    return real(path, mode);
}

int unlink(const char *path)
{
    FAILFS_REAL(int, "unlink", const char *);
    if (failfs_mode() == FAILFS_EROFS && failfs_path(path)) {
        errno = EROFS;
        return -1;
    }
    return real(path);
}

static void failfs_statvfs_fix(const char *path, struct statvfs *st)
{
    if (failfs_mode() == FAILFS_ENOSPC && failfs_path(path)) {
        st->f_bfree = 0;
        st->f_bavail = 0;
        st->f_ffree = 0;
        st->f_favail = 0;
    }
}

int statvfs(const char *path, struct statvfs *st)
{
    FAILFS_REAL(int, "statvfs", const char *, struct statvfs *);
    int r = real(path, st);
    if (r == 0)
        failfs_statvfs_fix(path, st);
    return r;
}

int statvfs64(const char *path, struct statvfs64 *st)
{
    FAILFS_REAL(int, "statvfs64", const char *, struct statvfs64 *);
    int r = real(path, st);
    if (r == 0 && failfs_mode() == FAILFS_ENOSPC && failfs_path(path))
        st->f_bfree = st->f_bavail = st->f_ffree = st->f_favail = 0;
    return r;
}
