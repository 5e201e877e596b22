/* heap_roots.c: see heap_roots.h. */
#define _GNU_SOURCE
#include "heap_roots.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>

#include "os.h"

/* Below the stack pointer, code may keep data it has not pushed (the x86-64 ABI's red
 * zone); a signal handler's frame lies below it. */
#define RED_ZONE 128u
/* glibc's struct malloc_state (2.27 and later): the offsets of `top` and `next`, and the
 * size. */
#define MAIN_ARENA_TOP_OFFSET (16u + 10u * sizeof(void *))
#define MAIN_ARENA_NEXT_OFFSET (MAIN_ARENA_TOP_OFFSET + 2u * sizeof(void *) \
                                + 254u * sizeof(void *) + 16u)
#define MAIN_ARENA_SIZE (MAIN_ARENA_NEXT_OFFSET + 2u * sizeof(void *) + 3u * sizeof(size_t))
/* Arenas: at most 8 per core; a longer `next` ring is no ring of arenas. */
#define MAX_ARENAS 4096u
/* When libc does not say: glibc 2.36's struct pthread on x86-64, rounded up. */
#define FALLBACK_TCB_SIZE 2560u

/* Weak: a static program has no dlsym unless it uses dlopen. _dl_tls_static_size is a
 * variable of libc.a's (a static program's TLS set-up); no shared library exports it, so a
 * dynamic link leaves it NULL and asks ld.so with dlsym instead: glibc's private symbols
 * are never bound at link time. */
extern __typeof__(dlsym) dlsym __attribute__((weak));
extern size_t _dl_tls_static_size __attribute__((weak));
extern __typeof__(_dl_find_object) _dl_find_object __attribute__((weak));

bool range_list_add(struct range_list *list, uintptr_t start, uintptr_t end)
{
    if (start >= end)
        return true;
    if (list->storage.item_size == 0)
        mapped_array_init(&list->storage, sizeof(struct address_range));
    struct address_range range = {start, end};
    if (!mapped_array_push(&list->storage, &range))
        return false;
    list->ranges = list->storage.items;
    list->count = list->storage.count;
    return true;
}

void range_list_release(struct range_list *list)
{
    mapped_array_release(&list->storage);
    list->ranges = NULL;
    list->count = 0;
}

struct tls_layout {
    size_t static_size; /* the static TLS blocks and the thread control block */
    size_t tcb_size;    /* the thread control block, at the thread pointer */
};

/* Asks the loader (dlsym may lock and allocate): before any thread is stopped. */
static struct tls_layout read_tls_layout(void);

struct module_walk {
    struct range_list *roots;
    size_t libc_first, libc_count;       /* the C library's ranges among roots */
    size_t program_first, program_count; /* the executable's */
    struct modules_seen *seen;
    bool ok;
};

/* Where a module's dynamic section is mapped (0: it has none, as a static program): what
 * the loader's list gives each module (l_ld), which tells modules apart where their load
 * addresses do not (0 for a program not built as PIE, and for a library loaded where it was
 * linked to be). */
static uintptr_t dynamic_section_of(const struct dl_phdr_info *info)
{
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            return info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
    }
    return 0;
}

/* The address DT_DEBUG holds in a dynamic section (the loader fills it in), or 0. */
static uintptr_t loader_debug_in(uintptr_t dynamic)
{
    if (dynamic == 0)
        return 0;
    for (const ElfW(Dyn) *entry = (const ElfW(Dyn) *)dynamic; // NOLINT(performance-no-int-to-ptr)
         entry->d_tag != DT_NULL; entry++) {
        if (entry->d_tag == DT_DEBUG)
            return (uintptr_t)entry->d_un.d_ptr;
    }
    return 0;
}

/* Adds the writable loaded segments of a module's program headers to roots. */
static bool add_writable_segments(struct range_list *roots, uintptr_t load_address,
                                  const ElfW(Phdr) *segments, size_t count)
{
    bool ok = true;
    for (size_t i = 0; i < count; i++) {
        if (segments[i].p_type != PT_LOAD || !(segments[i].p_flags & PF_W))
            continue;
        uintptr_t start = load_address + segments[i].p_vaddr;
        ok &= range_list_add(roots, start, start + segments[i].p_memsz);
    }
    return ok;
}

