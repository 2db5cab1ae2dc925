#!/usr/bin/env bash
# libuv for the benchmark: fetches Debian bookworm's libuv1 source package
# (libuv 1.44.2) at bench time, cross-builds its static library with mingw
# and links bench/libuv_echo.c against it. Nothing of libuv enters the tree.
#
#   bench/libuv.sh build     build what is missing or stale; print the path of
#                            libuv_echo.exe on stdout (everything else on stderr)
#   bench/libuv.sh version   print the libuv source package's version
#   bench/libuv.sh clean     remove build/libuv-src and build/libuv-build
#
# The source is fetched with apt-get source under an apt state of its own
# (build/libuv-src/apt: a deb-src list for bookworm, its package lists and
# cache), so nothing under /etc/apt changes and the system's apt lock is not
# taken; signatures are checked against Debian's archive keyring. Needs the
# network once; later runs reuse build/libuv-src.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SRC=$ROOT/build/libuv-src
OUT=$ROOT/build/libuv-build
EXE=$OUT/libuv_echo.exe
CC=x86_64-w64-mingw32-gcc
SUITE=bookworm
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

say() { printf 'libuv.sh: %s\n' "$*" >&2; }

# The unpacked tree (libuv1-VERSION/), or nothing.
src_dir() { [ ! -d "$SRC" ] || find "$SRC" -maxdepth 1 -type d -name 'libuv1-*' | sort | tail -1; }

fetch() {
  local apt=$SRC/apt
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb-src [signed-by=$KEYRING] http://deb.debian.org/debian $SUITE main" >"$apt/sources.list"
  command -v dpkg-source >/dev/null || { say "dpkg-source missing: apt-get install dpkg-dev"; exit 1; }
  say "fetching Debian's libuv1 source ($SUITE) into build/libuv-src"
  apt-get -q "${opts[@]}" update >&2
  (cd "$SRC" && apt-get -q "${opts[@]}" source libuv1 >&2)
}

build() {
  local src
  src=$(src_dir)
  [ -n "$src" ] || { fetch; src=$(src_dir); }
  [ -n "$src" ] || { say "apt-get source libuv1 left no libuv1-* directory in build/libuv-src"; exit 1; }
  if [ ! -f "$OUT/libuv.a" ]; then
    say "building libuv (uv_a) for Windows from $(basename "$src")"
    cmake -S "$src" -B "$OUT/cmake" -G Ninja -DCMAKE_SYSTEM_NAME=Windows -DCMAKE_C_COMPILER="$CC" \
      -DCMAKE_BUILD_TYPE=Release -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF >&2
    nice cmake --build "$OUT/cmake" --target uv_a >&2
    cp "$OUT/cmake/libuv_a.a" "$OUT/libuv.a"
  fi
  if [ ! -f "$EXE" ] || [ "$ROOT/bench/libuv_echo.c" -nt "$EXE" ] || [ "$ROOT/bench/hostport.c" -nt "$EXE" ] ||
    [ "$OUT/libuv.a" -nt "$EXE" ]; then
    say "linking libuv_echo.exe"
    # libuv's headers are not ours to keep warning-free: -isystem.
    nice "$CC" -std=c11 -O2 -Wall -Wextra -Werror -pedantic -DWIN32_LEAN_AND_MEAN -D_WIN32_WINNT=0x0602 \
      -isystem "$src/include" -o "$EXE" "$ROOT/bench/libuv_echo.c" "$ROOT/bench/hostport.c" "$OUT/libuv.a" \
      -lws2_32 -liphlpapi -luserenv -lpsapi -ldbghelp -lole32 -luuid -lshell32 -static
  fi
  echo "$EXE"
}

case "${1:-}" in
  build) build ;;
  version)
    src=$(src_dir)
    [ -n "$src" ] || { say "not fetched yet: bench/libuv.sh build"; exit 1; }
    (cd "$src" && dpkg-parsechangelog -S Version 2>/dev/null) || basename "$src" | sed 's/^libuv1-//'
    ;;
  clean) rm -rf "$SRC" "$OUT" ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
