// new_handler_in_nothrow_new.cpp: a nothrow operator new that fails runs the new-handler,
// which frees a reserve and allocates a block; the program frees that block later. Nothing
// leaks and nothing is an orphan free. The preload form used to run libstdc++'s nothrow
// operator under the tracer's guard, handler included: neither call was seen.
#include "common.h"

#include <cstdint>
#include <cstdlib>
#include <new>

static char *reserve;
static void *made_by_handler;

static void release_reserve()
{
    if (reserve != nullptr) {
        delete[] reserve;
        reserve = nullptr;
        made_by_handler = malloc(77);
        return;
    }
    std::set_new_handler(nullptr);
}

int main()
{
    reserve = new char[5000];
    void *pin = malloc(64); // keeps the reserve's address from being handed out again
    std::set_new_handler(release_reserve);
    volatile size_t huge = SIZE_MAX / 2;
    void *p = ::operator new(huge, std::nothrow);
    say("result %s, reserve %s\n", p != nullptr ? "ptr" : "NULL",
        reserve != nullptr ? "kept" : "released");
    free(made_by_handler);
    free(pin);
    return 0;
}
