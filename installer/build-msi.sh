#!/usr/bin/env bash
# Builds the portserve MSI on Linux with wixl (msitools):
#   installer/build-msi.sh VERSION PORTSERVE_EXE CONFIG_FILE OUTPUT.msi
# Used by `./build.sh msi` and by tests/e2e/test_msi.py. Paths may be
# relative to the current directory or absolute.
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 VERSION PORTSERVE_EXE CONFIG_FILE OUTPUT.msi" >&2
  exit 2
fi
version=$1 exe=$2 config=$3 out=$4
wxs=$(cd "$(dirname "$0")" && pwd)/portserve.wxs
for f in "$exe" "$config"; do
  [ -f "$f" ] || { echo "$0: $f: no such file" >&2; exit 1; }
done
abs() { (cd "$(dirname "$1")" && printf '%s/%s' "$(pwd)" "$(basename "$1")"); }
mkdir -p "$(dirname "$out")"
exe=$(abs "$exe") config=$(abs "$config") out=$(abs "$out")

# wixl looks sources up relative to its working directory only (an absolute
# Source is "not found"): run it from / with paths relative to /.
# Its warnings about the attributes it does not know (on Component, Property
# and MajorUpgrade) are expected (wixl-tables.py writes them below); anything
# else it prints is shown. -D Wixl=1 hides the elements it cannot parse (see
# the .wxs); ListenScript because wixl's $(sys.SOURCEFILEDIR) is wrong.
listen_js=$(dirname "$wxs")/listen.js
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! (cd / && wixl -a x64 -D Wixl=1 -D Version="$version" -D PortserveExe="${exe#/}" -D ConfigFile="${config#/}" \
        -D ListenScript="${listen_js#/}" -o "$out" "$wxs") 2>"$log"; then
  cat "$log" >&2
  exit 1
fi
grep -v -e "has no property named 'NeverOverwrite'" -e "has no property named 'Permanent'" \
  -e "has no property named 'Secure'" -e "has no property named 'AllowSameVersionUpgrades'" -e '^$' "$log" >&2 || true

# wixl writes Type="expandable" registry values as plain strings: give
# EventMessageFile the "#%" prefix that makes it REG_EXPAND_SZ, as candle does.
msibuild "$out" -q "UPDATE \`Registry\` SET \`Value\` = '#%[#PortserveExe]' WHERE \`Name\` = 'EventMessageFile'"

# Everything else wixl leaves out (component attributes and conditions,
# searches, Environment, IniFile, MoveFile, MsiLockPermissionsEx, the
# firewall custom actions, the service settings): see that script.
python3 "$(dirname "$wxs")/wixl-tables.py" "$wxs" "$out"
