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

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int guestprep_permanent_mac(const char *ifname, unsigned char *out, int capacity) {
    if (strlen(ifname) >= IFNAMSIZ || capacity <= 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ethtool_perm_addr *request = calloc(1, sizeof(*request) + (size_t)capacity);
    if (request == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    request->cmd = ETHTOOL_GPERMADDR;
    request->size = (unsigned int)capacity;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = (char *)request;
    int result = ioctl(fd, SIOCETHTOOL, &ifr);
    int saved = errno;
    close(fd);
    if (result < 0) {
        free(request);
        errno = saved;
        return -1;
    }
    int length = (int)request->size;
    if (length > capacity) length = capacity;
    memcpy(out, request->data, (size_t)length);
    free(request);
    return length;
}

int guestprep_link_driver(const char *ifname, char *out, int capacity) {
    if (strlen(ifname) >= IFNAMSIZ || capacity <= 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ethtool_drvinfo info;
    memset(&info, 0, sizeof(info));
    info.cmd = ETHTOOL_GDRVINFO;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = (char *)&info;
    int result = ioctl(fd, SIOCETHTOOL, &ifr);
    int saved = errno;
    close(fd);
    if (result < 0) {
        errno = saved;
        return -1;
    }
    strncpy(out, info.driver, (size_t)capacity - 1);
    out[capacity - 1] = '\0';
    return 0;
}
