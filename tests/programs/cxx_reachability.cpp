// cxx_reachability.cpp: C++ blocks of known layouts left at exit (run with
// MALLOC_TRACE_REACHABLE=1): containers that globals, statics and thread-locals point to
// are reachable (containers held by value are destroyed before the exit pass),
// a leaked container is a leak and its elements indirect; libstdc++'s own blocks (iostream
// buffers, the emergency exception pool, a thrown exception) are no leak.
#include "common.h"

#include <cstdlib>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

static auto *registry = new std::map<std::string, std::vector<int>>;
thread_local std::string *thread_name;

struct Leaked {
    std::vector<long> values;
};

__attribute__((noinline)) static void *leak_container()
{
    auto *leaked = new Leaked;
    leaked->values.assign(5, 7);
    expect("leak", leaked, sizeof(Leaked), "operator new(unsigned long)", "~leak_container()");
    expect("indirect", leaked->values.data(), 5 * sizeof(long), "operator new(unsigned long)",
           "*");
    return hide(leaked);
}

int main()
{
    // In the dynamic wrap form what libstdc++.so allocates itself (a string's characters,
    // built by its own code) is not traced.
    const char *form = getenv("EVENTS_FORM");
    bool traces_libstdcxx = form == nullptr || std::string(form) != "wrap";
    expect("reachable", registry, sizeof *registry, "operator new(unsigned long)",
           "~__static_initialization_and_destruction_0(int, int)");
    (*registry)["first"].assign(3, 1); // reachable through the map's node
    expect("reachable", (*registry)["first"].data(), 3 * sizeof(int),
           "operator new(unsigned long)", "*");
    static auto *kept = new std::string(100, 'k');
    expect("reachable", kept, sizeof(std::string), "operator new(unsigned long)", "main");
    if (traces_libstdcxx)
        expect("reachable", kept->data(), 101, "operator new(unsigned long)", "*");
    thread_name = new std::string(64, 't');
    expect("reachable", thread_name, sizeof(std::string), "operator new(unsigned long)", "main");
    if (traces_libstdcxx)
        expect("reachable", thread_name->data(), 65, "operator new(unsigned long)", "*");
    // Held by value: destroyed by the program's destructors, before the exit pass.
    static std::vector<std::string> destroyed(3, std::string(50, 'd'));
    say("# %p\n", leak_container());
    try {
        throw std::runtime_error(std::string(80, 'e'));
    } catch (const std::exception &error) {
        std::cout << "caught " << std::string(error.what()).size() << std::endl;
    }
    std::cout << "done" << std::endl;
    return 0;
}
