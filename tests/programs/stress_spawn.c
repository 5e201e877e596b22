/* stress_spawn.c: while 2 threads allocate and free across threads, the main thread starts
 * /bin/true 12 times with vfork + exec, 12 times with posix_spawn (with file actions and
 * attributes, which libc allocates and frees in the parent) and 12 times with posix_spawnp.
 * A vfork child shares the parent's memory until it execs: it calls nothing the tracer
 * intercepts, and the parent must go on as if nothing happened. */
#include "stress.h"

#include <spawn.h>
#include <sys/wait.h>

#define CHURNERS 2
#define ROUNDS 12

extern char **environ;

static bool exited_with_0(pid_t child)
{
    int status;
    return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status)
           && WEXITSTATUS(status) == 0;
}

static bool start_with_vfork(void)
{
    char *const argv[] = {"true", NULL};
    pid_t child = vfork();
    if (child == 0) {
        execve("/bin/true", argv, environ);
        _exit(127); /* all a vfork child may do when exec fails */
    }
    return exited_with_0(child);
}

static bool start_with_posix_spawn(bool search_path)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    if (posix_spawn_file_actions_init(&actions) != 0 || posix_spawnattr_init(&attributes) != 0)
        return false;
    /* The child's standard output goes to /dev/null: it must not reach ours. */
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&actions, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
    char *const argv[] = {"true", NULL};
    pid_t child = -1;
    int error = search_path ? posix_spawnp(&child, "true", &actions, &attributes, argv, environ)
                            : posix_spawn(&child, "/bin/true", &actions, &attributes, argv,
                                          environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return error == 0 && exited_with_0(child);
}

int main(void)
{
    pthread_t threads[CHURNERS];
    for (uintptr_t i = 0; i < CHURNERS; i++)
        if (pthread_create(&threads[i], NULL, stress_churn_paced, (void *)i) != 0)
            return 3;
    int vforked = 0, spawned = 0, spawned_p = 0;
    for (int i = 0; i < ROUNDS; i++) {
        vforked += start_with_vfork();
        spawned += start_with_posix_spawn(false);
        spawned_p += start_with_posix_spawn(true);
    }
    atomic_store(&stress_stop, true);
    for (int i = 0; i < CHURNERS; i++)
        pthread_join(threads[i], NULL);
    stress_drain(CHURNERS);
    say("vfork + exec: %d of %d exited with 0\n", vforked, ROUNDS);
    say("posix_spawn: %d of %d exited with 0\n", spawned, ROUNDS);
    say("posix_spawnp: %d of %d exited with 0\n", spawned_p, ROUNDS);
    say("corrupt blocks %lu\n", atomic_load(&stress_stats.corrupt));
    return 0;
}
