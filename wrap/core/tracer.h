/* tracer.h: the core's interface to the front-ends (wrap/ and preload/). A front-end entry
 * point calls the real function (or hands it to malloc_trace_on_free) and one of these
 * hooks, directly and not as a tail call (the stack capture counts on exactly one front-end
 * frame above the hook), and nothing else. */
#ifndef MALLOC_TRACE_TRACER_H
#define MALLOC_TRACE_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "entry_points.h"
#include "events.h"

/* Hooks stay global in the archive (the front-ends are other members) and are hidden from
 * the dynamic symbol table of the preload library by its version script. */
#define MALLOC_TRACE_HOOK __attribute__((visibility("default"), noinline))
/* The runtime API of malloctrace.h: exported by both forms. */
#define MALLOC_TRACE_API __attribute__((visibility("default")))

/* Non-zero while the calling thread runs tracer code: whatever it allocates or frees then
 * passes straight through. Its low byte counts hooks on the stack (only a signal handler can
 * allocate inside one: such calls are remembered and applied when the hook ends); each
 * MALLOC_TRACE_GUARD_INTERNAL counts a section whose allocations are the tracer's own
 * (libdw, the demangler, pthread_create) or a real call that a front-end hides on purpose (a static
 * libstdc++'s operator delete calling free on the block it already reported). */
#define MALLOC_TRACE_GUARD_INTERNAL 0x100

extern MALLOC_TRACE_API __thread int malloc_trace_guard __attribute__((tls_model("initial-exec")));

/* Non-zero while the thread runs the allocator's own malloc (or calloc, realloc, ...) for a
 * front-end: an exit() from a signal handler there must allocate nothing, since the
 * allocator may hold its lock (MALLOC_TRACE_REAL_CALL). */
extern MALLOC_TRACE_API __thread int malloc_trace_in_allocator
    __attribute__((tls_model("initial-exec")));
#define MALLOC_TRACE_REAL_CALL(result, call)                                                  \
    do {                                                                                      \
        malloc_trace_in_allocator++;                                                          \
        (result) = (call);                                                                    \
        malloc_trace_in_allocator--;                                                          \
    } while (0)

/* After the real function returned ptr (NULL: nothing to record). */
MALLOC_TRACE_HOOK void malloc_trace_on_alloc(void *ptr, size_t size, enum entry_point entry);

/* Calls release (the real free) with ptr, once, whether or not the call is traced, and
 * drops ptr's record with no other thread able to record the same address in between.
 * release NULL: the caller calls the real function after the hook returns. */
MALLOC_TRACE_HOOK void malloc_trace_on_free(void *ptr, enum entry_point entry,
                                            void (*release)(void *));

/* A block the real function released internally without the program calling free (libc's
 * getline growing the caller's buffer): dropped without a row. */
MALLOC_TRACE_HOOK void malloc_trace_on_released(void *ptr);

/* A block the real function handed back at the same address with a new size (getline
 * reusing the caller's buffer): its record keeps its flags, time and stack; a block the
 * tracer did not hold is recorded as new. */
MALLOC_TRACE_HOOK void malloc_trace_on_resized(void *ptr, size_t size, enum entry_point entry);

/* Around dlclose: before, the stacks recorded so far are named while the library is still
 * mapped; after, what each address was is forgotten (another library may be mapped there
 * next). */
MALLOC_TRACE_HOOK void malloc_trace_on_dlclose_begin(void);
MALLOC_TRACE_HOOK void malloc_trace_on_dlclose_end(void);

/* After a successful setrlimit or prlimit of resource for pid (0: the caller's process): a
 * lower limit on address space counts the address space the tracer reserved at start, which
 * left the program none for its own mappings, and the exit pass none for its rows. */
MALLOC_TRACE_HOOK void malloc_trace_on_limit_set(int resource, pid_t pid);

/* Before a chroot (new_root), or a change of the process's user or group ids to the
 * effective ids user and group ((uid_t)-1, (gid_t)-1: unchanged), which may take away what
 * the tracer opens: its file (closed by a daemon that closes every descriptor it did not
 * open, or not opened yet in a forked child), its descriptor of /proc/self, and before a
 * chroot the modules' files, which naming frames reads. They are opened now, while they
 * can be (see csv_writer_keep), and before a chroot every stack so far is named, which
 * leaves the files of the modules they go through open for the stacks after. */
