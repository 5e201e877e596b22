/* backtrace.c: see backtrace.h. */
#define _GNU_SOURCE
#include "backtrace.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unwind.h>

#include "os.h"
#include "thread_slots.h"
#include "tracer.h"
#include "unwind_table.h"

/* Weak: a static link (whose archive member brings libunwind itself) must not pull libc.a's
 * static dlopen in, with its link-time warning; a dynamic one finds them in libc.so. */
extern __typeof__(dlopen) dlopen __attribute__((weak));
extern __typeof__(dlsym) dlsym __attribute__((weak));

typedef int unw_backtrace_fn(void **frames, int max);
typedef int unw_set_caching_policy_fn(void *address_space, int policy);

/* ---- fork during a capture ------------------------------------------------------------
 * Debian's libunwind keeps one cache behind a mutex (it has no per-thread caches): a fork
 * while another thread unwinds would give the child that mutex held by a thread it does not
 * have. Each thread's slot says when it is inside the unwinder; the fork handler announces
 * the fork and waits until no slot is, and a capture that sees the announcement waits for
 * the fork to end before it begins (Dekker's protocol: sequentially consistent store, then
 * load, on each side). */
static _Atomic int fork_pending;

static struct thread_slot *enter_unwinder(void)
{
    struct thread_slot *slot = thread_slot_own();
    if (slot == NULL)
        return NULL; /* no memory for a slot: this thread's captures go unguarded */
    for (;;) {
        atomic_store(&slot->unwinding, 1);
        if (!atomic_load(&fork_pending))
            return slot;
        atomic_store(&slot->unwinding, 0);
        while (atomic_load(&fork_pending))
            sched_yield();
    }
}

static void leave_unwinder(struct thread_slot *slot)
{
    if (slot != NULL)
        atomic_store_explicit(&slot->unwinding, 0, memory_order_release);
}

void backtrace_before_fork(void)
{
    /* Made before the lock, which making a record takes. */
    struct thread_slot *own = thread_slot_own();
    thread_slots_lock();
    atomic_store(&fork_pending, 1);
    for (struct thread_slot *slot = thread_slot_first(); slot != NULL; slot = slot->next)
        while (slot != own && atomic_load(&slot->unwinding)) /* own: fork from a handler */
            sched_yield();
}

void backtrace_after_fork(bool in_child)
{
    if (in_child)
        unwind_table_after_fork_child();
    atomic_store(&fork_pending, 0);
    thread_slots_unlock(in_child);
}

/* libunwind loaded at run time, in the dynamic wrap form only (see backtrace.h). */
static unw_backtrace_fn *loaded_unw_backtrace;
static enum unwinder chosen_unwinder;
/* An upper bound of the calling thread's frames, found on its first walk (0: not yet;
 * 1: unknown, no walk). */
static __thread uintptr_t stack_top __attribute__((tls_model("initial-exec")));
static void begin_thread_walks(void);

struct libgcc_walk {
    void **frames;
    uint32_t count;
    uint32_t max;
};

static _Unwind_Reason_Code libgcc_step(struct _Unwind_Context *context, void *argument)
{
    struct libgcc_walk *walk = argument;
    if (walk->count >= walk->max)
        return _URC_END_OF_STACK;
    /* An address as libgcc gives it. */
    walk->frames[walk->count++] = (void *)_Unwind_GetIP(context); // NOLINT(performance-no-int-to-ptr)
    return _URC_NO_REASON;
}

/* The first frame _Unwind_Backtrace reports is this function's own. */
__attribute__((noinline)) static uint32_t libgcc_backtrace(void **frames, uint32_t max)
{
    struct libgcc_walk walk = {frames, 0, max};
    _Unwind_Backtrace(libgcc_step, &walk);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay on the stack */
    return walk.count;
}

/* The first frame unw_backtrace reports is this function's own. */
__attribute__((noinline)) static uint32_t loaded_libunwind_backtrace(void **frames, uint32_t max)
{
    int count = loaded_unw_backtrace(frames, (int)max);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay on the stack */
    return count > 0 ? (uint32_t)count : 0;
}

/* The stack pointer at the process's start (ld.so's, or libc.a's in a static program). */
extern void *__libc_stack_end __attribute__((weak));

/* An upper bound of the calling thread's frames, found without a lock: pthread_getattr_np
 * takes the thread's own lock and allocates under it, so a capture inside that allocation
 * would wait for itself. A glibc thread's control block (at the thread pointer) lies at the
 * top of its stack, above every frame; the main thread's control block lies elsewhere,
 * below its stack, whose frames all lie below the stack pointer it started with. */
