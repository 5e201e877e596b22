#!/bin/sh
# Installs the Debian packages malloc-trace needs to build and test, when missing
# (PostgreSQL: the tests load a trace into a private server; clang and libclang-rt-14-dev,
# Debian 12's libFuzzer runtime, for the command's fuzz target; valgrind: its memcheck runs
# the test programs and the command; heaptrack and time for make bench: the peer it is
# compared with, and GNU time for each program's own peak RSS; locales and libc-l10n: a
# test runs a program in a German Latin-1 locale, whose strerror translates; libjemalloc2
# and libtcmalloc-minimal4: a test links a C++ program with each of these allocators).
# Arguments name more packages (make lint: clang-tidy and cppcheck).
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu

PACKAGES="gcc g++ make binutils pkgconf libc6-dev libunwind-dev liblzma-dev libdw-dev
libelf-dev libdeflate-dev libjansson-dev libiberty-dev libbz2-dev zlib1g-dev python3 util-linux
postgresql postgresql-client libxml2-utils jq sqlite3 git
memcached clang libclang-rt-14-dev valgrind heaptrack time locales libc-l10n libjemalloc2
libtcmalloc-minimal4 $*"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed'; then
        missing="$missing $package"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "malloc-trace: missing packages; run as root:" >&2
    echo "    apt-get install -y$missing" >&2
    exit 1
fi
echo "malloc-trace: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq $missing >&2
