#ifndef GUESTPREP_SHIM_H
#define GUESTPREP_SHIM_H

// What Swift's Glibc module does not surface: extended attributes and the
// variadic open/fcntl calls Swift cannot call directly.
#include <sys/xattr.h>

int guestprep_openat(int dirfd, const char *path, int flags, unsigned int mode);

/// renameat2(RENAME_NOREPLACE): fails with EEXIST instead of replacing the destination.
int guestprep_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// The permanent (burned-in) MAC of a network interface through the ethtool ioctl, which sysfs
/// does not show; returns its length in bytes, or -1 with errno set (EOPNOTSUPP for most
/// virtual links).
int guestprep_permanent_mac(const char *ifname, unsigned char *out, int capacity);

/// The driver name ethtool reports for an interface (veth, dummy, bonding, virtio_net, …), copied
/// NUL-terminated into `out`; 0 on success, -1 with errno set.
int guestprep_link_driver(const char *ifname, char *out, int capacity);

/// O_PATH needs _GNU_SOURCE, which Swift's Glibc module is not built with.
extern const int guestprep_O_PATH;

static inline ssize_t guestprep_flistxattr(int fd, char *list, size_t size) {
    return flistxattr(fd, list, size);
}

static inline ssize_t guestprep_fgetxattr(int fd, const char *name, void *value, size_t size) {
    return fgetxattr(fd, name, value, size);
}

static inline int guestprep_fsetxattr(int fd, const char *name, const void *value, size_t size) {
    return fsetxattr(fd, name, value, size, 0);
}

static inline int guestprep_fremovexattr(int fd, const char *name) {
    return fremovexattr(fd, name);
}


#endif
