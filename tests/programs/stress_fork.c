/* stress_fork.c: 4 threads allocate and free across threads (a pause of 1 ms every 256 blocks)
 * while the main thread forks 16 children, one at a time. 12 of them allocate, free some and
 * exec /bin/true (no exit pass runs: nothing of theirs is written); the other 4 allocate, free
 * all but one block (leaked on purpose) and call exit (an exit pass each, which names
 * the stacks it writes: the slow part, hence only 4). A child of a threaded fork that
 * inherited a lock some other thread held would hang: it is killed after 5 s, and the count
 * of children that exited with 0 says so. Process ids go to $STRESS_LOG ("parent PID",
 * "exec PID", "exit PID"), not to the standard output, which is the same traced or not. */
#include "stress.h"

#include <signal.h>
#include <sys/wait.h>

#define CHURNERS 4
#define CHILDREN 16

/* What a child allocates and frees itself: no row may name this function. */
__attribute__((noinline)) static void child_allocates_and_frees(void)
{
    void *blocks[16];
    for (int i = 0; i < 16; i++)
        blocks[i] = malloc((size_t)(i + 1) * 40);
    char *text = strdup("in the child");
    void *zeroed = calloc(10, 10);
    void *grown = realloc(blocks[0], 4000);
    if (text == NULL || zeroed == NULL || grown == NULL)
        _exit(97);
    blocks[0] = grown;
    for (int i = 0; i < 16; i++)
        free(blocks[i]);
    free(text);
    free(zeroed);
}

/* Blocks the exec discards: the program never frees them, and no exit pass runs. */
__attribute__((noinline)) static void child_keeps_until_exec(void **kept, int count)
{
    for (int i = 0; i < count; i++)
        kept[i] = malloc(300 + (size_t)i);
}

static void child_then_exec(void)
{
    stress_log("exec %d\n", (int)getpid());
    child_allocates_and_frees();
    void *kept[8];
    child_keeps_until_exec(kept, 8);
    execl("/bin/true", "true", (char *)NULL);
    _exit(96);
}

static void child_then_exit(void)
{
    stress_log("exit %d\n", (int)getpid());
    child_allocates_and_frees();
    leak_on_purpose(555);
    exit(0);
}

/* A child that hangs (a lock it inherited from a thread that does not exist in it) is
 * killed after a while, so that the run ends with a count that says so. */
static bool exited_with_0_within(pid_t child, long milliseconds)
{
    int status;
    for (long waited = 0; waited < milliseconds; waited++) {
        pid_t done = waitpid(child, &status, WNOHANG);
        if (done == child)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (done != 0)
            return false;
        sleep_ms(1);
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return false;
}

int main(void)
{
    stress_log("parent %d\n", (int)getpid());
    pthread_t threads[CHURNERS];
    for (uintptr_t i = 0; i < CHURNERS; i++)
        if (pthread_create(&threads[i], NULL, stress_churn_paced, (void *)i) != 0)
            return 3;
    int succeeded = 0;
    for (int i = 0; i < CHILDREN; i++) {
        sleep_ms(5); /* the churn threads are mid-allocation at each fork */
        pid_t child = fork();
        if (child == 0) {
            if (i % 4 != 1)
                child_then_exec();
            child_then_exit();
        }
        succeeded += child > 0 && exited_with_0_within(child, 5000);
    }
    atomic_store(&stress_stop, true);
    for (int i = 0; i < CHURNERS; i++)
        pthread_join(threads[i], NULL);
    stress_drain(CHURNERS);
    say("children that exited with 0: %d of %d\n", succeeded, CHILDREN);
    say("corrupt blocks %lu\n", atomic_load(&stress_stats.corrupt));
    return 0;
}
