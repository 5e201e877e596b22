/* eh_frame.c: see eh_frame.h. The format is the DWARF call frame information as the
 * Linux Standard Base describes .eh_frame: CIEs and FDEs, augmentation strings, and pointer
 * encodings. */
#include "eh_frame.h"

#include <stddef.h>
#include <string.h>

#include "mapped_array.h"

/* DWARF register numbers on x86-64. */
#define REGISTER_FP 6u
#define REGISTER_SP 7u
#define REGISTER_RA 16u
#define NO_REGISTER 0xffu

/* Pointer encodings (DW_EH_PE_*): the format in the low nibble, how it applies above. */
#define ENCODING_OMIT 0xffu
#define ENCODING_FORMAT 0x0fu
#define ENCODING_APPLICATION 0x70u
#define ENCODING_INDIRECT 0x80u
#define ENCODING_PCREL 0x10u

/* remember_state nests this deep in what compilers emit; deeper is left uncovered. */
#define STATE_STACK_DEPTH 8u
/* The caller's frame pointer saved further from the CFA than this is no slot of ours. */
#define MAX_FP_SLOT 127

struct reader {
    const uint8_t *at;
    const uint8_t *end;
    bool failed; /* a read past end: every later read gives 0 */
};

static bool has(struct reader *reader, size_t bytes)
{
    if (!reader->failed && (size_t)(reader->end - reader->at) >= bytes)
        return true;
    reader->failed = true;
    return false;
}

static uint64_t read_fixed(struct reader *reader, size_t bytes)
{
    if (!has(reader, bytes))
        return 0;
    uint64_t value = 0;
    memcpy(&value, reader->at, bytes); /* x86-64: little-endian, as the section */
    reader->at += bytes;
    return value;
}

static uint64_t read_uleb(struct reader *reader)
{
    uint64_t value = 0;
    for (unsigned shift = 0; has(reader, 1); shift += 7) {
        uint8_t byte = *reader->at++;
        if (shift < 64)
            value |= (uint64_t)(byte & 0x7fu) << shift;
        if ((byte & 0x80u) == 0)
            return value;
    }
    return 0;
}

/* Steps over a block that a ULEB128 length precedes. */
static void skip_block(struct reader *reader)
{
    uint64_t length = read_uleb(reader);
    if (has(reader, length))
        reader->at += length;
}

static int64_t read_sleb(struct reader *reader)
{
    uint64_t value = 0;
    unsigned shift = 0;
    while (has(reader, 1)) {
        uint8_t byte = *reader->at++;
        if (shift < 64)
            value |= (uint64_t)(byte & 0x7fu) << shift;
        shift += 7;
        if ((byte & 0x80u) == 0) {
            if (shift < 64 && (byte & 0x40u))
                value |= ~(uint64_t)0 << shift;
            return (int64_t)value;
        }
    }
    return 0;
}

/* An encoded pointer. Only absolute and pc-relative values are addresses this reader can
 * compute; *usable says whether this one was (it is skipped either way). */
static uintptr_t read_encoded(struct reader *reader, uint8_t encoding, bool *usable)
{
    uintptr_t field = (uintptr_t)reader->at;
    uint64_t value;
    *usable = false;
    switch (encoding & ENCODING_FORMAT) {
    case 0x00: value = read_fixed(reader, sizeof(uintptr_t)); break; /* absptr */
    case 0x01: value = read_uleb(reader); break;
    case 0x02: value = read_fixed(reader, 2); break;
    case 0x03: value = read_fixed(reader, 4); break;
    case 0x04: value = read_fixed(reader, 8); break;
    case 0x09: value = (uint64_t)read_sleb(reader); break;
    case 0x0a: value = (uint64_t)(int64_t)(int16_t)read_fixed(reader, 2); break;
    case 0x0b: value = (uint64_t)(int64_t)(int32_t)read_fixed(reader, 4); break;
    case 0x0c: value = read_fixed(reader, 8); break;
    default: reader->failed = true; return 0;
    }
    uint8_t application = encoding & ENCODING_APPLICATION;
    *usable = !reader->failed && (encoding & ENCODING_INDIRECT) == 0
              && (application == 0 || application == ENCODING_PCREL);
    return application == ENCODING_PCREL ? field + (uintptr_t)value : (uintptr_t)value;
}

