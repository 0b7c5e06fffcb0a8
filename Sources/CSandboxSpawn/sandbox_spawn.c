// Fork-and-exec with an optional sandbox for the Python action host.
// posix_spawn cannot enter a mount namespace or change the user, so this is
// the one place FlowRunner forks by hand. Between fork and exec the child
// only makes async-signal-safe system calls on data the parent prepared.
#define _GNU_SOURCE
#include "sandbox_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/// Stages the child reports when it fails (with the failing step's index).
enum stage {
    STAGE_DESCRIPTORS = 1,
    STAGE_NAMESPACE,
    STAGE_PRIVATE,
    STAGE_MOUNT,
    STAGE_GROUPS,
    STAGE_GID,
    STAGE_UID,
    STAGE_NO_NEW_PRIVS,
    STAGE_DIRECTORY,
    STAGE_EXEC,
};

struct child_failure {
    int stage;
    int step;
    int error;
};

static void report_and_exit(int fd, int stage, int step) {
    struct child_failure failure = {stage, step, errno};
    ssize_t ignored = write(fd, &failure, sizeof failure);
    (void)ignored;
    _exit(127);
}

/// Moves `fd` above 2 so the dup2 onto 0, 1, 2 cannot clobber it.
static int lift(int fd) {
    return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/// Writes "/proc/self/fd/<fd>" into `buffer` (at least 32 bytes) without
/// snprintf, which is not async-signal-safe.
static void descriptor_path(int fd, char *buffer) {
    static const char prefix[] = "/proc/self/fd/";
    memcpy(buffer, prefix, sizeof prefix - 1);
    char digits[12];
    int count = 0;
    do {
        digits[count++] = (char)('0' + fd % 10);
        fd /= 10;
    } while (fd > 0 && count < 11);
    char *cursor = buffer + sizeof prefix - 1;
    while (count > 0) *cursor++ = digits[--count];
    *cursor = 0;
}

static int mount_step(const fr_mount_step *step, int source_fd) {
    switch (step->kind) {
    case FR_MOUNT_TMPFS:
        return mount("tmpfs", step->target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m");
    case FR_MOUNT_MKDIR:
        if (mkdir(step->target, 0755) == 0 || errno == EEXIST) return 0;
        return -1;
    case FR_MOUNT_BIND_READ_ONLY: {
        char source[32];
        descriptor_path(source_fd, source);
        if (mount(source, step->target, NULL, MS_BIND | MS_REC, NULL) != 0) return -1;
        return mount(NULL, step->target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
    }
    case FR_MOUNT_MASK_FILE:
        return mount("/dev/null", step->target, NULL, MS_BIND, NULL);
    }
    errno = EINVAL;
    return -1;
}

static void child(const fr_spawn_request *request, int report_fd) {
    sigset_t none;
    sigemptyset(&none);
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    for (int signal_number = 1; signal_number < NSIG; signal_number++) {
        sigaction(signal_number, &fallback, NULL);  // fails harmlessly for SIGKILL, SIGSTOP
    }
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    // Best effort: a child that keeps the parent's priority is still correct.
    if (request->niceness != 0) setpriority(PRIO_PROCESS, 0, getpriority(PRIO_PROCESS, 0) + request->niceness);

    int in = lift(request->stdin_fd), out = lift(request->stdout_fd), err = lift(request->stderr_fd);
    if (in < 0 || out < 0 || err < 0) report_and_exit(report_fd, STAGE_DESCRIPTORS, -1);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) report_and_exit(report_fd, STAGE_DESCRIPTORS, -1);
    // Every other descriptor closes at exec (the report pipe too, which is
    // how the parent learns that exec succeeded).
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        long limit = sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < (limit > 0 && limit < 65536 ? limit : 65536); fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }

    if (request->isolate) {
        if (unshare(CLONE_NEWNS) != 0) report_and_exit(report_fd, STAGE_NAMESPACE, -1);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) report_and_exit(report_fd, STAGE_PRIVATE, -1);
        // Bind sources are opened in the new namespace (a bind from another
        // namespace's mount is refused) and before anything covers them.
        for (size_t index = 0; index < request->step_count; index++) {
            request->scratch[index] = -1;
            if (request->steps[index].kind != FR_MOUNT_BIND_READ_ONLY) continue;
            request->scratch[index] = open(request->steps[index].source, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (request->scratch[index] < 0) report_and_exit(report_fd, STAGE_MOUNT, (int)index);
        }
        for (size_t index = 0; index < request->step_count; index++) {
            if (mount_step(&request->steps[index], request->scratch[index]) != 0) report_and_exit(report_fd, STAGE_MOUNT, (int)index);
        }
        if (setgroups(0, NULL) != 0) report_and_exit(report_fd, STAGE_GROUPS, -1);
        if (setresgid(request->gid, request->gid, request->gid) != 0) report_and_exit(report_fd, STAGE_GID, -1);
        if (setresuid(request->uid, request->uid, request->uid) != 0) report_and_exit(report_fd, STAGE_UID, -1);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) report_and_exit(report_fd, STAGE_NO_NEW_PRIVS, -1);
    }
    if (request->working_directory && chdir(request->working_directory) != 0) {
        report_and_exit(report_fd, STAGE_DIRECTORY, -1);
    }
    execve(request->executable, request->argv, request->envp);
    report_and_exit(report_fd, STAGE_EXEC, -1);
}

