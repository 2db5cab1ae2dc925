# shellcheck shell=bash
# The one description of the environment portserve runs Wine in.
#   shell:  . tools/wine-env.sh; ps_wine_env PREFIX   (tests/wine-fixture.sh,
#           bench/idle10k.sh, ./build.sh run)
#   CMake:  tests/CMakeLists.txt reads the PS_WINE_* lines into ctest's
#           environment for every Windows test (bench/CMakeLists.txt takes it from there)
#   Python: tools/wine_env.py reads them (bench/bench.py, bench/smoke.py,
#           tests/e2e/harness.py)
# So keep each PS_WINE_* line one line: NAME=VALUE words (or names) separated by
# spaces, in single quotes, with no quotes or expansions inside.
#
# WINEDEBUG=-all: no Wine debug output (WINEDEBUG=+winsock,+seh to debug;
#   ./build.sh run keeps a WINEDEBUG of the caller's).
# WINEDLLOVERRIDES=mscoree,mshtml=: no Mono or Gecko installer when a prefix is made.
# DISPLAY unset: nothing we run has a window, and Wine must not open one (a
#   crash dialog would wait for a click).
PS_WINE_VARS='WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml='
PS_WINE_UNSET='DISPLAY'
# Tests only (ctest), not ./build.sh run, which keeps the user's locale:
# Wine stores file names in the Unix locale's character set; under the C
# locale (a fresh root, CI's cleared environment) a name outside ASCII cannot
# be created at all, where Windows (UTF-16 names) takes any name
# (docs/wine-notes.md). A UTF-8 locale, as on any desktop, lets the non-ASCII
# path tests run; C.UTF-8 is built into Debian's glibc.
# shellcheck disable=SC2034 # read by tests/CMakeLists.txt
PS_WINE_TEST_VARS='LANG=C.UTF-8'

# ps_wine_env PREFIX: exports WINEPREFIX=PREFIX and PS_WINE_VARS, unsets PS_WINE_UNSET.
ps_wine_env() {
  local kv
  export WINEPREFIX=$1
  for kv in $PS_WINE_VARS; do export "${kv?}"; done
  # shellcheck disable=SC2086
  unset $PS_WINE_UNSET
}

# ps_wine_quiet CMD...: runs a Wine command with no terminal. A wineserver
# (started by any Wine command) must not inherit the caller's pipes: ctest
# would wait for it forever.
ps_wine_quiet() { "$@" </dev/null >/dev/null 2>&1; }

# ps_wine_stop: stops the wineserver of $WINEPREFIX and waits (at most 5 s)
# until it has gone: `wineserver -k` returns before the server has exited,
# and fails once there is none.
ps_wine_stop() {
  local _
  ps_wine_quiet wineserver -k || return 0
  for _ in $(seq 1 50); do
    ps_wine_quiet wineserver -k || return 0
    sleep 0.1
  done
}
