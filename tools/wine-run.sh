#!/usr/bin/env bash
# ctest's emulator for the Windows programs it runs directly (the gtest
# executables, bench's portload tests): tools/wine-run.sh PROGRAM [ARGS...]
#
# Runs `wine PROGRAM ARGS...` once. If that exits non-zero without having
# printed a single byte, the program never got as far as main (gtest prints
# its banner before the first test), so this says so, with the exit code and
# time, and runs it once more. One CI run (2026-11-28, fresh Debian 12 root,
# Wine 8) had a unit test that cannot fail at run time end "Failed 0.00 sec"
# with no output at all (docs/wine-notes.md, "a Wine process that never
# starts"). A program that fails having printed anything is never re-run.
set -u
out=$(mktemp "${TMPDIR:-/tmp}/wine-run.XXXXXX")
trap 'rm -f "$out"' EXIT
for attempt in 1 2; do
  start=$(date +%s.%N)
  wine "$@" >"$out" 2>&1
  rc=$?
  cat "$out"
  if [ "$rc" = 0 ] || [ -s "$out" ] || [ "$attempt" = 2 ]; then exit "$rc"; fi
  printf 'wine-run.sh: wine %s exited %s after %.2f s without printing anything: it never started; running it once more\n' \
    "$1" "$rc" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" >&2
done
