#ifndef GUESTPREP_PROCESS_SHIM_H
#define GUESTPREP_PROCESS_SHIM_H

// Process plumbing Swift cannot do itself: pipe2 needs _GNU_SOURCE.

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so no concurrent spawn inherits them.
int guestprep_pipe_cloexec(int fds[2]);

#endif
