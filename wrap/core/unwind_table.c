/* unwind_table.c: see unwind_table.h. */
#define _GNU_SOURCE
#include "unwind_table.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <string.h>
#include <sys/auxv.h>
#include <ucontext.h>
#include <unistd.h>

#include "mapped_array.h"
#include "os.h"
#include "proc_self.h"

/* A module per dlopen: a program that loads and unloads plugins for ever would fill any
 * registry; past this many, its new modules are left to libunwind. */
#define MAX_MODULES 4096u

/* glibc 2.35's lock-free look-up of the module that holds an address (what libgcc's
 * unwinder uses); weak, so that an older libc leaves every stack to libunwind. */
extern __typeof__(_dl_find_object) _dl_find_object __attribute__((weak));

/* The rows of CHUNK_FDES consecutive FDEs of a module's .eh_frame_hdr table. */
struct table_chunk {
    size_t count;
    const uint32_t *pcs; /* row starts, offsets from map_start, ascending */
    const struct unwind_rule *rules;
};

#define CHUNK_FDES 32u

/* Memory the chunks of a module are cut from, unmapped with the module's table. */
struct chunk_block {
    struct chunk_block *next;
    size_t bytes;
    size_t used;
};

#define CHUNK_BLOCK_BYTES ((size_t)64 << 10)

struct module_table {
    uintptr_t map_start;
    uintptr_t map_end;
    const struct link_map *link_map;
    const void *eh_frame_header; /* with the range and link map: which load of a module */
    /* A module whose .eh_frame_hdr lists its FDEs gets its rows a chunk of FDEs at a time, as
     * walks come to them: cc1's whole table (2.4 MB of .eh_frame) took 40 ms to build, most
     * of what a short process paid for its stacks. index.count is 0 for the others: their
     * table is built whole, in rows. */
    struct eh_frame_index index;
    _Atomic(const struct table_chunk *) *chunks; /* by position / CHUNK_FDES; NULL: not read */
    size_t chunk_count;
    struct chunk_block *blocks;
    struct table_chunk rows; /* the whole table */
    void *mapping;
    size_t mapping_bytes;
    _Atomic bool unloaded;
};

static struct module_table modules[MAX_MODULES];
static _Atomic size_t module_count;
/* Taken with trylock: a signal handler that allocates while its thread builds a table, or
 * a second thread wanting the same module, walks with libunwind instead of waiting. */
static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned unload_generation;

static __thread struct unwind_cache *own_cache __attribute__((tls_model("initial-exec")));
static pthread_key_t cache_key;
static bool cache_key_made;
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct unwind_cache *spare_caches; /* under spare_lock */

/* The key's destructor, at a thread's exit. A later capture on the same thread (another
 * destructor that allocates) takes a cache again, and sets the key again, which glibc's
 * destructor rounds then see. */
static void recycle_cache(void *value)
{
    struct unwind_cache *cache = value;
    own_cache = NULL;
    pthread_mutex_lock(&spare_lock);
    cache->next_spare = spare_caches;
    spare_caches = cache;
    pthread_mutex_unlock(&spare_lock);
}

static uint32_t memo_frames_each;

static size_t cache_bytes_for(uint32_t frames_each)
{
    return sizeof(struct unwind_cache)
           + WALK_MEMO_BUFFERS * (size_t)frames_each * sizeof(struct walk_frame);
}

void unwind_table_init(uint32_t walk_frames)
{
    memo_frames_each = walk_frames;
    if (!cache_key_made)
        cache_key_made = pthread_key_create(&cache_key, recycle_cache) == 0;
}

static struct unwind_cache *take_cache(void)
{
    if (!cache_key_made)
        return NULL; /* nothing would hand it on: no cache rather than one per thread */
    /* trylock: a signal handler that allocates may have interrupted this very function */
    struct unwind_cache *cache = NULL;
    if (pthread_mutex_trylock(&spare_lock) != 0)
        return NULL;
    cache = spare_caches;
    if (cache != NULL)
        spare_caches = cache->next_spare;
    pthread_mutex_unlock(&spare_lock);
    if (cache != NULL && cache->memo.frames_each < memo_frames_each) {
        os_unmap(cache, cache_bytes_for(cache->memo.frames_each));
        cache = NULL;
    }
    if (cache == NULL) {
        if ((cache = os_map(cache_bytes_for(memo_frames_each))) == NULL)
            return NULL;
        cache->memo.buffers = (struct walk_frame *)(cache + 1);
        cache->memo.frames_each = memo_frames_each;
    }
    /* A generation no walk has: the first walk empties what the last owner left. */
    cache->generation = atomic_load_explicit(&unload_generation, memory_order_relaxed) - 1;
    if (pthread_setspecific(cache_key, cache) != 0) {
        recycle_cache(cache);
        return NULL;
    }
    own_cache = cache;
    return cache;
}

