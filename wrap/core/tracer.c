/* tracer.c: start, the hooks the front-ends call, the runtime API, fork and exit. */
#define _GNU_SOURCE
#include "tracer.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <ucontext.h>
#include <unistd.h>

#include "../include/malloctrace.h"
#include "backtrace.h"
#include "block_context.h"
#include "environment.h"
#include "flusher.h"
#include "frame_registration.h"
#include "heap_roots.h"
#include "leak_scan.h"
#include "live_table.h"
#include "operator_chains.h"
#include "os.h"
#include "proc_self.h"
#include "process_mark.h"
#include "settings.h"
#include "stack_table.h"
#include "thread_slots.h"
#include "unwind_table.h"

/* A full flusher queue in one shard wakes the flusher this often (in queued rows). */
#define WAKE_FLUSHER_EVERY 16384u

enum tracer_state {
    /* Before the constructor: blocks are recorded without frames, since unwinding this
     * early breaks libunwind for the rest of a static program (TRAPS.md). */
    STATE_STARTING,
    STATE_TRACING,
    /* The exit pass has ended: everything passes through. */
    STATE_FINISHED,
    /* A set-user-ID or set-group-ID program: nothing is traced, nothing written. */
    STATE_OFF,
};

MALLOC_TRACE_API __thread int malloc_trace_guard __attribute__((tls_model("initial-exec")));
MALLOC_TRACE_API __thread int malloc_trace_in_allocator __attribute__((tls_model("initial-exec")));
static __thread unsigned disabled_depth __attribute__((tls_model("initial-exec")));
static _Atomic int state = STATE_STARTING;
static atomic_bool exit_pass_started;
static struct settings settings;
static unsigned frames_kept; /* return addresses per stack: MALLOC_TRACE_DEPTH less frame 0 */

static uint8_t new_block_flags(void)
{
    return disabled_depth ? BLOCK_IGNORED : 0;
}

/* The operator call the thread is inside of (see tracer.h): depth 0 outside any. */
static __thread struct malloc_trace_operator operator_call
    __attribute__((tls_model("initial-exec")));

/* The wrap form's operators (wrap_cxx.c), in a section of their own: in a stack taken inside
 * the program's own operator new, the frame of the wrapper that called it is the tracer's,
 * and is left out, as it is not there in the preload form. Weak: a C program links none. */
extern const char __start_malloc_trace_operators[] __attribute__((weak));
extern const char __stop_malloc_trace_operators[] __attribute__((weak));

/* Leaves the operators' frames out of frames[0, count); returns how many are left. */
static uint32_t drop_operator_frames(void **frames, uint32_t count)
{
    uintptr_t start = (uintptr_t)__start_malloc_trace_operators;
    uintptr_t end = (uintptr_t)__stop_malloc_trace_operators;
    uint32_t left = 0;
    for (uint32_t i = 0; i < count; i++)
        if ((uintptr_t)frames[i] <= start || (uintptr_t)frames[i] > end)
            frames[left++] = frames[i];
    return left;
}

/* Captures the caller's stack, and sets *context_hint (if context_hint is not NULL) to a word
 * kept with the stack (NULL when not tracing: no stack). Only hooks call this, and it is
 * always inlined into them, so that the number of tracer frames above the unwinder stays
 * fixed (BACKTRACE_TRACER_FRAMES). Most allocations come from a stack their call site gave
 * lately: then the unwinder hands back the id kept with it, and the stack table need not be
 * searched; and their block's context is most often the one the last block allocated with
 * that stack had. */
static inline __attribute__((always_inline)) uint32_t capture_stack(bool tracing,
                                                                     uint32_t **context_hint)
{
    if (context_hint != NULL)
        *context_hint = NULL;
    if (!tracing)
        return STACK_ID_EMPTY;
    void **frames;
    struct backtrace_kept *kept;
    uint32_t count = backtrace_capture(frames_kept, &frames, &kept);
    if (__builtin_expect(operator_call.depth != 0, 0)) {
        uint32_t left = drop_operator_frames(frames + BACKTRACE_TRACER_FRAMES, count);
        if (left != count)
            return stack_table_intern(frames + BACKTRACE_TRACER_FRAMES, left);
    }
    if (kept->stack_id == STACK_ID_EMPTY)
        kept->stack_id = stack_table_intern(frames + BACKTRACE_TRACER_FRAMES, count);
    if (context_hint != NULL)
        *context_hint = &kept->hint;
    return kept->stack_id;
}

/* context_hint: see live_table_insert. */
static void record_block(void *ptr, size_t size, uint32_t stack_id, enum entry_point entry,
                         uint8_t flags, uint32_t *context_hint)
{
    struct live_block block = {
        .address = (uintptr_t)ptr,
        .size = size,
        .time_ms = os_now_ms(),
        .stack_id = stack_id,
        .thread_id = os_thread_id(),
        .entry_point = (uint8_t)entry,
        .flags = flags,
    };
    live_table_insert(&block, context_hint);
    /* The record lies in the hook's frame, where a frame the program makes later may leave
     * the word unwritten: the leak scan would take that copy for a pointer to the block (a
     * constructor's leak was found reachable from __libc_start_call_main's frame). */
    *(volatile uintptr_t *)&block.address = 0;
}

