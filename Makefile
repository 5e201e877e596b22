# malloc-trace: `make` builds into build/, `make check` runs every test, `make demo` traces
# the examples, `make install PREFIX=... DESTDIR=...` installs (CONTRACT.md section 2).

VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share/malloc-trace
BINDIR ?= $(PREFIX)/bin
BUILD ?= build

CC ?= gcc
CXX ?= g++
PKG_CONFIG ?= pkg-config

WARNINGS := -Wall -Wextra -Werror
# Sanitizer flags for compiling and linking everything (make check-sanitize sets them for
# its builds under build/sanitize/); empty for the real build.
SANITIZE ?=
# -fno-builtin: the compiler must not turn our code into calls to what we intercept.
# initial-exec TLS: thread-locals that never allocate. No sibling calls: the stack capture
# counts a fixed number of tracer frames (wrap/core/backtrace.h), and with frame pointers
# kept the frame-pointer unwinder (MALLOC_TRACE_UNWIND=fp) walks through them.
TRACER_CFLAGS := -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	-fno-builtin -fno-optimize-sibling-calls -fno-omit-frame-pointer -fexceptions -pthread \
	$(WARNINGS) $(SANITIZE)

C_WRAPPED := malloc calloc realloc reallocarray free posix_memalign aligned_alloc memalign \
	valloc pvalloc strdup strndup wcsdup realpath getcwd get_current_dir_name getline \
	getdelim __getdelim asprintf vasprintf __asprintf_chk __vasprintf_chk dlclose setrlimit \
	setrlimit64 prlimit prlimit64 chroot setuid seteuid setreuid setresuid setgid setegid \
	setregid setresgid
CXX_WRAPPED := _Znwm _ZnwmRKSt9nothrow_t _ZnwmSt11align_val_t \
	_ZnwmSt11align_val_tRKSt9nothrow_t _Znam _ZnamRKSt9nothrow_t _ZnamSt11align_val_t \
	_ZnamSt11align_val_tRKSt9nothrow_t _ZdlPv _ZdlPvm _ZdlPvRKSt9nothrow_t \
	_ZdlPvSt11align_val_t _ZdlPvmSt11align_val_t _ZdlPvSt11align_val_tRKSt9nothrow_t \
	_ZdaPv _ZdaPvm _ZdaPvRKSt9nothrow_t _ZdaPvSt11align_val_t _ZdaPvmSt11align_val_t \
	_ZdaPvSt11align_val_tRKSt9nothrow_t
# Every wrapped name, and a -u per C name: a static program that never calls free itself
# would otherwise not find __wrap_free when libc.a asks for it (TRAPS.md). No -u for the
# C++ operators in a dynamic link: a C link would then need libstdc++'s __real_ symbols.
WRAP_FLAGS := $(foreach f,$(C_WRAPPED) $(CXX_WRAPPED),-Wl,--wrap=$(f)) \
	$(foreach f,$(C_WRAPPED),-Wl,-u,__wrap_$(f))
# A C++ program linked with -static whose own code calls no operator new (a std::string's
# buffer comes from libstdc++.a's instantiations) needs them: libstdc++.a asks for
# __wrap__Znwm after the archive was scanned. They are a variable of their own
# (static_cxx), not in Libs.private: a C link would need libstdc++.a for them, whose
# emergency exception pool then allocates 72 KiB at start (a `malloc` row in every trace).
STATIC_CXX_FLAGS := $(foreach f,$(CXX_WRAPPED),-Wl,-u,__wrap_$(f))
# What libdw.a and the archive's libunwind member need in a static link, less -ldw -lelf
# (already in Libs). Recursive variables: evaluated when a recipe runs, after `deps` has
# installed the packages they ask about.
STATIC_LIBS = $(filter-out -ldw -lelf,$(shell $(PKG_CONFIG) --static --libs-only-l libdw)) -llzma
LIBUNWIND_A = $(shell $(CC) -print-file-name=libunwind.a)

