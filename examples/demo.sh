#!/bin/sh
# make demo: builds the examples in the three forms against the staged install, runs each
# under the tracer and prints where its trace went and the leak rows in it.
set -eu
BUILD=${BUILD:-build}
STAGE=$(cd "${STAGE:-$BUILD/stage}" && pwd)
OUT=$BUILD/demo
mkdir -p "$OUT"
export PKG_CONFIG_PATH="$STAGE/lib/pkgconfig"
PRELOAD=$(pkg-config --variable=preload malloctrace)

show() { # show TRACE: its leak rows, then its report
    echo "trace: $1"
    grep -c '' "$1" | sed 's/^/  lines (header included): /'
    grep '^leak;' "$1" | grep -v ';\[{"f":"[a-z_]*","s":"","l":0,"m":""}\]$' |
        cut -c1-220 | sed 's/^/  /' || true
    echo "  malloc-trace report --top 3 $1:"
    "$BUILD/malloc-trace" report --top 3 "$1" | sed 's/^/    /'
    echo
}

rm -f "$OUT"/*.csv # each trace is appended to: start clean
for example in leaky_server.c leaky_cache.cpp; do
    name=${example%.*}
    case $example in *.cpp) cc=g++ ;; *) cc=gcc ;; esac
    $cc -O0 -g "examples/$example" -o "$OUT/$name.wrap" $(pkg-config --cflags --libs malloctrace)
    # libdw.a always warns about dlopen in a static link; other messages are shown.
    if ! $cc -static -O0 -g "examples/$example" -o "$OUT/$name.static" \
        $(pkg-config --cflags --libs --static malloctrace) 2>"$OUT/link.log"; then
        cat "$OUT/link.log" >&2
        exit 1
    fi
    grep -v -e dlopen -e debuginfod "$OUT/link.log" >&2 || true
    $cc -O0 -g "examples/$example" -o "$OUT/$name"

    echo "== $name, wrap form (dynamic): cc $example \$(pkg-config --libs malloctrace)"
    out_file_path="$PWD/$OUT/$name.wrap.csv" "$OUT/$name.wrap" >/dev/null
    show "$OUT/$name.wrap.csv"
    echo "== $name, wrap form (-static): cc -static $example \$(pkg-config --libs --static malloctrace)"
    out_file_path="$PWD/$OUT/$name.static.csv" "$OUT/$name.static" >/dev/null
    show "$OUT/$name.static.csv"
    echo "== $name, preload form: LD_PRELOAD=$PRELOAD"
    out_file_path="$PWD/$OUT/$name.preload.csv" LD_PRELOAD="$PRELOAD" "$OUT/$name" >/dev/null
    show "$OUT/$name.preload.csv"
done