static void queue_free_row(void *ptr, uint64_t size, uint32_t stack_id, enum entry_point entry)
{
    struct trace_event event = {
        .address = (uintptr_t)ptr,
        .size = size,
        .time_ms = os_now_ms(),
        .stack_id = stack_id,
        .thread_id = os_thread_id(),
        .entry_point = (uint8_t)entry,
        .kind = EVENT_FREE,
    };
    if (live_table_queue_event(&event) % WAKE_FLUSHER_EVERY == 0)
        flusher_wake();
}

static bool is_traced(int now)
{
    return now == STATE_TRACING || now == STATE_STARTING;
}

/* ---- calls that arrive while the thread is inside a hook -------------------------------
 * Only a signal handler can allocate or free while its thread runs a hook (nothing a hook
 * calls allocates: the unwinders were checked, and the flusher's start is an internal
 * section). Such a call must not take the locks its thread may hold, so it passes straight
 * through, and is remembered here, to be applied without a stack when the hook ends: else a
 * block freed by a handler would later be written as a leak. */
#define DEFERRED_MAX 16u

enum deferred_kind { DEFERRED_ALLOC, DEFERRED_FREE, DEFERRED_RELEASE, DEFERRED_IGNORE };

struct deferred_call {
    void *ptr;
    size_t size;
    uint8_t entry_point;
    uint8_t kind; /* enum deferred_kind */
};

static __thread struct deferred_call deferred[DEFERRED_MAX]
    __attribute__((tls_model("initial-exec")));
static __thread unsigned deferred_count __attribute__((tls_model("initial-exec")));

/* Set when a handler made more calls than the list holds; said once, by a hook's end. */
static atomic_bool deferred_dropped, deferred_dropped_said;

/* The entry is taken before it is written: a handler that interrupted this one between the two
 * would otherwise have written its call in the same entry, which this one then overwrote. No
 * reader sees the entry unwritten: the list is read only at a hook's end, which this handler
 * interrupted, and which goes on once the entry is written. */
static void defer(void *ptr, size_t size, enum entry_point entry, enum deferred_kind kind)
{
    if (ptr == NULL || malloc_trace_guard >= MALLOC_TRACE_GUARD_INTERNAL)
        return; /* the tracer's own memory, or a real call a front-end hides on purpose */
    unsigned count = __atomic_load_n(&deferred_count, __ATOMIC_RELAXED);
    if (count >= DEFERRED_MAX) {
        atomic_store_explicit(&deferred_dropped, true, memory_order_relaxed);
        return;
    }
    __atomic_store_n(&deferred_count, count + 1, __ATOMIC_RELAXED);
    atomic_signal_fence(memory_order_seq_cst);
    deferred[count] = (struct deferred_call){ptr, size, (uint8_t)entry, (uint8_t)kind};
}

static void free_block(void *ptr, enum entry_point entry, bool tracing, bool with_stack,
                       void (*release)(void *));
static void release_block(void *ptr, bool tracing, bool with_stack);

static void apply_deferred(const struct deferred_call *call)
{
    switch ((enum deferred_kind)call->kind) {
    case DEFERRED_ALLOC:
        record_block(call->ptr, call->size, STACK_ID_EMPTY, (enum entry_point)call->entry_point,
                     new_block_flags(), NULL);
        break;
    case DEFERRED_FREE:
        free_block(call->ptr, (enum entry_point)call->entry_point, false, false, NULL);
        break;
    case DEFERRED_RELEASE:
        release_block(call->ptr, false, false);
        break;
    case DEFERRED_IGNORE:
        live_table_add_flags((uintptr_t)call->ptr, BLOCK_IGNORED);
        break;
    }
}

/* Drops the guard; false (the guard kept) when a handler left calls meanwhile. Those no
 * later hook may apply (the address may be reused by then): the caller applies them now.
 * From here on a handler sees no guard and is traced directly. */
static inline __attribute__((always_inline)) bool drop_guard(void)
{
    malloc_trace_guard--;
    atomic_signal_fence(memory_order_seq_cst);
    if (__atomic_load_n(&deferred_count, __ATOMIC_RELAXED) == 0)
        return true;
    malloc_trace_guard++;
    return false;
}

/* Ends a hook: applies what signal handlers did meanwhile, in their order (a handler's
 * malloc then free of one block must not become an orphan free and a leak), then drops the
 * guard. A handler interrupting this loop appends, and is applied by it too. */
