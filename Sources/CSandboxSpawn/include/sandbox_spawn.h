#ifndef FLOWRUNNER_SANDBOX_SPAWN_H
#define FLOWRUNNER_SANDBOX_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/// One step of the child's mount plan, carried out in order inside a new,
/// private mount namespace before the child drops to the action user.
typedef enum {
    /// An empty tmpfs (mode 0755, owned by root) over the directory `target`.
    FR_MOUNT_TMPFS = 1,
    /// `mkdir target` (mode 0755); an existing directory is fine.
    FR_MOUNT_MKDIR = 2,
    /// A read-only bind mount of the directory `source` onto the directory
    /// `target`. `source` is opened before any step runs, so it may lie
    /// where a later step covers it.
    FR_MOUNT_BIND_READ_ONLY = 3,
    /// `/dev/null` bound over the file `target`, so it reads as empty.
    FR_MOUNT_MASK_FILE = 4,
} fr_mount_kind;

typedef struct {
    fr_mount_kind kind;
    const char *target;
    const char *source;
} fr_mount_step;

/// What to start, and how to confine it.
typedef struct {
    /// Absolute path of the program to execute.
    const char *executable;
    /// NULL-terminated argv and envp, exactly as execve(2) takes them.
    char *const *argv;
    char *const *envp;
    /// Directory to start in; NULL keeps the parent's.
    const char *working_directory;
    /// Descriptors that become the child's 0, 1 and 2. Every other
    /// descriptor is closed at exec.
    int stdin_fd, stdout_fd, stderr_fd;
    /// Non-zero: new mount namespace with `steps`, then the child becomes
    /// `uid`/`gid` with no supplementary groups and no_new_privs.
    int isolate;
    unsigned int uid, gid;
    const fr_mount_step *steps;
    size_t step_count;
    /// Scratch space of `step_count` ints for the child's descriptors of bind sources.
    int *scratch;
    /// Added to the child's nice value (setpriority(2)); 0 leaves it as the parent's.
    int niceness;
} fr_spawn_request;

/// Forks, prepares the child as `request` says (its own process group,
/// default signal dispositions, an empty signal mask, then the isolation)
/// and executes the program.
///
/// Returns 0 and stores the child's pid once the child has executed the
/// program. Otherwise returns the errno of the failed stage, writes a
/// sentence naming the stage and path into `message` (NUL-terminated,
/// truncated to `message_size`), and no child is left behind.
/// Only async-signal-safe calls are made between fork and exec.
int fr_spawn(const fr_spawn_request *request, pid_t *pid, char *message, size_t message_size);

/// Makes this process non-dumpable (prctl PR_SET_DUMPABLE 0): its
/// /proc/<pid>/environ, fd/ and mem are then closed to every process
/// without CAP_SYS_PTRACE, even of the same user. Returns 0, or -1 and errno.
int fr_make_non_dumpable(void);

#endif
