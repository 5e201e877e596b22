// inlined_cxx.cpp: built at -O2 -g: std::vector's growth and a templated helper, whose
// frames come from the program and from libstdc++'s headers, inlined or not.
#include "common.h"

#include <string>
#include <vector>

namespace geometry {
template <typename T> struct Grid {
    std::vector<T> cells;
    __attribute__((noinline)) void grow(size_t count)
    {
        for (size_t i = 0; i < count; i++)
            cells.push_back(static_cast<T>(i)); // AT(grow)
    }
};
} // namespace geometry

int main()
{
    auto *grid = new geometry::Grid<long>(); // AT(main_new)
    expect("leak", grid, sizeof *grid, "operator new(unsigned long)", "main");
    grid->grow(1);                           // AT(main_grow)
    // Only the leaked grid points at its cells: an indirect leak.
    expect("indirect", grid->cells.data(), sizeof(long), "operator new(unsigned long)", "*");
    return 0;
}