static uintptr_t find_stack_top(void)
{
    uintptr_t thread_pointer;
    __asm__("mov %%fs:0, %0" : "=r"(thread_pointer));
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (here < thread_pointer)
        return thread_pointer;
    return &__libc_stack_end != NULL && __libc_stack_end != NULL ? (uintptr_t)__libc_stack_end
                                                                 : 1; /* unknown: no walk */
}

/* Follows the saved frame pointers (each frame: the caller's frame pointer, then the return
 * address) while they go up the stack and stay below its top: a frame that keeps no frame
 * pointer (libc's) ends the walk or adds a wrong frame, never a read out of the stack. The
 * first entry stands for this function's own frame, as with the other unwinders. The room
 * left below the top is a difference, not a sum: code that uses rbp as a plain register
 * leaves any value in it, and with -16 there, the frame plus its two words wrapped to 0 and
 * passed the bound (python3, as and ld crashed). */
__attribute__((noinline)) static uint32_t frame_pointer_backtrace(void **frames, uint32_t max)
{
    const uintptr_t *frame = __builtin_frame_address(0);
    uint32_t count = 0;
    if (max > 0)
        frames[count++] = (void *)(uintptr_t)frame_pointer_backtrace; // NOLINT(performance-no-int-to-ptr)
    while (count < max && (uintptr_t)frame % sizeof(uintptr_t) == 0 && (uintptr_t)frame < stack_top
           && stack_top - (uintptr_t)frame >= 2 * sizeof(uintptr_t)) {
        uintptr_t return_address = frame[1];
        if (return_address < 4096) /* the end (0), or a word that is no frame's */
            break;
        frames[count++] = (void *)return_address; // NOLINT(performance-no-int-to-ptr)
        const uintptr_t *caller = (const uintptr_t *)frame[0]; // NOLINT(performance-no-int-to-ptr)
        if (caller <= frame)
            break;
        frame = caller;
    }
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay on the stack */
    return count;
}

static inline uintptr_t stack_word(uintptr_t address)
{
    return *(const uintptr_t *)address; // NOLINT(performance-no-int-to-ptr)
}

static inline uintptr_t slot_of(const struct walk_frame *frame)
{
    return frame->frame_pointer_slot & ~WALK_FRAME_FLAGS;
}

static inline bool needs_fp(const struct walk_frame *frame)
{
    return (frame->frame_pointer_slot & WALK_FRAME_NEEDS_FP) != 0;
}

/* Sets WALK_FRAME_NEEDS_FP (and WALK_FRAME_CHECK_FP) in frames[first, end), after the frame
 * after end - 1 (NULL: none). A frame's rbp is needed when the step out of it takes the CFA
 * from it, or when the frame after keeps it (reads no saved rbp) and needs it. */
static inline __attribute__((always_inline)) void
mark_fp_needs(struct walk_frame *frames, uint32_t first, uint32_t end, const struct walk_frame *after)
{
    uintptr_t after_slot = after != NULL ? after->frame_pointer_slot : 0;
    for (uint32_t i = end; i-- > first;) {
        bool needed = (after_slot & WALK_FRAME_FROM_FP)
                      || ((after_slot & ~WALK_FRAME_FLAGS) == 0 && (after_slot & WALK_FRAME_NEEDS_FP));
        uintptr_t slot = frames[i].frame_pointer_slot & ~(WALK_FRAME_NEEDS_FP | WALK_FRAME_CHECK_FP);
        if (needed)
            slot |= WALK_FRAME_NEEDS_FP | ((slot & ~WALK_FRAME_FLAGS) != 0 ? WALK_FRAME_CHECK_FP : 0);
        frames[i].frame_pointer_slot = slot;
        after_slot = slot;
    }
}

/* Copies count replayed frames with the rbp each has in this walk, fp the one of the frame
 * before them: where it is not needed, a frame's rbp may differ from the one its memo holds,
 * and a later walk may go on from it. */
static void copy_replayed(struct walk_frame *to, const struct walk_frame *from, uint32_t count,
                          uintptr_t fp)
{
    for (uint32_t i = 0; i < count; i++) {
        to[i] = from[i];
        if (slot_of(&from[i]) != 0)
            fp = stack_word(slot_of(&from[i]));
        to[i].frame_pointer = fp;
    }
}

/* The rbp in this walk of the last of the replayed frames[first, end), fp the one of the frame
 * before them: the last one read from a slot, or else fp. */
static uintptr_t frame_pointer_after(const struct walk_frame *frames, uint32_t first, uint32_t end,
                                     uintptr_t fp)
{
    for (uint32_t i = end; i-- > first;)
        if (slot_of(&frames[i]) != 0)
            return stack_word(slot_of(&frames[i]));
    return fp;
}

