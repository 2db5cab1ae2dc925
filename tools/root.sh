#!/usr/bin/env bash
# Fresh Debian roots for the newcomer's path (.ci/run) and for a second Wine
# (Wine 10 from Debian 13). A root is made with debootstrap --variant=minbase
# plus git and ca-certificates, nothing else; only that bare root is cached
# (a tarball, refreshed weekly), never one with the project's packages.
#
#   tools/root.sh make SUITE DIR      a fresh root of SUITE (bookworm, trixie) in DIR,
#                                     with /etc/hosts like a fresh install's
#   tools/root.sh run DIR CMD...      mount proc/sys/dev, run CMD in the root with a
#                                     cleared environment (CI=true passed on), unmount
#   tools/root.sh destroy DIR         stop the root's processes, unmount, delete DIR
#   tools/root.sh with SUITE PROJECT AT DEPS CMD...
#                                     in a fresh SUITE root with PROJECT mounted at AT
#                                     ("" = the same path) and the tools/deps.sh set
#                                     DEPS installed, run CMD in AT; delete the root
#                                     (./build.sh --wine 10: tests and bench under Wine 10)
#   tools/root.sh wine10-tests PROJECT AT
#                                     the Windows tests of PROJECT's build/win under Wine 10:
#                                     `with trixie` and ctest, all but the build checks
#                                     (./build.sh test --wine 10 and .ci/run's second stage)
#
# Needs root (debootstrap, chroot, mount). Environment: PS_ROOT_CACHE (default
# /var/cache/portserve/roots), PS_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# PS_ROOTS_DIR (where `with` makes its root; default PROJECT/build/roots).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${PS_ROOT_CACHE:-/var/cache/portserve/roots}
MIRROR=${PS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE_MAX_DAYS=7

say() { printf '==> %s\n' "$*"; }
die() { printf 'tools/root.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mount)"

# Mount points under DIR, deepest first.
root__mounts() { findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r; }

root__make() {
  local suite=$1 dir=$2 tarball=$CACHE/$1-minbase.tar.gz
  [ ! -e "$dir" ] || die "$dir exists; destroy it first"
  . "$HERE/deps.sh"
  ps_ensure_deps roots
  mkdir -p "$CACHE" "$dir"
  if [ -n "$(find "$tarball" -mtime -"$CACHE_MAX_DAYS" 2>/dev/null)" ]; then
    say "bare $suite root from the cache ($tarball)"
    tar -xzf "$tarball" -C "$dir"
  else
    say "debootstrap --variant=minbase --include=git,ca-certificates $suite ($MIRROR)"
    if ! debootstrap --variant=minbase --include=git,ca-certificates "$suite" "$dir" "$MIRROR" \
        >"$dir.debootstrap.log" 2>&1; then
      tail -n 20 "$dir.debootstrap.log" >&2
      rm -rf --one-file-system "$dir"
      die "debootstrap of $suite failed (log above: $dir.debootstrap.log)"
    fi
    rm -f "$dir.debootstrap.log"
    tar -czf "$tarball.tmp" -C "$dir" . && mv "$tarball.tmp" "$tarball"
  fi
  # What a fresh install has and debootstrap does not write: localhost on
  # both loopbacks (Debian's installer writes exactly this), and the
  # resolver the machine uses.
  cat >"$dir/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
  echo portserve-ci >"$dir/etc/hostname"
}

root__mount() {
  local dir=$1
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
  mountpoint -q "$dir/sys" || mount -t sysfs sysfs "$dir/sys"
  mountpoint -q "$dir/dev" || mount --bind /dev "$dir/dev"
  mountpoint -q "$dir/dev/pts" || mount -t devpts -o newinstance,ptmxmode=0666 devpts "$dir/dev/pts"
  mountpoint -q "$dir/dev/shm" || mount -t tmpfs -o mode=1777 tmpfs "$dir/dev/shm"
}

# Ends every process whose root is DIR (a wineserver a test left behind would
# keep the mounts busy), by PID.
root__stop_processes() {
  local dir pid
  dir=$(readlink -f "$1")
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local left=""
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
      [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$dir" ] && left+=" $pid"
    done
    [ -n "$left" ] || return 0
    # shellcheck disable=SC2086
    kill $left 2>/dev/null || true
    sleep 0.5
  done
  for pid in $left; do kill -9 "$pid" 2>/dev/null || true; done
}

root__umount() {
  local dir=$1 m
  root__stop_processes "$dir"
  for m in $(root__mounts "$dir"); do umount "$m" 2>/dev/null || umount -l "$m"; done
  [ -z "$(root__mounts "$dir")" ] || die "still mounted under $dir: $(root__mounts "$dir" | tr '\n' ' ')"
}

root__run() {
  local dir=$1 rc=0
  shift
  root__mount "$dir"
  chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    ${CI:+CI=$CI} "$@" || rc=$?
  root__umount "$dir"
  return "$rc"
}

root__destroy() {
  local dir=$1
  [ -e "$dir" ] || return 0
  root__umount "$dir"
  # Nothing may be mounted below: a bind mount of a project would be deleted
  # with it (--one-file-system does not tell a bind mount of the same disk).
  rm -rf --one-file-system "$dir"
}

# Runs CMD in a fresh SUITE root with PROJECT mounted at AT, after
# installing the deps set DEPS there (tools/deps.sh), then deletes the root.
root__with() {
  local suite=$1 project at=$3 deps=$4 dir rc=0
  project=$(readlink -f "$2")
  [ -n "$at" ] || at=$project
  shift 4
  dir=${PS_ROOTS_DIR:-$project/build/roots}/$suite-$deps
  root__destroy "$dir"
  trap 'root__destroy "'"$dir"'"' EXIT
  root__make "$suite" "$dir"
  mkdir -p "$dir$at"
  root__mount "$dir"
  mount --bind "$project" "$dir$at"
  chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    ${CI:+CI=$CI} bash -c 'set -e; cd "$1"; . tools/deps.sh; ps_ensure_deps "$2"; shift 2; "$@"' \
    _ "$at" "$deps" "$@" || rc=$?
  root__destroy "$dir"
  trap - EXIT
  return "$rc"
}

# The Windows tests of an existing build/win under Wine 10, the one way both
# ./build.sh and CI run them: every test but the checks of the build itself
# (label `build`: they need the build machine's compilers).
root__wine10_tests() {
  root__with trixie "$1" "$2" wintest ctest --test-dir build/win --output-on-failure --timeout 600 -LE build
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  make) [ $# -eq 2 ] || die "usage: make SUITE DIR"; root__make "$1" "$2" ;;
  run) [ $# -ge 2 ] || die "usage: run DIR CMD..."; root__run "$@" ;;
  destroy) [ $# -eq 1 ] || die "usage: destroy DIR"; root__destroy "$1" ;;
  with) [ $# -ge 5 ] || die "usage: with SUITE PROJECT AT DEPS CMD..."; root__with "$@" ;;
  wine10-tests) [ $# -eq 2 ] || die "usage: wine10-tests PROJECT AT"; root__wine10_tests "$1" "$2" ;;
  *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
