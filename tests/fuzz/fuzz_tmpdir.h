/* fuzz_tmpdir: a private state directory for a fuzz target that starts real services, made at
 * start and removed when the fuzzer exits (shared by the targets that need one). */
#ifndef SITEWATCH_FUZZ_TMPDIR_H
#define SITEWATCH_FUZZ_TMPDIR_H

#include "core/util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_tmpdir_path[64];

static int fuzz_tmpdir_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    (void)remove(path); /* best effort: a leftover file is harmless */
    return 0;
}

static void fuzz_tmpdir_cleanup(void)
{
    (void)nftw(fuzz_tmpdir_path, fuzz_tmpdir_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* Creates /tmp/sitewatch-<name>-<pid> (aborting when it cannot) and returns its path. */
static const char *fuzz_tmpdir(const char *name)
{
    (void)util_snprintf(fuzz_tmpdir_path, sizeof(fuzz_tmpdir_path), "/tmp/sitewatch-%s-%ld", name,
                        (long)getpid());
    if (util_mkdirs(fuzz_tmpdir_path, 0700) != 0)
        abort();
    atexit(fuzz_tmpdir_cleanup);
    return fuzz_tmpdir_path;
}

#endif
