#!/usr/bin/env bash
# ctest fixture: one Wine prefix per test run.
#   wine-fixture.sh setup PREFIX    create PREFIX and start a persistent wineserver for it
#   wine-fixture.sh cleanup PREFIX  stop that wineserver and delete PREFIX
# The wineserver must not inherit ctest's pipes (ctest would wait for it forever).
set -eu
action=$1
export WINEPREFIX=$2
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
case "$action" in
  setup)
    if [ -e "$WINEPREFIX" ]; then
      wineserver -k </dev/null >/dev/null 2>&1 || true
      rm -rf "$WINEPREFIX"
    fi
    mkdir -p "$WINEPREFIX"
    wineserver -p </dev/null >/dev/null 2>&1
    wineboot -i </dev/null >/dev/null 2>&1
    # Creating a prefix under a persistent wineserver leaves two services.exe
    # running, each with its own view of the services (docs/wine-notes.md):
    # restart the server once so the prefix boots with one.
    wineserver -k </dev/null >/dev/null 2>&1 || true
    wineserver -w </dev/null >/dev/null 2>&1 || true
    wineserver -p </dev/null >/dev/null 2>&1
    wineboot </dev/null >/dev/null 2>&1
    # Prove the prefix works before any test depends on it.
    wine cmd /c exit 0 </dev/null >/dev/null 2>&1
    echo "wine prefix ready: $WINEPREFIX"
    ;;
  cleanup)
    wineserver -k </dev/null >/dev/null 2>&1 || true
    # wineserver -k returns before the server has gone; wait for it (bounded).
    for _ in $(seq 1 50); do
      wineserver -k </dev/null >/dev/null 2>&1 || break
      sleep 0.1
    done
    rm -rf "$WINEPREFIX"
    echo "wine prefix removed: $WINEPREFIX"
    ;;
  *) echo "usage: $0 setup|cleanup PREFIX" >&2; exit 2 ;;
esac