/* The first of frames[from, count) not below stack; from or count, the larger, if none. */
static inline uint32_t first_not_below(const struct walk_frame *frames, uint32_t from,
                                       uint32_t count, uintptr_t stack)
{
    while (from < count && frames[from].stack < stack)
        from++;
    return from;
}

/* Whether a walk in state now stands where a memo's frame stood: the same stack pointer and
 * return address, and the same rbp where the frames after need it. */
static inline bool stands_where(const struct walk_frame *frame, const struct walk_frame *now)
{
    return frame->stack == now->stack && frame->pc == now->pc
           && (frame->frame_pointer == now->frame_pointer || !needs_fp(frame));
}

/* Whether the words a memo's frame was read from still hold what was read: its return
 * address, and its saved rbp where the frames after need it. */
static inline bool still_holds(const struct walk_frame *frame)
{
    return stack_word(frame->stack - sizeof(uintptr_t)) == frame->pc
           && (!(frame->frame_pointer_slot & WALK_FRAME_CHECK_FP)
               || stack_word(slot_of(frame)) == frame->frame_pointer);
}

/* Steps now from its frame to the caller's by the frame's rule, reading saved values only
 * between the stack pointer and the stack's top: false where the rule covers nothing or leads
 * out of the stack (now is then half stepped). Not for UNWIND_OUTERMOST. */
static inline __attribute__((always_inline)) bool step_by_rule(struct walk_frame *now,
                                                               struct unwind_rule rule)
{
    if (rule.kind == UNWIND_NOT_COVERED)
        return false;
    uintptr_t cfa = (rule.kind == UNWIND_CFA_FROM_SP ? now->stack : now->frame_pointer)
                    + (uintptr_t)(intptr_t)rule.cfa_offset;
    uintptr_t saved_fp = cfa + (uintptr_t)((intptr_t)rule.saved_fp_slot * 8);
    if (cfa <= now->stack || cfa > stack_top || cfa % sizeof(uintptr_t) != 0
        || (rule.saved_fp_slot != 0 && (saved_fp < now->stack || saved_fp + 8 > stack_top)))
        return false;
    if (rule.saved_fp_slot != 0) {
        now->frame_pointer = stack_word(saved_fp);
        now->frame_pointer_slot = saved_fp;
    } else {
        now->frame_pointer_slot = 0;
    }
    if (rule.kind != UNWIND_CFA_FROM_SP)
        now->frame_pointer_slot |= WALK_FRAME_FROM_FP;
    now->pc = stack_word(cfa - sizeof(uintptr_t));
    now->stack = cfa;
    return true;
}

/* The call site of a walk: the program's return address and stack pointer where it called
 * the front-end, read from the tracer's own frames (each keeps a frame pointer: table_backtrace,
 * backtrace_capture, the hook, the front-end). Only a hint: a wrong one costs a replay, never
 * a wrong frame. */
static unsigned call_site_of(const uintptr_t *frame)
{
    for (unsigned i = 0; i < BACKTRACE_TRACER_FRAMES - 1; i++) {
        const uintptr_t *caller = (const uintptr_t *)frame[0]; // NOLINT(performance-no-int-to-ptr)
        if (caller <= frame || (uintptr_t)caller % sizeof(uintptr_t) != 0
            || (uintptr_t)(caller + 2) > stack_top)
            return 0;
        frame = caller;
    }
    uint64_t key = frame[1] ^ (uintptr_t)(frame + 2) << 16;
    return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> (64 - WALK_MEMO_SITE_BITS));
}

/* The common walk: one of the site's walks stood where this one starts, and every word it read
 * still holds its value, so this walk is that walk, checked frame by frame without the general
 * walk's bookkeeping (the switches between the site's walks, the copies, the flags). Returns
 * its count, with frames[1...] filled and walk as the general walk leaves it; 0 where it is
 * not so, with nothing changed but frames. Where that walk ended below max, its last step is
 * taken again, as the general walk takes it. Tried on each of the site's walks, latest first,
 * it serves 99.9% of the walks of a traced python3 (the latest alone 70%), all of xmllint's
 * and sqlite3's (80% and 58%). */
static inline __attribute__((always_inline)) uint32_t
replay_whole_walk(void **frames, uint32_t max, const struct walk_frame *now,
                  struct walk_frame *walk, uint32_t count, struct unwind_cache *cache)
{
    if (count < 2 || count > max || !stands_where(&walk[1], now))
        return 0;
    /* Unrolled, the loop's counting and branching take 2.7 instructions a frame, not 4.6: the
     * walks of a traced python3 went from 438 instructions of their own to 403 (callgrind). */
#pragma GCC unroll 4
    for (uint32_t i = 2; i < count; i++) {
        const struct walk_frame *frame = &walk[i];
        if (!still_holds(frame))
            return 0;
        frames[i] = (void *)frame->pc; // NOLINT(performance-no-int-to-ptr)
    }
    if (count < max) {
        struct walk_frame end = walk[count - 1];
        end.frame_pointer = frame_pointer_after(walk, 2, count, now->frame_pointer);
        struct unwind_rule rule = unwind_table_find(cache, end.pc - 1);
        if (rule.kind != UNWIND_OUTERMOST && (!step_by_rule(&end, rule) || end.pc != 0))
            return 0;
    }
    frames[1] = (void *)now->pc; // NOLINT(performance-no-int-to-ptr)
    walk[1].frame_pointer = now->frame_pointer;
    return count;
}

