#!/usr/bin/env bash
# portserve on Linux: cross-build the Windows binaries with mingw-w64, run and
# test them under Wine, and build/test the portable code natively.
#
#   ./build.sh            build everything (Windows + native)
#   ./build.sh run [ARGS] build, then run the echo server in this console
#                         (default: portserve run --listen echo=127.0.0.1:7007)
#   ./build.sh test       build, then run every test (native + under Wine)
#   ./build.sh wintest    run the Windows tests of the existing build/win only
#   ./build.sh fuzz [SECS [TARGET...]]  build the libFuzzer targets (build/fuzz,
#                         clang) and run each (or those named) for SECS seconds
#                         (default 300) in turn, new inputs kept in
#                         build/fuzz/corpus/TARGET (not committed)
#   ./build.sh fuzz-coverage [grown]  line coverage of each target's parser file
#                         reached by tests/fuzz/corpus + regressions (with
#                         "grown", build/fuzz/corpus too): a coverage build in
#                         build/fuzzcov, llvm-cov's report per file
#   ./build.sh msi        build, then the installer build/win/portserve-VERSION.msi
#                         (VERSION from server/app/version.h; PS_MSI_VERSION overrides it)
#   ./build.sh bench [ARGS]  Release build, then the benchmark matrix (bench/run.sh;
#                         --quick for a short run, --help for its options)
#   ./build.sh mutants [ARGS]  build, then the mutation check (tools/mutants.py:
#                         each mutant of tests/mutants.json applied, rebuilt and
#                         tested in turn; --only ID... for some, --help for the rest);
#                         not part of test: run it before submitting an engine change
#   ./build.sh clean      remove build/
#
#   --wine 10  (test, wintest, bench; or PS_WINE=10) runs the Windows side
#              under Wine 10, in a fresh Debian 13 root that tools/root.sh
#              makes (needs root; about 3 minutes more); the default is the
#              machine's Wine (Debian 12: Wine 8).
#
# Missing tools are installed with apt-get (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
WIN_BUILD=$ROOT/build/win
NATIVE_BUILD=$ROOT/build/native
FUZZ_BUILD=$ROOT/build/fuzz
FUZZCOV_BUILD=$ROOT/build/fuzzcov
JOBS=$(nproc 2>/dev/null || echo 2)

say() { printf '==> %s\n' "$*"; }

# shellcheck source=tools/deps.sh
. "$ROOT/tools/deps.sh"
ensure_deps() { ps_ensure_deps build; }

build_win() {
  say "cross-building for Windows (mingw-w64) in build/win"
  cmake --preset win ${PS_BUILD_TYPE:+-DCMAKE_BUILD_TYPE="$PS_BUILD_TYPE"} >/dev/null
  cmake --build "$WIN_BUILD" -j "$JOBS" --target all common_tests engine_tests
}

# The MSI: installer/portserve.wxs built with wixl, see installer/build-msi.sh.
build_msi() {
  local version out
  version=${PS_MSI_VERSION:-$(sed -n 's/^#define PS_VERSION "\([0-9.]*\)"$/\1/p' server/app/version.h)}
  [ -n "$version" ] || { echo "build.sh: no PS_VERSION in server/app/version.h" >&2; exit 1; }
  out=$WIN_BUILD/portserve-$version.msi
  say "building the installer build/win/portserve-$version.msi (wixl)"
  installer/build-msi.sh "$version" "$WIN_BUILD/bin/portserve.exe" portserve.ini.example "$out"
}

build_native() {
  say "building the portable code natively with ASan/UBSan in build/native"
  cmake --preset native >/dev/null
  cmake --build "$NATIVE_BUILD" -j "$JOBS" --target all common_tests
}

# The libFuzzer targets (tests/fuzz): a native clang build of their own,
# every parser compiled with the fuzzer's coverage and ASan/UBSan.
build_fuzz() {
  say "building the fuzz targets (clang, libFuzzer, ASan/UBSan) in build/fuzz"
  cmake --preset fuzz >/dev/null
  cmake --build "$FUZZ_BUILD" -j "$JOBS" --target fuzz_all
}