/* ---- records ------------------------------------------------------------------------ */

struct record {
    const uint8_t *id;        /* the CIE id or CIE pointer field */
    const uint8_t *end;       /* the next record */
};

/* The record at at, or false at the terminator or where the record does not fit. */
static bool read_record(const uint8_t *at, const uint8_t *end, struct record *record)
{
    struct reader reader = {at, end, false};
    uint64_t length = read_fixed(&reader, 4);
    if (length == 0xffffffffu)
        length = read_fixed(&reader, 8);
    if (reader.failed || length == 0 || length > (uint64_t)(end - reader.at) || length < 4)
        return false;
    record->id = reader.at;
    record->end = reader.at + length;
    return true;
}

struct cie {
    const uint8_t *address;
    const uint8_t *instructions;
    const uint8_t *end;
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_encoding;
    bool augmentation_data; /* 'z': FDEs carry a length-prefixed augmentation block */
    bool signal_frame;      /* 'S': the frames of signal trampolines */
    bool usable;
};

/* Fills cie from the CIE at address; cie->usable says whether this reader can use it. */
static void read_cie(const uint8_t *address, const uint8_t *section_end, struct cie *cie)
{
    memset(cie, 0, sizeof *cie);
    cie->address = address;
    struct record record;
    if (!read_record(address, section_end, &record))
        return;
    struct reader reader = {record.id, record.end, false};
    if (read_fixed(&reader, 4) != 0)
        return; /* an FDE, not a CIE */
    unsigned version = (unsigned)read_fixed(&reader, 1);
    const char *augmentation = (const char *)reader.at;
    size_t length = has(&reader, 1) ? strnlen(augmentation, (size_t)(reader.end - reader.at))
                                    : 0;
    if (!has(&reader, length + 1) || (version != 1 && version != 3))
        return;
    reader.at += length + 1;
    cie->code_align = read_uleb(&reader);
    cie->data_align = read_sleb(&reader);
    uint64_t return_register = version == 1 ? read_fixed(&reader, 1) : read_uleb(&reader);
    if (return_register != REGISTER_RA || cie->code_align == 0)
        return;
    cie->fde_encoding = 0; /* absptr unless 'R' says otherwise */
    if (length > 0) {
        if (augmentation[0] != 'z')
            return; /* an old "eh" augmentation, or one we cannot skip */
        cie->augmentation_data = true;
        uint64_t data_length = read_uleb(&reader);
        const uint8_t *data_end = reader.at + data_length;
        if (reader.failed || data_length > (uint64_t)(reader.end - reader.at))
            return;
        for (size_t i = 1; i < length; i++) {
            bool ignored;
            switch (augmentation[i]) {
            case 'R': cie->fde_encoding = (uint8_t)read_fixed(&reader, 1); break;
            case 'L': read_fixed(&reader, 1); break;
            case 'P': read_encoded(&reader, (uint8_t)read_fixed(&reader, 1), &ignored); break;
            case 'S': cie->signal_frame = true; break;
            default: return; /* as libgcc: a letter we do not know may change the rest */
            }
        }
        if (reader.failed)
            return;
        reader.at = data_end;
    }
    cie->instructions = reader.at;
    cie->end = record.end;
    cie->usable = true;
}

/* The parts of an .eh_frame_hdr (version 1): where .eh_frame begins, and the table of FDEs
 * sorted by address where it is one this reader knows (fde_count as udata4, pairs of datarel
 * sdata4: what GNU ld, gold and lld write; else count 0). False where the header is none. */
