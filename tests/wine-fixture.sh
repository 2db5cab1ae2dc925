#!/usr/bin/env bash
# ctest fixture: one Wine prefix per test run.
#   wine-fixture.sh setup PREFIX    create PREFIX and start a persistent wineserver for it
#   wine-fixture.sh cleanup PREFIX  stop that wineserver and delete PREFIX
# The wineserver must not inherit ctest's pipes (ctest would wait for it forever).
set -eu
action=$1
. "$(dirname "$0")/../tools/wine-env.sh"
ps_wine_env "$2"
case "$action" in
  setup)
    if [ -e "$WINEPREFIX" ]; then
      ps_wine_quiet wineserver -k || true
      rm -rf "$WINEPREFIX"
    fi
    mkdir -p "$WINEPREFIX"
    ps_wine_quiet wineserver -p
    ps_wine_quiet wineboot -i
    # Creating a prefix under a persistent wineserver leaves two services.exe
    # running, each with its own view of the services (docs/wine-notes.md):
    # restart the server once so the prefix boots with one.
    ps_wine_quiet wineserver -k || true
    ps_wine_quiet wineserver -w || true
    ps_wine_quiet wineserver -p
    ps_wine_quiet wineboot
    # Prove the prefix works before any test depends on it.
    ps_wine_quiet wine cmd /c exit 0
    # Wine 8 reports Windows 7 unless told otherwise, and the engine keeps
    # UDP sockets off skip-on-success before Windows 8 (docs/wine-notes.md,
    # row 36): the engine tests run as Windows 10, so that path is tested.
    ps_wine_quiet wine reg add 'HKCU\Software\Wine\AppDefaults\engine_tests.exe' /v Version /t REG_SZ /d win10 /f
    echo "wine prefix ready: $WINEPREFIX"
    ;;
  cleanup)
    ps_wine_stop
    rm -rf "$WINEPREFIX"
    echo "wine prefix removed: $WINEPREFIX"
    ;;
  *) echo "usage: $0 setup|cleanup PREFIX" >&2; exit 2 ;;
esac
