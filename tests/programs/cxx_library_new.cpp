/* cxx_library_new.cpp: a C++ program whose own code calls no operator new or delete: its
 * std::string's buffer is allocated by libstdc++'s own instantiation of the class. In a
 * -static link those were the only references to the wrapped operators, made after the
 * archive had been scanned, and the link failed. The buffer leaks: the string lives in a
 * block the program frees without destroying the string. */
#include "common.h"

#include <cstdlib>
#include <new>
#include <string>

int main()
{
    void *holder = malloc(sizeof(std::string));
    if (holder == nullptr)
        return 1;
    const std::string *text = new (holder) std::string(100, 'x');
    expect("leak", text->data(), 101, "operator new(unsigned long)", "*");
    free(holder);
    return 0;
}