# Each target in turn for $1 seconds, from the committed corpus and what
# earlier runs found (build/fuzz/corpus/TARGET, where new inputs go).
fuzz_long() {
  local secs=$1 t rc args targets
  shift
  targets=${*:-$(sed -n 's/^set(PS_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)}
  for t in $targets; do
    # The dictionary and length flags (tests/fuzz/CMakeLists.txt); none is an
    # empty file, which must not become an empty argument (a corpus path).
    mapfile -t args < <(grep -v '^$' "$FUZZ_BUILD/fuzz_$t.args" || true)
    mkdir -p "$FUZZ_BUILD/corpus/$t" "$FUZZ_BUILD/artifacts/$t"
    say "fuzz_$t for $secs s"
    rc=0
    nice -n 10 "$FUZZ_BUILD/bin/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
      -print_final_stats=1 "${args[@]}" -artifact_prefix="$FUZZ_BUILD/artifacts/$t/" \
      "$FUZZ_BUILD/corpus/$t" "tests/fuzz/corpus/$t" >"$FUZZ_BUILD/fuzz_$t.log" 2>&1 || rc=$?
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|property failed)' "$FUZZ_BUILD/fuzz_$t.log" || true
    if [ "$rc" -ne 0 ]; then
      echo "build.sh: fuzz_$t failed; the input is in build/fuzz/artifacts/$t/ (log: build/fuzz/fuzz_$t.log)" >&2
      return 1
    fi
  done
}

# Which lines of its parser each target's inputs reach: the targets built
# with clang's source-based coverage and a main that runs each input once
# (tests/fuzz/fuzz_replay.c), a profile per target, llvm-cov's report of the
# parser's file (and of the parser's function where the file holds more).
fuzz_coverage() {
  local grown=${1:-} t bin prof files fn dirs
  say "building the fuzz targets for coverage (clang, -fprofile-instr-generate) in build/fuzzcov"
  CC=clang CXX=clang++ cmake -S . -B "$FUZZCOV_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPS_FUZZ=ON \
    -DPS_FUZZ_COVERAGE=ON -DPS_TESTS=OFF >/dev/null
  cmake --build "$FUZZCOV_BUILD" -j "$JOBS" --target fuzz_all
  rm -rf "$FUZZCOV_BUILD/profiles" && mkdir -p "$FUZZCOV_BUILD/profiles"
  for t in $(sed -n 's/^set(PS_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt); do
    fn=""
    case $t in
      config) files=common/app/config.c ;;
      hostport) files=common/base/hostport.c ;;
      http) files=common/base/http.c ;;
      http_response) files=common/base/http.c fn=ps_http_parse_response ;;
      listen_spec) files=common/base/listen_spec.c ;;
      options) files=common/app/options.c ;;
      proxy) files=common/base/proxy.c ;;
      qotd) files=common/services/svc_qotd.c fn=ps_qotd_parse ;;
      *) echo "build.sh: fuzz-coverage: no parser file named for target $t" >&2; return 1 ;;
    esac
    bin=$FUZZCOV_BUILD/tests/fuzz/fuzz_$t
    prof=$FUZZCOV_BUILD/profiles/$t
    dirs=("tests/fuzz/corpus/$t")
    [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
    [ "$grown" = grown ] && [ -d "$FUZZ_BUILD/corpus/$t" ] && dirs+=("$FUZZ_BUILD/corpus/$t")
    say "fuzz_$t: ${dirs[*]}"
    LLVM_PROFILE_FILE=$prof.profraw "$bin" "${dirs[@]}"
    llvm-profdata-14 merge -sparse "$prof.profraw" -o "$prof.profdata"
    # The file's row: lines are columns 8-10, branches 11-13; a function's
    # row has its lines in 5-7.
    llvm-cov-14 report "$bin" -instr-profile="$prof.profdata" "$ROOT/$files" |
      awk -v f="$files" 'NR == 3 { printf "  %s: lines %d/%d (%s), branches %d/%d (%s)\n", f, $8 - $9, $8, $10, $11 - $12, $11, $13 }'
    [ -z "$fn" ] || llvm-cov-14 report -show-functions "$bin" -instr-profile="$prof.profdata" "$ROOT/$files" |
      awk -v f="$fn" '$1 == f { printf "  %s(): lines %d/%d (%s), branches %d/%d (%s)\n", f, $5 - $6, $5, $7, $8 - $9, $8, $10 }'
  done
  echo "(line by line: llvm-cov-14 show build/fuzzcov/tests/fuzz/fuzz_NAME -instr-profile=build/fuzzcov/profiles/NAME.profdata FILE)"
}

