/* stack_table.h: each distinct call stack stored once; blocks carry its 32-bit id.
 * Lookups take no lock; only adding a new stack takes the table's lock. */
#ifndef MALLOC_TRACE_STACK_TABLE_H
#define MALLOC_TRACE_STACK_TABLE_H

#include <stdbool.h>
#include <stdint.h>

/* Id 0 is the empty stack: blocks recorded before the unwinder may run (a static binary's
 * libc allocates before any constructor), or when the table is full. */
#define STACK_ID_EMPTY 0u

struct stack_record {
    uint32_t next;      /* next id in the same bucket, 0 ends the chain */
    uint32_t hash;
    uint32_t depth;     /* return addresses in frames[] */
    uint32_t retired;   /* 1: no lookup finds it (stack_table_retire) */
    char *json;         /* the frames rendered as JSON, owned by the flusher */
    void *frames[];     /* return addresses, innermost (the intercepted call's caller) first */
};

/* The id of this stack, adding it when new. */
uint32_t stack_table_intern(void *const *frames, uint32_t depth);

/* The record of an id returned by stack_table_intern. */
struct stack_record *stack_table_get(uint32_t id);

/* Whether id is one the table gave (for a reader that did not get it from the table). */
bool stack_table_holds(uint32_t id);

/* Calls visit for every stack added so far (not the empty one), oldest first. */
void stack_table_for_each(void (*visit)(uint32_t id, struct stack_record *record, void *context),
                          void *context);

/* Retires every stack with a return address that gone() says lies in no loaded module (after
 * a dlclose): the same addresses may now be another library's code, so a stack taken from
 * here on gets a record of its own, named anew, rather than the old one's names. A retired
 * record stays, JSON and all, for the blocks and rows that hold its id. */
void stack_table_retire(bool (*gone)(const void *address));

/* Distinct stacks held, the empty one included. */
uint32_t stack_table_count(void);

/* fork: see live_table.h. */
/* See os_fit_reservation: the table then holds as many stacks as fit in what is left. */
void stack_table_fit_reservation(void);

void stack_table_lock(void);
void stack_table_unlock(void);
void stack_table_reset_in_child(void);

#endif
