#ifndef GUESTPREP_TEST_SUPPORT_H
#define GUESTPREP_TEST_SUPPORT_H

/// Opens a pseudo-terminal pair; returns the master descriptor and writes the slave's path
/// into `path`, or returns -1. (posix_openpt and friends need _XOPEN_SOURCE, which Swift's
/// Glibc module is not built with.)
int test_open_pty(char *path, unsigned long size);

#endif