static __attribute__((noinline)) void leave_hook_applying_deferred(void)
{
    for (;;) {
        unsigned applied = 0;
        for (;;) {
            unsigned count = __atomic_load_n(&deferred_count, __ATOMIC_RELAXED);
            if (applied == count) {
                /* Empty the list unless a handler appended since the load (one instruction,
                 * so a signal lands before or after it). An empty list, the usual case,
                 * needs no emptying, and so no locked instruction on every hook. */
                if (count == 0
                    || __atomic_compare_exchange_n(&deferred_count, &count, 0, false,
                                                   __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                    break;
                continue;
            }
            atomic_signal_fence(memory_order_seq_cst);
            struct deferred_call call = deferred[applied];
            deferred[applied++].ptr = NULL; /* a stale copy would be a root to the leak scan */
            if (!is_traced(atomic_load_explicit(&state, memory_order_relaxed)))
                continue;
            apply_deferred(&call);
        }
        if (atomic_load_explicit(&deferred_dropped, memory_order_relaxed)
            && !atomic_exchange(&deferred_dropped_said, true))
            os_message("a signal handler made more than %u calls of malloc and free while it "
                       "interrupted one: the tracer did not see the others, and may write their "
                       "blocks wrongly (a block freed there as a leak)",
                       DEFERRED_MAX);
        if (drop_guard())
            return;
    }
}

/* The same, inlined for the usual hook, which no handler interrupted (as a call it took 1%
 * of a traced python3 run). */
static inline __attribute__((always_inline)) void leave_hook(void)
{
    if (__builtin_expect(__atomic_load_n(&deferred_count, __ATOMIC_RELAXED) == 0, 1)
        && __builtin_expect(drop_guard(), 1))
        return;
    leave_hook_applying_deferred();
}

static void reset_in_child(void);

/* A child that no fork handler saw (see process_mark.h), at its first hook: what the handler
 * would have reset. */
static __attribute__((noinline, cold)) void adopt_unforked_child(void)
{
    reset_in_child();
    flusher_leave_parents_stack();
    process_mark_set();
}

/* At each entry that takes a lock of the tracer's, with the guard clear (no lock of ours
 * held): a lock that another thread of the parent held as the child was made (the flush lock,
 * taken for a periodic pass) stayed held for ever there. */
static inline __attribute__((always_inline)) void adopt_if_unforked(void)
{
    if (__builtin_expect(!process_mark_is_set(), 0))
        adopt_unforked_child();
}

/* Starts a hook for ptr: false when the call passes straight through (nothing to trace, or
 * a signal handler's call inside a hook, then remembered for later). */
static inline __attribute__((always_inline)) bool enter_hook(void *ptr, size_t size,
                                                             enum entry_point entry,
                                                             enum deferred_kind kind, int *now)
{
    *now = atomic_load_explicit(&state, memory_order_relaxed);
    if (ptr == NULL || !is_traced(*now))
        return false;
    if (malloc_trace_guard) {
        defer(ptr, size, entry, kind);
        return false;
    }
    malloc_trace_guard++;
    adopt_if_unforked();
    /* Only from an allocation: glibc frees a cached thread stack's memory with its stack
     * cache's lock held (a joined thread's in a forked child, say), and the flusher's
     * pthread_create there would wait for that lock for ever. No allocation is made with it
     * held. */
    if (*now == STATE_TRACING && kind == DEFERRED_ALLOC)
        flusher_ensure_running();
    return true;
}

/* The blocks' bounds are kept hidden: thread-local storage is a root of the leak scan, and
 * an address left there from a call long ended made its block reachable. */
#define HIDDEN_BITS 0x5a5a5a5a5a5a5a5aull

/* A block that an allocation or a free inside an operator call settled. Past
 * MALLOC_TRACE_OPERATOR_BLOCKS (a signal handler's allocations besides the operator's own,
 * say) the first ones are kept: the operator's own block comes first. */
static void note_settled(uintptr_t start, size_t size)
{
    unsigned at = operator_call.settled;
    if (at >= MALLOC_TRACE_OPERATOR_BLOCKS)
        return;
    operator_call.start[at] = start ^ HIDDEN_BITS;
    operator_call.end[at] = (start + (size != 0 ? size : 1)) ^ HIDDEN_BITS;
    operator_call.settled = at + 1;
}

static void begin_operator_call(struct malloc_trace_operator *saved, uintptr_t operand,
                                enum entry_point operand_entry)
{
    /* Only a nested call has an outer state worth the copy. */
    if (operator_call.depth != 0)
        *saved = operator_call;
    else
        saved->depth = 0;
    saved->open = true;
    operator_call.depth = saved->depth + 1;
    operator_call.settled = 0;
    /* A sized or array delete calling the plain one: the row names the one the program
     * called. */
    bool same_operand = saved->depth != 0 && operand != 0 && saved->operand == operand;
    operator_call.operand = operand;
    operator_call.operand_entry = same_operand ? saved->operand_entry : (int)operand_entry;
    operator_call.operand_released = false;
}

/* Ends the call: the thread's state is the outer call's again (or none). */
static void end_operator_call(struct malloc_trace_operator *saved)
{
    saved->open = false;
    if (saved->depth != 0) {
        operator_call = *saved;
    } else {
        operator_call.depth = 0;
        operator_call.settled = 0;
        operator_call.operand = 0;
    }
}

/* The block settled inside the call that holds address, strictly inside or from its start:
 * true, with its bounds in *start and *end. */
static bool settled_block_of(uintptr_t address, bool from_start, uintptr_t *start, uintptr_t *end)
{
    for (unsigned i = 0; i < operator_call.settled && i < MALLOC_TRACE_OPERATOR_BLOCKS; i++) {
        *start = operator_call.start[i] ^ HIDDEN_BITS;
        *end = operator_call.end[i] ^ HIDDEN_BITS;
        if (from_start ? address == *start : address > *start && address < *end)
            return true;
    }
    return false;
}

/* The executable's mapping: a core there is the wrap form's (see another_core_traces). */
static _Atomic uintptr_t executable_start, executable_end;

static void find_executable(void)
{
    struct dl_find_object found;
    if (unwind_table_find_executable(&found)) {
        atomic_store(&executable_start, (uintptr_t)found.dlfo_map_start);
        atomic_store(&executable_end, (uintptr_t)found.dlfo_map_end);
    }
}

/* Records the block the real function returned; a hook's body (see capture_stack). */
static inline __attribute__((always_inline)) void trace_alloc(void *ptr, size_t size,
                                                              enum entry_point entry)
{
    int now;
    if (!enter_hook(ptr, size, entry, DEFERRED_ALLOC, &now))
        return;
    live_table_prefetch((uintptr_t)ptr);
    uint32_t *context_hint;
    uint32_t stack_id = capture_stack(now == STATE_TRACING, &context_hint);
    record_block(ptr, size, stack_id, entry, new_block_flags(), context_hint);
    if (__builtin_expect(operator_call.depth != 0, 0))
        note_settled((uintptr_t)ptr, size);
    leave_hook();
}

MALLOC_TRACE_HOOK void malloc_trace_on_alloc(void *ptr, size_t size, enum entry_point entry)
{
    trace_alloc(ptr, size, entry);
}

/* Removes the block at ptr. A row only for an address not held (an orphan free) or a block
 * already written as `malloc` (a late free): the common free captures no stack at all.
 * Always inlined into its callers, which are hooks (see capture_stack). release: see
 * live_table_remove. */
static inline __attribute__((always_inline)) void free_block(void *ptr, enum entry_point entry,
                                                             bool tracing, bool with_stack,
                                                             void (*release)(void *))
{
    struct live_block block;
    bool held = live_table_remove((uintptr_t)ptr, &block, release);
    if (__builtin_expect(operator_call.depth != 0, 0)) {
        if (held && (uintptr_t)ptr == operator_call.operand) {
            /* The delete's own block, freed inside it: a late free's row names the delete
             * (libstdc++'s, in a static link, jumps to free and leaves no frame of its own). */
            entry = (enum entry_point)operator_call.operand_entry;
        }
        if (held)
            note_settled((uintptr_t)ptr, block.size);
        else if ((uintptr_t)ptr == operator_call.operand) {
            operator_call.operand_released = true; /* the operator delete's end writes it */
            return;
        }
    }
    if (held ? !block_freed_late(block.flags) : live_table_lost_blocks())
        return;
    uint32_t stack_id = with_stack ? capture_stack(tracing, NULL) : STACK_ID_EMPTY;
    queue_free_row(ptr, held ? block.size : 0, stack_id, entry);
}

/* A block that libc freed or moved inside a call of its own (getline's buffer, which the wrap
 * form sees grow): out of the table, with its late `free` row when its `malloc` row was
 * written (that row was left unsettled). Inlined into its hook (see capture_stack). */
static inline __attribute__((always_inline)) void release_block(void *ptr, bool tracing,
                                                                bool with_stack)
{
    struct live_block block;
    if (live_table_remove((uintptr_t)ptr, &block, NULL) && block_freed_late(block.flags))
        queue_free_row(ptr, block.size, with_stack ? capture_stack(tracing, NULL) : STACK_ID_EMPTY,
                       ENTRY_FREE);
}

MALLOC_TRACE_HOOK void malloc_trace_on_free(void *ptr, enum entry_point entry,
                                            void (*release)(void *))
{
    int now;
    if (!enter_hook(ptr, 0, entry, DEFERRED_FREE, &now)) {
        if (release != NULL)
            release(ptr);
        return;
    }
    free_block(ptr, entry, now == STATE_TRACING, true, release);
    leave_hook();
}

MALLOC_TRACE_HOOK void malloc_trace_on_operator_begin(struct malloc_trace_operator *saved)
{
    begin_operator_call(saved, 0, ENTRY_MALLOC);
}

MALLOC_TRACE_HOOK void malloc_trace_on_operator_unwound(struct malloc_trace_operator *saved)
{
    if (saved->open)
        end_operator_call(saved);
}

MALLOC_TRACE_HOOK void malloc_trace_on_new_end(struct malloc_trace_operator *saved, void *ptr,
                                               size_t size, enum entry_point entry,
                                               const void *real)
{
    uintptr_t address = (uintptr_t)ptr, holding_start, holding_end, start, end;
    bool holding = settled_block_of(address, false, &holding_start, &holding_end);
    bool at_start = settled_block_of(address, true, &start, &end);
    end_operator_call(saved);
    if (holding) {
        /* Inside a block the program's operator took from malloc, which holds it. */
        if (operator_call.depth != 0)
            note_settled(holding_start, holding_end - holding_start);
        return;
    }
    if (!at_start && operator_chains_is_programs(real))
        return; /* the program's own operator, from a pool or a cache: nothing of malloc's */
    trace_alloc(ptr, size, entry);
}

MALLOC_TRACE_HOOK bool malloc_trace_on_delete_begin(void *ptr, enum entry_point entry,
                                                    const void *real,
                                                    struct malloc_trace_operator *saved)
{
    saved->open = false;
    /* A signal handler's delete inside a hook: the program's own operator runs unwatched and
     * unguarded, and its frees, deferred like any the handler makes, settle its blocks. Under
     * the guard they went unseen (the block a header scheme frees stayed a leak) and the
     * operand was deferred as a free of an address no block starts at: an orphan row. */
    if (malloc_trace_guard != 0 && malloc_trace_guard < MALLOC_TRACE_GUARD_INTERNAL
        && ptr != NULL && operator_chains_is_programs(real))
        return false;
    int now;
    if (!enter_hook(ptr, 0, entry, DEFERRED_FREE, &now))
        return true;
    struct live_block block;
    bool held = !operator_chains_is_programs(real)
                && live_table_remove((uintptr_t)ptr, &block, NULL);
    if (held && block_freed_late(block.flags))
        queue_free_row(ptr, block.size, capture_stack(now == STATE_TRACING, NULL), entry);
    if (held && operator_call.depth != 0)
        note_settled((uintptr_t)ptr, block.size);
    leave_hook();
    if (!held)
        begin_operator_call(saved, (uintptr_t)ptr, entry);
    return held;
}

MALLOC_TRACE_HOOK void malloc_trace_on_delete_end(struct malloc_trace_operator *saved,
                                                  void *ptr, enum entry_point entry,
                                                  const void *real)
{
    if (!saved->open)
        return; /* no watch began (a signal handler's delete, see delete_begin) */
    uintptr_t address = (uintptr_t)ptr, holding_start, holding_end;
    bool holding = settled_block_of(address, false, &holding_start, &holding_end)
                   || settled_block_of(address, true, &holding_start, &holding_end);
    bool released = operator_call.operand_released;
    bool touched = operator_call.settled != 0 || released;
    end_operator_call(saved);
    if (holding) {
        /* A free inside released the block that held it (the program's operator delete). */
        if (operator_call.depth != 0)
            note_settled(holding_start, holding_end - holding_start);
        return;
    }
    if (!released && (touched || operator_chains_is_programs(real)))
        return; /* the program's own operator delete kept the block, or freed another */
    if (operator_call.depth != 0 && operator_call.operand == address) {
        operator_call.operand_released = true; /* a sized delete calling the plain one */
        return;
    }
    int now;
    if (live_table_lost_blocks() || !enter_hook(ptr, 0, entry, DEFERRED_FREE, &now))
        return;
    queue_free_row(ptr, 0, capture_stack(now == STATE_TRACING, NULL), entry);
    leave_hook();
}

/* realloc's block is in no table between the two hooks (see thread_slots.h). The leak scan
 * reads the slot once the thread is stopped, and the stop's handshake orders these stores
 * before that read: release is enough, where a sequentially consistent store would put a
 * locked instruction, three times, on every realloc. */
static void set_moving(void *ptr, size_t size)
{
    struct thread_slot *slot = thread_slot_own();
    if (slot == NULL)
        return;
    atomic_store_explicit(&slot->moving_size, size, memory_order_relaxed);
    atomic_store_explicit(&slot->moving, (uintptr_t)ptr, memory_order_release);
}

MALLOC_TRACE_HOOK void malloc_trace_on_move_begin(void *old, struct malloc_trace_move *move)
{
    int now = atomic_load_explicit(&state, memory_order_relaxed);
    move->held = false;
    move->skipped = malloc_trace_guard != 0 || !is_traced(now);
    if (move->skipped || old == NULL)
        return;
    malloc_trace_guard++;
    adopt_if_unforked();
    leak_scan_before_move();
    /* Said before the block leaves the table: a leak scan that finds neither waits for the
     * move's end (see leak_scan.c). */
    set_moving(old, 0);
    move->held = live_table_take((uintptr_t)old, &move->block);
    set_moving(move->held ? old : NULL, move->held ? move->block.size : 0);
    leave_hook();
}

MALLOC_TRACE_HOOK void malloc_trace_on_released(void *ptr)
{
    int now;
    if (!enter_hook(ptr, 0, ENTRY_FREE, DEFERRED_RELEASE, &now))
        return;
    release_block(ptr, now == STATE_TRACING, true);
    leave_hook();
}

MALLOC_TRACE_HOOK void malloc_trace_on_resized(void *ptr, size_t size, enum entry_point entry)
{
    int now;
    if (!enter_hook(ptr, size, entry, DEFERRED_ALLOC, &now))
        return;
    if (!live_table_resize((uintptr_t)ptr, size)) {
        uint32_t *context_hint;
        uint32_t stack_id = capture_stack(now == STATE_TRACING, &context_hint);
        record_block(ptr, size, stack_id, entry, new_block_flags(), context_hint);
    }
    leave_hook();
}

MALLOC_TRACE_HOOK void malloc_trace_on_move_end(struct malloc_trace_move *move, void *old,
                                                bool old_released, void *result, size_t size,
                                                enum entry_point entry)
{
    int now = atomic_load_explicit(&state, memory_order_relaxed);
    if (malloc_trace_guard) { /* a signal handler's realloc, inside a hook */
        if (is_traced(now) && old != NULL && old_released)
            defer(old, 0, entry, DEFERRED_FREE);
        if (is_traced(now))
            defer(result, size, entry, DEFERRED_ALLOC);
        return;
    }
    if (move->skipped || !is_traced(now)) {
        if (move->held)
            set_moving(NULL, 0);
        return;
    }
    malloc_trace_guard++;
    /* The new block holds the old one's contents; the leak scan reads them from here until
     * the table holds it. */
    if (result != NULL)
        set_moving(result, size);
    bool tracing = now == STATE_TRACING;
    if (tracing)
        flusher_ensure_running();
    bool released = old != NULL && old_released;
    bool free_row = released && (move->held ? block_freed_late(move->block.flags)
                                            : !live_table_lost_blocks());
    uint32_t *context_hint = NULL;
    uint32_t stack_id =
        free_row || result != NULL ? capture_stack(tracing, &context_hint) : STACK_ID_EMPTY;
    if (free_row)
        queue_free_row(old, move->held ? move->block.size : 0, stack_id, entry);
    if (result != NULL) {
        uint8_t flags = new_block_flags();
        if (move->held && result == old)
            flags |= move->block.flags & BLOCK_IGNORED;
        record_block(result, size, stack_id, entry, flags, context_hint);
    } else if (move->held && !released) {
        live_table_insert(&move->block, NULL); /* the call failed: the old block lives on */
    }
    set_moving(NULL, 0);
    leave_hook();
}

static int read_unloads(struct dl_phdr_info *info, size_t size, void *unloads)
{
    (void)size;
    *(unsigned long long *)unloads = info->dlpi_subs;
    return 1;
}

/* Modules unloaded since the start (the dynamic loader's count). */
static unsigned long long unloads_so_far(void)
{
    unsigned long long unloads = 0;
    dl_iterate_phdr(read_unloads, &unloads);
    return unloads;
}

static _Atomic unsigned long long unloads_before_dlclose;

/* Before the real dlclose, and after it: the library's destructors ran inside, and what
 * they recorded is named with the modules as they were, which are then forgotten. Where a
 * module went, the stacks through it are retired: a library loaded at its address next (a
 * new build of a plugin, or a copy) gave the same return addresses, and its blocks took the
 * old stacks' names and module. */
static void name_stacks_around_dlclose(bool after)
{
    if (malloc_trace_guard || atomic_load(&state) != STATE_TRACING)
        return;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    adopt_if_unforked();
    if (after)
        backtrace_forget_unloaded();
    flusher_name_stacks(after);
    if (!after)
        atomic_store(&unloads_before_dlclose, unloads_so_far());
    else if (unloads_so_far() != atomic_load(&unloads_before_dlclose))
        stack_table_retire(unwind_table_in_no_module);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
}

MALLOC_TRACE_HOOK void malloc_trace_on_dlclose_begin(void)
{
    name_stacks_around_dlclose(false);
}

MALLOC_TRACE_HOOK void malloc_trace_on_dlclose_end(void)
{
    name_stacks_around_dlclose(true);
}

MALLOC_TRACE_HOOK void malloc_trace_on_limit_set(int resource, pid_t pid)
{
    if (resource != RLIMIT_AS || (pid != 0 && pid != getpid()))
        return;
    os_read_address_space_limit();
    /* A signal handler's call inside a hook: the thread may hold the locks taken here. */
    if (malloc_trace_guard != 0 || !is_traced(atomic_load(&state))
        || os_reservation_share() == SIZE_MAX)
        return;
    /* As a hook: a handler's allocation meanwhile must not wait for the locks held here. */
    malloc_trace_guard++;
    adopt_if_unforked();
    live_table_fit_reservations();
    stack_table_fit_reservation();
    /* Under every shard lock, as the contexts' lock is taken everywhere else: fork takes
     * those, not it (a child forked meanwhile found it held, and its first malloc waited for
     * ever). */
    live_table_lock_all();
    block_context_fit_reservation();
    live_table_unlock_all();
    leave_hook();
}

MALLOC_TRACE_HOOK void malloc_trace_before_access_change(uid_t user, gid_t group, bool new_root)
{
    /* A signal handler's call inside a hook: the thread may hold the locks taken here. */
    if (malloc_trace_guard != 0 || !is_traced(atomic_load(&state)))
        return;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    adopt_if_unforked();
    proc_self_keep();
    flusher_keep_file(user, group);
    if (new_root)
        flusher_name_stacks(false);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
}

MALLOC_TRACE_HOOK void malloc_trace_after_id_change(void)
{
    if (malloc_trace_guard != 0 || !is_traced(atomic_load(&state)))
        return;
    int saved_errno = errno;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    flusher_settle_file_owner();
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    errno = saved_errno;
}

MALLOC_TRACE_API void malloc_trace_ignore(const void *ptr)
{
    if (ptr == NULL)
        return;
    /* From a signal handler that interrupted a hook, which may hold the block's shard lock
     * (taking it waited for ever): applied when the hook ends, as the handler's mallocs are. */
    if (malloc_trace_guard != 0) {
        defer((void *)ptr, 0, ENTRY_MALLOC, DEFERRED_IGNORE);
        return;
    }
    adopt_if_unforked();
    live_table_add_flags((uintptr_t)ptr, BLOCK_IGNORED);
}

/* The caller's stack from its stack pointer at the call up (the CFA of this function), and
 * its registers as they are on entry, are roots: not this function's own frame, which lies
 * where the caller's returned callees left stale pointers. */
MALLOC_TRACE_API __attribute__((noinline)) long malloc_trace_check_leaks(void)
{
    /* getcontext fills the registers a call preserves and those that pass its arguments:
     * the rest of the copy was what dead frames left on the stack (a leaked block's
     * address, in 1 of 3 runs of a program), read as a root. */
    ucontext_t registers;
    memset(&registers, 0, sizeof registers);
    getcontext(&registers);
    if (malloc_trace_guard || atomic_load(&state) != STATE_TRACING)
        return atomic_load(&state) == STATE_OFF ? 0 : -1;
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    adopt_if_unforked();
    long found = flusher_check_leaks((uintptr_t)__builtin_dwarf_cfa(), &registers.uc_mcontext,
                                     sizeof registers.uc_mcontext);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
    return found;
}

MALLOC_TRACE_API void malloc_trace_disable(void)
{
    disabled_depth++;
}

MALLOC_TRACE_API void malloc_trace_enable(void)
{
    if (disabled_depth > 0)
        disabled_depth--;
}

/* A fork from a signal handler that interrupted the tracer on this thread: the interrupted
 * code may hold any of the tracer's locks (it goes on in both processes once the handler
 * returns), and taking them waited for ever. Nothing is taken then; the child, whose copy of
 * the tables another thread may have been changing, traces nothing. */
static __thread bool forked_inside_the_tracer __attribute__((tls_model("initial-exec")));

/* fork: no thread may be inside the unwinder, and every lock of ours is taken in one order
 * (flush, stacks, shards) before the fork, so that the child gets none of them held by a
 * thread that does not exist there. */
static void before_fork(void)
{
    if (malloc_trace_guard != 0) {
        forked_inside_the_tracer = true;
        return;
    }
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    backtrace_before_fork();
    flusher_lock();
    stack_table_lock();
    live_table_lock_all();
}

static void after_fork_in_parent(void)
{
    if (forked_inside_the_tracer) {
        forked_inside_the_tracer = false;
        return;
    }
    live_table_unlock_all();
    stack_table_unlock();
    flusher_unlock();
    backtrace_after_fork(false);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
}

static void after_fork_in_child(void)
{
    if (forked_inside_the_tracer) {
        forked_inside_the_tracer = false;
        atomic_store(&state, STATE_OFF);
        os_message("fork() was called in a signal handler that interrupted the tracer: the "
                   "child is not traced");
        return;
    }
    reset_in_child();
    process_mark_set();
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
}

/* The child's own descriptor of /proc, its own locks (none held: the parent's holders are
 * not there), file (with %p), flusher to come, thread id. */
static void reset_in_child(void)
{
    proc_self_hold();
    live_table_reset_in_child();
    stack_table_reset_in_child();
    flusher_reset_in_child();
    backtrace_after_fork(true);
    os_forget_thread_id();
    deferred_count = 0;
}

/* What pthread_atfork calls with the caller's module, so that handlers go with their module.
 * Weak: a C library without it gets pthread_atfork's. */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
                             void *module) __attribute__((weak));

/* Handlers of no module: exit's destructor round removes those of a module as it finalizes
 * it (__cxa_finalize), and glibc runs after a fork only the handlers still registered. A
 * thread that forked while another called exit() then kept the locks before_fork took, and
 * the exit pass waited for them for ever (2 exits in 500 of a program whose thread forks in a
 * loop). The tracer's handlers stay valid to the end: its module is never unloaded. */
static void register_fork_handlers(void)
{
    if (__register_atfork != NULL)
        __register_atfork(before_fork, after_fork_in_parent, after_fork_in_child, NULL);
    else
        pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}

/* Under `malloc-trace run` (MALLOC_TRACE_RUN set), only the program itself is traced, as
 * under heaptrack: the library takes itself out of LD_PRELOAD for the programs it runs. */
static void untrace_descendants(void)
{
    if (environment_value("MALLOC_TRACE_RUN") == NULL)
        return;
    environment_remove("MALLOC_TRACE_RUN");
    /* Settings read already: a wrap-linked descendant must not write into this trace. */
    environment_remove("out_file_path");
    environment_remove("malloc_second_peremption");
    const char *preload = environment_value("LD_PRELOAD");
    if (preload == NULL)
        return;
    static char kept[4096] = "LD_PRELOAD=";
    const size_t name_length = sizeof "LD_PRELOAD=" - 1;
    size_t used = name_length;
    for (const char *entry = preload; *entry;) {
        size_t length = strcspn(entry, ": ");
        bool ours = length >= 15 && memcmp(entry + length - 15, "malloc-trace.so", 15) == 0
                    && (length == 15 || entry[length - 16] == '/');
        if (!ours && length > 0 && used + length + 2 < sizeof kept) {
            if (used > name_length)
                kept[used++] = ':';
            memcpy(kept + used, entry, length);
            used += length;
        }
        entry += length;
        entry += strspn(entry, ": ");
    }
    kept[used] = '\0';
    if (used == name_length)
        environment_remove("LD_PRELOAD");
    else
        environment_replace(kept);
}

/* The core's mark in every binary it is linked into: a note, which stays when the binary
 * is stripped and lies in memory with the program headers. A program linked with
 * libmalloctrace.a and started with malloc-trace.so preloaded (by `malloc-trace run`, say)
 * has two tracers, the preload one's malloc under the wrap one's __real_malloc: each block
 * was recorded twice, and the wrap tracer's own memory written as leaks. The preload one
 * then stands down: the program traces itself, into the same file. Retained ("R"): a link
 * with --gc-sections keeps it. */
#define CORE_NOTE_NAME "malloc-trace"
#define CORE_NOTE_TYPE 1
_Static_assert(sizeof CORE_NOTE_NAME == 13 && CORE_NOTE_TYPE == 1, "the note below says so");
__asm__(".pushsection .note.malloc-trace,\"aR\",@note\n"
        ".balign 4\n"
        ".long 13, 0, 1\n"
        ".asciz \"" CORE_NOTE_NAME "\"\n"
        ".balign 4\n"
        ".popsection");

static bool has_core_note(const char *note, const char *end)
{
    while (end - note >= (ptrdiff_t)sizeof(ElfW(Nhdr))) {
        const ElfW(Nhdr) *header = (const ElfW(Nhdr) *)(const void *)note;
        const char *name = note + sizeof *header;
        size_t name_size = (header->n_namesz + 3u) & ~3u;
        size_t description_size = (header->n_descsz + 3u) & ~3u;
        if ((size_t)(end - name) < name_size + description_size)
            return false;
        if (header->n_type == CORE_NOTE_TYPE && header->n_namesz == sizeof CORE_NOTE_NAME
            && memcmp(name, CORE_NOTE_NAME, sizeof CORE_NOTE_NAME) == 0)
            return true;
        note = name + name_size + description_size;
    }
    return false;
}

/* dl_iterate_phdr's callback: the first module it visits is the executable. */
static int find_core_note(struct dl_phdr_info *info, size_t size, void *found)
{
    (void)size;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[i];
        const char *note = (const char *)(info->dlpi_addr + header->p_vaddr); // NOLINT(performance-no-int-to-ptr)
        if (header->p_type == PT_NOTE && has_core_note(note, note + header->p_memsz))
            *(bool *)found = true;
    }
    return 1;
}