static bool is_libc(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "libc.so", 7) == 0;
}

static int add_module(struct dl_phdr_info *info, size_t size, void *context)
{
    (void)size;
    struct module_walk *walk = context;
    bool executable = walk->seen->dynamic_sections.count == 0; /* it comes first */
    size_t first = walk->roots->count;
    walk->ok &= add_writable_segments(walk->roots, info->dlpi_addr, info->dlpi_phdr,
                                      info->dlpi_phnum);
    uintptr_t dynamic = dynamic_section_of(info);
    if (executable)
        walk->seen->loader_debug = loader_debug_in(dynamic);
    walk->ok &= range_list_add(&walk->seen->dynamic_sections, dynamic, dynamic + 1);
    size_t added = walk->roots->count - first;
    if (is_libc(info->dlpi_name)) {
        walk->libc_first = first;
        walk->libc_count = added;
    } else if (executable) {
        walk->program_first = first;
        walk->program_count = added;
    }
    return 0;
}

bool heap_roots_add_modules(struct range_list *roots, struct range_list *libc_data,
                            struct modules_seen *seen)
{
    seen->loader_debug = 0;
    struct module_walk walk = {roots, 0, 0, 0, 0, seen, true};
    dl_iterate_phdr(add_module, &walk);
    /* No libc.so: a static program, whose C library is part of the executable. */
    size_t first = walk.libc_count ? walk.libc_first : walk.program_first;
    size_t count = walk.libc_count ? walk.libc_count : walk.program_count;
    for (size_t i = first; i < first + count; i++)
        walk.ok &= range_list_add(libc_data, roots->ranges[i].start, roots->ranges[i].end);
    return walk.ok;
}

/* Copies size bytes at address when they lie in one readable mapping. */
static bool copy_readable(const struct memory_map *map, uintptr_t address, void *out, size_t size)
{
    const struct mapping *mapping = memory_map_find(map, address);
    return mapping != NULL && mapping->readable && size <= mapping->end - address
           && memory_map_copy(address, out, size) == size;
}

static bool was_seen(const struct modules_seen *seen, uintptr_t dynamic)
{
    for (size_t i = 0; i < seen->dynamic_sections.count; i++) {
        if (seen->dynamic_sections.ranges[i].start == dynamic)
            return true;
    }
    return false;
}

/* Where a module's ELF header is mapped (the start of its first segment, which maps the
 * file from its start): glibc's lock-free _dl_find_object says where the module that holds
 * its dynamic section begins; without it, the load address, where a shared library's first
 * segment usually lies. */
static uintptr_t elf_header_of(const struct link_map *module)
{
    struct dl_find_object found;
    if (_dl_find_object != NULL && _dl_find_object(module->l_ld, &found) == 0)
        return (uintptr_t)found.dlfo_map_start;
    return module->l_addr;
}

/* Bounds on what is read from the loader's list: a list this long is no list of modules. */
#define MAX_LISTED_MODULES 65536u
#define MAX_SEGMENTS 64u