static void describe(const fr_spawn_request *request, const struct child_failure *failure, char *message, size_t size) {
    const char *reason = strerror(failure->error);
    const fr_mount_step *step = (failure->step >= 0 && (size_t)failure->step < request->step_count)
        ? &request->steps[failure->step] : NULL;
    switch (failure->stage) {
    case STAGE_DESCRIPTORS:
        snprintf(message, size, "cannot set up the child's standard descriptors: %s", reason);
        break;
    case STAGE_NAMESPACE:
        snprintf(message, size, "cannot create a mount namespace for the action host: %s", reason);
        break;
    case STAGE_PRIVATE:
        snprintf(message, size, "cannot make the action host's mounts private: %s", reason);
        break;
    case STAGE_MOUNT:
        if (!step) {
            snprintf(message, size, "cannot prepare the action host's file system: %s", reason);
        } else if (step->kind == FR_MOUNT_TMPFS) {
            snprintf(message, size, "cannot hide %s from the action host (tmpfs): %s", step->target, reason);
        } else if (step->kind == FR_MOUNT_MKDIR) {
            snprintf(message, size, "cannot create %s in the action host's file system: %s", step->target, reason);
        } else if (step->kind == FR_MOUNT_BIND_READ_ONLY) {
            snprintf(message, size, "cannot show %s to the action host (read-only bind mount): %s", step->target, reason);
        } else {
            snprintf(message, size, "cannot hide the file %s from the action host: %s", step->target, reason);
        }
        break;
    case STAGE_GROUPS:
    case STAGE_GID:
        snprintf(message, size, "cannot switch the action host to group %u: %s", request->gid, reason);
        break;
    case STAGE_UID:
        snprintf(message, size, "cannot switch the action host to user %u: %s", request->uid, reason);
        break;
    case STAGE_NO_NEW_PRIVS:
        snprintf(message, size, "cannot set no_new_privs for the action host: %s", reason);
        break;
    case STAGE_DIRECTORY:
        snprintf(message, size, "cannot enter %s: %s", request->working_directory, reason);
        break;
    default:
        snprintf(message, size, "cannot start %s: %s", request->executable, reason);
        break;
    }
}

int fr_spawn(const fr_spawn_request *request, pid_t *pid, char *message, size_t message_size) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        int error = errno;
        snprintf(message, message_size, "cannot create a pipe for the action host: %s", strerror(error));
        return error;
    }
    pid_t child_pid = fork();
    if (child_pid < 0) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        snprintf(message, message_size, "cannot fork the action host: %s", strerror(error));
        return error;
    }
    if (child_pid == 0) {
        close(report[0]);
        child(request, report[1]);
    }
    close(report[1]);
    setpgid(child_pid, child_pid);  // also done by the child; whichever runs first wins
    struct child_failure failure = {0, -1, EIO};
    ssize_t got;
    do {
        got = read(report[0], &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got > 0) {  // the child reported a failure before exec
        int status;
        while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR) {}
        describe(request, &failure, message, message_size);
        return failure.error ? failure.error : EINVAL;
    }
    *pid = child_pid;
    return 0;
}

int fr_make_non_dumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