/* Makes the site's walk in ways[way] its latest: the next walk tries it first. */
static void make_latest(uint16_t *ways, unsigned way)
{
    for (; way > 0; way--) {
        uint16_t later = ways[way];
        ways[way] = ways[way - 1];
        ways[way - 1] = later;
    }
}

/* Follows the rules of the compact unwind tables (unwind_table.h) from this function's
 * caller up, reading saved values only between the stack pointer and the stack's top.
 * Returns 0 where a frame has no rule there or anything looks wrong (a signal frame, code
 * without unwind information, a stack switch): the caller then asks libunwind for the whole
 * stack, so that every stack is the one libunwind gives; *stepped is then set to the frames
 * found up to there, the frame that has no rule included. The first entry stands for this
 * function's own frame, as with the other unwinders; the tracer keeps frame pointers, so
 * its saved rbp and return address start the walk.
 *
 * A step is a chain of dependent loads (the return address, its rule, the next return
 * address), 4 to 7 ns, and most allocations come from below frames that have not changed
 * since one of the thread's last walks from the same call site. So a walk that reaches a
 * frame where such a walk stood, with the same stack pointer and return address (the site's
 * latest walk first, then the others), replays it from there while the words that walk read
 * (each return address, each saved rbp that is needed) still hold the values it read: a step
 * is a function of its state, its rule and those words, so the replayed frames are exactly
 * what stepping would find, and checking a word at a known address waits for no other load. Where a word differs, the walk steps on from the last
 * frame that held. A frame pointer (in the state, or saved) has to match only where the
 * frames after need it (a step takes the CFA from it before a saved rbp replaces it; the
 * walk's last step, which found no caller, is taken again by every walk): code built
 * without frame pointers holds anything in rbp, and a match on it made every walk step the
 * frames from the call site up to the first saved rbp (frames stepped a walk, besides the
 * last step that every walk takes again, before and after: xmllint 1.8 and 0.2, sqlite3 3.1
 * to 4.4 and 1.6 to 2.7, python3 3.1 to 3.5 and 1.6 to 2.1). With the site's last 4 walks
 * to replay rather than its last one: xmllint 0.1, sqlite3 0.2, python3 0.15. A walk that
 * is one of the site's walks whole, the common one, is found first by replay_whole_walk. */
