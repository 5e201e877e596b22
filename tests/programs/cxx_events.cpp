// cxx_events.cpp: allocates through the C++ operators, leaks a known set, and prints one
// `EXPECT kind address size thread_id frame0|frame1` line per row it expects.
#include "common.h"

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

struct alignas(64) Aligned {
    char bytes[64];
};

void *kept[16];

namespace shapes {
struct Node {
    Node *next;
    long value;
};

__attribute__((noinline)) Node *leak_node(long value)
{
    Node *node = new Node{nullptr, value};
    expect("leak", node, sizeof(Node), "operator new(unsigned long)",
           "shapes::leak_node(long)");
    return node;
}
} // namespace shapes

__attribute__((noinline)) static void leak_arrays()
{
    int *array = new int[25];
    expect("leak", array, 100, "operator new[](unsigned long)", "leak_arrays()");
    kept[1] = forget(array);
    char *nothrow = new (std::nothrow) char[7];
    expect("leak", nothrow, 7, "operator new[](unsigned long, std::nothrow_t const&)",
           "leak_arrays()");
    kept[2] = forget(nothrow);
    Aligned *aligned = new Aligned;
    expect("leak", aligned, 64, "operator new(unsigned long, std::align_val_t)",
           "leak_arrays()");
    kept[3] = forget(aligned);
}

__attribute__((noinline)) static void balanced()
{
    for (int i = 0; i < 50; i++) {
        std::vector<int> numbers(static_cast<size_t>(i) + 1, i);
        std::string text(static_cast<size_t>(i) + 40, 'x');
        delete new long(i);
        delete[] new char[static_cast<size_t>(i) + 1];
        delete new Aligned;
        operator delete(operator new(16, std::nothrow), std::nothrow);
    }
}

__attribute__((noinline)) static void bad_alloc_is_thrown()
{
    try {
        void *huge = operator new(static_cast<size_t>(-1) / 2);
        kept[5] = forget(huge);
        _exit(96);
    } catch (const std::bad_alloc &) {
    }
    if (operator new(static_cast<size_t>(-1) / 2, std::nothrow) != nullptr)
        _exit(95);
}

int main()
{
    kept[0] = forget(shapes::leak_node(7));
    leak_arrays();
    balanced();
    /* AddressSanitizer's and valgrind's operator new stop the program on exhausted memory
     * instead (by design: ASan reports the size as a bug), so only libstdc++'s is probed. */
#ifdef __SANITIZE_ADDRESS__
    const bool replaced = true;
#else
    const bool replaced = RUNNING_ON_VALGRIND;
#endif
    if (!replaced)
        bad_alloc_is_thrown();
    return 0;
}