MALLOC_TRACE_HOOK void malloc_trace_before_access_change(uid_t user, gid_t group, bool new_root);

/* After the real call of an id setter, whether it succeeded or not: the process's own file
 * (%p) is given to the effective ids the process has now, where it can (see
 * csv_writer_settle_owner). errno kept. */
MALLOC_TRACE_HOOK void malloc_trace_after_id_change(void);

/* Around a real operator new or delete that may be the program's own: a replacement global
 * operator new that takes a block from malloc and hands out an address inside it (after a
 * header), or from a pool or a cache of its own; an operator delete that gives the block
 * back to free, or keeps it. The hooks inside the call (the program's malloc and free, which
 * the wrap forms wrap too) see what it does with malloc's blocks, and the operator's hooks
 * add nothing of their own to that, as in the preload form, where the program's operators
 * are not the tracer's. Also around libstdc++'s nothrow operator new in the preload form.
 *
 * new: operator_begin, the real call, then new_end, which records ptr as the operator's
 * block when it is the start of a block allocated inside the call (libstdc++'s new calling
 * malloc: the operator's record replaces malloc's), or when nothing inside allocated it and
 * the operator is not the program's (libstdc++.so's, whose malloc the tracer does not see).
 * delete: delete_begin takes ptr out of the table, unless the operator is the program's;
 * true when it held ptr (or the call passes through): the real call then runs under the
 * guard, so that libstdc++'s delete calling free does not see it again. false: the real
 * call runs watched, then delete_end writes ptr as an orphan free when a free inside
 * released ptr itself unknown, or when nothing inside touched it and the operator is not the
 * program's. The program's own delete is always watched: it may keep the block for later (a
 * cache, a deferred free), and the free that finally releases it settles it; in a signal
 * handler that interrupted a hook it runs unwatched (false, and delete_end does nothing), its
 * frees deferred as the handler's are. real: the real operator (NULL: not the program's).
 *
 * The saved state lies in the front-end's frame; an exception out of the real call (the
 * program's operator new throwing bad_alloc) ends the call through operator_unwound, which
 * the front-end runs as the frame's cleanup: a call left open kept the addresses of the
 * thread's later blocks in its thread-local state, which the leak scan reads as a root. */
#define MALLOC_TRACE_OPERATOR_BLOCKS 8
struct malloc_trace_operator {
    unsigned depth;   /* operator calls under way on the thread */
    unsigned settled; /* blocks allocated or released inside the call, in start and end */
    uintptr_t operand; /* delete's pointer; 0 for new */
    int operand_entry; /* delete's entry point (enum entry_point) */
    bool operand_released; /* a free of operand inside, not held: its row is the call's */
    bool open;             /* in a front-end's saved copy: the call has not ended */
    uintptr_t start[MALLOC_TRACE_OPERATOR_BLOCKS], end[MALLOC_TRACE_OPERATOR_BLOCKS];
};
MALLOC_TRACE_HOOK void malloc_trace_on_operator_begin(struct malloc_trace_operator *saved);
MALLOC_TRACE_HOOK void malloc_trace_on_new_end(struct malloc_trace_operator *saved, void *ptr,
                                               size_t size, enum entry_point entry,
                                               const void *real);
MALLOC_TRACE_HOOK bool malloc_trace_on_delete_begin(void *ptr, enum entry_point entry,
                                                    const void *real,
                                                    struct malloc_trace_operator *saved);
MALLOC_TRACE_HOOK void malloc_trace_on_delete_end(struct malloc_trace_operator *saved,
                                                  void *ptr, enum entry_point entry,
                                                  const void *real);
MALLOC_TRACE_HOOK void malloc_trace_on_operator_unwound(struct malloc_trace_operator *saved);

