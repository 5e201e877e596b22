// cxx_semantics.cpp: prints what the C++ operators do in edge cases. Traced or not, the
// output must be the same.
#include "common.h"

#include <new>

static int handler_calls;

static void throwing_handler()
{
    handler_calls++;
    throw std::bad_alloc();
}

static const char *outcome(void *ptr)
{
    return ptr != nullptr ? "ptr" : "NULL";
}

int main()
{
    const size_t huge = static_cast<size_t>(-1) / 2;
    try {
        operator delete(operator new(16, std::align_val_t(0)), std::align_val_t(16));
        say("align 0: ptr\n");
    } catch (const std::bad_alloc &) {
        say("align 0: bad_alloc\n");
    }
    try {
        void *ptr = operator new(16, std::align_val_t(48));
        say("align 48: %s\n", outcome(ptr));
    } catch (const std::bad_alloc &) {
        say("align 48: bad_alloc\n");
    }
    say("nothrow align 0: %s\n", outcome(operator new(16, std::align_val_t(0), std::nothrow)));
    std::set_new_handler(throwing_handler);
    say("nothrow huge, throwing handler: %s\n", outcome(operator new(huge, std::nothrow)));
    say("nothrow[] huge, throwing handler: %s\n", outcome(operator new[](huge, std::nothrow)));
    try {
        void *ptr = operator new(huge);
        say("huge: %s\n", outcome(ptr));
    } catch (const std::bad_alloc &) {
        say("huge: bad_alloc\n");
    }
    say("handler calls: %d\n", handler_calls);
    std::set_new_handler(nullptr);
    void *zero = operator new(0);
    say("new 0: %s\n", outcome(zero));
    operator delete(zero);
    return 0;
}
