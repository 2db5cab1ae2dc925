#!/usr/bin/env bash
# clang-format over portserve's C and C++ sources (*.c, *.h, *.cc in include/,
# common/, server/, tests/, bench/ and examples/), with .clang-format (and
# tests/.clang-format).
#
#   tools/format.sh --check   list the files clang-format would change; exit 1 if any
#   tools/format.sh --fix     reformat those files in place
#
# Only files git knows are covered (nothing under build/). CLANG_FORMAT
# names the binary (default clang-format, Debian's; tools/deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}

mode=${1:-}
case "$mode" in
  --check|--fix) ;;
  *) echo "usage: tools/format.sh --check|--fix" >&2; exit 2 ;;
esac
command -v "$CLANG_FORMAT" >/dev/null || { echo "tools/format.sh: $CLANG_FORMAT not found (tools/deps.sh: build)" >&2; exit 2; }

dirs=()
for d in include common server tests bench examples; do [ -d "$d" ] && dirs+=("$d"); done
mapfile -t files < <(git ls-files -- "${dirs[@]/%//*.c}" "${dirs[@]/%//*.h}" "${dirs[@]/%//*.cc}" | sort)

differ=()
for f in "${files[@]}"; do
  if ! "$CLANG_FORMAT" --style=file "$f" | cmp -s - "$f"; then differ+=("$f"); fi
done

if [ "$mode" = --fix ]; then
  [ ${#differ[@]} -eq 0 ] || "$CLANG_FORMAT" --style=file -i "${differ[@]}"
  echo "tools/format.sh: reformatted ${#differ[@]} of ${#files[@]} files"
  exit 0
fi
[ ${#differ[@]} -eq 0 ] && exit 0
printf '%s\n' "${differ[@]}"
echo "tools/format.sh: ${#differ[@]} of ${#files[@]} files differ from .clang-format (tools/format.sh --fix)" >&2
exit 1
