/* trace_summary.c: see trace_summary.h. */
#include "trace_summary.h"

#include <stdlib.h>
#include <string.h>

#include "trace_reader.h"

struct pending_malloc {
    struct stack *stack;
    uint64_t size;
    uint64_t timestamp_ms;
    struct pending_malloc *next; /* the next later malloc row at the same address */
};

struct pending_address {
    uint64_t address;
    struct pending_malloc *oldest, *newest;
    struct pending_address *next; /* in its hash bucket */
};

struct trace_summary {
    struct stack **stacks;
    size_t stack_buckets; /* a power of two */
    size_t stack_count;
    struct pending_address **pending;
    size_t pending_buckets;
    size_t pending_count;
    /* The sizes of the malloc rows waiting and of the rows in the totals: at most INT64_MAX */
    uint64_t bytes_held;
};

/* Eight bytes a step: every row's stack text is hashed, and a trace's rows are mostly their
 * stacks (a byte-at-a-time hash took half of `report`'s time on a million rows). */
static uint64_t hash_text(const char *text, size_t length)
{
    uint64_t hash = 0x9e3779b97f4a7c15ull ^ length;
    size_t i = 0;
    for (; i + sizeof(uint64_t) <= length; i += sizeof(uint64_t)) {
        uint64_t word;
        memcpy(&word, text + i, sizeof word);
        hash = (hash ^ word) * 0xff51afd7ed558ccdull;
        hash ^= hash >> 32;
    }
    uint64_t tail = 0;
    memcpy(&tail, text + i, length - i);
    hash = (hash ^ tail) * 0xc4ceb9fe1a85ec53ull;
    return hash ^ (hash >> 29);
}

/* The product's high bits folded into the low ones, which pick the bucket: alone, the low
 * bits of (address >> 4) * C depend only on the address's low bits, and blocks a megabyte
 * apart (aligned, or mapped on their own) all fell in one bucket (300,000 such rows took
 * check 88 s). */
static uint64_t hash_address(uint64_t address)
{
    uint64_t hash = (address >> 4) * 0x9e3779b97f4a7c15ull;
    return hash ^ hash >> 29;
}

void *checked_calloc(size_t count, size_t size)
{
    void *memory = calloc(count, size);
    if (memory == NULL) {
        fputs("malloc-trace: out of memory\n", stderr);
        exit(2);
    }
    return memory;
}

static void grow_stacks(struct trace_summary *summary)
{
    size_t buckets = summary->stack_buckets * 2;
    struct stack **table = checked_calloc(buckets, sizeof(struct stack *));
    for (size_t i = 0; i < summary->stack_buckets; i++) {
        for (struct stack *stack = summary->stacks[i], *next; stack; stack = next) {
            next = stack->next;
            size_t slot = hash_text(stack->text, stack->length) & (buckets - 1);
            stack->next = table[slot];
            table[slot] = stack;
        }
    }
    free(summary->stacks);
    summary->stacks = table;
    summary->stack_buckets = buckets;
}

/* The stack with this text, parsed and added on first sight; NULL when its JSON is not an
 * array of frames (then the row is bad input). */
static struct stack *stack_of(struct trace_summary *summary, const struct trace_row *row)
{
    size_t slot = hash_text(row->callstack, row->callstack_length) & (summary->stack_buckets - 1);
    for (struct stack *stack = summary->stacks[slot]; stack; stack = stack->next)
        if (stack->length == row->callstack_length
            && memcmp(stack->text, row->callstack, stack->length) == 0)
            return stack;
    json_t *frames = trace_reader_parse_stack(row);
    if (frames == NULL)
        return NULL;
    struct stack *stack = checked_calloc(1, sizeof *stack);
    stack->text = checked_calloc(row->callstack_length + 1, 1);
    memcpy(stack->text, row->callstack, row->callstack_length);
    stack->length = row->callstack_length;
    stack->frames = frames;
    stack->next = summary->stacks[slot];
    summary->stacks[slot] = stack;
    if (++summary->stack_count > summary->stack_buckets)
        grow_stacks(summary);
    return stack;
}