static bool read_header(const uint8_t *header, const uint8_t *limit, const uint8_t **eh_frame,
                        const uint8_t **table, size_t *count)
{
    if (header == NULL || header >= limit || limit - header < 4 || header[0] != 1
        || header[1] == ENCODING_OMIT)
        return false;
    struct reader reader = {header + 4, limit, false};
    bool usable;
    *eh_frame = (const uint8_t *)read_encoded(&reader, header[1], &usable); // NOLINT(performance-no-int-to-ptr)
    if (!usable)
        return false;
    *count = 0;
    if (header[2] == 0x03 && header[3] == 0x3b) {
        uint64_t listed = read_fixed(&reader, 4);
        if (!reader.failed && listed <= (uint64_t)(limit - reader.at) / 8) {
            *table = reader.at;
            *count = (size_t)listed;
        }
    }
    return true;
}

/* The table's entry i: the address it gives (initial location) and where its FDE is. */
static uintptr_t listed_address(const uint8_t *header, const uint8_t *table, size_t i,
                                size_t field)
{
    int32_t offset;
    memcpy(&offset, table + 8 * i + 4 * field, sizeof offset);
    return (uintptr_t)header + (uintptr_t)(intptr_t)offset;
}

bool eh_frame_bounds(const uint8_t *header, const uint8_t *limit, const uint8_t **start,
                     const uint8_t **end)
{
    const uint8_t *table = NULL;
    size_t count;
    if (!read_header(header, limit, start, &table, &count))
        return false;
    *end = limit;
    uintptr_t last = 0;
    for (size_t i = 0; i < count; i++) {
        uintptr_t fde = listed_address(header, table, i, 1);
        if (fde > last)
            last = fde;
    }
    struct record record;
    if (last > (uintptr_t)header && last < (uintptr_t)limit
        && read_record((const uint8_t *)last, limit, &record)) // NOLINT(performance-no-int-to-ptr)
        *end = record.end;
    return true;
}

/* ---- the CFA program ------------------------------------------------------------------ */

enum register_rule { SAME_VALUE, AT_CFA_OFFSET, UNDEFINED, OTHER };

struct frame_state {
    int64_t cfa_offset;
    int64_t fp_offset;
    int64_t ra_offset;
    uint8_t cfa_register; /* NO_REGISTER: an expression */
    uint8_t fp_rule;      /* enum register_rule */
    uint8_t ra_rule;
};

static struct unwind_rule rule_of(const struct frame_state *state)
{
    struct unwind_rule rule = UNWIND_RULE_NOT_COVERED;
    if (state->ra_rule == UNDEFINED) {
        rule.kind = UNWIND_OUTERMOST;
        return rule;
    }
    if (state->ra_rule != AT_CFA_OFFSET || state->ra_offset != -(int64_t)sizeof(uintptr_t)
        || (state->cfa_register != REGISTER_SP && state->cfa_register != REGISTER_FP)
        || state->cfa_offset < INT32_MIN || state->cfa_offset > INT32_MAX)
        return rule;
    int64_t slot = 0;
    if (state->fp_rule == AT_CFA_OFFSET) {
        slot = state->fp_offset / (int64_t)sizeof(uintptr_t);
        if (state->fp_offset % (int64_t)sizeof(uintptr_t) != 0 || slot == 0
            || slot < -MAX_FP_SLOT || slot > MAX_FP_SLOT)
            return rule;
    } else if (state->fp_rule != SAME_VALUE) {
        return rule;
    }
    rule.kind = state->cfa_register == REGISTER_SP ? UNWIND_CFA_FROM_SP : UNWIND_CFA_FROM_FP;
    rule.cfa_offset = (int32_t)state->cfa_offset;
    rule.saved_fp_slot = (int8_t)slot;
    return rule;
}

/* Rows go out through a one-row delay: a row at the same address as the one before
 * replaces it, and a row with the rule of the last one sent adds nothing. */