struct unwind_cache *unwind_table_begin_walk(void)
{
    struct unwind_cache *cache = own_cache;
    if (__builtin_expect(cache == NULL || cache->memo.frames_each < memo_frames_each, 0)) {
        int saved_errno = errno; /* mmap may fail */
        /* None yet, or one made before unwind_table_init asked for longer walks (only tests
         * call it twice): its memo could not hold them. */
        if (cache != NULL) {
            own_cache = NULL;
            pthread_setspecific(cache_key, NULL);
            os_unmap(cache, cache_bytes_for(cache->memo.frames_each));
        }
        cache = take_cache();
        errno = saved_errno;
        if (cache == NULL)
            return NULL;
    }
    unsigned generation = atomic_load_explicit(&unload_generation, memory_order_acquire);
    if (generation != cache->generation) {
        memset(cache->entries, 0, sizeof cache->entries);
        memset(cache->memo.count, 0, sizeof cache->memo.count);
        memset(cache->memo.kept, 0, sizeof cache->memo.kept);
        for (unsigned site = 0; site < WALK_MEMO_SITES; site++)
            for (unsigned way = 0; way < WALK_MEMO_WAYS; way++)
                cache->memo.ways[site][way] = (uint16_t)(site * WALK_MEMO_WAYS + way);
        cache->memo.spare = WALK_MEMO_SITES * WALK_MEMO_WAYS;
        cache->generation = generation;
    }
    return cache;
}

/* ---- building a module's table ------------------------------------------------------- */

struct table_builder {
    uintptr_t map_start;
    uintptr_t map_end;
    struct mapped_array pcs;
    struct mapped_array rules;
};

/* A row outside the module (an FDE of a section the linker discarded, left at address 0)
 * is left out: rows come in address order, so it lies below or above every row kept. */
static bool row_offset(uintptr_t map_start, uintptr_t map_end, uintptr_t pc, uint32_t *offset)
{
    if (pc < map_start || pc > map_end || pc - map_start > UINT32_MAX)
        return false;
    *offset = (uint32_t)(pc - map_start);
    return true;
}

static bool add_row(void *context, uintptr_t pc, struct unwind_rule rule)
{
    struct table_builder *builder = context;
    uint32_t offset;
    return !row_offset(builder->map_start, builder->map_end, pc, &offset)
           || (mapped_array_push(&builder->pcs, &offset) && mapped_array_push(&builder->rules, &rule));
}

/* Reads exactly size bytes at offset; false on anything less. */
static bool read_at(int fd, void *out, size_t size, off_t offset)
{
    return pread(fd, out, size, offset) == (ssize_t)size;
}

/* Whether [start, end) lies inside one loaded segment of the executable. */
static bool in_executable_segment(uintptr_t load_bias, uintptr_t start, uintptr_t end)
{
    const ElfW(Phdr) *headers = (const ElfW(Phdr) *)getauxval(AT_PHDR); // NOLINT(performance-no-int-to-ptr)
    size_t count = getauxval(AT_PHNUM);
    for (size_t i = 0; headers != NULL && i < count; i++) {
        uintptr_t segment = load_bias + headers[i].p_vaddr;
        if (headers[i].p_type == PT_LOAD && start >= segment
            && end <= segment + headers[i].p_memsz)
            return true;
    }
    return false;
}

/* .eh_frame of the executable as its file's section headers place it: `gcc -static` links
 * without an .eh_frame_hdr (so no PT_GNU_EH_FRAME), and then only the file says where. */