__attribute__((noinline)) static uint32_t table_backtrace(void **frames, uint32_t max,
                                                        struct backtrace_kept **kept,
                                                        uint32_t *stepped)
{
    const uintptr_t *frame = __builtin_frame_address(0);
    /* the caller's stack pointer, frame pointer and return address */
    struct walk_frame now = {(uintptr_t)(frame + 2), frame[0], frame[1], 0};
    uint32_t count = 0;
    if (max > 0)
        frames[count++] = (void *)(uintptr_t)table_backtrace; // NOLINT(performance-no-int-to-ptr)
    struct unwind_cache *cache = unwind_table_begin_walk();
    if (cache == NULL)
        return 0;
    struct walk_memo *memo = &cache->memo;
    if (max > memo->frames_each)
        return 0; /* a cache made before backtrace_init asked for more: never a cut stack */
    uint16_t *ways = memo->ways[call_site_of(frame)];
    for (unsigned w = 0; w < WALK_MEMO_WAYS; w++) {
        uint32_t replayed = replay_whole_walk(frames, max, &now, walk_memo_buffer(memo, ways[w]),
                                              memo->count[ways[w]], cache);
        if (replayed != 0) {
            *kept = &memo->kept[ways[w]];
            make_latest(ways, w);
            __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay on the stack */
            return replayed;
        }
    }
    unsigned way = 0; /* which of the site's walks last is */
    struct walk_frame *last = walk_memo_buffer(memo, ways[0]);
    uint32_t last_count = memo->count[ways[0]];
    struct walk_frame *walk = walk_memo_buffer(memo, memo->spare);
    uint32_t next_last = 1; /* the last walk's first frame not below now (0 is its walker's) */
    uint32_t next_of[WALK_MEMO_WAYS]; /* the same in each of the site's other walks */
    for (unsigned w = 0; w < WALK_MEMO_WAYS; w++)
        next_of[w] = 1;
    uint32_t aligned_replay = 0; /* where a replay began that ran to the last walk's end */
    /* A replay that ran to the last walk's end: its frames stay in last until the walk ends
     * (walk[tail_at...] are last[tail_from...]), and are copied only if last is not kept. */
    uint32_t tail_at = 0, tail_from = 0, tail_count = 0;
    while (count < max && now.pc != 0) {
        next_last = first_not_below(last, next_last, last_count, now.stack);
        frames[count] = (void *)now.pc; // NOLINT(performance-no-int-to-ptr)
        walk[count++] = now;
        bool at_last = next_last < last_count && stands_where(&last[next_last], &now);
        /* Another of the site's walks stood here: replay that one. Not once a replay ran to
         * the end of last, whose frames the walk still takes from there (tail_from). */
        for (unsigned w = 0; w < WALK_MEMO_WAYS && !at_last && tail_count == 0; w++) {
            if (w == way)
                continue;
            const struct walk_frame *other = walk_memo_buffer(memo, ways[w]);
            uint32_t other_count = memo->count[ways[w]];
            next_of[w] = first_not_below(other, next_of[w], other_count, now.stack);
            if (next_of[w] < other_count && stands_where(&other[next_of[w]], &now)) {
                next_of[way] = next_last;
                /* Set only by a replay of no frame to the end of the walk left (a replay of
                 * frames would have stopped the switching): it is no replay of the new last. */
                aligned_replay = 0;
                way = w;
                last = walk_memo_buffer(memo, ways[w]);
                last_count = other_count;
                next_last = next_of[w];
                at_last = true;
            }
        }
        if (at_last) {
            uint32_t replay = next_last == count - 1 ? count - 1 : 0;
            uint32_t first = ++next_last, at = count;
            const struct walk_frame *next = &last[first];
            const struct walk_frame *end =
                next + (last_count - first < max - count ? last_count - first : max - count);
            while (next < end && still_holds(next))
                frames[count++] = (void *)(next++)->pc; // NOLINT(performance-no-int-to-ptr)
            next_last = (uint32_t)(next - last);
            if (next_last == last_count) {
                aligned_replay = replay;
                tail_at = at, tail_from = first, tail_count = count - at;
            } else {
                copy_replayed(&walk[at], &last[first], count - at, walk[at - 1].frame_pointer);
            }
            if (count >= max)
                break;
            if (count > at) {
                now = last[next_last - 1];
                now.frame_pointer =
                    frame_pointer_after(last, first, next_last, walk[at - 1].frame_pointer);
            }
        }
        struct unwind_rule rule = unwind_table_find(cache, now.pc - 1);
        if (rule.kind == UNWIND_OUTERMOST)
            break;
        if (!step_by_rule(&now, rule)) {
            *stepped = count;
            return 0; /* the site's walks and kept words stay as they were, and agree */
        }
    }
    bool same = aligned_replay != 0 && count == last_count;
    for (uint32_t i = BACKTRACE_TRACER_FRAMES; same && i < aligned_replay; i++)
        same = walk[i].pc == last[i].pc;
    uint16_t kept_in; /* the buffer that holds this walk now */
    if (same) {
        /* This walk is last's stack: keep last, with this walk's frames up to where the
         * replay began (that frame included: the two may have read its frame pointer from
         * different slots), rather than copy the rest. A walk that differs below that
         * frame is copied whole, so that the site keeps last too. */
        memcpy(&last[1], &walk[1], aligned_replay * sizeof *walk);
        mark_fp_needs(last, 1, aligned_replay + 1,
                      aligned_replay + 1 < last_count ? &last[aligned_replay + 1] : NULL);
        kept_in = ways[way];
    } else {
        if (tail_count != 0)
            copy_replayed(&walk[tail_at], &last[tail_from], tail_count,
                          walk[tail_at - 1].frame_pointer);
        /* A tail that ends the walk ends the last walk too: its frames keep their flags. */
        if (tail_count != 0 && tail_at + tail_count == count)
            mark_fp_needs(walk, 1, tail_at, &walk[tail_at]);
        else
            mark_fp_needs(walk, 1, count, NULL);
        kept_in = memo->spare;
        memo->count[kept_in] = count;
        /* The site's oldest walk makes room. */
        way = WALK_MEMO_WAYS - 1;
        memo->spare = ways[way];
        ways[way] = kept_in;
    }
    make_latest(ways, way);
    if (!same)
        memo->kept[kept_in].stack_id = 0;
    *kept = &memo->kept[kept_in];
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay on the stack */
    return count;
}

