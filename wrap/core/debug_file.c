/* debug_file.c: see debug_file.h. */
#define _GNU_SOURCE
#include "debug_file.h"

#include <elf.h>
#include <errno.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "size_limit.h"

/* libc6-dbg's file has 8 compressed sections; a file with more is left to libelf. */
#define MAX_COMPRESSED 64
/* Over any debug file seen: a bigger one is left to libelf. */
#define MAX_INFLATED_BYTES ((uint64_t)1 << 34)
/* deflate's most: a section that says it inflates to more than this times its bytes lies. */
#define MAX_DEFLATE_RATIO 1032u

struct compressed_section {
    unsigned index;
    uint64_t offset; /* of its compressed bytes, header included */
    uint64_t bytes;
    uint64_t inflated_at; /* in the copy; 0: left out (its data not copied) */
    Elf64_Chdr header;
};

struct copy_plan {
    Elf64_Ehdr header;
    struct compressed_section sections[MAX_COMPRESSED];
    unsigned count;
    uint64_t bytes; /* of the copy: the file, then the inflated sections */
};

static bool within(uint64_t offset, uint64_t bytes, uint64_t size)
{
    return offset <= size && bytes <= size - offset;
}

static Elf64_Shdr section_header(const uint8_t *file, const Elf64_Ehdr *header, unsigned index)
{
    Elf64_Shdr section;
    memcpy(&section, file + header->e_shoff + (uint64_t)index * sizeof section, sizeof section);
    return section;
}

/* Variables' locations, which naming never reads: left out of the copy, their sections
 * renamed to "" (libdw takes a section by its name) and given no bits. */
static bool left_out(const char *name)
{
    return strcmp(name, ".debug_loc") == 0 || strcmp(name, ".debug_loclists") == 0;
}

static bool overlaps(uint64_t offset, uint64_t bytes, uint64_t other, uint64_t other_bytes)
{
    return offset < other + other_bytes && other < offset + bytes;
}

/* The compressed DWARF sections of the file, where they go in the copy; false where there is
 * none, or anything is not as this reader expects. */
static bool plan_copy(const uint8_t *file, uint64_t size, struct copy_plan *plan)
{
    Elf64_Ehdr *header = &plan->header;
    if (size < sizeof *header)
        return false;
    memcpy(header, file, sizeof *header);
    if (memcmp(header->e_ident, ELFMAG, SELFMAG) != 0 || header->e_ident[EI_CLASS] != ELFCLASS64
        || header->e_ident[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB)
        || header->e_shentsize != sizeof(Elf64_Shdr) || header->e_shnum == 0
        || header->e_shstrndx >= header->e_shnum
        || !within(header->e_shoff, (uint64_t)header->e_shnum * sizeof(Elf64_Shdr), size)
        || header->e_shoff < sizeof *header)
        return false;
    Elf64_Shdr names = section_header(file, header, header->e_shstrndx);
    if (names.sh_type != SHT_STRTAB || names.sh_size == 0
        || !within(names.sh_offset, names.sh_size, size) || file[names.sh_offset] != '\0')
        return false;
    const char *name_table = (const char *)file + names.sh_offset;
    plan->count = 0;
    plan->bytes = (size + 63) & ~(uint64_t)63;
    for (unsigned i = 0; i < header->e_shnum; i++) {
        Elf64_Shdr section = section_header(file, header, i);
        /* libdw may look for the file a .gnu_debugaltlink names (dwz) in the directory of
         * the file it reads, which a memfd has none of: such a file is left to libelf. */
        if (section.sh_name < names.sh_size
            && strncmp(name_table + section.sh_name, ".gnu_debugaltlink",
                       names.sh_size - section.sh_name) == 0)
            return false;
        if (!(section.sh_flags & SHF_COMPRESSED) || section.sh_type == SHT_NOBITS
            || section.sh_name >= names.sh_size
            || memchr(name_table + section.sh_name, '\0', names.sh_size - section.sh_name) == NULL
            || strncmp(name_table + section.sh_name, ".debug_", 7) != 0)
            continue;
        struct compressed_section *compressed = &plan->sections[plan->count];
        if (plan->count == MAX_COMPRESSED || section.sh_size < sizeof compressed->header
            || !within(section.sh_offset, section.sh_size, size)
            || overlaps(section.sh_offset, section.sh_size, 0, sizeof *header)
            || overlaps(section.sh_offset, section.sh_size, header->e_shoff,
                        (uint64_t)header->e_shnum * sizeof(Elf64_Shdr)))
            return false;
        memcpy(&compressed->header, file + section.sh_offset, sizeof compressed->header);
        uint64_t align = compressed->header.ch_addralign > 1 ? compressed->header.ch_addralign : 1;
        if (compressed->header.ch_type != ELFCOMPRESS_ZLIB || (align & (align - 1)) != 0
            || align > 4096 || compressed->header.ch_size > MAX_INFLATED_BYTES
            || compressed->header.ch_size / MAX_DEFLATE_RATIO > section.sh_size)
            return false;
        for (unsigned other = 0; other < plan->count; other++)
            if (overlaps(section.sh_offset, section.sh_size, plan->sections[other].offset,
                         plan->sections[other].bytes))
                return false;
        compressed->index = i;
        compressed->offset = section.sh_offset;
        compressed->bytes = section.sh_size;
        compressed->inflated_at = 0;
        if (!left_out(name_table + section.sh_name)) {
            compressed->inflated_at = (plan->bytes + align - 1) & ~(align - 1);
            plan->bytes = compressed->inflated_at + compressed->header.ch_size;
            if (plan->bytes > MAX_INFLATED_BYTES)
                return false;
        }
        plan->count++;
    }
    for (unsigned i = 0; i < plan->count; i++)
        if (plan->sections[i].inflated_at != 0)
            return true;
    return false;
}

