#define _GNU_SOURCE
#include <fcntl.h>
#include "guestprep_shim.h"

int guestprep_openat(int dirfd, const char *path, int flags, unsigned int mode) {
    return openat(dirfd, path, flags, (mode_t)mode);
}

const int guestprep_O_PATH = O_PATH;