CORE_SOURCES := $(wildcard wrap/core/*.c)
CORE_SOURCES := $(filter-out wrap/core/backtrace_libunwind.c,$(CORE_SOURCES))
CORE_OBJECTS := $(CORE_SOURCES:%.c=$(BUILD)/obj/%.o)
WRAP_MEMBERS := $(BUILD)/obj/wrap/wrap/wrap_malloc.o $(BUILD)/obj/wrap/wrap/wrap_libc.o \
	$(BUILD)/obj/wrap/wrap/wrap_limits.o $(BUILD)/obj/wrap/wrap/wrap_cxx.o \
	$(BUILD)/obj/wrap/wrap/wrap_access.o
PRELOAD_OBJECTS := $(BUILD)/obj/wrap/preload/next_allocator.o \
	$(BUILD)/obj/wrap/preload/preload_malloc.o $(BUILD)/obj/wrap/preload/preload_dl.o \
	$(BUILD)/obj/wrap/preload/preload_limits.o $(BUILD)/obj/wrap/preload/preload_cxx.o \
	$(BUILD)/obj/wrap/preload/next_function.o $(BUILD)/obj/wrap/preload/preload_access.o
LIBUNWIND_OBJECT := $(BUILD)/obj/wrap/core/backtrace_libunwind.o

CLI_SOURCES := $(wildcard cli/*.c)
CLI_OBJECTS := $(CLI_SOURCES:%.c=$(BUILD)/obj/%.o)
COMMAND := $(BUILD)/malloc-trace
COMMAND_CFLAGS := -std=gnu11 -O2 -g -fPIE -pthread $(WARNINGS) $(SANITIZE)

ARCHIVE := $(BUILD)/libmalloctrace.a
PRELOAD := $(BUILD)/malloc-trace.so
STAGE := $(BUILD)/stage

.PHONY: all check check-sanitize sanitize-builds demo install clean deps lint bench \
	bench-quick fuzz
all: $(ARCHIVE) $(PRELOAD) $(BUILD)/malloctrace.pc $(COMMAND)

# DEPS_CHECKED: set for the makes that sanitize-builds starts, once it has checked.
deps:
	@$(if $(DEPS_CHECKED),:,scripts/install-deps.sh)

# The command is an ordinary program: it reads traces and never links the tracer's core.
$(BUILD)/obj/cli/%.o: cli/%.c $(wildcard cli/*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) $(COMMAND_CFLAGS) -c $< -o $@

# symbolize names frames with the tracer's own module_symbols (and the debug files it
# inflates), nothing else of the core.
COMMAND_SHARED := $(BUILD)/obj/wrap/core/module_symbols.o $(BUILD)/obj/wrap/core/debug_file.o \
	$(BUILD)/obj/wrap/core/size_limit.o
$(COMMAND): $(CLI_OBJECTS) $(COMMAND_SHARED)
	$(CC) $(SANITIZE) -o $@ $^ -ldw -lelf -ldeflate -ljansson -liberty

$(BUILD)/obj/%.o: %.c $(wildcard wrap/core/*.h wrap/include/*.h wrap/shared/*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) $(TRACER_CFLAGS) -c $< -o $@

# The core as one object whose only global symbols are the hooks and the API (malloc_trace_
# prefix): everything else becomes local, so nothing clashes with the program's names.
$(BUILD)/obj/core.o: $(CORE_OBJECTS)
	ld -r -o $@.tmp $^
	objcopy --localize-hidden $@.tmp $@
	rm -f $@.tmp

# libunwind for static links, with every libunwind symbol local: its _Unwind_* would
# collide with libgcc_eh's in a static C++ link (TRAPS.md). Pulled in only by the -u of
# Libs.private, since libunwind.a is not position independent.
$(BUILD)/obj/unwind_static.o: $(LIBUNWIND_OBJECT) | deps
	ld -r -o $@.tmp $< --whole-archive $(LIBUNWIND_A)
	objcopy --keep-global-symbol=malloc_trace_libunwind_backtrace \
		--keep-global-symbol=malloc_trace_libunwind_init $@.tmp $@
	rm -f $@.tmp

$(ARCHIVE): $(BUILD)/obj/core.o $(WRAP_MEMBERS) $(BUILD)/obj/unwind_static.o
	rm -f $@
	ar rcs $@ $^

$(PRELOAD): $(CORE_OBJECTS) $(PRELOAD_OBJECTS) $(LIBUNWIND_OBJECT) wrap/preload/exports.map
	$(CC) $(SANITIZE) -shared -o $@ $(CORE_OBJECTS) $(PRELOAD_OBJECTS) $(LIBUNWIND_OBJECT) \
		-Wl,--version-script=wrap/preload/exports.map -Wl,-z,nodelete \
		-Wl,--exclude-libs,libiberty.a -lunwind -ldw -lelf -ldeflate -liberty -pthread

$(BUILD)/malloctrace.pc: pkgconfig/malloctrace.pc.in Makefile | deps
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@WRAP_FLAGS@|$(WRAP_FLAGS)|' \
		-e 's|@STATIC_CXX_FLAGS@|$(STATIC_CXX_FLAGS)|' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' \
		$< > $@

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(COMMAND) $(DESTDIR)$(BINDIR)/malloc-trace
	install -m 644 $(ARCHIVE) $(DESTDIR)$(LIBDIR)/libmalloctrace.a
	install -m 755 $(PRELOAD) $(DESTDIR)$(LIBDIR)/malloc-trace.so
	install -m 644 wrap/include/malloctrace.h $(DESTDIR)$(INCLUDEDIR)/malloctrace.h
	install -m 644 $(BUILD)/malloctrace.pc $(DESTDIR)$(LIBDIR)/pkgconfig/malloctrace.pc
	install -d $(DESTDIR)$(DATADIR)
	install -m 644 scripts/create_malloc_trace_table.sql $(DESTDIR)$(DATADIR)/
	install -m 755 scripts/remove_malloc_free.py $(DESTDIR)$(DATADIR)/

# ---- tests ---------------------------------------------------------------------------
UNIT_SOURCES := $(wildcard tests/unit/*.c)
UNIT_TESTS := $(UNIT_SOURCES:tests/unit/%.c=$(BUILD)/tests/unit/%)

# json_text is the command's: the unit tests compare the tracer's frames with what symbolize
# writes.
$(BUILD)/tests/unit/%: tests/unit/%.c $(CORE_OBJECTS) $(BUILD)/obj/cli/json_text.o tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -pthread $(WARNINGS) $(SANITIZE) -Iwrap/core -Icli -o $@ $< \
		$(CORE_OBJECTS) $(BUILD)/obj/cli/json_text.o -ldw -lelf -ldeflate -ljansson -liberty

# ---- fuzzing ---------------------------------------------------------------------------
# libFuzzer (Debian's clang and libclang-rt-14-dev) over what `report` and `check` do with a
# trace file (tests/fuzz/fuzz_trace.c), the command's sources built again with
# AddressSanitizer (leaks included) and UBSan, any finding fatal. `make check` runs it for
# 45 s (tests/integration/test_fuzz.py); `make fuzz` for FUZZ_SECONDS, 10 minutes by default.
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all $(WARNINGS)
FUZZ_OBJECTS := $(patsubst %,$(BUILD)/fuzz/obj/%.o,check flame_graph options report trace_reader \
	trace_summary xml_text)
FUZZER := $(BUILD)/fuzz/fuzz_trace
FUZZ_SECONDS ?= 600

$(BUILD)/fuzz/obj/%.o: cli/%.c $(wildcard cli/*.h) | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZER): tests/fuzz/fuzz_trace.c $(FUZZ_OBJECTS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Icli -o $@ $^ -ljansson

fuzz: $(FUZZER)
	@python3 tests/fuzz/run_fuzz.py --build $(BUILD) --seconds $(FUZZ_SECONDS)

$(STAGE)/lib/libmalloctrace.a: all
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(STAGE)) DESTDIR= >/dev/null

check: all $(UNIT_TESTS) $(STAGE)/lib/libmalloctrace.a $(FUZZER) sanitize-builds
	@python3 tests/run_tests.py --build $(BUILD) --stage $(STAGE)

# ---- sanitizers ----------------------------------------------------------------------
# The same sources built again under $(BUILD)/sanitize/, for tests/integration/
# test_sanitizers.py (part of make check; make check-sanitize runs only those tests):
# asan/ with AddressSanitizer and UBSan (the archive, the command, the unit tests); ubsan/
# with UBSan alone where ASan cannot run: the preload library (ASan must be the only malloc
# interposer, first in the link order) and the archive for static links (ASan has no
# static runtime). -fno-sanitize-recover: a finding stops the program, so it cannot pass.
SANITIZE_DIR := $(BUILD)/sanitize
SANITIZE_ASAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SANITIZE_UBSAN := -fsanitize=undefined -fno-sanitize-recover=all

# Each set by a make of its own, with BUILD and SANITIZE set, through the rules above (the
# @: keeps an up-to-date set quiet).
.PHONY: sanitized-asan sanitized-ubsan
sanitized-asan: $(ARCHIVE) $(COMMAND) $(UNIT_TESTS)
	@:
sanitized-ubsan: $(ARCHIVE) $(PRELOAD)
	@:
sanitize-builds: | deps
	@$(MAKE) --no-print-directory DEPS_CHECKED=1 BUILD=$(SANITIZE_DIR)/asan \
		SANITIZE="$(SANITIZE_ASAN)" sanitized-asan
	@$(MAKE) --no-print-directory DEPS_CHECKED=1 BUILD=$(SANITIZE_DIR)/ubsan \
		SANITIZE="$(SANITIZE_UBSAN)" sanitized-ubsan

check-sanitize: all $(STAGE)/lib/libmalloctrace.a sanitize-builds
	@python3 tests/run_tests.py --build $(BUILD) --stage $(STAGE) -k test_sanitizers

demo: all $(STAGE)/lib/libmalloctrace.a
	@BUILD=$(BUILD) STAGE=$(STAGE) examples/demo.sh

clean:
	rm -rf $(BUILD)

# Static analysis of what we write: clang-tidy (checks in .clang-tidy) and cppcheck.
LINT_SOURCES := $(wildcard wrap/core/*.c wrap/wrap/*.c wrap/preload/*.c cli/*.c tests/fuzz/*.c)
lint:
	@scripts/install-deps.sh clang-tidy cppcheck
	clang-tidy --quiet $(LINT_SOURCES) -- -std=gnu11 -pthread -Icli
	cppcheck --enable=warning,style,performance,portability --std=c11 --quiet \
		--error-exitcode=1 -I wrap/core -I wrap/include -I cli wrap/ cli/ tests/fuzz/

# Benchmarks are not tests: they print figures and assert nothing.
bench: all $(STAGE)/lib/libmalloctrace.a
	@python3 bench/run.py --build $(BUILD)

bench-quick: all $(STAGE)/lib/libmalloctrace.a
	@python3 bench/run.py --build $(BUILD) --quick