/* The file's bytes outside its compressed sections (those stay holes, which take no memory),
 * in offset order. */
static void copy_around_sections(uint8_t *copy, const uint8_t *file, uint64_t size,
                                 const struct copy_plan *plan)
{
    uint64_t from = 0;
    while (from < size) {
        uint64_t next_start = size, next_end = size;
        for (unsigned i = 0; i < plan->count; i++) {
            uint64_t start = plan->sections[i].offset;
            if (start >= from && start < next_start) {
                next_start = start;
                next_end = start + plan->sections[i].bytes;
            }
        }
        memcpy(copy + from, file + from, next_start - from);
        from = next_end;
    }
}

static bool inflate_sections(uint8_t *copy, const uint8_t *file, const struct copy_plan *plan)
{
    struct libdeflate_decompressor *decompressor = libdeflate_alloc_decompressor();
    if (decompressor == NULL)
        return false;
    bool inflated = true;
    for (unsigned i = 0; i < plan->count && inflated; i++) {
        const struct compressed_section *compressed = &plan->sections[i];
        Elf64_Shdr section = section_header(file, &plan->header, compressed->index);
        section.sh_flags &= ~(uint64_t)SHF_COMPRESSED;
        if (compressed->inflated_at == 0) {
            section.sh_name = 0;
            section.sh_type = SHT_NOBITS;
        } else {
            size_t actual = 0;
            inflated = libdeflate_zlib_decompress(
                           decompressor, file + compressed->offset + sizeof compressed->header,
                           compressed->bytes - sizeof compressed->header,
                           copy + compressed->inflated_at, compressed->header.ch_size, &actual)
                           == LIBDEFLATE_SUCCESS
                       && actual == compressed->header.ch_size;
            section.sh_offset = compressed->inflated_at;
            section.sh_size = compressed->header.ch_size;
            section.sh_addralign = compressed->header.ch_addralign;
        }
        memcpy(copy + plan->header.e_shoff + (uint64_t)compressed->index * sizeof section,
               &section, sizeof section);
    }
    libdeflate_free_decompressor(decompressor);
    return inflated;
}

static int copy_inflated(const uint8_t *file, uint64_t size, const struct copy_plan *plan)
{
    int copy = memfd_create("malloc-trace debug file", MFD_CLOEXEC);
    if (copy < 0)
        return -1;
    /* A memfd is a file like any other to RLIMIT_FSIZE (sshd's sandbox sets 0). */
    bool sized = false;
    if (size_limit_room(copy) >= plan->bytes) {
        sigset_t previous;
        size_limit_hold(&previous);
        sized = ftruncate(copy, (off_t)plan->bytes) == 0;
        size_limit_release(&previous, !sized && errno == EFBIG);
    }
    uint8_t *image = sized ? mmap(NULL, plan->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, copy, 0)
                           : MAP_FAILED;
    bool made = false;
    if (image != MAP_FAILED) {
        copy_around_sections(image, file, size, plan);
        made = inflate_sections(image, file, plan);
        munmap(image, plan->bytes);
    }
    if (!made) {
        close(copy);
        return -1;
    }
    return copy;
}

int debug_file_inflated(int fd)
{
    struct stat status;
    if (fd < 0 || fstat(fd, &status) != 0 || !S_ISREG(status.st_mode) || status.st_size <= 0)
        return fd;
    uint64_t size = (uint64_t)status.st_size;
    const uint8_t *file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED)
        return fd;
    /* 4 KiB, off the stack of a thread made small; one call at a time (the tracer names
     * frames under its flush lock, the command on one thread). */
    static struct copy_plan plan;
    int copy = plan_copy(file, size, &plan) ? copy_inflated(file, size, &plan) : -1;
    munmap((void *)file, size);
    if (copy < 0)
        return fd;
    close(fd);
    return copy;
}