bool heap_roots_add_new_modules(struct range_list *roots, const struct modules_seen *seen,
                                const struct memory_map *map)
{
    struct r_debug debug = {0};
    /* Whatever r_state says: a module being added is linked in once it is mapped, one being
     * removed is still mapped, and every read is checked. */
    if (seen->loader_debug == 0 || !copy_readable(map, seen->loader_debug, &debug, sizeof debug))
        return true;
    bool ok = true;
    uintptr_t at = (uintptr_t)debug.r_map;
    for (unsigned listed = 0; at != 0 && listed < MAX_LISTED_MODULES; listed++) {
        struct link_map module = {0};
        if (!copy_readable(map, at, &module, sizeof module))
            break;
        at = (uintptr_t)module.l_next;
        if (was_seen(seen, (uintptr_t)module.l_ld))
            continue;
        uintptr_t header_address = elf_header_of(&module);
        ElfW(Ehdr) header = {0};
        ElfW(Phdr) segments[MAX_SEGMENTS] = {0};
        if (!copy_readable(map, header_address, &header, sizeof header)
            || memcmp(header.e_ident, ELFMAG, SELFMAG) != 0
            || header.e_phentsize != sizeof segments[0] || header.e_phnum > MAX_SEGMENTS
            || !copy_readable(map, header_address + header.e_phoff, segments,
                              header.e_phnum * sizeof segments[0]))
            continue;
        ok &= add_writable_segments(roots, module.l_addr, segments, header.e_phnum);
    }
    return ok;
}

struct address_range heap_roots_loader_code(void)
{
    struct address_range code = {0, 0};
    uintptr_t base = getauxval(AT_BASE); /* where the loader's ELF header is mapped */
    if (base == 0)
        return code;
    const ElfW(Ehdr) *header = (const ElfW(Ehdr) *)base; // NOLINT(performance-no-int-to-ptr)
    if (memcmp(header->e_ident, ELFMAG, SELFMAG) != 0
        || header->e_phentsize != sizeof(ElfW(Phdr)))
        return code;
    const ElfW(Phdr) *segments = (const ElfW(Phdr) *)(base + header->e_phoff); // NOLINT(performance-no-int-to-ptr)
    for (unsigned i = 0; i < header->e_phnum; i++) {
        if (segments[i].p_type == PT_LOAD && (segments[i].p_flags & PF_X)) {
            code.start = base + segments[i].p_vaddr;
            code.end = code.start + segments[i].p_memsz;
            break;
        }
    }
    return code;
}

/* The top chunk is the last of its heap: its size field (PREV_INUSE always set) reaches
 * the end of the mapping it lies in. */
static bool is_top_chunk(uintptr_t chunk, const struct memory_map *map)
{
    if (chunk == 0 || chunk % (2 * sizeof(size_t)) != 0)
        return false;
    const struct mapping *mapping = memory_map_find(map, chunk);
    if (mapping == NULL || !mapping->readable || chunk + 2 * sizeof(size_t) > mapping->end)
        return false;
    size_t size_field = memory_map_load_word(chunk + sizeof(size_t));
    return (size_field & 1u) && (size_field & ~(size_t)7) == mapping->end - chunk;
}

/* The arenas form a ring through `next`, which the main arena begins: a word that only
 * happens to equal the top chunk's address (the end of the last block, in a FILE's buffer
 * pointers) has no such ring around it. */
static bool is_arena_ring(uintptr_t arena, const struct memory_map *map)
{
    uintptr_t current = arena;
    for (unsigned i = 0; i < MAX_ARENAS; i++) {
        const struct mapping *mapping = memory_map_find(map, current);
        if (mapping == NULL || !mapping->readable || mapping->end - current < MAIN_ARENA_SIZE)
            return false;
        current = memory_map_load_word(current + MAIN_ARENA_NEXT_OFFSET);
        if (current == arena)
            return true;
    }
    return false;
}

struct arena_search {
    const struct memory_map *map;
    uintptr_t arena; /* 0 until found */
};

