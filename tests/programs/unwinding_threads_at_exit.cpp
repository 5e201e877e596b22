// unwinding_threads_at_exit.cpp: two threads throw and catch in a loop while main leaks one
// block and returns 3. A static program finds its frames only through the registration that
// crtbeginT.o takes back among the destructors, before the tracer's exit pass: a throw
// during the pass found no frame and aborted the process.
#include "common.h"

#include <atomic>
#include <cstdlib>
#include <pthread.h>
#include <stdexcept>

static std::atomic<int> started{0};
static void *volatile kept;

static void *throw_in_a_loop(void *)
{
    started++;
    for (;;) {
        try {
            throw std::runtime_error("again");
        } catch (const std::exception &) {
        }
    }
    return nullptr;
}

__attribute__((noinline)) static void leak_a_block()
{
    kept = forget(malloc(123));
}

int main()
{
    for (int i = 0; i < 2; i++) {
        pthread_t thread;
        if (pthread_create(&thread, nullptr, throw_in_a_loop, nullptr) != 0)
            return 1;
        pthread_detach(thread);
    }
    while (started < 2)
        sleep_ms(1);
    leak_a_block();
    return 3;
}
