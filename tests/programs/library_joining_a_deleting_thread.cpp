// library_joining_a_deleting_thread.cpp: a library whose constructor (run inside dlopen, with
// the loader's lock held) starts a thread that makes the process's first sized delete,
// delete[], new[] and nothrow new[] (and, with FAILING_NEW set, a new that fails), and
// waits for it. The preload form looked up, on an operator's first call, where libstdc++'s
// version of it leads, and libstdc++'s nothrow operator, and on a failure the new-handler
// and bad_alloc's thrower (dlsym, which takes the loader's lock): the thread waited for the
// lock, the constructor for the thread, for ever.
#include <cstddef>
#include <cstdlib>
#include <new>
#include <pthread.h>

static volatile size_t too_large = ~static_cast<size_t>(0) / 2;

static void *allocate_and_delete(void *)
{
    long *value = new long(7);
    delete value;
    int *values = new int[4];
    delete[] values;
    int *more = new (std::nothrow) int[4];
    delete[] more;
    if (getenv("FAILING_NEW") != nullptr) {
        try {
            ::operator delete(::operator new(too_large));
        } catch (const std::bad_alloc &) {
        }
    }
    return nullptr;
}

__attribute__((constructor)) static void start_and_join()
{
    pthread_t thread;
    if (pthread_create(&thread, nullptr, allocate_and_delete, nullptr) == 0)
        pthread_join(thread, nullptr);
}
