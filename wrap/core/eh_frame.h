/* eh_frame.h: a module's call frame information (.eh_frame, the tables C++ exceptions use,
 * present even where debug information is stripped) read into rows of one compact rule
 * each: from this address on, the caller's stack pointer is the canonical frame address
 * (the stack or frame pointer plus an offset), the return address lies just below it, and
 * the caller's frame pointer is unchanged or saved at a fixed slot. That is all a stack
 * walk needs on x86-64 for code gcc and clang emit; anything else (expressions, signal
 * frames, a return address kept in a register) is a row that says it is not covered. */
#ifndef MALLOC_TRACE_EH_FRAME_H
#define MALLOC_TRACE_EH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum unwind_rule_kind {
    UNWIND_NOT_COVERED, /* no rule this table can hold: ask libunwind */
    UNWIND_CFA_FROM_SP, /* CFA = stack pointer + cfa_offset */
    UNWIND_CFA_FROM_FP, /* CFA = frame pointer (rbp) + cfa_offset */
    UNWIND_OUTERMOST,   /* the return address is undefined: the first frame of a thread */
};

struct unwind_rule {
    int32_t cfa_offset;
    uint8_t kind;          /* enum unwind_rule_kind */
    int8_t saved_fp_slot;  /* the caller's rbp is at CFA + 8 * slot; 0: rbp is unchanged */
    uint16_t unused;
};

#define UNWIND_RULE_NOT_COVERED ((struct unwind_rule){0, UNWIND_NOT_COVERED, 0, 0})

/* Receives the rows in address order, each rule holding from pc up to the next row's pc;
 * returns false to stop the reading (no memory for the row). */
typedef bool eh_frame_row_fn(void *context, uintptr_t pc, struct unwind_rule rule);

/* Reads the .eh_frame section that begins at start and ends before end (or at its zero
 * terminator). Every FDE gives rows for its address range and a not-covered row where the
 * range ends; FDEs are taken in address order (an FDE overlapping the one before is left
 * out). Malformed data ends the FDE, or the section, where it is found, never a read
 * outside [start, end). Returns false when row refused a row or memory ran out. */
bool eh_frame_read(const uint8_t *start, const uint8_t *end, eh_frame_row_fn *row,
                   void *context);

/* The .eh_frame that an .eh_frame_hdr section (PT_GNU_EH_FRAME) names, in a module that ends
 * at limit: *start, and *end the end of the last FDE the header's table lists (limit where
 * the table is not one this reader knows: then the section's zero terminator must end it).
 * False where the header itself is not one this reader knows. */
bool eh_frame_bounds(const uint8_t *header, const uint8_t *limit, const uint8_t **start,
                     const uint8_t **end);

/* The FDEs an .eh_frame_hdr lists, sorted by address: the rows of a module can be read a few
 * FDEs at a time, as walks come to them, rather than all at once. */
struct eh_frame_index {
    const uint8_t *header;  /* .eh_frame_hdr */
    const uint8_t *table;   /* count pairs of datarel sdata4: initial location, FDE */
    size_t count;
    const uint8_t *section; /* .eh_frame */
    const uint8_t *limit;   /* the module's end: no record is read past it */
};

/* The index of the .eh_frame_hdr at header, in a module that ends at limit; false where the
 * header is not one this reader knows, or its table lists no FDE. */
bool eh_frame_index_open(const uint8_t *header, const uint8_t *limit, struct eh_frame_index *index);

/* The position of the last listed FDE that begins at or below pc; false where none does. */
bool eh_frame_index_find(const struct eh_frame_index *index, uintptr_t pc, size_t *position);

/* Sends the rows of the listed FDEs [first, end) as eh_frame_read sends those of a whole
 * section, the FDE before first counting as the one before for an overlap (GNU ld writes no
 * table for FDEs that overlap). Of FDEs listed with one start (gold lists folded copies),
 * the last gives the rows: the one a look-up in the table finds, as libunwind's does.
 * Returns false when row refused a row. */
bool eh_frame_read_listed(const struct eh_frame_index *index, size_t first, size_t end,
                          eh_frame_row_fn *row, void *context);

#endif