static bool eh_frame_of_executable(uintptr_t load_bias, uintptr_t *start, uintptr_t *end)
{
    int fd = proc_self_open("/proc/self/exe", 0);
    if (fd < 0)
        return false;
    ElfW(Ehdr) header;
    bool found = false;
    if (read_at(fd, &header, sizeof header, 0) && memcmp(header.e_ident, ELFMAG, SELFMAG) == 0
        && header.e_shentsize == sizeof(ElfW(Shdr)) && header.e_shstrndx < header.e_shnum) {
        ElfW(Shdr) names;
        if (read_at(fd, &names, sizeof names,
                    (off_t)(header.e_shoff + header.e_shstrndx * sizeof(ElfW(Shdr))))) {
            for (unsigned i = 0; i < header.e_shnum && !found; i++) {
                ElfW(Shdr) section;
                char name[sizeof ".eh_frame"];
                if (!read_at(fd, &section, sizeof section,
                             (off_t)(header.e_shoff + i * sizeof(ElfW(Shdr))))
                    || section.sh_name >= names.sh_size
                    || !read_at(fd, name, sizeof name, (off_t)(names.sh_offset + section.sh_name)))
                    continue;
                if (memcmp(name, ".eh_frame", sizeof name) == 0 && section.sh_addr != 0) {
                    *start = load_bias + section.sh_addr;
                    *end = *start + section.sh_size;
                    found = true;
                }
            }
        }
    }
    close(fd);
    return found && *start < *end && in_executable_segment(load_bias, *start, *end);
}

/* The module's .eh_frame: where its header says, up to the last FDE the header lists; for
 * an executable without the header, where its file says. */
static bool find_eh_frame(const struct dl_find_object *found, uintptr_t *start, uintptr_t *end)
{
    const uint8_t *section, *section_end;
    if (eh_frame_bounds(found->dlfo_eh_frame, found->dlfo_map_end, &section, &section_end)) {
        *start = (uintptr_t)section;
        *end = (uintptr_t)section_end;
        return *start >= (uintptr_t)found->dlfo_map_start && *start < *end;
    }
    const struct link_map *map = found->dlfo_link_map;
    return found->dlfo_eh_frame == NULL && map != NULL && map->l_name != NULL
           && map->l_name[0] == '\0' && eh_frame_of_executable(map->l_addr, start, end);
}

bool unwind_table_find_executable(struct dl_find_object *found)
{
    void *entry = (void *)getauxval(AT_ENTRY); // NOLINT(performance-no-int-to-ptr)
    return _dl_find_object != NULL && entry != NULL && _dl_find_object(entry, found) == 0;
}

bool unwind_table_in_no_module(const void *address)
{
    return _dl_find_object != NULL && unwind_table_module_of(address) == NULL;
}

const struct link_map *unwind_table_module_of(const void *address)
{
    struct dl_find_object found;
    return _dl_find_object != NULL
                   && _dl_find_object((void *)address, &found) == 0 // NOLINT(performance-no-int-to-ptr)
               ? found.dlfo_link_map
               : NULL;
}

bool unwind_table_unindexed_executable_eh_frame(uintptr_t *start, uintptr_t *end)
{
    struct dl_find_object found;
    return unwind_table_find_executable(&found) && found.dlfo_eh_frame == NULL
           && find_eh_frame(&found, start, end);
}

/* Called with build_lock held. A module whose table cannot be built gets an empty one, so
 * that it is not read again on every stack. */
static void build_table(struct module_table *table, const struct dl_find_object *found)
{
    struct table_builder builder = {table->map_start, table->map_end, {0}, {0}};
    mapped_array_init(&builder.pcs, sizeof(uint32_t));
    mapped_array_init(&builder.rules, sizeof(struct unwind_rule));
    uintptr_t start, end;
    if (find_eh_frame(found, &start, &end)
        && eh_frame_read((const uint8_t *)start, (const uint8_t *)end, add_row, &builder) // NOLINT(performance-no-int-to-ptr)
        && builder.pcs.count > 0) {
        size_t count = builder.pcs.count;
        size_t bytes = count * (sizeof(struct unwind_rule) + sizeof(uint32_t));
        char *mapping = os_map(bytes);
        if (mapping != NULL) {
            /* One exact-size mapping for the table: the arrays it was built in keep every
             * buffer they outgrew until released. */
            memcpy(mapping, builder.rules.items, count * sizeof(struct unwind_rule));
            memcpy(mapping + count * sizeof(struct unwind_rule), builder.pcs.items,
                   count * sizeof(uint32_t));
            table->rows.rules = (const struct unwind_rule *)(const void *)mapping;
            table->rows.pcs = (const uint32_t *)(const void *)(mapping + count * sizeof(struct unwind_rule));
            table->rows.count = count;
            table->mapping = mapping;
            table->mapping_bytes = bytes;
        }
    }
    mapped_array_release(&builder.pcs);
    mapped_array_release(&builder.rules);
}