/* exit(3) only calls __run_exit_handlers: its return address lies in its first bytes. */
#define EXIT_BODY_BYTES 64u
/* Frames between the exit pass and exit(3): the destructor's callers in ld.so and libc. */
#define EXIT_SEARCH_FRAMES 64u

/* Defined by a static program's libc only (see heap_roots.c). */
extern size_t _dl_tls_static_size __attribute__((weak));

/* libc's exit, found at start: dlsym finds it where the program's own reference is a PLT
 * entry. Not at exit: a dlsym that succeeds frees the error state a failed one of the
 * program's left (glibc's dlerror buffer), and freed inside the tracer, that block stayed in
 * the table, written as a leak. */
static uintptr_t libc_exit_address;

/* Not in a static program, whose exit is the one it calls, and where dlsym would fail and
 * leave its error for the program's first dlerror(). */
static void find_libc_exit(void)
{
    void *found = &_dl_tls_static_size == NULL && dlsym != NULL ? dlsym(RTLD_DEFAULT, "exit")
                                                                 : NULL;
    libc_exit_address = (uintptr_t)(found != NULL ? found : (void *)exit);
}

/* Walked with the unwind tables, not libunwind: libunwind's own steps check addresses by
 * writing them to a pipe it opened at start, and a program that closed every descriptor
 * it did not open (a daemon's start) may have been handed those numbers again: libunwind then
 * read from the program's file, found it no pipe, and closed it, and exit(3) could no longer
 * write what the program's streams held. */
__attribute__((noinline)) uintptr_t backtrace_exit_caller_stack(void)
{
    /* No stack root in a static program, as before this walk: libgcc's unwinder, used here
     * then, finds no unwind tables without --eh-frame-hdr, which gcc -static leaves out. */
    if (&_dl_tls_static_size != NULL)
        return 0;
    uintptr_t exit_address = libc_exit_address;
    if (stack_top == 0)
        begin_thread_walks();
    const uintptr_t *frame = __builtin_frame_address(0);
    struct walk_frame now = {(uintptr_t)(frame + 2), frame[0], frame[1], 0};
    struct unwind_cache *cache = unwind_table_begin_walk();
    for (uint32_t i = 0; cache != NULL && i < EXIT_SEARCH_FRAMES; i++) {
        bool in_exit = now.pc > exit_address && now.pc - exit_address <= EXIT_BODY_BYTES;
        struct unwind_rule rule = unwind_table_find(cache, now.pc - 1);
        if (rule.kind == UNWIND_OUTERMOST || !step_by_rule(&now, rule))
            return 0;
        if (in_exit)
            return now.stack; /* the CFA of exit's frame: its caller's stack pointer */
    }
    return 0;
}

/* ---- libunwind's pipe ------------------------------------------------------------------
 * libunwind checks addresses by writing them into a pipe it makes when it starts: it reads
 * one end, writes the other, and makes the pipe again (closing both numbers) when the read
 * fails. A program that closes every descriptor it did not open may be handed those numbers
 * for its own files: a walk of libunwind's would then read from, write to or close them. So
 * the numbers are learnt at start (the two lowest free ones, which its pipe2 takes), and a
 * walk that needs libunwind asks it only while both are still that pipe. Not with
 * MALLOC_TRACE_UNWIND=libunwind, where every walk is libunwind's: the two fstat calls would
 * take longer than the walk (over a microsecond each on this project's machine). */
static int unwinder_pipe[2] = {-1, -1};
static ino_t unwinder_pipe_inode;
static atomic_bool unwinder_pipe_lost;

/* Takes the free numbers among stdin, stdout and stderr, with /dev/null, into held: a
 * program started with one closed must not find libunwind's pipe there (its output would go
 * into it). Returns how many. */
static unsigned hold_standard_numbers(int held[STDERR_FILENO + 1])
{
    unsigned count = 0;
    while (count <= STDERR_FILENO) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            break;
        if (fd > STDERR_FILENO) {
            close(fd);
            break;
        }
        held[count++] = fd;
    }
    return count;
}

/* The two descriptor numbers the next pipe2 gets (-1: unknown). */
static void probe_free_pair(int pair[2])
{
    if (pipe2(pair, O_CLOEXEC) != 0) {
        pair[0] = pair[1] = -1;
        return;
    }
    close(pair[0]);
    close(pair[1]);
}

static bool is_pipe_end(int fd, ino_t *inode)
{
    struct stat status;
    if (fd < 0 || fstat(fd, &status) != 0 || !S_ISFIFO(status.st_mode))
        return false;
    *inode = status.st_ino;
    return true;
}

/* After libunwind started: keeps pair when it is one pipe now (libunwind's). */
static void learn_unwinder_pipe(const int pair[2])
{
    ino_t read_end, write_end;
    if (is_pipe_end(pair[0], &read_end) && is_pipe_end(pair[1], &write_end)
        && read_end == write_end) {
        unwinder_pipe[0] = pair[0];
        unwinder_pipe[1] = pair[1];
        unwinder_pipe_inode = read_end;
    }
}

