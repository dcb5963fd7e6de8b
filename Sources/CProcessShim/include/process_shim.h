#ifndef GUESTPREP_PROCESS_SHIM_H
#define GUESTPREP_PROCESS_SHIM_H

// Process plumbing Swift cannot do safely itself: pipe2 (needs _GNU_SOURCE), and the fork of a
// command into a chroot inside a private mount namespace, where only async-signal-safe syscalls
// may run between fork and exec (pipe.c, chroot_spawn.c).
#include <sys/types.h>

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so no concurrent spawn inherits them.
int guestprep_pipe_cloexec(int fds[2]);

/// The setup step a chroot child failed at, reported to the parent with its errno.
enum guestprep_chroot_step {
    GUESTPREP_STEP_NONE = 0,
    GUESTPREP_STEP_UNSHARE,
    GUESTPREP_STEP_MAKE_PRIVATE,
    GUESTPREP_STEP_OPEN_ROOT,
    GUESTPREP_STEP_OPEN_DEV,
    GUESTPREP_STEP_BIND_DEV,
    GUESTPREP_STEP_ENTER_ROOT,
    GUESTPREP_STEP_CHROOT,
    GUESTPREP_STEP_CHDIR,
    GUESTPREP_STEP_MOUNT_PROC,
    GUESTPREP_STEP_MOUNT_SYS,
    GUESTPREP_STEP_MOUNT_RUN,
    GUESTPREP_STEP_STDIO,
    GUESTPREP_STEP_EXEC,
};

/// A directory's identity, to check that what the child opens is what the parent checked.
struct guestprep_file_identity {
    unsigned long long device;
    unsigned long long inode;
};

struct guestprep_chroot_request {
    const char *root_path;                  // the guest root on the host (an absolute, resolved path)
    struct guestprep_file_identity root;    // the root as the parent opened it
    struct guestprep_file_identity dev;     // the guest's /dev as the parent opened it (a real directory)
    const char *path;       // the executable, as a path inside the guest
    char *const *argv;      // NULL-terminated
    char *const *envp;      // NULL-terminated; the whole environment
    int stdin_fd;           // installed as the child's 0, 1 and 2
    int stdout_fd;
    int stderr_fd;
    int report_fd;          // close-on-exec pipe: EOF means exec succeeded, else one guestprep_chroot_report
};

struct guestprep_chroot_report {
    int step;   // enum guestprep_chroot_step
    int error;  // errno
};

/// Forks a child that, in its own private mount namespace, bind-mounts the host's /dev on the
/// guest's, chroots into the guest, mounts proc, sysfs and a tmpfs on /run, and runs
/// `request->path`. Returns the child's pid, or -1 with errno set when fork itself fails.
/// Setup failures in the child arrive on `report_fd`.
pid_t guestprep_chroot_spawn(const struct guestprep_chroot_request *request);

#endif
