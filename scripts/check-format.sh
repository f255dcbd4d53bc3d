#!/usr/bin/env bash
# Fails when a C++ file in the tree differs from .clang-format. The formatter is pinned:
# Debian 12's clang-format 14 (another version formats some constructs differently).
#   scripts/check-format.sh          check (test.sh runs this)
#   scripts/check-format.sh --fix    rewrite the files in place
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
want_major=14
formatter=$(command -v "clang-format-$want_major" || command -v clang-format || true)
if [ -z "$formatter" ]; then
  echo "check-format: clang-format $want_major is not installed (scripts/deps.sh test)" >&2
  exit 1
fi
version=$("$formatter" --version)
case "$version" in
  *"version $want_major."*) ;;
  *) echo "check-format: need clang-format $want_major, found: $version" >&2; exit 1 ;;
esac
cd "$root"
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.c' 2>/dev/null ||
                     find app core tests -name '*.[ch]pp')
if [ "${1:-}" = "--fix" ]; then
  "$formatter" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  if ! "$formatter" --dry-run -Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} file(s) differ from .clang-format (scripts/check-format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"