# Runs the Windows tests of build/win under the Wine chosen with --wine.
win_tests() {
  if [ "$PS_WINE" = 10 ]; then
    say "Windows tests under Wine 10 (Debian 13 root, build/roots; one prefix for the run)"
    "$ROOT/tools/root.sh" wine10-tests "$ROOT" ""
  else
    say "Windows tests under Wine (one prefix for the run: build/win/wineprefix)"
    ctest --test-dir "$WIN_BUILD" --output-on-failure --timeout 600
  fi
}

cmd=${1:-build}
[ $# -gt 0 ] && shift
PS_WINE=${PS_WINE:-8}
if [ "${1:-}" = "--wine" ]; then
  PS_WINE=${2:-}
  shift 2 || true
fi
case "$PS_WINE" in
  8|10) ;;
  *) echo "build.sh: --wine takes 8 (the machine's Wine) or 10 (a Debian 13 root), not '$PS_WINE'" >&2; exit 2 ;;
esac
export PS_WINE
case "$cmd" in
  build)
    ensure_deps; build_win; build_native ;;
  test)
    ensure_deps
    # The sources follow .clang-format (tools/format.sh --fix); PS_FORMAT_CHECK=0 skips this.
    if [ "${PS_FORMAT_CHECK:-1}" = 1 ]; then say "format check (tools/format.sh)"; tools/format.sh --check; fi
    build_win; build_native
    say "native unit tests"
    ctest --test-dir "$NATIVE_BUILD" --output-on-failure -j "$JOBS" --timeout 120
    # Every parser fuzzed for a bounded time (tests/fuzz/CMakeLists.txt:
    # 15 s each), after its regression inputs replay; a crash or a broken
    # property fails the run.
    build_fuzz
    say "fuzz targets: regressions, then 15 s of fuzzing each"
    ctest --test-dir "$FUZZ_BUILD" --output-on-failure -j "$JOBS" -L '^fuzz$'
    win_tests
    ;;
  wintest)
    [ -f "$WIN_BUILD/CTestTestfile.cmake" ] || { echo "build.sh: build/win is not built; run ./build.sh first" >&2; exit 1; }
    win_tests ;;
  run)
    ensure_deps; build_win
    . "$ROOT/tools/wine-env.sh"
    debug=${WINEDEBUG:-}
    ps_wine_env "${WINEPREFIX:-$ROOT/build/wineprefix-run}"
    [ -z "$debug" ] || export WINEDEBUG=$debug
    if [ ! -d "$WINEPREFIX" ]; then say "creating Wine prefix $WINEPREFIX"; ps_wine_quiet wineboot -i; fi
    [ $# -gt 0 ] || set -- run --listen echo=127.0.0.1:7007
    say "wine portserve.exe $*   (Ctrl+C stops it)"
    exec wine "$WIN_BUILD/bin/portserve.exe" "$@"
    ;;
  msi)
    ensure_deps; build_win; build_msi ;;
  bench)
    ensure_deps; exec bench/run.sh "$@" ;;
  mutants)
    case "${1:-}" in -h|--help) exec python3 "$ROOT/tools/mutants.py" --help ;; esac
    ensure_deps; build_win; build_native
    exec python3 "$ROOT/tools/mutants.py" "$@" ;;
  fuzz)
    ensure_deps; build_fuzz; fuzz_long "${1:-300}" "${@:2}" ;;
  fuzz-coverage)
    ensure_deps; fuzz_coverage "${1:-}" ;;
  clean)
    rm -rf "$ROOT/build" ;;
  -h|--help|help)
    sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' ;;
  *)
    echo "build.sh: unknown command '$cmd'" >&2
    sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
