/* test_debug_file.c: the copy of a debug file with its DWARF sections inflated
 * (debug_file.h), compared section by section with libelf's own inflation of the same file
 * (what libdw reads without the copy) and with the file objcopy wrote uncompressed. The
 * debug files are this test program's own, taken out of it by objcopy. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "debug_file.h"

static char directory[] = "/tmp/malloc-trace-debug-file.XXXXXX";
static char plain[PATH_MAX];      /* the debug sections as the program has them */
static char compressed[PATH_MAX]; /* the same, compressed with zlib */

/* The program by its path (under valgrind, /proc/self/exe is valgrind's). */
static bool objcopy(const char *program, const char *options, const char *out)
{
    char command[4 * PATH_MAX];
    snprintf(command, sizeof command, "objcopy --only-keep-debug %s '%s' %s", options, program,
             out);
    return system(command) == 0;
}

static unsigned open_descriptors(void)
{
    DIR *listing = opendir("/proc/self/fd");
    unsigned count = 0;
    for (struct dirent *entry; listing != NULL && (entry = readdir(listing)) != NULL;)
        count += entry->d_name[0] != '.';
    if (listing != NULL)
        closedir(listing);
    return count;
}

static Elf *elf_of(int fd)
{
    return elf_begin(fd, ELF_C_READ_MMAP, NULL);
}

static const char *name_of(Elf *elf, const GElf_Shdr *header)
{
    size_t names;
    const char *name = elf_getshdrstrndx(elf, &names) == 0 ? elf_strptr(elf, names, header->sh_name)
                                                          : NULL;
    return name != NULL ? name : "?";
}

static bool is_location_list(const char *name)
{
    return strcmp(name, ".debug_loc") == 0 || strcmp(name, ".debug_loclists") == 0;
}

static bool same_data(Elf_Scn *one, Elf_Scn *other)
{
    Elf_Data *a = elf_getdata(one, NULL), *b = elf_getdata(other, NULL);
    return a != NULL && b != NULL && a->d_size == b->d_size
           && (a->d_size == 0 || memcmp(a->d_buf, b->d_buf, a->d_size) == 0);
}

/* The section of elf named name, NULL where there is none. */
static Elf_Scn *section_named(Elf *elf, const char *name)
{
    for (Elf_Scn *section = NULL; (section = elf_nextscn(elf, section)) != NULL;) {
        GElf_Shdr header;
        if (gelf_getshdr(section, &header) != NULL && strcmp(name_of(elf, &header), name) == 0)
            return section;
    }
    return NULL;
}