static void add(struct stack *stack, enum outstanding_kind kind, uint64_t size, uint64_t time_ms)
{
    struct aggregate *aggregate = &stack->by_kind[kind];
    if (aggregate->count == 0 || time_ms < aggregate->first_ms)
        aggregate->first_ms = time_ms;
    if (aggregate->count == 0 || time_ms > aggregate->last_ms)
        aggregate->last_ms = time_ms;
    aggregate->count++;
    aggregate->bytes = bytes_add(aggregate->bytes, size);
}

static struct pending_address **pending_slot(struct trace_summary *summary, uint64_t address)
{
    struct pending_address **slot =
        &summary->pending[hash_address(address) & (summary->pending_buckets - 1)];
    while (*slot != NULL && (*slot)->address != address)
        slot = &(*slot)->next;
    return slot;
}

static void grow_pending(struct trace_summary *summary)
{
    size_t buckets = summary->pending_buckets * 2;
    struct pending_address **table = checked_calloc(buckets, sizeof(struct pending_address *));
    for (size_t i = 0; i < summary->pending_buckets; i++) {
        for (struct pending_address *entry = summary->pending[i], *next; entry; entry = next) {
            next = entry->next;
            size_t slot = hash_address(entry->address) & (buckets - 1);
            entry->next = table[slot];
            table[slot] = entry;
        }
    }
    free(summary->pending);
    summary->pending = table;
    summary->pending_buckets = buckets;
}

/* The oldest malloc row waiting at address, or NULL. */
static const struct pending_malloc *oldest_waiting(struct trace_summary *summary,
                                                   uint64_t address)
{
    const struct pending_address *entry = *pending_slot(summary, address);
    return entry != NULL ? entry->oldest : NULL;
}

/* Takes the oldest malloc row waiting at address; false when none waits. */
static bool settle(struct trace_summary *summary, uint64_t address)
{
    struct pending_address **slot = pending_slot(summary, address);
    struct pending_address *entry = *slot;
    if (entry == NULL)
        return false;
    struct pending_malloc *oldest = entry->oldest;
    entry->oldest = oldest->next;
    summary->bytes_held -= oldest->size;
    free(oldest);
    if (entry->oldest == NULL) {
        *slot = entry->next;
        free(entry);
        summary->pending_count--;
    }
    return true;
}

static void visit_row(const struct trace_row *row, void *context)
{
    struct trace_summary *summary = context;
    /* Whatever is outstanding, in any total, is a sum of the sizes held (the malloc rows
     * waiting, the rows in the totals): while that is at most INT64_MAX, every byte count is
     * exact (and fits a JSON integer). No process holds 2^63 bytes: a row that would take it
     * past is damage, named and skipped. A row that settles a malloc row frees its size. */
    const struct pending_malloc *settled =
        row->kind == ROW_MALLOC ? NULL : oldest_waiting(summary, row->address);
    /* A free row with a size is a late free: the tracer held that block. With no malloc row
     * left to settle, another process's row settled it (a forked child's copy of a block
     * the parent had written as malloc, freed or reported at its exit), or its file was not
     * given: no orphan free either way. */
    if (row->kind == ROW_FREE && settled == NULL && row->size != 0)
        return;
    bool in_totals = row->kind == ROW_MALLOC || row->kind == ROW_LEAK
                     || row->kind == ROW_INDIRECT || (row->kind == ROW_FREE && settled == NULL);
    uint64_t held_after = summary->bytes_held - (settled != NULL ? settled->size : 0);
    if (in_totals && row->size > INT64_MAX - held_after) {
        trace_reader_reject(row, "sizes add up past 2^63 - 1 bytes");
        return;
    }
    struct stack *stack = stack_of(summary, row);
    if (stack == NULL)
        return;
    if (in_totals)
        summary->bytes_held += row->size;
    switch (row->kind) {
    case ROW_MALLOC: {
        struct pending_malloc *waiting = checked_calloc(1, sizeof *waiting);
        *waiting = (struct pending_malloc){stack, row->size, row->timestamp_ms, NULL};
        struct pending_address **slot = pending_slot(summary, row->address);
        struct pending_address *entry = *slot;
        if (entry == NULL) {
            entry = checked_calloc(1, sizeof *entry);
            entry->address = row->address;
            entry->oldest = waiting;
            *slot = entry;
            if (++summary->pending_count > summary->pending_buckets)
                grow_pending(summary); /* moves bucket links, not entries */
        } else {
            entry->newest->next = waiting;
        }
        entry->newest = waiting;
        break;
    }
    case ROW_FREE:
        if (!settle(summary, row->address)) /* else a late free: the pair cancels */
            add(stack, KIND_ORPHAN_FREE, row->size, row->timestamp_ms);
        break;
    case ROW_LEAK:
    case ROW_INDIRECT:
    case ROW_REACHABLE:
        settle(summary, row->address); /* the exit row is the verdict */
        if (row->kind != ROW_REACHABLE)
            add(stack, row->kind == ROW_LEAK ? KIND_LEAK : KIND_INDIRECT, row->size,
                row->timestamp_ms);
        break;
    }
}

