/* reachability.c: blocks of known layouts left at exit, each with the classification the
 * leak scan must give it (reachable rows are written under MALLOC_TRACE_REACHABLE=1). */
#include "common.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node {
    struct node *next;
    char payload[24];
};

static char *global_pointer;
static char *global_interior;
static char *global_overwritten;
static __thread char *main_thread_local;
static __thread char *worker_thread_local;
static int ready_pipe[2];
static int never_written[2];

__attribute__((noinline)) static char *allocate(size_t size)
{
    char *block = malloc(size);
    memset(block, 0, size);
    return block;
}

/* A static local is a root like a global. */
__attribute__((noinline)) static void keep_in_static(void)
{
    static char *kept;
    kept = allocate(12);
    expect("reachable", kept, 12, "malloc", "allocate");
}

/* The head of a leaked list is the leak; the nodes behind it are indirect. */
__attribute__((noinline)) static void leak_list(void)
{
    struct node *head = NULL;
    struct node *nodes[3];
    for (int i = 0; i < 3; i++) {
        nodes[i] = (struct node *)allocate(sizeof(struct node));
        nodes[i]->next = head;
        head = nodes[i];
    }
    expect("leak", nodes[2], sizeof(struct node), "malloc", "allocate");
    expect("indirect", nodes[1], sizeof(struct node), "malloc", "allocate");
    expect("indirect", nodes[0], sizeof(struct node), "malloc", "allocate");
}

/* Both blocks of a leaked cycle point at each other: both indirect, as under LSan. */
__attribute__((noinline)) static void leak_cycle(void)
{
    struct node *a = (struct node *)allocate(sizeof(struct node));
    struct node *b = (struct node *)allocate(sizeof(struct node));
    a->next = b;
    b->next = a;
    expect("indirect", a, sizeof(struct node), "malloc", "allocate");
    expect("indirect", b, sizeof(struct node), "malloc", "allocate");
}

/* A block pointing only at itself is still a leak. */
__attribute__((noinline)) static void leak_self_pointer(void)
{
    struct node *a = (struct node *)allocate(sizeof(struct node));
    a->next = a;
    expect("leak", a, sizeof(struct node), "malloc", "allocate");
}

/* Holds a block only in its stack frame, and another only in thread-local storage, while
 * blocked in read(2) when the program exits. */
static void *hold_on_stack(void *unused)
{
    (void)unused;
    char *volatile on_stack = allocate(21);
    expect("reachable", on_stack, 21, "malloc", "allocate");
    worker_thread_local = allocate(22);
    expect("reachable", worker_thread_local, 22, "malloc", "allocate");
    scrub_stack();
    if (write(ready_pipe[1], "s", 1) != 1)
        _exit(98);
    char byte;
    while (read(never_written[0], &byte, 1) < 0)
        continue;
    return (void *)on_stack;
}

#define HIDING_KEY ((uintptr_t)0x5a5a5a5a5a5a5a5aull)

/* Holds a block only in a register (r12 on x86-64), spinning. */
static void *hold_in_register(void *unused)
{
    (void)unused;
    uintptr_t hidden = (uintptr_t)allocate(23) ^ HIDING_KEY;
    say("EXPECT reachable 0x%lx 23 %ld malloc|allocate\n", (unsigned long)(hidden ^ HIDING_KEY),
        (long)syscall(SYS_gettid));
    scrub_stack();
#if defined(__x86_64__)
    /* Says it is ready (write(2) by hand) only once the block is in r12 alone. */
    static const char ready = 'r';
    __asm__ volatile("mov %0, %%r12\n\t"
                     "xor %1, %%r12\n\t"
                     "mov $1, %%eax\n\t"
                     "mov %2, %%edi\n\t"
                     "mov %3, %%rsi\n\t"
                     "mov $1, %%edx\n\t"
                     "syscall\n\t"
                     "1: pause\n\t"
                     "jmp 1b"
                     :
                     : "r"(hidden), "r"(HIDING_KEY), "r"(ready_pipe[1]), "r"(&ready)
                     : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "r12", "memory");
#else
    uintptr_t volatile kept = hidden ^ HIDING_KEY; /* elsewhere: on the stack, like above */
    if (write(ready_pipe[1], "r", 1) != 1)
        _exit(98);
    for (;;)
        (void)kept;
#endif
    return NULL;
}

int main(void)
{
    if (pipe(ready_pipe) != 0 || pipe(never_written) != 0)
        return 97;
    pthread_t stack_holder, register_holder;
    pthread_create(&stack_holder, NULL, hold_on_stack, NULL);
    pthread_create(&register_holder, NULL, hold_in_register, NULL);
    char byte;
    for (int answers = 0; answers < 2;)
        answers += read(ready_pipe[0], &byte, 1) == 1;

    global_pointer = allocate(11);
    expect("reachable", global_pointer, 11, "malloc", "allocate");
    keep_in_static();
    main_thread_local = allocate(13);
    expect("reachable", main_thread_local, 13, "malloc", "allocate");
    char *interior = allocate(100);
    global_interior = interior + 50;
    expect("reachable", interior, 100, "malloc", "allocate");
    global_overwritten = allocate(17);
    expect("leak", global_overwritten, 17, "malloc", "allocate");
    global_overwritten = NULL;
    leak_list();
    leak_cycle();
    leak_self_pointer();
    /* Last, so that it is the block before the top chunk: its size is no multiple of 16, and
     * its last 8 bytes hold the top chunk's header, at which glibc's main arena points. */
    char *before_top = allocate(24);
    expect("leak", before_top, 24, "malloc", "allocate");
    before_top = NULL;
    interior = NULL;
    scrub_stack();
    return 0;
}
