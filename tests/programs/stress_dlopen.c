/* stress_dlopen.c: `stress_dlopen LIBRARY`: loads the library, calls it and unloads it 150
 * times while 2 threads allocate and free across threads; frees the block the library hands
 * over each round (in the wrap form, an orphan free: the library's malloc is not seen). */
#include "stress.h"

#include <dlfcn.h>

#define CHURNERS 2
#define ROUNDS 150

/* The host's free of the library's block: frame 1 of the wrap form's orphan free rows. */
__attribute__((noinline)) static void host_frees(void *block)
{
    free(block);
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    pthread_t threads[CHURNERS];
    for (uintptr_t i = 0; i < CHURNERS; i++)
        if (pthread_create(&threads[i], NULL, stress_churn_paced, (void *)i) != 0)
            return 3;
    int rounds = 0;
    for (int i = 0; i < ROUNDS; i++) {
        void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (library == NULL)
            break;
        void *(*work)(int) = (void *(*)(int))dlsym(library, "lib_work");
        if (work != NULL) {
            host_frees(work(i));
            rounds++;
        }
        if (dlclose(library) != 0)
            break;
    }
    atomic_store(&stress_stop, true);
    for (int i = 0; i < CHURNERS; i++)
        pthread_join(threads[i], NULL);
    stress_drain(CHURNERS);
    say("rounds %d of %d\n", rounds, ROUNDS);
    say("corrupt blocks %lu\n", atomic_load(&stress_stats.corrupt));
    return 0;
}
