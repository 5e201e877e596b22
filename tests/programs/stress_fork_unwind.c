/* stress_fork_unwind.c: fork while other threads are inside the unwinder. Three threads
 * start short-lived threads one after another; each allocates at the end of a random chain
 * of 20 calls through 256 call sites. A new thread's stacks are not in libunwind's
 * per-thread trace cache, and 256 return addresses overflow its register-state cache (128
 * entries), so the tracer's stack captures keep libunwind inside the section its cache lock
 * guards. Meanwhile the main thread forks up to 20 children that each allocate once; a child
 * that inherited that lock held (by a thread that does not exist in it) hangs in its first
 * stack capture. It is killed after 3 s and the output says so. */
#include "stress.h"

#include <signal.h>
#include <sys/wait.h>

#define SPAWNERS 3
#define CHILDREN 20

__attribute__((noinline)) static void descend(int depth, uint64_t *random);

#define SITE(n) case n: descend(depth - 1, random); break;
#define SITES4(n) SITE(n) SITE(n + 1) SITE(n + 2) SITE(n + 3)
#define SITES16(n) SITES4(n) SITES4(n + 4) SITES4(n + 8) SITES4(n + 12)
#define SITES64(n) SITES16(n) SITES16(n + 16) SITES16(n + 32) SITES16(n + 48)

/* 256 call sites, each a return address of its own. */
__attribute__((noinline)) static void descend(int depth, uint64_t *random)
{
    if (depth == 0) {
        release_block(make_block(0, random), 0);
        return;
    }
    switch (stress_random(random) % 256) {
        SITES64(0)
        SITES64(64)
        SITES64(128)
        SITES64(192)
    default: break;
    }
    __asm__ volatile("" ::: "memory"); /* no tail call: each site keeps its frame */
}

static void *short_life(void *argument)
{
    uint64_t random = 0x9e3779b97f4a7c15ull ^ (uintptr_t)argument;
    for (int i = 0; i < 8; i++)
        descend(20, &random);
    return NULL;
}

static void *spawner(void *argument)
{
    uintptr_t serial = (uintptr_t)argument << 32;
    while (!atomic_load(&stress_stop)) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, short_life, (void *)serial++) == 0)
            pthread_join(thread, NULL);
    }
    return NULL;
}

/* The child's status, or -1 when it had not ended after milliseconds (then it is killed). */
static int wait_within(pid_t child, long milliseconds)
{
    int status;
    for (long waited = 0; waited < milliseconds; waited++) {
        pid_t done = waitpid(child, &status, WNOHANG);
        if (done == child)
            return status;
        if (done != 0)
            return -2;
        sleep_ms(1);
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return -1;
}

int main(void)
{
    pthread_t threads[SPAWNERS];
    for (uintptr_t i = 0; i < SPAWNERS; i++)
        if (pthread_create(&threads[i], NULL, spawner, (void *)(i + 1)) != 0)
            return 3;
    sleep_ms(50);
    int i;
    for (i = 0; i < CHILDREN; i++) {
        pid_t child = fork();
        if (child == 0) {
            free(malloc(10));
            _exit(0);
        }
        int status = child < 0 ? -2 : wait_within(child, 3000);
        if (status == -1)
            say("child %d of %d hung: killed after 3 s\n", i + 1, CHILDREN);
        else if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            say("child %d of %d failed\n", i + 1, CHILDREN);
        if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            break;
    }
    atomic_store(&stress_stop, true);
    for (int t = 0; t < SPAWNERS; t++)
        pthread_join(threads[t], NULL);
    if (i == CHILDREN)
        say("%d children exited with 0\n", CHILDREN);
    return 0;
}