/* Whether libunwind may walk: its pipe is not known, or is still open at its numbers. */
static bool unwinder_pipe_intact(void)
{
    if (unwinder_pipe[0] < 0)
        return true;
    if (atomic_load_explicit(&unwinder_pipe_lost, memory_order_relaxed))
        return false;
    ino_t read_end, write_end;
    if (is_pipe_end(unwinder_pipe[0], &read_end) && is_pipe_end(unwinder_pipe[1], &write_end)
        && read_end == unwinder_pipe_inode && write_end == unwinder_pipe_inode)
        return true;
    if (!atomic_exchange(&unwinder_pipe_lost, true))
        os_message("the program closed libunwind's descriptors: stacks the unwind tables do "
                   "not cover (signal frames, code without unwind information) keep frame 0 "
                   "only");
    return false;
}

/* RTLD_LOCAL: libunwind's own _Unwind_* must not interpose on libgcc's for the program.
 * The names are those of libunwind 1.x's local-only x86_64 build (UNW_LOCAL_ONLY). */
static void load_libunwind(void)
{
    /* A static program (no program interpreter: AT_BASE is 0) that links dlopen in, as a
     * static PIE does through libdw.a, would load libunwind.so with a second C library. */
    if (dlopen == NULL || dlsym == NULL || getauxval(AT_BASE) == 0)
        return;
    void *library = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL)
        return; /* libgcc's unwinder gives the same frames, only slower */
    unw_set_caching_policy_fn *set_caching_policy =
        (unw_set_caching_policy_fn *)dlsym(library, "_ULx86_64_set_caching_policy");
    void **local_address_space = dlsym(library, "_ULx86_64_local_addr_space");
    loaded_unw_backtrace = (unw_backtrace_fn *)dlsym(library, "unw_backtrace");
    if (set_caching_policy != NULL && local_address_space != NULL)
        set_caching_policy(*local_address_space, 2 /* UNW_CACHE_PER_THREAD */);
}

/* The calling thread's first walk: its stack's top. */
static void begin_thread_walks(void)
{
    stack_top = find_stack_top();
}

void backtrace_forget_unloaded(void)
{
    unwind_table_forget_unloaded();
}

/* A capture in the layout of the tracer's (a front-end calls a hook, which calls
 * backtrace_capture), so that the walk finds a call site in frames that keep frame pointers. */
__attribute__((noinline)) static void warm_up_hook(uint32_t max)
{
    void **frames;
    struct backtrace_kept *kept;
    backtrace_capture(max < 8 ? max : 8, &frames, &kept);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay on the stack */
}

__attribute__((noinline)) static void warm_up_entry(uint32_t max)
{
    warm_up_hook(max);
    __asm__ volatile("" ::: "memory");
}

void backtrace_init(enum unwinder unwinder, uint32_t max)
{
    chosen_unwinder = unwinder;
    find_libc_exit();
    /* Whatever the unwinder, the exit pass walks with the tables. */
    unwind_table_init(max + BACKTRACE_TRACER_FRAMES < BACKTRACE_MAX_FRAMES
                          ? max + BACKTRACE_TRACER_FRAMES
                          : BACKTRACE_MAX_FRAMES);
    int held[STDERR_FILENO + 1], pair[2];
    unsigned holding = hold_standard_numbers(held);
    probe_free_pair(pair);
    if (malloc_trace_libunwind_init)
        malloc_trace_libunwind_init();
    else
        load_libunwind();
    if (unwinder != UNWINDER_LIBUNWIND)
        learn_unwinder_pipe(pair);
    while (holding > 0)
        close(held[--holding]);
    warm_up_entry(max);
}

/* Whether libunwind, where it was loaded at run time (it then has no static TLS), has the
 * calling thread's thread-local storage: glibc mallocs a thread's block at its first use.
 * Made inside a signal handler that interrupted the program's malloc, that block could also
 * be handed to the program, which freed it (a crash inside libunwind in about 1 run of 20 of
 * a handler that allocates, dynamic wrap form): such a walk is given up. Not made at every
 * thread's first walk: unw_backtrace took several KiB of a thread's stack (threads of 16 KiB
 * that had room untraced overflowed), and the tables' walks mostly need no fallback. */
static __thread bool libunwind_has_thread_storage __attribute__((tls_model("initial-exec")));

/* The stack from libunwind (or libgcc's unwinder, without it), in the layout of the
 * others: what the tables do not cover. Inlined: a frame of its own would be counted as the
 * program's. */