struct trace_summary *trace_summary_read(char *const *paths, int count, bool *bad_input)
{
    struct trace_summary *summary = checked_calloc(1, sizeof *summary);
    summary->stack_buckets = 1024;
    summary->stacks = checked_calloc(summary->stack_buckets, sizeof(struct stack *));
    summary->pending_buckets = 1024;
    summary->pending = checked_calloc(summary->pending_buckets, sizeof(struct pending_address *));
    bool stop_now;
    int status = trace_read_files(paths, count, visit_row, summary, &stop_now);
    if (stop_now) {
        trace_summary_free(summary);
        return NULL;
    }
    *bad_input = status != 0;
    /* What nothing settled: suspects of a process that did not exit. */
    for (size_t i = 0; i < summary->pending_buckets; i++)
        for (struct pending_address *entry = summary->pending[i]; entry; entry = entry->next)
            for (struct pending_malloc *waiting = entry->oldest; waiting; waiting = waiting->next)
                add(waiting->stack, KIND_MALLOC, waiting->size, waiting->timestamp_ms);
    return summary;
}

static int by_bytes_then_count(const void *left, const void *right)
{
    const struct outstanding *a = left, *b = right;
    const struct aggregate *x = &a->stack->by_kind[a->kind], *y = &b->stack->by_kind[b->kind];
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (x->first_ms != y->first_ms)
        return x->first_ms < y->first_ms ? -1 : 1;
    return strcmp(a->stack->text, b->stack->text);
}

struct outstanding *trace_summary_list(struct trace_summary *summary, size_t *count_out)
{
    size_t count = 0;
    for (size_t i = 0; i < summary->stack_buckets; i++)
        for (struct stack *stack = summary->stacks[i]; stack; stack = stack->next)
            for (int kind = 0; kind < KIND_COUNT; kind++)
                count += stack->by_kind[kind].count != 0;
    struct outstanding *list = checked_calloc(count + 1, sizeof *list);
    size_t used = 0;
    for (size_t i = 0; i < summary->stack_buckets; i++)
        for (struct stack *stack = summary->stacks[i]; stack; stack = stack->next)
            for (int kind = 0; kind < KIND_COUNT; kind++)
                if (stack->by_kind[kind].count != 0)
                    list[used++] = (struct outstanding){stack, (enum outstanding_kind)kind};
    qsort(list, count, sizeof *list, by_bytes_then_count);
    *count_out = count;
    return list;
}

const char *outstanding_kind_name(enum outstanding_kind kind)
{
    static const char *const names[KIND_COUNT] = {"leak", "indirect", "malloc", "free"};
    return names[kind];
}

void trace_summary_free(struct trace_summary *summary)
{
    for (size_t i = 0; i < summary->stack_buckets; i++) {
        for (struct stack *stack = summary->stacks[i], *next; stack; stack = next) {
            next = stack->next;
            json_decref(stack->frames);
            free(stack->text);
            free(stack);
        }
    }
    for (size_t i = 0; i < summary->pending_buckets; i++) {
        for (struct pending_address *entry = summary->pending[i], *next; entry; entry = next) {
            next = entry->next;
            for (struct pending_malloc *waiting = entry->oldest, *after; waiting;
                 waiting = after) {
                after = waiting->next;
                free(waiting);
            }
            free(entry);
        }
    }
    free(summary->stacks);
    free(summary->pending);
    free(summary);
}