struct row_sink {
    eh_frame_row_fn *row;
    void *context;
    uintptr_t pending_pc;
    struct unwind_rule pending;
    struct unwind_rule sent;
    bool has_pending;
    bool has_sent;
    bool refused;
};

static bool same_rule(struct unwind_rule a, struct unwind_rule b)
{
    return a.kind == b.kind && a.cfa_offset == b.cfa_offset
           && a.saved_fp_slot == b.saved_fp_slot;
}

static void sink_flush(struct row_sink *sink)
{
    if (!sink->has_pending || sink->refused)
        return;
    sink->has_pending = false;
    if (sink->has_sent && same_rule(sink->sent, sink->pending))
        return;
    if (!sink->row(sink->context, sink->pending_pc, sink->pending)) {
        sink->refused = true;
        return;
    }
    sink->sent = sink->pending;
    sink->has_sent = true;
}

static void sink_push(struct row_sink *sink, uintptr_t pc, struct unwind_rule rule)
{
    if (!sink->has_pending || sink->pending_pc != pc)
        sink_flush(sink);
    sink->pending_pc = pc;
    sink->pending = rule;
    sink->has_pending = true;
}

/* Operand times factor, wrapping as the hardware does: malformed data gives a wrong offset
 * (then a rule the walk rejects), never undefined behaviour. */
static int64_t factored(uint64_t operand, int64_t factor)
{
    return (int64_t)(operand * (uint64_t)factor);
}

/* A CFA register as the rules hold it: any number past a byte is none of ours. */
static uint8_t cfa_register_of(uint64_t reg)
{
    return reg < NO_REGISTER ? (uint8_t)reg : NO_REGISTER;
}

static void set_register(struct frame_state *state, uint64_t reg, uint8_t rule, int64_t offset)
{
    if (reg == REGISTER_FP) {
        state->fp_rule = rule;
        state->fp_offset = offset;
    } else if (reg == REGISTER_RA) {
        state->ra_rule = rule;
        state->ra_offset = offset;
    }
}

/* initial: NULL while the CIE's own instructions run, where a restore has nothing to go
 * back to. */
static void restore_register(struct frame_state *state, const struct frame_state *initial,
                             uint64_t reg)
{
    if (initial == NULL)
        return;
    if (reg == REGISTER_FP)
        set_register(state, reg, initial->fp_rule, initial->fp_offset);
    else if (reg == REGISTER_RA)
        set_register(state, reg, initial->ra_rule, initial->ra_offset);
}

struct program {
    const struct cie *cie;
    const struct frame_state *initial; /* after the CIE's instructions; NULL while running them */
    struct row_sink *sink;             /* NULL: no rows (the CIE's instructions) */
    uintptr_t location;
    uintptr_t end_location;
};

/* Runs instructions on state; false on an instruction this reader does not know, after
 * which nothing it says can be trusted. */