/* True in the preload form's core when the executable has a core of its own. */
static bool another_core_traces(void)
{
    uintptr_t self = (uintptr_t)another_core_traces;
    if (self >= atomic_load(&executable_start) && self < atomic_load(&executable_end))
        return false; /* this core is the executable's */
    bool found = false;
    dl_iterate_phdr(find_core_note, &found);
    return found;
}

__attribute__((constructor(101))) static void tracer_start(void)
{
    if (atomic_load(&state) != STATE_STARTING)
        return;
    operator_chains_find(); /* the operators chain to the program's even when nothing traces */
    if (getauxval(AT_SECURE)) {
        atomic_store(&state, STATE_OFF);
        return;
    }
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    proc_self_hold();
    find_executable();
    if (another_core_traces()) {
        atomic_store(&state, STATE_OFF);
        malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
        return;
    }
    settings_load(&settings, environment_value);
    settings_check_names(environ);
    untrace_descendants();
    frames_kept = settings.depth - 1;
    leak_scan_remember_main_thread();
    heap_roots_init();
    process_mark_set();
    backtrace_init(settings.unwinder, frames_kept);
    frame_registration_add_executable();
    register_fork_handlers();
    /* The flusher first: a thread allocating as soon as the state says tracing must find
     * it configured and running. */
    flusher_start(&settings);
    atomic_store(&state, STATE_TRACING);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
}

