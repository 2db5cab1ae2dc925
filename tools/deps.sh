# The one list of what portserve needs from Debian, sourced by build.sh and
# bench/run.sh. Each line of a list is "test package": the package is
# installed when the test fails. Packages are named as Debian names them
# (bookworm and trixie).
#
#   ps_ensure_deps build   cross compilers, googletest, cmake/ninja, Wine,
#                          the installer tools and the real clients and
#                          peers the end-to-end tests drive (socat, nc,
#                          python3, curl, promtool, haproxy)
#   ps_ensure_deps wintest what running already built Windows tests needs
#   ps_ensure_deps benchrun  what running an already built benchmark needs
#   ps_ensure_deps bench   build + benchrun
#   ps_ensure_deps roots   debootstrap, for tools/root.sh (fresh-root CI, Wine 10)
#
# Wine: Debian's `wine` package brings /usr/bin/wine and wineserver; `wine64`
# alone (which --no-install-recommends would leave us with) brings neither,
# and every Windows test is then "Not Run". Name both.

# Running the Windows tests (build/win/, already built): Wine, ctest, the
# installer tools and the real clients the end-to-end tests drive.
# haproxy is tested as a file: /usr/sbin is not on every user's PATH.
# Installing it starts no daemon where no init system runs (a container, a
# chroot), and where one does, Debian's own configuration binds no port:
# the tests run their own haproxy with theirs.
ps__deps_wintest='
command:wine wine
command:wineserver wine
wine64 wine64
command:ctest cmake
command:python3 python3
command:socat socat
command:nc netcat-openbsd
command:wixl wixl
command:msiinfo msitools
command:msibuild msitools
command:ps procps
command:promtool prometheus
command:prometheus prometheus
command:curl curl
file:/usr/sbin/haproxy haproxy
'
# Building: the cross compilers (posix thread model: googletest needs
# std::mutex), googletest's source, cmake/ninja, a native compiler for
# common/ with the sanitizers, and clang-cl for the MSVC-mode check of the
# Visual Studio projects (tests/build_vcxproj.py), clang-format for
# tools/format.sh, and clang with libFuzzer for the fuzz targets (tests/fuzz:
# libFuzzer's main in libfuzzer-14-dev, its runtime and the sanitizers'
# in libclang-rt-14-dev, which clang only recommends; llvm-profdata-14 and
# llvm-cov-14 for ./build.sh fuzz-coverage in llvm-14).
ps__deps_build=$ps__deps_wintest'
command:x86_64-w64-mingw32-gcc-posix gcc-mingw-w64-x86-64
command:x86_64-w64-mingw32-g++-posix g++-mingw-w64-x86-64
command:x86_64-w64-mingw32-windres binutils-mingw-w64-x86-64
file:/usr/src/googletest/CMakeLists.txt googletest
command:cmake cmake
command:ninja ninja-build
command:gcc gcc
command:g++ g++
command:clang-cl-14 clang-tools-14
command:clang-format clang-format
command:clang clang
libfuzzer-14-dev libfuzzer-14-dev
libclang-rt-14-dev libclang-rt-14-dev
command:llvm-cov-14 llvm-14
'
ps__deps_bench='
command:strace strace
command:taskset util-linux
command:gnuplot gnuplot-nox
'
ps__deps_roots='
command:debootstrap debootstrap
command:findmnt util-linux
'

# Prints the packages of list $1 whose test fails.
ps__deps_missing() {
  local line test pkg
  while read -r test pkg; do
    [ -n "$test" ] || continue
    case "$test" in
      command:*) command -v "${test#command:}" >/dev/null 2>&1 && continue ;;
      file:*) [ -e "${test#file:}" ] && continue ;;
      *) dpkg-query -W -f='${Status}' "$test" 2>/dev/null | grep -q 'install ok installed' && continue ;;
    esac
    echo "$pkg"
  done <<<"$1"
}

ps_ensure_deps() {
  local want="" missing sudo=""
  for set in "$@"; do
    case "$set" in
      wintest) want+=$ps__deps_wintest ;;
      build) want+=$ps__deps_build ;;
      benchrun) want+=$ps__deps_wintest$ps__deps_bench ;;
      bench) want+=$ps__deps_build$ps__deps_bench ;;
      roots) want+=$ps__deps_roots ;;
      *) echo "ps_ensure_deps: unknown set '$set'" >&2; return 2 ;;
    esac
  done
  missing=$(ps__deps_missing "$want" | sort -u | tr '\n' ' ')
  [ -n "${missing// /}" ] || return 0
  printf '==> installing: %s\n' "$missing"
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
  missing=$(ps__deps_missing "$want" | sort -u | tr '\n' ' ')
  if [ -n "${missing// /}" ]; then
    echo "ps_ensure_deps: still missing after apt-get install: $missing" >&2
    return 1
  fi
}
