/* forks.c: a block leaked before fork (both processes report it), one leaked by the child
 * (which then calls exit), one by the parent after the child ended. Mode "stress": a thread
 * allocates without pause while the main thread forks 20 children that allocate and exit. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

__attribute__((noinline)) static void *leak(size_t size)
{
    void *block = malloc(size);
    expect("leak", block, (long)size, "malloc", "leak");
    return block;
}

static atomic_bool stop;

static void *churn(void *unused)
{
    (void)unused;
    while (!atomic_load(&stop)) {
        void *blocks[16];
        for (int i = 0; i < 16; i++)
            blocks[i] = malloc((size_t)(i * 24 + 8));
        for (int i = 0; i < 16; i++)
            free(blocks[i]);
    }
    return NULL;
}

static int stress(void)
{
    pthread_t thread;
    pthread_create(&thread, NULL, churn, NULL);
    for (int i = 0; i < 20; i++) {
        pid_t child = fork();
        if (child == 0) {
            free(malloc(64));
            char *text = strdup("child");
            free(text);
            exit(0);
        }
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0)
            return 4;
    }
    atomic_store(&stop, true);
    pthread_join(thread, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "stress") == 0)
        return stress();
    /* No local keeps it: the child calls exit from main, whose frame is a root then. */
    say("# before %p\n", hide(leak(1000)));
    pid_t child = fork();
    if (child == 0) {
        say("CHILD %d\n", (int)getpid());
        leak(2000);
        exit(0);
    }
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child)
        return 3;
    leak(3000);
    return 0;
}