static void test_sections_inflated_as_libelf_inflates(void)
{
    int fd = open(compressed, O_RDONLY | O_CLOEXEC);
    int copy = debug_file_inflated(fd);
    if (!CHECK(copy >= 0 && copy != fd))
        return;
    CHECK_EQ_I64(fcntl(fd, F_GETFD), -1); /* the file's own descriptor is closed */
    int reference_fd = open(compressed, O_RDONLY | O_CLOEXEC);
    int plain_fd = open(plain, O_RDONLY | O_CLOEXEC);
    Elf *reference = elf_of(reference_fd), *got = elf_of(copy), *uncompressed = elf_of(plain_fd);
    if (!CHECK(reference != NULL && got != NULL && uncompressed != NULL))
        return;
    size_t count = 0, got_count = 0;
    elf_getshdrnum(reference, &count);
    elf_getshdrnum(got, &got_count);
    CHECK_EQ_U64(got_count, count);
    unsigned inflated = 0, left_out = 0, location_lists = 0, kept = 0;
    for (size_t i = 1; i < count && i < got_count; i++) {
        Elf_Scn *from = elf_getscn(reference, i), *to = elf_getscn(got, i);
        GElf_Shdr before, after;
        if (!CHECK(gelf_getshdr(from, &before) != NULL && gelf_getshdr(to, &after) != NULL))
            continue;
        const char *name = name_of(reference, &before);
        CHECK_FALSE(after.sh_flags & SHF_COMPRESSED);
        if (!(before.sh_flags & SHF_COMPRESSED)) {
            kept++;
            CHECK_EQ_STR(name_of(got, &after), name);
            CHECK_EQ_U64(after.sh_type, before.sh_type);
            CHECK_EQ_U64(after.sh_flags, before.sh_flags);
            CHECK_EQ_U64(after.sh_size, before.sh_size);
            if (before.sh_type != SHT_NOBITS)
                CHECK_TRUE(same_data(from, to));
            continue;
        }
        location_lists += is_location_list(name);
        if (is_location_list(name)) {
            /* Left out: no name libdw knows, no bits. */
            left_out += strcmp(name_of(got, &after), "") == 0 && after.sh_type == SHT_NOBITS;
            continue;
        }
        CHECK_EQ_STR(name_of(got, &after), name);
        CHECK_EQ_U64(after.sh_flags, before.sh_flags & ~(GElf_Xword)SHF_COMPRESSED);
        if (!CHECK_EQ_I64(elf_compress(from, 0, 0), 1))
            continue;
        if (CHECK_TRUE(same_data(from, to)))
            inflated++;
        Elf_Scn *original = section_named(uncompressed, name);
        CHECK_TRUE(original != NULL && same_data(original, to));
    }
    /* .debug_info, _abbrev, _line, _str, _aranges and _rnglists at least (gcc 12, DWARF 5). */
    CHECK_GE_U64(inflated, 6);
    CHECK_GE_U64(kept, 10);
    /* This program is built with -O1: its variables have location lists. */
    CHECK_GE_U64(location_lists, 1);
    CHECK_EQ_U64(left_out, location_lists);
    elf_end(reference);
    elf_end(got);
    elf_end(uncompressed);
    close(reference_fd);
    close(plain_fd);
    close(copy);
}

/* Every file the copy is not for keeps its descriptor, and no other is left open. */
static void check_kept(const char *path)
{
    unsigned before = open_descriptors();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!CHECK(fd >= 0))
        return;
    CHECK_EQ_I64(debug_file_inflated(fd), fd);
    CHECK_EQ_I64(fcntl(fd, F_GETFD), FD_CLOEXEC);
    close(fd);
    CHECK_EQ_U64(open_descriptors(), before);
}

static bool write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool written = fd >= 0 && write(fd, data, size) == (ssize_t)size;
    if (fd >= 0)
        close(fd);
    return written;
}

static void test_files_it_does_not_copy(void)
{
    check_kept(plain); /* nothing compressed */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/text", directory);
    CHECK_TRUE(write_file(path, "not an ELF file\n", 16));
    check_kept(path);
    snprintf(path, sizeof path, "%s/empty", directory);
    CHECK_TRUE(write_file(path, "", 0));
    check_kept(path);
    /* The first 4 KiB of the compressed file: its section headers lie past the end. */
    int fd = open(compressed, O_RDONLY | O_CLOEXEC);
    char head[4096];
    CHECK_TRUE(read(fd, head, sizeof head) == (ssize_t)sizeof head);
    close(fd);
    snprintf(path, sizeof path, "%s/cut", directory);
    CHECK_TRUE(write_file(path, head, sizeof head));
    check_kept(path);
    CHECK_EQ_I64(debug_file_inflated(-1), -1);
}

/* A copy of the compressed file with change applied to its bytes at .debug_info's
 * compressed data (offset, size), written to name in the directory; false where it could not
 * be made. */
static bool changed_copy(const char *name, void (*change)(char *data, uint64_t offset,
                                                          uint64_t size),
                         char *path, size_t path_size)
{
    int fd = open(compressed, O_RDONLY | O_CLOEXEC);
    struct stat status;
    Elf *elf = elf_of(fd);
    Elf_Scn *info = elf != NULL ? section_named(elf, ".debug_info") : NULL;
    GElf_Shdr header;
    bool found = CHECK(fstat(fd, &status) == 0 && info != NULL
                       && gelf_getshdr(info, &header) != NULL
                       && (header.sh_flags & SHF_COMPRESSED));
    elf_end(elf);
    char *data = found ? malloc((size_t)status.st_size) : NULL;
    found = found && CHECK(data != NULL && pread(fd, data, (size_t)status.st_size, 0) == status.st_size);
    close(fd);
    if (found) {
        change(data, header.sh_offset, header.sh_size);
        snprintf(path, path_size, "%s/%s", directory, name);
        found = CHECK_TRUE(write_file(path, data, (size_t)status.st_size));
    }
    free(data);
    return found;
}

