#!/usr/bin/env bash
# Idle connections against portserve.exe under Wine: resident memory per idle
# connection, the timer sweep's cost, and (with --idle-timeout) that the
# sweep closes them all with the counters back at zero.
#
#   bench/idle10k.sh [--after-echo|--both] [CONNECTIONS] [IDLE_TIMEOUT_SEC] [HOLD_SEC]
#     defaults: 10000 connections that never send, idle timeout 0 (off), held 12 s
#     --after-echo  each connection echoes one 64-byte message first, then goes
#                   quiet (portload --idle-messages 1): idle after traffic
#     --both        never sent, then after one echo, each against a freshly
#                   started server; prints both figures per connection
#
# Needs ./build.sh first (build/win/bin/portserve.exe and a native portload:
# $PORTLOAD, else build/win/bench-native/bin/portload, the Release one)
# and a file limit above 2 x CONNECTIONS (the soft limit is raised to the hard
# one here). Uses its own Wine prefix, stopped and removed at the end.
# Exits 1 unless, in every round, all CONNECTIONS were held open (after their
# echo, with --after-echo), (with an idle timeout) the sweep closed every one
# of them, and the stop left the live counters at zero: ctest runs it as
# e2e.idle10k.
set -euo pipefail
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$(dirname "$0")/.."
ROOT=$PWD
WAYS="0"
case "${1:-}" in
  --after-echo) WAYS="1"; shift ;;
  --both) WAYS="0 1"; shift ;;
esac
N=${1:-10000}
IDLE=${2:-0}
HOLD=${3:-12}
EXE=$ROOT/build/win/bin/portserve.exe
LOAD=${PORTLOAD:-$ROOT/build/win/bench-native/bin/portload}
[ -x "$LOAD" ] && [ -f "$EXE" ] || { echo "bench/idle10k.sh: run ./build.sh first" >&2; exit 1; }
. "$ROOT/tools/wine-env.sh"
ps_wine_env "$ROOT/build/idle-prefix"
LOG=$ROOT/build/idle-server.log
LOADLOG=$ROOT/build/idle-load.log
rm -rf "$WINEPREFIX"; mkdir -p "$WINEPREFIX"
ps_wine_quiet wineserver -p
ps_wine_quiet wineboot -i
cleanup() {
  [ -n "${LOADER:-}" ] && kill "$LOADER" 2>/dev/null
  [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
  ps_wine_stop
  rm -rf "$WINEPREFIX"
}
trap cleanup EXIT
fail=0
summary=()

# One round against a fresh server: N connections, each after $1 echoed
# messages (0: never sent), held HOLD seconds.
hold() {
  local messages=$1 way before held opened
  way=$([ "$messages" = 0 ] && echo "never sent" || echo "after one 64-byte echo each")
  wine "$EXE" run --listen echo=127.0.0.1:0/tcp --stats-interval 2 --accepts 64 --idle-timeout "$IDLE" \
    </dev/null >"$LOG" 2>&1 &
  SRV=$!
  for _ in $(seq 1 150); do grep -q "ready" "$LOG" && break; sleep 0.2; done
  PORT=$(grep -o "listening on tcp 127.0.0.1:[0-9]*" "$LOG" | head -1 | sed 's/.*://')
  [ -n "$PORT" ] || { cat "$LOG" >&2; exit 1; }
  before=$(ps -o rss= -p "$SRV")
  "$LOAD" --target "127.0.0.1:$PORT" --mode idle --connections "$N" --duration "$HOLD" --threads 2 \
    --idle-messages "$messages" --size 64 >/dev/null 2>"$LOADLOG" &
  LOADER=$!
  # The server's stats line counts them open (connections, plus clients
  # that never sent whose accepts were set aside awaiting their first bytes:
  # --accept-data); portload's line says their echoes (if any) are done too.
  opened=0
  for _ in $(seq 1 300); do
    if grep -q "idle: all $N connections open" "$LOADLOG"; then
      line=$(grep "conns [0-9]* open" "$LOG" | tail -1 || true)
      open=$(sed -n 's/.*conns \([0-9]*\) open.*/\1/p' <<<"$line")
      waiting=$(sed -n 's/.* \([0-9]*\) awaiting-data.*/\1/p' <<<"$line")
      [ -n "$open" ] && [ $((open + ${waiting:-0})) = "$N" ] && { opened=1; break; }
    fi
    sleep 0.2
  done
  held=$(ps -o rss= -p "$SRV")
  wait "$LOADER" || true # idle mode counts the server's idle-timeout closes as errors
  LOADER=
  kill -INT "$SRV"
  wait "$SRV"
  SRV=
  echo "connections          $N, $way (idle timeout ${IDLE}s, held ${HOLD}s)"
  echo "server RSS           ${before} KiB before, ${held} KiB with $N open"
  per=$(awk -v a="$before" -v b="$held" -v n="$N" 'BEGIN { printf "%.2f KiB", (b - a) / n }')
  echo "per idle connection  $per"
  summary+=("$per $way")
  grep -E "timeouts:|live counters" "$LOG" | sed 's/^.*info  //'
  [ "$opened" = 1 ] || { echo "FAIL ($way): the server never had $N connections open" >&2; fail=1; }
  if [ "$IDLE" != 0 ]; then
    grep -q "timeouts: $N idle" "$LOG" || { echo "FAIL ($way): the idle timeout did not close all $N" >&2; fail=1; }
  fi
  grep -q "live counters: sockets 0, connections 0, buffers in use 0" "$LOG" ||
    { echo "FAIL ($way): live counters not zero after the stop" >&2; fail=1; }
}

for messages in $WAYS; do hold "$messages"; done
if [ "${#summary[@]}" -gt 1 ]; then
  printf 'per idle connection  %s\n' "$(IFS=,; echo "${summary[*]}" | sed 's/,/; /g')"
fi
exit "$fail"
