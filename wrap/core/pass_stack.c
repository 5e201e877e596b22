/* pass_stack.c: see pass_stack.h. */
#include "pass_stack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os.h"
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

/* As the flusher thread's: libdw and the demangler have the same needs on both. */
#define PASS_STACK_BYTES ((size_t)8 << 20)
#define GUARD_PAGE_BYTES ((size_t)4096)

static char *reserved;      /* its lowest page stays inaccessible: an overflow faults */
static size_t reserved_bytes;
static bool committed;

/* A switch of stacks in a function of its own, rather than swapcontext: that saves and
 * restores the signal mask with two system calls, and AddressSanitizer warns on stderr at
 * its first call. The frame pointer links back to the caller's frame, and the CFI says so,
 * so that a debugger's backtrace from the pass reaches the program's frames. */
#if defined(__x86_64__) || defined(__aarch64__)
#define HAVE_STACK_SWITCH 1
void pass_stack_switch_and_call(void (*run)(void *), void *argument, void *top)
    __attribute__((visibility("hidden")));
#if defined(__x86_64__)
__asm__(".text\n"
        ".p2align 4\n"
        ".globl pass_stack_switch_and_call\n"
        ".hidden pass_stack_switch_and_call\n"
        ".type pass_stack_switch_and_call, @function\n"
        "pass_stack_switch_and_call:\n"
        ".cfi_startproc\n"
        "    pushq %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "    movq %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "    movq %rdx, %rsp\n"
        "    movq %rdi, %rax\n"
        "    movq %rsi, %rdi\n"
        "    call *%rax\n"
        "    movq %rbp, %rsp\n"
        "    popq %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size pass_stack_switch_and_call, .-pass_stack_switch_and_call\n");
#else
__asm__(".text\n"
        ".p2align 2\n"
        ".globl pass_stack_switch_and_call\n"
        ".hidden pass_stack_switch_and_call\n"
        ".type pass_stack_switch_and_call, %function\n"
        "pass_stack_switch_and_call:\n"
        ".cfi_startproc\n"
        "    stp x29, x30, [sp, #-16]!\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset x29, -16\n"
        ".cfi_offset x30, -8\n"
        "    mov x29, sp\n"
        ".cfi_def_cfa_register x29\n"
        "    mov sp, x2\n"
        "    mov x3, x0\n"
        "    mov x0, x1\n"
        "    blr x3\n"
        "    mov sp, x29\n"
        "    ldp x29, x30, [sp], #16\n"
        ".cfi_def_cfa sp, 0\n"
        ".cfi_restore x29\n"
        ".cfi_restore x30\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size pass_stack_switch_and_call, .-pass_stack_switch_and_call\n");
#endif
#else
#define HAVE_STACK_SWITCH 0
#endif

void pass_stack_reserve(void)
{
    if (!HAVE_STACK_SWITCH || reserved != NULL)
        return;
    size_t bytes = PASS_STACK_BYTES;
    reserved = os_reserve(&bytes);
    reserved_bytes = reserved != NULL ? bytes : 0;
}

#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer keeps the bounds of the thread's stack: told of the switch, it neither
 * reports the pass's frames as out of bounds nor unpoisons the wrong stack. */
struct annotated_call {
    void (*run)(void *);
    void *argument;
    const void *caller_bottom;
    size_t caller_size;
};

static void run_annotated(void *call_pointer)
{
    struct annotated_call *call = call_pointer;
    __sanitizer_finish_switch_fiber(NULL, &call->caller_bottom, &call->caller_size);
    call->run(call->argument);
    __sanitizer_start_switch_fiber(NULL, call->caller_bottom, call->caller_size);
}
#endif

void pass_stack_run(void (*run)(void *), void *argument)
{
#if HAVE_STACK_SWITCH
    if (reserved_bytes > GUARD_PAGE_BYTES && !committed)
        committed = os_commit(reserved + GUARD_PAGE_BYTES, reserved_bytes - GUARD_PAGE_BYTES);
    if (committed) {
        char *bottom = reserved + GUARD_PAGE_BYTES;
        size_t size = reserved_bytes - GUARD_PAGE_BYTES;
        char *top = bottom + size - (((uintptr_t)(bottom + size)) & 15u);
#ifdef __SANITIZE_ADDRESS__
        struct annotated_call call = {run, argument, NULL, 0};
        void *fake_stack = NULL;
        __sanitizer_start_switch_fiber(&fake_stack, bottom, size);
        pass_stack_switch_and_call(run_annotated, &call, top);
        __sanitizer_finish_switch_fiber(fake_stack, NULL, NULL);
#else
        pass_stack_switch_and_call(run, argument, top);
#endif
        return;
    }
#endif
    run(argument);
}
