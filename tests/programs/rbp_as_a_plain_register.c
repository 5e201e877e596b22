/* rbp_as_a_plain_register.c VALUE: calls malloc(1234) from a function that holds VALUE (a
 * hexadecimal word) in rbp, as code built without frame pointers may leave any value there
 * (python3, as and ld: -16 at some of their calls), and keeps the block in a global: with
 * MALLOC_TRACE_REACHABLE=1 its `reachable` row holds the stack taken there. The function has unwind information (CFI) that does not use
 * rbp, so the unwind tables and libunwind walk through it; a frame-pointer walk stops. */
#include <stdint.h>
#include <stdlib.h>

#include "common.h"

void *malloc_with_rbp(size_t size, uintptr_t rbp);

/* The push makes the stack 16-byte aligned again for the call. */
__asm__(".text\n"
        ".globl malloc_with_rbp\n"
        ".type malloc_with_rbp, @function\n"
        "malloc_with_rbp:\n"
        "    .cfi_startproc\n"
        "    push %rbp\n"
        "    .cfi_def_cfa_offset 16\n"
        "    .cfi_offset %rbp, -16\n"
        "    mov %rsi, %rbp\n"
        "    call malloc@PLT\n"
        "    pop %rbp\n"
        "    .cfi_def_cfa_offset 8\n"
        "    ret\n"
        "    .cfi_endproc\n"
        ".size malloc_with_rbp, . - malloc_with_rbp\n");

void *kept;

int main(int argc, char **argv)
{
    uintptr_t rbp = argc > 1 ? (uintptr_t)strtoull(argv[1], NULL, 16) : 0;
    kept = malloc_with_rbp(1234, rbp);
    say("%s\n", kept != NULL ? "allocated" : "no memory");
    return 0;
}