/* A table is built on a stack of the tracer's own: reading a module's .eh_frame takes 3 to 4
 * KiB of stack, which a thread made with PTHREAD_STACK_MIN, deep in its own frames, does not
 * have (it crashed with 6 KiB of locals, where untraced 10 KiB run). Signals wait for the
 * build's end: a handler would run on that stack, and might need more than it has. Its
 * contexts are static, since a ucontext_t takes most of a KiB; the build lock guards them. */
#define BUILD_STACK_BYTES ((size_t)64 << 10)

static struct {
    ucontext_t caller, builder;
    void *stack;
    void (*job)(void *);
    void *argument;
} off_stack;

static void run_job_on_own_stack(void)
{
    off_stack.job(off_stack.argument);
}

/* job(argument), on the tracer's own stack where it has one. */
static void run_off_stack(void (*job)(void *), void *argument)
{
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer follows no switch of stacks: it warns, and may report falsely. */
    job(argument);
    return;
#endif
    if (off_stack.stack == NULL)
        off_stack.stack = os_map(BUILD_STACK_BYTES);
    if (off_stack.stack == NULL || getcontext(&off_stack.builder) != 0) {
        job(argument);
        return;
    }
    off_stack.builder.uc_stack.ss_sp = off_stack.stack;
    off_stack.builder.uc_stack.ss_size = BUILD_STACK_BYTES;
    off_stack.builder.uc_link = &off_stack.caller;
    sigfillset(&off_stack.builder.uc_sigmask);
    off_stack.job = job;
    off_stack.argument = argument;
    makecontext(&off_stack.builder, run_job_on_own_stack, 0);
    if (swapcontext(&off_stack.caller, &off_stack.builder) != 0)
        job(argument);
    /* The caller's registers may hold the address of the block being recorded, and the leak
     * scan reads the tracer's data as it reads every module's. */
    memset(&off_stack.caller, 0, sizeof off_stack.caller);
    memset(&off_stack.builder, 0, sizeof off_stack.builder);
}

/* run_off_stack, not to be cancelled. Called with build_lock held. */
static void run_uncancelled(void (*job)(void *), void *argument)
{
    /* open and pread are cancellation points: a cancel acted on there would unwind out of
     * malloc, with the build lock held, and from this stack to no caller at all. */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    run_off_stack(job, argument);
    pthread_setcancelstate(cancel_state, NULL);
}

struct table_job {
    struct module_table *table;
    const struct dl_find_object *found;
};

static void build_table_job(void *argument)
{
    const struct table_job *job = argument;
    build_table(job->table, job->found);
}

/* ---- chunks of a table ---------------------------------------------------------------- */

/* The rows of the chunk being read: under build_lock. A chunk with more rows than this is
 * left to libunwind. */
#define CHUNK_SCRATCH_ROWS 8192u
static struct {
    uint32_t pcs[CHUNK_SCRATCH_ROWS];
    struct unwind_rule rules[CHUNK_SCRATCH_ROWS];
    size_t count;
    uintptr_t map_start;
    uintptr_t map_end;
} chunk_scratch;

static bool add_chunk_row(void *context, uintptr_t pc, struct unwind_rule rule)
{
    (void)context;
    uint32_t offset;
    if (!row_offset(chunk_scratch.map_start, chunk_scratch.map_end, pc, &offset))
        return true;
    if (chunk_scratch.count == CHUNK_SCRATCH_ROWS)
        return false;
    chunk_scratch.pcs[chunk_scratch.count] = offset;
    chunk_scratch.rules[chunk_scratch.count++] = rule;
    return true;
}

/* A chunk that has no rows: what a lookup in it answers is "not covered". */
static const struct table_chunk no_rows;

/* bytes of the module's blocks (8-aligned); NULL when the kernel refuses memory. */
static void *block_memory(struct module_table *table, size_t bytes)
{
    bytes = (bytes + 7) & ~(size_t)7;
    struct chunk_block *block = table->blocks;
    if (block == NULL || block->bytes - block->used < bytes) {
        size_t size = sizeof *block + bytes > CHUNK_BLOCK_BYTES ? sizeof *block + bytes
                                                                : CHUNK_BLOCK_BYTES;
        if ((block = os_map(size)) == NULL)
            return NULL;
        block->next = table->blocks;
        block->bytes = size;
        block->used = sizeof *block;
        table->blocks = block;
    }
    void *memory = (char *)block + block->used;
    block->used += bytes;
    return memory;
}