static bool run_program(struct program *program, struct reader *reader,
                        struct frame_state *state)
{
    struct frame_state remembered[STATE_STACK_DEPTH];
    unsigned depth = 0;
    const struct cie *cie = program->cie;
    while (!reader->failed && reader->at < reader->end) {
        uint8_t opcode = *reader->at++;
        uint64_t operand = opcode & 0x3fu;
        uint64_t advance = 0;
        switch (opcode >> 6) {
        case 1: advance = operand; break; /* DW_CFA_advance_loc */
        case 2: set_register(state, operand, AT_CFA_OFFSET, factored(read_uleb(reader), cie->data_align)); break;
        case 3: restore_register(state, program->initial, operand); break;
        default:
            switch (opcode) {
            case 0x00: break; /* nop */
            case 0x01: { /* set_loc */
                bool usable;
                uintptr_t target = read_encoded(reader, cie->fde_encoding, &usable);
                if (!usable || target < program->location)
                    return false;
                advance = (target - program->location) / cie->code_align;
                break;
            }
            case 0x02: advance = read_fixed(reader, 1); break;
            case 0x03: advance = read_fixed(reader, 2); break;
            case 0x04: advance = read_fixed(reader, 4); break;
            case 0x05: { uint64_t reg = read_uleb(reader); set_register(state, reg, AT_CFA_OFFSET, factored(read_uleb(reader), cie->data_align)); break; }
            case 0x06: restore_register(state, program->initial, read_uleb(reader)); break;
            case 0x07: set_register(state, read_uleb(reader), UNDEFINED, 0); break;
            case 0x08: set_register(state, read_uleb(reader), SAME_VALUE, 0); break;
            case 0x0a:
                if (depth == STATE_STACK_DEPTH)
                    return false;
                remembered[depth++] = *state;
                break;
            case 0x0b: /* restore_state: the CFA rule too, as libgcc and libunwind read it */
                if (depth == 0)
                    return false;
                *state = remembered[--depth];
                break;
            case 0x0c: state->cfa_register = cfa_register_of(read_uleb(reader)); state->cfa_offset = (int64_t)read_uleb(reader); break;
            case 0x0d: state->cfa_register = cfa_register_of(read_uleb(reader)); break;
            case 0x0e: state->cfa_offset = (int64_t)read_uleb(reader); break;
            case 0x0f: skip_block(reader); state->cfa_register = NO_REGISTER; break;
            case 0x10: case 0x16: { /* expression, val_expression */
                uint64_t reg = read_uleb(reader);
                skip_block(reader);
                set_register(state, reg, OTHER, 0);
                break;
            }
            case 0x11: { uint64_t reg = read_uleb(reader); set_register(state, reg, AT_CFA_OFFSET, factored((uint64_t)read_sleb(reader), cie->data_align)); break; }
            case 0x12: state->cfa_register = cfa_register_of(read_uleb(reader)); state->cfa_offset = factored((uint64_t)read_sleb(reader), cie->data_align); break;
            case 0x13: state->cfa_offset = factored((uint64_t)read_sleb(reader), cie->data_align); break;
            case 0x09: case 0x14: case 0x15: { /* register, val_offset, val_offset_sf */
                uint64_t reg = read_uleb(reader);
                read_uleb(reader); /* a ULEB128 or SLEB128 operand: the same bytes to skip */
                set_register(state, reg, OTHER, 0);
                break;
            }
            case 0x2e: read_uleb(reader); break; /* GNU_args_size */
            case 0x2f: { uint64_t reg = read_uleb(reader); set_register(state, reg, AT_CFA_OFFSET, (int64_t)(0 - (uint64_t)factored(read_uleb(reader), cie->data_align))); break; }
            default: return false;
            }
        }
        if (reader->failed)
            return false;
        if (advance != 0 && program->sink != NULL) {
            sink_push(program->sink, program->location, rule_of(state));
            uint64_t step;
            if (__builtin_mul_overflow(advance, cie->code_align, &step)
                || step >= program->end_location - program->location) {
                program->location = program->end_location;
                return true; /* what follows applies to no address of this FDE */
            }
            program->location += step;
        }
    }
    return !reader->failed;
}

/* ---- FDEs in address order ------------------------------------------------------------ */

struct fde_ref {
    uintptr_t pc_begin;
    const uint8_t *fde;
};

static bool fde_before(const struct fde_ref *a, const struct fde_ref *b)
{
    return a->pc_begin < b->pc_begin;
}

/* Heap sort, not qsort: glibc's qsort may allocate a buffer with malloc, inside the
 * tracer's own walk; this needs no memory beyond the array, and n log n whatever the order. */
static void sift_down(struct fde_ref *refs, size_t root, size_t count)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= count)
            return;
        if (child + 1 < count && fde_before(&refs[child], &refs[child + 1]))
            child++;
        if (!fde_before(&refs[root], &refs[child]))
            return;
        struct fde_ref swap = refs[root];
        refs[root] = refs[child];
        refs[child] = swap;
        root = child;
    }
}

