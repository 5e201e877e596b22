// another_allocator.cpp: a C++ program linked with another allocator (jemalloc, tcmalloc),
// which defines malloc_usable_size and every operator but the plain operator new and delete,
// which the program defines itself and counts. Untraced, the count is 100 (new[] is the
// allocator's, which does not call the program's new). A nothrow new whose new-handler
// throws bad_alloc returns NULL. One leak.
#include "common.h"

#include <cstdlib>
#include <malloc.h>
#include <new>

static long news;
static void *volatile kept;

void *operator new(size_t size)
{
    news++;
    void *ptr = malloc(size);
    if (ptr == nullptr)
        throw std::bad_alloc();
    return ptr;
}

void operator delete(void *ptr) noexcept
{
    free(ptr);
}

__attribute__((noinline)) static void leak_array()
{
    kept = hide(new int[100]);
}

static void give_up()
{
    throw std::bad_alloc();
}

int main()
{
    for (int i = 0; i < 100; i++) {
        long *value = new long(i);
        ::operator delete(value);
        delete[] new (std::nothrow) int[10];
        ::operator delete(::operator new(64, std::align_val_t(64)), std::align_val_t(64));
    }
    void *block = malloc(100);
    bool usable = malloc_usable_size(block) >= 100;
    free(block);
    std::set_new_handler(give_up);
    void *huge = ::operator new[](~static_cast<size_t>(0) / 4, std::nothrow);
    std::set_new_handler(nullptr);
    leak_array();
    say("news %ld, usable %s, huge %s\n", news, usable ? "yes" : "no",
        huge == nullptr ? "null" : "allocated");
    return 0;
}