struct chunk_job {
    struct module_table *table;
    size_t chunk;
};

/* Reads the chunk's rows and publishes them: no_rows where they cannot be had. */
static void build_chunk_job(void *argument)
{
    const struct chunk_job *job = argument;
    struct module_table *table = job->table;
    chunk_scratch.count = 0;
    chunk_scratch.map_start = table->map_start;
    chunk_scratch.map_end = table->map_end;
    size_t first = job->chunk * CHUNK_FDES;
    const struct table_chunk *published = &no_rows;
    size_t count;
    if (eh_frame_read_listed(&table->index, first, first + CHUNK_FDES, add_chunk_row, NULL)
        && (count = chunk_scratch.count) > 0) {
        struct table_chunk *chunk = block_memory(
            table, sizeof *chunk + count * (sizeof(struct unwind_rule) + sizeof(uint32_t)));
        if (chunk != NULL) {
            struct unwind_rule *rules = (struct unwind_rule *)(chunk + 1);
            uint32_t *pcs = (uint32_t *)(rules + count);
            memcpy(rules, chunk_scratch.rules, count * sizeof *rules);
            memcpy(pcs, chunk_scratch.pcs, count * sizeof *pcs);
            *chunk = (struct table_chunk){count, pcs, rules};
            published = chunk;
        }
    }
    atomic_store_explicit(&table->chunks[job->chunk], published, memory_order_release);
}

/* The chunk's rows, read now; NULL where another thread is reading a table (the lookup is
 * then left to libunwind, and not cached). */
static const struct table_chunk *read_chunk(struct module_table *table, size_t chunk)
{
    if (pthread_mutex_trylock(&build_lock) != 0)
        return NULL;
    const struct table_chunk *rows =
        atomic_load_explicit(&table->chunks[chunk], memory_order_acquire);
    if (rows == NULL) {
        int saved_errno = errno; /* mmap may fail */
        struct chunk_job job = {table, chunk};
        run_uncancelled(build_chunk_job, &job);
        errno = saved_errno;
        rows = atomic_load_explicit(&table->chunks[chunk], memory_order_relaxed);
    }
    pthread_mutex_unlock(&build_lock);
    return rows;
}

/* Called with build_lock held, for a module seen the first time: its index of FDEs where it
 * has one this reader knows, else its whole table. */
static void prepare_table(struct module_table *table, const struct dl_find_object *found)
{
    /* .eh_frame inside the module, as find_eh_frame wants it: a header that points below would
     * have records read there. */
    if (eh_frame_index_open(found->dlfo_eh_frame, found->dlfo_map_end, &table->index)
        && (uintptr_t)table->index.section >= table->map_start) {
        table->chunk_count = (table->index.count + CHUNK_FDES - 1) / CHUNK_FDES;
        table->chunks = os_map(table->chunk_count * sizeof *table->chunks);
        if (table->chunks != NULL)
            return;
    }
    table->index.count = 0;
    struct table_job job = {table, found};
    run_uncancelled(build_table_job, &job);
}

/* ---- look-up ------------------------------------------------------------------------ */

static bool same_module(const struct module_table *table, const struct dl_find_object *found)
{
    return table->map_start == (uintptr_t)found->dlfo_map_start
           && table->map_end == (uintptr_t)found->dlfo_map_end
           && table->link_map == found->dlfo_link_map
           && table->eh_frame_header == found->dlfo_eh_frame
           && !atomic_load_explicit(&table->unloaded, memory_order_acquire);
}