static void scramble_the_middle(char *data, uint64_t offset, uint64_t size)
{
    for (size_t i = 0; i < 64; i++)
        data[offset + size / 2 + i] ^= 0x5a;
}

/* More than deflate can make of the section's bytes: a copy that size would take its memory
 * (or address space) for nothing. */
static void claim_too_much(char *data, uint64_t offset, uint64_t size)
{
    Elf64_Chdr header;
    memcpy(&header, data + offset, sizeof header);
    header.ch_size = size * 2000;
    memcpy(data + offset, &header, sizeof header);
}

/* .debug_info's compressed bytes changed in the middle, or its size a lie: libelf is left to
 * say so. */
static void test_a_section_that_does_not_inflate(void)
{
    char path[PATH_MAX];
    if (changed_copy("corrupt.debug", scramble_the_middle, path, sizeof path))
        check_kept(path);
    if (changed_copy("too_big.debug", claim_too_much, path, sizeof path))
        check_kept(path);
}

/* A file that names a dwz file by .gnu_debugaltlink: libdw may look for it next to the file
 * it reads, which a memfd has no directory for. */
static void test_a_file_with_an_alternate_file(void)
{
    char link[PATH_MAX], path[PATH_MAX], command[4 * PATH_MAX];
    snprintf(link, sizeof link, "%s/altlink", directory);
    snprintf(path, sizeof path, "%s/with_altlink.debug", directory);
    CHECK_TRUE(write_file(link, "../dwz/common.debug\0\x01\x02", 22));
    snprintf(command, sizeof command,
             "objcopy --add-section .gnu_debugaltlink=%s %s %s", link, compressed, path);
    if (CHECK_EQ_I64(system(command), 0))
        check_kept(path);
}

/* A memfd is a file to RLIMIT_FSIZE: the copy would raise SIGXFSZ, whose default action
 * kills the program. Under a limit it does not fit, there is no copy. */
static void test_under_a_file_size_limit(void)
{
    pid_t child = fork();
    if (child == 0) {
        struct rlimit limit = {4096, RLIM_INFINITY}; /* the copy is some 700 KiB long */
        setrlimit(RLIMIT_FSIZE, &limit);
        int fd = open(compressed, O_RDONLY | O_CLOEXEC);
        bool kept = fd >= 0 && debug_file_inflated(fd) == fd;
        /* valgrind's report at exit is a file too */
        limit.rlim_cur = RLIM_INFINITY;
        setrlimit(RLIMIT_FSIZE, &limit);
        _exit(kept ? 0 : 1);
    }
    int status = 0;
    CHECK_EQ_I64(waitpid(child, &status, 0), child);
    CHECK_TRUE(WIFEXITED(status));
    CHECK_EQ_I64(WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), 0);
}

static void remove_directory(void)
{
    char command[PATH_MAX + 16];
    snprintf(command, sizeof command, "rm -rf %s", directory);
    if (system(command) != 0)
        fprintf(stderr, "cannot remove %s\n", directory);
}

int main(int argc, char **argv)
{
    (void)argc;
    alarm(60);
    elf_version(EV_CURRENT);
    if (!CHECK(mkdtemp(directory) != NULL))
        return check_exit_status();
    snprintf(plain, sizeof plain, "%s/plain.debug", directory);
    snprintf(compressed, sizeof compressed, "%s/compressed.debug", directory);
    if (CHECK_TRUE(objcopy(argv[0], "--decompress-debug-sections", plain)
                   && objcopy(argv[0], "--compress-debug-sections=zlib", compressed))) {
        RUN_TEST(test_sections_inflated_as_libelf_inflates);
        RUN_TEST(test_files_it_does_not_copy);
        RUN_TEST(test_a_section_that_does_not_inflate);
        RUN_TEST(test_a_file_with_an_alternate_file);
        RUN_TEST(test_under_a_file_size_limit);
    }
    remove_directory();
    return check_exit_status();
}