static void search_top_pointer(uintptr_t start, uintptr_t end, void *context)
{
    struct arena_search *search = context;
    start = (start + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    for (uintptr_t word = start; search->arena == 0 && word + sizeof(uintptr_t) <= end;
         word += sizeof(uintptr_t)) {
        if (word < MAIN_ARENA_TOP_OFFSET || !is_top_chunk(memory_map_load_word(word), search->map))
            continue;
        if (is_arena_ring(word - MAIN_ARENA_TOP_OFFSET, search->map))
            search->arena = word - MAIN_ARENA_TOP_OFFSET;
    }
}

static void cut(struct range_list *roots, uintptr_t start, uintptr_t end)
{
    size_t count = roots->count;
    for (size_t i = 0; i < count; i++) {
        struct address_range range = roots->ranges[i];
        if (range.end <= start || range.start >= end)
            continue;
        roots->ranges[i].end = range.start < start ? start : range.start;
        if (range.end > end)
            range_list_add(roots, end, range.end); /* if refused, the tail is not a root */
    }
}

void heap_roots_cut_allocator_state(struct range_list *roots, const struct range_list *libc_data,
                                    const struct memory_map *map)
{
    struct arena_search search = {map, 0};
    for (size_t i = 0; i < libc_data->count && search.arena == 0; i++)
        memory_map_for_each_readable(map, libc_data->ranges[i].start, libc_data->ranges[i].end,
                                     search_top_pointer, &search);
    if (search.arena != 0)
        cut(roots, search.arena, search.arena + MAIN_ARENA_SIZE);
}

/* The same for every thread: read once, at start (heap_roots_init). */
static struct tls_layout layout;

static struct tls_layout read_tls_layout(void)
{
    if (layout.tcb_size != 0)
        return layout;
    struct tls_layout found = {0, FALLBACK_TCB_SIZE};
    if (&_dl_tls_static_size != NULL) {
        found.static_size = _dl_tls_static_size;
    } else if (dlsym != NULL) {
        void (*get_info)(size_t *, size_t *) = // NOLINT: a function as dlsym returns it
            (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
        size_t align;
        if (get_info != NULL)
            get_info(&found.static_size, &align);
    }
    /* Not in a static program, where dlsym fails: its error, allocated where nothing is
     * traced, was freed when the thread ended, as an orphan free. */
    const unsigned *tcb_size = &_dl_tls_static_size == NULL && dlsym != NULL
                                   ? dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread")
                                   : NULL;
    if (tcb_size != NULL && *tcb_size != 0)
        found.tcb_size = *tcb_size;
    layout = found;
    return layout;
}

/* glibc puts a thread's control block (struct pthread) at the top of the thread's stack
 * mapping, 64-byte aligned, and it begins with two pointers to itself (tcbhead_t's tcb, at
 * 0, and self, two words on): a signature no other memory has by chance. */
#define CONTROL_BLOCK_ALIGN ((size_t)64)
#define SIGNATURE_WORDS ((size_t)3)
#define PROBE_CANDIDATES ((size_t)64)

/* The control block among the 64-byte aligned candidates of [first, last] (first <= last,
 * both aligned) nearest to the end named by downward, or 0. The words are copied through
 * the kernel, a batch of candidates at a time: a mapping of /proc's list may be gone (a
 * thread that was not stopped unmapped it) or not the program's to touch (valgrind's own
 * memory), and either must be a failed read, not a fault. */
static uintptr_t find_control_block(uintptr_t first, uintptr_t last, bool downward)
{
    uintptr_t words[(PROBE_CANDIDATES - 1) * CONTROL_BLOCK_ALIGN / sizeof(uintptr_t)
                    + SIGNATURE_WORDS];
    size_t batches = (last - first) / CONTROL_BLOCK_ALIGN / PROBE_CANDIDATES + 1;
    for (size_t batch = 0; batch < batches; batch++) {
        size_t skip = batch * PROBE_CANDIDATES * CONTROL_BLOCK_ALIGN;
        size_t count = (last - first) / CONTROL_BLOCK_ALIGN + 1 - batch * PROBE_CANDIDATES;
        if (count > PROBE_CANDIDATES)
            count = PROBE_CANDIDATES;
        uintptr_t low = downward ? last - skip - (count - 1) * CONTROL_BLOCK_ALIGN
                                 : first + skip;
        size_t span = (count - 1) * CONTROL_BLOCK_ALIGN + SIGNATURE_WORDS * sizeof(uintptr_t);
        size_t copied = memory_map_copy(low, words, span);
        for (size_t i = 0; i < count; i++) {
            size_t candidate = downward ? count - 1 - i : i;
            size_t word = candidate * CONTROL_BLOCK_ALIGN / sizeof(uintptr_t);
            uintptr_t address = low + candidate * CONTROL_BLOCK_ALIGN;
            if ((word + SIGNATURE_WORDS) * sizeof(uintptr_t) <= copied
                && words[word] == address && words[word + 2] == address)
                return address;
        }
    }
    return 0;
}

static uintptr_t control_block_at_top(const struct mapping *mapping, size_t tcb_size)
{
    /* From the top down: the size libc reports may be a guess (a static program). */
    uintptr_t last = (mapping->end - CONTROL_BLOCK_ALIGN) & ~(uintptr_t)(CONTROL_BLOCK_ALIGN - 1);
    uintptr_t lowest = mapping->end - tcb_size - 4096;
    if (lowest < mapping->start)
        lowest = mapping->start;
    uintptr_t first = (lowest + CONTROL_BLOCK_ALIGN - 1) & ~(uintptr_t)(CONTROL_BLOCK_ALIGN - 1);
    return first <= last ? find_control_block(first, last, true) : 0;
}

/* The first control block above stack_pointer in its mapping, or 0. */
static uintptr_t control_block_above(uintptr_t stack_pointer, const struct mapping *stack)
{
    uintptr_t first = (stack_pointer + CONTROL_BLOCK_ALIGN - 1)
                      & ~(uintptr_t)(CONTROL_BLOCK_ALIGN - 1);
    uintptr_t last = (stack->end - SIGNATURE_WORDS * sizeof(uintptr_t))
                     & ~(uintptr_t)(CONTROL_BLOCK_ALIGN - 1);
    return first <= last && first < stack->end ? find_control_block(first, last, false) : 0;
}

bool heap_roots_add_control_blocks(struct range_list *roots, const struct memory_map *map)
{
    struct tls_layout tls = read_tls_layout();
    bool ok = true;
    for (size_t i = 0; i < map->count; i++) {
        const struct mapping *mapping = &map->mappings[i];
        if (!mapping->readable || !mapping->writable
            || mapping->end - mapping->start < tls.tcb_size + 64)
            continue;
        uintptr_t block = control_block_at_top(mapping, tls.tcb_size);
        if (block != 0) {
            uintptr_t end = block + tls.tcb_size;
            ok &= range_list_add(roots, block, end < mapping->end ? end : mapping->end);
        }
    }
    return ok;
}

bool heap_roots_add_thread(struct range_list *roots, uintptr_t stack_pointer,
                           uintptr_t thread_pointer, const struct memory_map *map,
                           bool red_zone)
{
    struct tls_layout tls = read_tls_layout();
    bool ok = true;
    const struct mapping *stack = stack_pointer ? memory_map_find(map, stack_pointer) : NULL;
    if (stack != NULL) {
        uintptr_t below = red_zone ? RED_ZONE : 0;
        uintptr_t from = stack_pointer - stack->start > below ? stack_pointer - below
                                                              : stack->start;
        /* A thread of glibc's has its control block at the top of its stack's mapping, which
         * may have merged with the anonymous memory above it: stop there. */
        uintptr_t to = stack->end;
        if (thread_pointer == 0) /* a thread that was not stopped: look for the block */
            thread_pointer = control_block_above(stack_pointer, stack);
        if (thread_pointer > stack_pointer && thread_pointer < stack->end
            && stack->end - thread_pointer > tls.tcb_size)
            to = thread_pointer + tls.tcb_size;
        ok &= range_list_add(roots, from, to);
    }
    if (thread_pointer != 0) {
        /* Below the static TLS blocks the stack of a glibc thread begins: not a root when
         * the thread is the one that exits. */
        size_t below = tls.static_size > tls.tcb_size ? tls.static_size - tls.tcb_size : 0;
        uintptr_t from = thread_pointer > below ? thread_pointer - below : 0;
        ok &= range_list_add(roots, from, thread_pointer + tls.tcb_size);
    }
    return ok;
}

void heap_roots_init(void)
{
    read_tls_layout();
}