static struct module_table *table_for(uintptr_t pc)
{
    struct dl_find_object found;
    if (_dl_find_object == NULL || _dl_find_object((void *)pc, &found) != 0) // NOLINT(performance-no-int-to-ptr)
        return NULL;
    size_t count = atomic_load_explicit(&module_count, memory_order_acquire);
    for (size_t i = 0; i < count; i++)
        if (same_module(&modules[i], &found))
            return &modules[i];
    if (pthread_mutex_trylock(&build_lock) != 0)
        return NULL;
    struct module_table *table = NULL;
    count = atomic_load_explicit(&module_count, memory_order_relaxed);
    for (size_t i = 0; i < count && table == NULL; i++) /* built while we looked */
        if (same_module(&modules[i], &found))
            table = &modules[i];
    if (table == NULL && count < MAX_MODULES) {
        struct module_table *fresh = &modules[count];
        memset(fresh, 0, sizeof *fresh);
        fresh->map_start = (uintptr_t)found.dlfo_map_start;
        fresh->map_end = (uintptr_t)found.dlfo_map_end;
        fresh->link_map = found.dlfo_link_map;
        fresh->eh_frame_header = found.dlfo_eh_frame;
        prepare_table(fresh, &found);
        atomic_store_explicit(&module_count, count + 1, memory_order_release);
        table = fresh;
    }
    pthread_mutex_unlock(&build_lock);
    return table;
}

/* The last row of rows at or below offset. */
static struct unwind_rule rule_in(const struct table_chunk *rows, uint32_t offset)
{
    size_t low = 0, high = rows->count; /* the answer is the last row at or below offset */
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (rows->pcs[middle] <= offset)
            low = middle + 1;
        else
            high = middle;
    }
    return low > 0 ? rows->rules[low - 1] : UNWIND_RULE_NOT_COVERED;
}

/* The rule at pc; *settled false where the answer may change (a chunk that could not be
 * read right now), so that it is not cached. */
static struct unwind_rule search(struct module_table *table, uintptr_t pc, bool *settled)
{
    *settled = true;
    if (pc < table->map_start || pc - table->map_start > UINT32_MAX)
        return UNWIND_RULE_NOT_COVERED;
    uint32_t offset = (uint32_t)(pc - table->map_start);
    if (table->index.count == 0)
        return rule_in(&table->rows, offset);
    size_t position;
    if (!eh_frame_index_find(&table->index, pc, &position))
        return UNWIND_RULE_NOT_COVERED;
    size_t chunk = position / CHUNK_FDES;
    const struct table_chunk *rows =
        atomic_load_explicit(&table->chunks[chunk], memory_order_acquire);
    if (rows == NULL && (rows = read_chunk(table, chunk)) == NULL) {
        *settled = false;
        return UNWIND_RULE_NOT_COVERED;
    }
    return rule_in(rows, offset);
}

struct unwind_rule unwind_table_find_uncached(struct unwind_cache *cache, uintptr_t pc)
{
    int saved_errno = errno; /* building a table opens files and maps memory */
    struct module_table *table = table_for(pc);
    errno = saved_errno;
    if (table == NULL)
        return UNWIND_RULE_NOT_COVERED; /* not cached: a table may be built by the next walk */
    bool settled;
    struct unwind_rule rule = search(table, pc, &settled);
    if (settled) {
        struct unwind_cache_entry *entry = unwind_cache_entry_of(cache, pc);
        entry->pc = pc;
        entry->rule = rule;
    }
    return rule;
}

void unwind_table_after_fork_child(void)
{
    pthread_mutex_init(&build_lock, NULL);
    pthread_mutex_init(&spare_lock, NULL);
}

void unwind_table_forget_unloaded(void)
{
    if (_dl_find_object == NULL)
        return;
    pthread_mutex_lock(&build_lock);
    size_t count = atomic_load_explicit(&module_count, memory_order_relaxed);
    for (size_t i = 0; i < count; i++) {
        struct module_table *table = &modules[i];
        struct dl_find_object found;
        if (atomic_load_explicit(&table->unloaded, memory_order_relaxed)
            || (_dl_find_object((void *)table->map_start, &found) == 0 // NOLINT(performance-no-int-to-ptr)
                && same_module(table, &found)))
            continue;
        atomic_store_explicit(&table->unloaded, true, memory_order_release);
        /* Only a thread walking through code that is gone could still be reading it. */
        if (table->mapping != NULL)
            os_unmap(table->mapping, table->mapping_bytes);
        if (table->chunks != NULL)
            os_unmap((void *)table->chunks, table->chunk_count * sizeof *table->chunks);
        while (table->blocks != NULL) {
            struct chunk_block *block = table->blocks;
            table->blocks = block->next;
            os_unmap(block, block->bytes);
        }
    }
    atomic_fetch_add_explicit(&unload_generation, 1, memory_order_release);
    pthread_mutex_unlock(&build_lock);
}
