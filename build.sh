#!/usr/bin/env bash
# portserve on Linux: cross-build the Windows binaries with mingw-w64, run and
# test them under Wine, and build/test the portable code natively.
#
#   ./build.sh            build everything (Windows + native)
#   ./build.sh run [ARGS] build, then run the echo server in this console
#                         (default: portserve run --listen echo=127.0.0.1:7007)
#   ./build.sh test       build, then run every test (native + under Wine)
#   ./build.sh msi        build, then the installer build/win/portserve-VERSION.msi
#                         (VERSION from CMakeLists.txt; PS_MSI_VERSION overrides it)
#   ./build.sh bench [ARGS]  Release build, then the benchmark matrix (bench/run.sh;
#                         --quick for a short run, --help for its options)
#   ./build.sh clean      remove build/
#
# Missing tools are installed with apt-get (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
WIN_BUILD=$ROOT/build/win
NATIVE_BUILD=$ROOT/build/native
JOBS=$(nproc 2>/dev/null || echo 2)

say() { printf '==> %s\n' "$*"; }

ensure_deps() {
  local missing=()
  command -v x86_64-w64-mingw32-gcc-posix >/dev/null || missing+=(gcc-mingw-w64-x86-64)
  command -v x86_64-w64-mingw32-g++-posix >/dev/null || missing+=(g++-mingw-w64-x86-64)
  command -v wine >/dev/null || missing+=(wine64)
  [ -x /usr/lib/wine/wine64 ] || [ -x /usr/lib/wine/wine64-unwrapped ] || command -v wine64 >/dev/null || missing+=(wine64)
  [ -f /usr/src/googletest/CMakeLists.txt ] || missing+=(googletest)
  command -v cmake >/dev/null || missing+=(cmake)
  command -v ninja >/dev/null || missing+=(ninja-build)
  command -v g++ >/dev/null || missing+=(g++)
  command -v python3 >/dev/null || missing+=(python3)
  command -v socat >/dev/null || missing+=(socat)
  command -v nc >/dev/null || missing+=(netcat-openbsd)
  command -v clang-cl-14 >/dev/null || command -v clang-cl >/dev/null || missing+=(clang)
  command -v wixl >/dev/null || missing+=(wixl)
  command -v msiinfo >/dev/null || missing+=(msitools)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build_win() {
  say "cross-building for Windows (mingw-w64) in build/win"
  cmake -S . -B "$WIN_BUILD" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake" \
    -DCMAKE_BUILD_TYPE="${PS_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build "$WIN_BUILD" -j "$JOBS" --target all common_tests engine_tests
}

# The MSI: installer/portserve.wxs built with wixl, see installer/build-msi.sh.
build_msi() {
  local version out
  version=${PS_MSI_VERSION:-$(sed -n 's/^project(portserve VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}
  [ -n "$version" ] || { echo "build.sh: no version in CMakeLists.txt's project()" >&2; exit 1; }
  if ! command -v wixl >/dev/null || ! command -v msibuild >/dev/null || ! command -v msiinfo >/dev/null; then
    say "installing: wixl msitools"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wixl msitools >/dev/null
  fi
  out=$WIN_BUILD/portserve-$version.msi
  say "building the installer build/win/portserve-$version.msi (wixl)"
  installer/build-msi.sh "$version" "$WIN_BUILD/bin/portserve.exe" portserve.ini.example "$out"
}

build_native() {
  say "building the portable code natively with ASan/UBSan in build/native"
  cmake -S . -B "$NATIVE_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPS_SANITIZE=ON >/dev/null
  cmake --build "$NATIVE_BUILD" -j "$JOBS" --target all common_tests
}

cmd=${1:-build}
[ $# -gt 0 ] && shift
case "$cmd" in
  build)
    ensure_deps; build_win; build_native ;;
  test)
    ensure_deps; build_win; build_native
    say "native unit tests"
    ctest --test-dir "$NATIVE_BUILD" --output-on-failure -j "$JOBS" --timeout 120
    say "Windows tests under Wine (one prefix for the run: build/win/wineprefix)"
    ctest --test-dir "$WIN_BUILD" --output-on-failure --timeout 600
    ;;
  run)
    ensure_deps; build_win
    export WINEPREFIX=${WINEPREFIX:-$ROOT/build/wineprefix-run}
    export WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES="mscoree,mshtml="
    if [ ! -d "$WINEPREFIX" ]; then say "creating Wine prefix $WINEPREFIX"; wineboot -i </dev/null >/dev/null 2>&1; fi
    [ $# -gt 0 ] || set -- run --listen echo=127.0.0.1:7007
    say "wine portserve.exe $*   (Ctrl+C stops it)"
    exec wine "$WIN_BUILD/bin/portserve.exe" "$@"
    ;;
  msi)
    ensure_deps; build_win; build_msi ;;
  bench)
    ensure_deps; exec bench/run.sh "$@" ;;
  clean)
    rm -rf "$ROOT/build" ;;
  -h|--help|help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    echo "build.sh: unknown command '$cmd'" >&2
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