static inline __attribute__((always_inline)) uint32_t fallback_backtrace(void **frames,
                                                                         uint32_t wanted)
{
    if (loaded_unw_backtrace != NULL && malloc_trace_libunwind_backtrace == NULL
        && !libunwind_has_thread_storage) {
        if (malloc_trace_in_allocator != 0)
            return 0;
        libunwind_has_thread_storage = true;
    }
    struct thread_slot *slot = enter_unwinder();
    int count = malloc_trace_libunwind_backtrace
                    ? malloc_trace_libunwind_backtrace(frames, (int)wanted)
                : loaded_unw_backtrace ? (int)loaded_libunwind_backtrace(frames, wanted)
                                       : (int)libgcc_backtrace(frames, wanted);
    leave_unwinder(slot);
    uint32_t got = count > 0 ? (uint32_t)count : 0;
    /* libgcc reports the end of the stack (the caller of _start) as address 0. */
    for (uint32_t i = BACKTRACE_TRACER_FRAMES; i < got; i++)
        if ((uintptr_t)frames[i] < 4096)
            got = i;
    return got;
}

/* Stack a libunwind walk takes (5.3 KiB measured on Debian 12's libunwind 1.6, through a
 * signal frame), with a margin. */
#define LIBUNWIND_WALK_ROOM ((uintptr_t)8 << 10)

/* Whether the capture runs in a signal handler on an alternate signal stack (sigaltstack)
 * with too little room left for libunwind's walk: with 8 KiB (SIGSTKSZ as it was), where the
 * kernel's signal frame took 3.4 KiB, a handler that allocated overflowed it, into the heap
 * block below it (an abort in free) or a guard page. The stack then ends where the unwind
 * tables end, at the signal frame. One system call, on the fallback's path only: an alternate
 * stack can lie anywhere, even in the thread's own stack (a local array of main). */
/* Not asked with MALLOC_TRACE_UNWIND=libunwind, where every capture would pay for the call
 * (300 ns a capture on a VM, a third more): there the README asks for 16 KiB. */
static bool alternate_stack_too_small(void)
{
    static atomic_bool said;
    stack_t alternate;
    if (sigaltstack(NULL, &alternate) != 0 || !(alternate.ss_flags & SS_ONSTACK))
        return false;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    if (here < (uintptr_t)alternate.ss_sp || here - (uintptr_t)alternate.ss_sp >= LIBUNWIND_WALK_ROOM)
        return false;
    if (!atomic_exchange(&said, true))
        os_message_text("a signal handler allocated on an alternate signal stack (sigaltstack) "
                        "with less than 8 KiB left, too little for libunwind: its stacks end at "
                        "the signal frame");
    return true;
}

/* What backtrace_capture hands out as kept when no memo keeps the stack: nothing. */
static __thread struct backtrace_kept kept_by_none __attribute__((tls_model("initial-exec")));

/* Where frames point when the thread has no buffer (no memory for its slot): no frame. */
static void *no_frames[BACKTRACE_TRACER_FRAMES];

__attribute__((noinline)) uint32_t backtrace_capture(uint32_t max, void ***frames_out,
                                                    struct backtrace_kept **kept)
{
    uint32_t wanted = max + BACKTRACE_TRACER_FRAMES;
    if (wanted > BACKTRACE_MAX_FRAMES)
        wanted = BACKTRACE_MAX_FRAMES;
    kept_by_none.stack_id = 0;
    *kept = &kept_by_none;
    struct thread_slot *slot = thread_slot_own();
    if (slot == NULL) {
        *frames_out = no_frames;
        return 0;
    }
    void **frames = slot->frames;
    *frames_out = frames;
    if (__builtin_expect(stack_top == 0, 0))
        begin_thread_walks();
    /* The walks of this file take no lock a fork could leave held (the table builder's is
     * reset in the child): only libunwind needs the fork protocol. */
    uint32_t stepped = 0;
    uint32_t got = chosen_unwinder == UNWINDER_FRAME_POINTERS ? frame_pointer_backtrace(frames, wanted)
                   : chosen_unwinder == UNWINDER_TABLES ? table_backtrace(frames, wanted, kept, &stepped)
                                                        : 0;
    if (got == 0) {
        /* errno as the program left it: libunwind's address checks read its pipe (EAGAIN
         * when it is empty), the pipe's own check may find a descriptor closed, and
         * sigaltstack may fail. */
        int saved_errno = errno;
        if (chosen_unwinder != UNWINDER_LIBUNWIND && alternate_stack_too_small())
            got = stepped;
        else if (unwinder_pipe_intact())
            got = fallback_backtrace(frames, wanted);
        errno = saved_errno;
    }
    return got > BACKTRACE_TRACER_FRAMES ? got - BACKTRACE_TRACER_FRAMES : 0;
}