static void sort_fdes(struct fde_ref *refs, size_t count)
{
    for (size_t i = count / 2; i-- > 0;)
        sift_down(refs, i, count);
    for (size_t end = count; end-- > 1;) {
        struct fde_ref swap = refs[0];
        refs[0] = refs[end];
        refs[end] = swap;
        sift_down(refs, 0, end);
    }
}

struct section {
    const uint8_t *start;
    const uint8_t *end;
};

/* The CIE an FDE names, parsed once while FDEs keep naming the same one; NULL where it
 * would lie outside the section or this reader cannot use it. */
static const struct cie *cie_of(const struct record *fde, struct section section,
                                struct cie *cache)
{
    uint32_t pointer;
    memcpy(&pointer, fde->id, sizeof pointer);
    if (pointer > (size_t)(fde->id - section.start))
        return NULL;
    const uint8_t *address = fde->id - pointer;
    if (cache->address != address)
        read_cie(address, section.end, cache);
    return cache->usable ? cache : NULL;
}

/* The FDE's address range; false where it has none this reader can compute. */
static bool fde_range(const struct record *fde, const struct cie *cie, struct reader *reader,
                      uintptr_t *begin, uintptr_t *size)
{
    bool usable, ignored;
    reader->at = fde->id + 4;
    reader->end = fde->end;
    reader->failed = false;
    *begin = read_encoded(reader, cie->fde_encoding, &usable);
    *size = read_encoded(reader, cie->fde_encoding & ENCODING_FORMAT, &ignored);
    return usable && !reader->failed && *size != 0 && *size <= UINTPTR_MAX - *begin;
}

/* The FDE at at: its record, its CIE and its range, the reader after the range; false where
 * this reader cannot use it. */
static bool open_fde(const uint8_t *at, struct section section, struct cie *cache,
                     struct record *fde, const struct cie **cie, struct reader *reader,
                     uintptr_t *begin, uintptr_t *size)
{
    return read_record(at, section.end, fde) && (*cie = cie_of(fde, section, cache)) != NULL
           && fde_range(fde, *cie, reader, begin, size);
}

/* Sends the FDE's rows; returns the end of its range, or 0 where it was left out. */
static uintptr_t emit_fde(const struct fde_ref *ref, struct section section, struct cie *cache,
                          struct row_sink *sink)
{
    struct record fde;
    const struct cie *cie;
    struct reader reader;
    uintptr_t begin, size;
    if (!open_fde(ref->fde, section, cache, &fde, &cie, &reader, &begin, &size))
        return 0;
    if (cie->augmentation_data)
        skip_block(&reader);
    struct frame_state initial = {0, 0, 0, NO_REGISTER, SAME_VALUE, OTHER};
    struct program program = {cie, NULL, NULL, begin, begin + size};
    struct reader cie_reader = {cie->instructions, cie->end, false};
    bool known = !cie->signal_frame && run_program(&program, &cie_reader, &initial);
    struct frame_state state = initial;
    program.initial = &initial;
    program.sink = sink;
    bool understood = known && !reader.failed && run_program(&program, &reader, &state);
    if (program.location < begin + size)
        sink_push(sink, program.location,
                  understood ? rule_of(&state)
                             : UNWIND_RULE_NOT_COVERED);
    sink_push(sink, begin + size, UNWIND_RULE_NOT_COVERED);
    return begin + size;
}

