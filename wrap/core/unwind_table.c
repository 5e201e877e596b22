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

struct module_table {
    uintptr_t map_start;
    uintptr_t map_end;
    const struct link_map *link_map;
    const void *eh_frame_header; /* with the range and link map: which load of a module */
    const uint32_t *pcs; /* row starts, offsets from map_start, ascending */
    const struct unwind_rule *rules;
    size_t count;
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
static bool add_row(void *context, uintptr_t pc, struct unwind_rule rule)
{
    struct table_builder *builder = context;
    if (pc < builder->map_start || pc > builder->map_end
        || pc - builder->map_start > UINT32_MAX)
        return true;
    uint32_t offset = (uint32_t)(pc - builder->map_start);
    return mapped_array_push(&builder->pcs, &offset) && mapped_array_push(&builder->rules, &rule);
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
            table->rules = (const struct unwind_rule *)(const void *)mapping;
            table->pcs = (const uint32_t *)(const void *)(mapping + count * sizeof(struct unwind_rule));
            table->count = count;
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
    struct module_table *table;
    const struct dl_find_object *found;
} off_stack;

static void build_table_on_own_stack(void)
{
    build_table(off_stack.table, off_stack.found);
}

/* build_table, on the tracer's own stack where it has one. */
static void build_table_off_stack(struct module_table *table, const struct dl_find_object *found)
{
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer follows no switch of stacks: it warns, and may report falsely. */
    build_table(table, found);
    return;
#endif
    if (off_stack.stack == NULL)
        off_stack.stack = os_map(BUILD_STACK_BYTES);
    if (off_stack.stack == NULL || getcontext(&off_stack.builder) != 0) {
        build_table(table, found);
        return;
    }
    off_stack.builder.uc_stack.ss_sp = off_stack.stack;
    off_stack.builder.uc_stack.ss_size = BUILD_STACK_BYTES;
    off_stack.builder.uc_link = &off_stack.caller;
    sigfillset(&off_stack.builder.uc_sigmask);
    off_stack.table = table;
    off_stack.found = found;
    makecontext(&off_stack.builder, build_table_on_own_stack, 0);
    if (swapcontext(&off_stack.caller, &off_stack.builder) != 0)
        build_table(table, found);
    /* The caller's registers may hold the address of the block being recorded, and the leak
     * scan reads the tracer's data as it reads every module's. */
    memset(&off_stack.caller, 0, sizeof off_stack.caller);
    memset(&off_stack.builder, 0, sizeof off_stack.builder);
}

/* build_table_off_stack, not to be cancelled. Called with build_lock held. */
static void build_table_uncancelled(struct module_table *table, const struct dl_find_object *found)
{
    /* open and pread are cancellation points: a cancel acted on there would unwind out of
     * malloc, with the build lock held, and from this stack to no caller at all. */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    build_table_off_stack(table, found);
    pthread_setcancelstate(cancel_state, NULL);
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

static const struct module_table *table_for(uintptr_t pc)
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
    const struct module_table *table = NULL;
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
        build_table_uncancelled(fresh, &found);
        atomic_store_explicit(&module_count, count + 1, memory_order_release);
        table = fresh;
    }
    pthread_mutex_unlock(&build_lock);
    return table;
}

static struct unwind_rule search(const struct module_table *table, uintptr_t pc)
{
    if (pc < table->map_start || pc - table->map_start > UINT32_MAX || table->count == 0)
        return UNWIND_RULE_NOT_COVERED;
    uint32_t offset = (uint32_t)(pc - table->map_start);
    size_t low = 0, high = table->count; /* the answer is the last row at or below offset */
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (table->pcs[middle] <= offset)
            low = middle + 1;
        else
            high = middle;
    }
    return low > 0 ? table->rules[low - 1] : UNWIND_RULE_NOT_COVERED;
}

struct unwind_rule unwind_table_find_uncached(struct unwind_cache *cache, uintptr_t pc)
{
    int saved_errno = errno; /* building a table opens files and maps memory */
    const struct module_table *table = table_for(pc);
    errno = saved_errno;
    if (table == NULL)
        return UNWIND_RULE_NOT_COVERED; /* not cached: a table may be built by the next walk */
    struct unwind_rule rule = search(table, pc);
    struct unwind_cache_entry *entry = unwind_cache_entry_of(cache, pc);
    entry->pc = pc;
    entry->rule = rule;
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
    }
    atomic_fetch_add_explicit(&unload_generation, 1, memory_order_release);
    pthread_mutex_unlock(&build_lock);
}