/* Priority 101 runs last among the destructors of its object: in the wrap forms that is
 * the program's own executable, whose default-priority destructors run first. */
__attribute__((destructor(101))) static void tracer_finish(void)
{
    if (atomic_load(&state) != STATE_TRACING || atomic_exchange(&exit_pass_started, true))
        return;
    if (malloc_trace_guard) {
        /* exit() from a signal handler that interrupted the tracer itself, which may hold
         * any of its locks: the pass would wait for them for ever. */
        os_message("exit() was called in a signal handler that interrupted the tracer: no "
                   "exit rows are written");
        return;
    }
    /* Still tracing during the pass: a block another thread frees meanwhile must leave the
     * table before its memory goes (the scan reads every block in it). */
    malloc_trace_guard += MALLOC_TRACE_GUARD_INTERNAL;
    adopt_if_unforked();
    /* The frames of the program that called exit(3) are roots, as LeakSanitizer has them
     * (main's locals, when main called exit); not the frames below, where exit's own lie
     * over the stale pointers of the program's returned calls. */
    flusher_exit_pass(backtrace_exit_caller_stack(), malloc_trace_in_allocator == 0);
    atomic_store(&state, STATE_FINISHED);
    malloc_trace_guard -= MALLOC_TRACE_GUARD_INTERNAL;
}