bool eh_frame_read(const uint8_t *start, const uint8_t *end, eh_frame_row_fn *row,
                   void *context)
{
    struct section section = {start, end};
    struct mapped_array refs;
    mapped_array_init(&refs, sizeof(struct fde_ref));
    struct cie cache = {0};
    bool complete = true;
    struct record record;
    for (const uint8_t *at = start; at < end && read_record(at, end, &record); at = record.end) {
        uint32_t id;
        memcpy(&id, record.id, sizeof id);
        if (id == 0)
            continue; /* a CIE */
        struct fde_ref ref = {0, at};
        const struct cie *cie = cie_of(&record, section, &cache);
        struct reader reader;
        uintptr_t size;
        if (cie == NULL || !fde_range(&record, cie, &reader, &ref.pc_begin, &size))
            continue;
        if (!mapped_array_push(&refs, &ref)) {
            complete = false;
            break;
        }
    }
    struct fde_ref *sorted = refs.items;
    sort_fdes(sorted, refs.count);
    struct row_sink sink = {row, context, 0, {0}, {0}, false, false, false};
    uintptr_t covered_to = 0;
    for (size_t i = 0; i < refs.count && !sink.refused; i++) {
        if (sorted[i].pc_begin < covered_to)
            continue; /* overlaps the FDE before: one of them is wrong */
        uintptr_t end_of_fde = emit_fde(&sorted[i], section, &cache, &sink);
        if (end_of_fde != 0)
            covered_to = end_of_fde;
    }
    sink_flush(&sink);
    mapped_array_release(&refs);
    return complete && !sink.refused;
}

bool eh_frame_index_open(const uint8_t *header, const uint8_t *limit, struct eh_frame_index *index)
{
    index->header = header;
    index->limit = limit;
    index->table = NULL;
    index->count = 0;
    return read_header(header, limit, &index->section, &index->table, &index->count)
           && index->count > 0 && index->section < limit;
}

bool eh_frame_index_find(const struct eh_frame_index *index, uintptr_t pc, size_t *position)
{
    size_t low = 0, high = index->count; /* the answer is the last entry at or below pc */
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (listed_address(index->header, index->table, middle, 0) <= pc)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == 0)
        return false;
    *position = low - 1;
    return true;
}

/* Whether the listed FDE at position gives way to the next, which starts at the same address
 * (gold lists an FDE folded with an identical one by each): the look-up in the table finds
 * the last of them, as libunwind's does. */
static bool superseded(const struct eh_frame_index *index, size_t position)
{
    return position + 1 < index->count
           && listed_address(index->header, index->table, position + 1, 0)
                  == listed_address(index->header, index->table, position, 0);
}

bool eh_frame_read_listed(const struct eh_frame_index *index, size_t first, size_t end,
                          eh_frame_row_fn *row, void *context)
{
    struct section section = {index->section, index->limit};
    struct cie cache = {0};
    struct row_sink sink = {row, context, 0, {0}, {0}, false, false, false};
    uintptr_t covered_to = 0;
    if (first > 0 && !superseded(index, first - 1)) {
        const uint8_t *before = (const uint8_t *)listed_address(index->header, index->table, first - 1, 1); // NOLINT(performance-no-int-to-ptr)
        struct record fde;
        const struct cie *cie;
        struct reader reader;
        uintptr_t begin, size;
        if (before >= section.start && before < section.end
            && open_fde(before, section, &cache, &fde, &cie, &reader, &begin, &size))
            covered_to = begin + size;
    }
    for (size_t i = first; i < end && i < index->count && !sink.refused; i++) {
        struct fde_ref ref = {listed_address(index->header, index->table, i, 0),
                              (const uint8_t *)listed_address(index->header, index->table, i, 1)}; // NOLINT(performance-no-int-to-ptr)
        if (ref.fde < section.start || ref.fde >= section.end || ref.pc_begin < covered_to
            || superseded(index, i))
            continue; /* outside the section; or overlapping the FDE before, as eh_frame_read */
        uintptr_t end_of_fde = emit_fde(&ref, section, &cache, &sink);
        if (end_of_fde != 0)
            covered_to = end_of_fde;
    }
    sink_flush(&sink);
    return !sink.refused;
}