/* A chain for each operator: its own name, then the operator libstdc++'s version of it
 * calls, and so on (new[] calls new; a sized, nothrow or array delete calls the array or the
 * plain one; a nothrow new the throwing one; the aligned ones alike). A program that
 * replaces only some operators relies on that chain: one that defines new and delete with a
 * header in front of each block gets its delete called for the sized deletes C++14 compiles
 * `delete p` to, and for delete[]. */
enum malloc_trace_chain {
    MALLOC_TRACE_CHAIN_NONE = -1, /* no look-up: the operator allocates or frees itself */
    MALLOC_TRACE_CHAIN_NEW,
    MALLOC_TRACE_CHAIN_NEW_ALIGNED,
    MALLOC_TRACE_CHAIN_NEW_ARRAY,
    MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED,
    MALLOC_TRACE_CHAIN_NEW_NOTHROW,
    MALLOC_TRACE_CHAIN_NEW_ALIGNED_NOTHROW,
    MALLOC_TRACE_CHAIN_NEW_ARRAY_NOTHROW,
    MALLOC_TRACE_CHAIN_NEW_ARRAY_ALIGNED_NOTHROW,
    MALLOC_TRACE_CHAIN_DELETE,
    MALLOC_TRACE_CHAIN_DELETE_ALIGNED,
    MALLOC_TRACE_CHAIN_DELETE_ARRAY,
    MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED,
    MALLOC_TRACE_CHAIN_DELETE_SIZED,
    MALLOC_TRACE_CHAIN_DELETE_NOTHROW,
    MALLOC_TRACE_CHAIN_DELETE_SIZED_ALIGNED,
    MALLOC_TRACE_CHAIN_DELETE_ALIGNED_NOTHROW,
    MALLOC_TRACE_CHAIN_DELETE_ARRAY_SIZED,
    MALLOC_TRACE_CHAIN_DELETE_ARRAY_NOTHROW,
    MALLOC_TRACE_CHAIN_DELETE_ARRAY_SIZED_ALIGNED,
    MALLOC_TRACE_CHAIN_DELETE_ARRAY_ALIGNED_NOTHROW,
    MALLOC_TRACE_CHAIN_COUNT
};

/* The program's own definition of the first operator along the chain that it defines (in
 * the executable, or in the preload form a library: any but libstdc++'s and an allocator
 * library's, see operator_chains.c), or NULL when it defines none of them (or it cannot be
 * known: a static program). The preload form calls it where libstdc++ would; both forms
 * pass it to the hooks above as the real operator. */
MALLOC_TRACE_HOOK const void *malloc_trace_programs_operator(enum malloc_trace_chain chain);

/* The definition of an operator a call reaches past the preload library's own (libstdc++'s
 * or a library's), or NULL for none; libstdc++'s own where the next is an allocator
 * library's other than the one the preload form's malloc calls. It asks the loader (dlsym),
 * so only as the tracer or the preload library starts, and takes back the error a failed
 * look-up leaves for dlerror(). */
MALLOC_TRACE_HOOK const void *malloc_trace_next_operator(const char *mangled);

/* name as a loaded library finds it (its own definition first, else one of its
 * dependencies'; library NULL: the program's, as RTLD_DEFAULT), or NULL: not loaded, none
 * defines it, or a static program. It asks the loader, under the tracer's guard, and takes
 * back the error a failure leaves for dlerror(). */
MALLOC_TRACE_HOOK void *malloc_trace_loaded_symbol(const char *library, const char *name);

/* realloc and the like: begin takes the old block out of the table before the real call
 * (for the same reason as on_free), end settles it after: old_released tells whether the
 * real call released old (a successful realloc, realloc(p, 0)), result is the new block. */
struct malloc_trace_move {
    struct live_block block;
    bool held;    /* block holds the old block, taken out of the table */
    bool skipped; /* begin ran inside a hook or while not tracing: end must not settle */
};
MALLOC_TRACE_HOOK void malloc_trace_on_move_begin(void *old, struct malloc_trace_move *move);
MALLOC_TRACE_HOOK void malloc_trace_on_move_end(struct malloc_trace_move *move, void *old,
                                                bool old_released, void *result, size_t size,
                                                enum entry_point entry);

#endif
