#define _GNU_SOURCE
#include <fcntl.h>
#include "guestprep_shim.h"

int guestprep_openat(int dirfd, const char *path, int flags, unsigned int mode) {
    return openat(dirfd, path, flags, (mode_t)mode);
}

const int guestprep_O_PATH = O_PATH;

#include <stdio.h>

int guestprep_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}
