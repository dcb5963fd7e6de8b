#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "process_shim.h"

// Tells the parent which step failed, then leaves without running atexit handlers or flushing
// stdio buffers copied from the parent.
static void fail(int report_fd, int step, int error) {
    struct guestprep_chroot_report report = {step, error};
    ssize_t ignored = write(report_fd, &report, sizeof report);
    (void)ignored;
    _exit(127);
}

// Opens what `path` names (relative to `dirfd`) as an O_PATH directory without following a
// symlink, and checks it is the directory the parent checked: returns the descriptor, or -1
// with errno set (ESTALE when something else now sits there).
static int open_same_directory(int dirfd, const char *path, const struct guestprep_file_identity *expected) {
    int fd = openat(dirfd, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat info;
    if (fstat(fd, &info) != 0) return -1;
    if ((unsigned long long)info.st_dev != expected->device || (unsigned long long)info.st_ino != expected->inode) {
        errno = ESTALE;
        return -1;
    }
    return fd;
}

// "/proc/self/fd/N" without snprintf, which is not async-signal-safe.
static void fd_path(char *buffer, int fd) {
    static const char prefix[] = "/proc/self/fd/";
    char digits[16];
    int count = 0;
    do {
        digits[count++] = (char)('0' + fd % 10);
        fd /= 10;
    } while (fd > 0 && count < (int)sizeof digits);
    int at = 0;
    for (; prefix[at] != '\0'; at++) buffer[at] = prefix[at];
    while (count > 0) buffer[at++] = digits[--count];
    buffer[at] = '\0';
}

// Moves the three stream descriptors above 2 first, so installing one cannot clobber another
// that happens to sit on 0, 1 or 2.
static int install_stdio(int in, int out, int err) {
    int high[3] = {
        fcntl(in, F_DUPFD_CLOEXEC, 3), fcntl(out, F_DUPFD_CLOEXEC, 3), fcntl(err, F_DUPFD_CLOEXEC, 3)};
    for (int i = 0; i < 3; i++) {
        if (high[i] < 0) return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (dup2(high[i], i) < 0) return -1;  // dup2 clears close-on-exec on the new descriptor
    }
    return 0;
}

pid_t guestprep_chroot_spawn(const struct guestprep_chroot_request *request) {
    pid_t pid = fork();
    if (pid != 0) return pid;

    // The child. Only async-signal-safe calls from here on: another thread of the parent may
    // have held a lock (malloc's, stdio's) at the moment of fork.
    int report = request->report_fd;

    // Start the command with default signal handling, whatever the parent's threads had set.
    struct sigaction dfl = {0};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);  // fails harmlessly on SIGKILL/SIGSTOP
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    // Every mount below lives only in this namespace. When its last process exits, however it
    // exits (success, crash, SIGKILL), the kernel destroys the namespace and unmounts them all:
    // there is no cleanup step that could be skipped.
    if (unshare(CLONE_NEWNS) != 0) fail(report, GUESTPREP_STEP_UNSHARE, errno);
    // A copied mount that is shared with the host would carry our mounts back to it.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(report, GUESTPREP_STEP_MAKE_PRIVATE, errno);

    // Descriptors opened before unshare point into the host's namespace, where this one cannot
    // mount or chroot: reopen the root and its dev here and check they are what the parent
    // verified (dev is one component under the root, opened with O_NOFOLLOW: never a symlink).
    int root = open_same_directory(AT_FDCWD, request->root_path, &request->root);
    if (root < 0) fail(report, GUESTPREP_STEP_OPEN_ROOT, errno);
    int dev = open_same_directory(root, "dev", &request->dev);
    if (dev < 0) fail(report, GUESTPREP_STEP_OPEN_DEV, errno);
    // Through the descriptor, so a dev swapped for a symlink to a host path since the check
    // cannot redirect the mount.
    char dev_target[48];
    fd_path(dev_target, dev);
    if (mount("/dev", dev_target, NULL, MS_BIND | MS_REC, NULL) != 0) fail(report, GUESTPREP_STEP_BIND_DEV, errno);
    close(dev);
    if (fchdir(root) != 0) fail(report, GUESTPREP_STEP_ENTER_ROOT, errno);
    close(root);
    if (chroot(".") != 0) fail(report, GUESTPREP_STEP_CHROOT, errno);
    if (chdir("/") != 0) fail(report, GUESTPREP_STEP_CHDIR, errno);
    // After chroot, so these targets resolve inside the guest even if a symlink was planted.
    // sysfs read-only: a guest command has no business changing the host kernel's devices.
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        fail(report, GUESTPREP_STEP_MOUNT_PROC, errno);
    if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) != 0)
        fail(report, GUESTPREP_STEP_MOUNT_SYS, errno);
    if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
        fail(report, GUESTPREP_STEP_MOUNT_RUN, errno);

    if (install_stdio(request->stdin_fd, request->stdout_fd, request->stderr_fd) != 0)
        fail(report, GUESTPREP_STEP_STDIO, errno);
    // Nothing else of guestprep's leaks into the guest command (ENOSYS on old kernels is fine:
    // guestprep opens its own descriptors close-on-exec).
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

    // ETXTBSY can be transient: a file written just before (a script guestprep put in the
    // guest) stays open for writing in any child another thread forked meanwhile, until that
    // child execs (the race golang/go#22315 describes). Retry briefly before calling it a failure.
    for (int attempt = 1;; attempt++) {
        execve(request->path, request->argv, request->envp);
        if (errno != ETXTBSY || attempt == 10) break;
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    fail(report, GUESTPREP_STEP_EXEC, errno);
    return -1;  // not reached
}
