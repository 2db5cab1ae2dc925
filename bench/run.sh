#!/usr/bin/env bash
# The benchmark of issue 6: build Release, run the matrix against portserve.exe,
# naive_iocp_echo.exe and libuv_echo.exe (under Wine, one prefix and
# wineserver each) and the native epoll_echo, all driven by the native
# portload; write bench/results/<date>-<host>.json and .md (+ SVG plots).
# libuv_echo.exe is built by bench/libuv.sh (Debian's libuv 1.44.2 source,
# fetched once into build/libuv-src; the network is needed that first time).
#
#   bench/run.sh            the full matrix (connections 1/16/64/256, 64 and
#                           4096 bytes, pipeline 1 and 8, a 256-connector storm,
#                           5 runs each, pinned and unpinned; about 25 minutes)
#   bench/run.sh --quick    1 and 64 connections x 64 bytes, a storm, 3 runs of
#                           1 s each, 10,000 idle connections (a few minutes)
#   bench/run.sh --requests wineserver requests and Linux syscalls per echoed
#                           message, portserve and naive at 1 and 64
#                           connections (bench/requests.py; a markdown table)
#   bench/run.sh --help     every option of bench/bench.py (reps, duration,
#                           connections, servers, affinity, ...)
#
# Missing tools are installed with apt-get (tools/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WIN=$ROOT/build/release-win
NATIVE=$ROOT/build/release-native
PREFIXES=$ROOT/build/bench-prefixes
JOBS=$(nproc 2>/dev/null || echo 2)

say() { printf '==> %s\n' "$*"; }

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  echo
  exec python3 "$ROOT/bench/bench.py" --help
fi

. "$ROOT/tools/deps.sh"
ps_ensure_deps bench

# The configurations: CMakePresets.json (release-win, release-native).
say "building Release for Windows in build/release-win"
cmake --preset release-win >/dev/null
cmake --build "$WIN" -j "$JOBS" --target portserve naive_iocp_echo

say "building the native tools (portload, epoll_echo) Release in build/release-native"
# An older bench/run.sh configured build/release-native from bench/ alone;
# CMake refuses to reuse that cache for the top-level source.
if grep -qs "^CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT/bench\$" "$NATIVE/CMakeCache.txt"; then rm -rf "$NATIVE"; fi
cmake --preset release-native >/dev/null
cmake --build "$NATIVE" -j "$JOBS" --target portload epoll_echo

# Without libuv the run still works with --servers naming the others;
# bench.py says so if libuv is asked for and missing.
LIBUV_ARGS=()
if [ "${1:-}" != "--requests" ]; then
  say "building libuv_echo.exe (bench/libuv.sh) in build/libuv-build"
  if LIBUV_EXE=$("$ROOT/bench/libuv.sh" build); then
    LIBUV_ARGS=(--libuv-exe "$LIBUV_EXE")
  else
    say "warning: bench/libuv.sh build failed (above): no libuv server"
  fi
fi

if [ "${1:-}" = "--requests" ]; then
  shift
  say "counting wineserver requests and syscalls per message (bench/requests.py $*)"
  exec python3 "$ROOT/bench/requests.py" --win-bin "$WIN/bin" --native-bin "$NATIVE/bin" \
    --prefix-root "$PREFIXES" "$@"
fi

say "running the benchmark (bench/bench.py $*)"
export PS_BENCH_COMMAND="bench/run.sh $*"
if [ "${PS_WINE:-8}" = 10 ]; then
  # Wine 10: the same binaries, run in a fresh Debian 13 root (tools/root.sh).
  say "running under Wine 10 in a Debian 13 root"
  exec "$ROOT/tools/root.sh" with trixie "$ROOT" "" benchrun env PS_BENCH_COMMAND="$PS_BENCH_COMMAND" python3 \
    "$ROOT/bench/bench.py" --win-bin "$WIN/bin" --native-bin "$NATIVE/bin" \
    --prefix-root "$PREFIXES" --out "$ROOT/bench/results" "${LIBUV_ARGS[@]}" "$@"
fi
exec python3 "$ROOT/bench/bench.py" --win-bin "$WIN/bin" --native-bin "$NATIVE/bin" \
  --prefix-root "$PREFIXES" --out "$ROOT/bench/results" "${LIBUV_ARGS[@]}" "$@"
