#!/usr/bin/env bash
# The layering is enforced, not only followed: core/ must not see app/ (nor CLI11 or JSON).
#   check.sh CXX VIEWS SOURCE_DIR
# 1. Through core's include view, a core file that includes an app header does not compile,
#    while one that includes a core header does (so the failure is the layering, not the set-up).
# 2. No file in core/ names app/, CLI11 or nlohmann headers (also headers no core .cpp uses).
set -u
cxx=$1 views=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

printf '#include "core/duration.hpp"\nint main() { return 0; }\n' > "$tmp/ok.cpp"
if ! "$cxx" -std=c++20 -fsyntax-only -I"$views/core" "$tmp/ok.cpp" 2> "$tmp/ok.err"; then
    echo "layering: a core header does not compile through core's view:"; cat "$tmp/ok.err"
    fail=1
fi
printf '#include "app/options.hpp"\nint main() { return 0; }\n' > "$tmp/bad.cpp"
if "$cxx" -std=c++20 -fsyntax-only -I"$views/core" "$tmp/bad.cpp" 2> "$tmp/bad.err"; then
    echo "layering: core's include view lets core include app/options.hpp"
    fail=1
elif ! grep -q 'app/options.hpp' "$tmp/bad.err"; then
    echo "layering: the app include failed for another reason:"; cat "$tmp/bad.err"
    fail=1
fi
if grep -rnE '#[[:space:]]*include[[:space:]]*[<"](app/|CLI/|nlohmann/)' "$src/core"; then
    echo "layering: core/ includes app/, CLI11 or nlohmann_json (above)"
    fail=1
fi
[ "$fail" = 0 ] && echo "layering: core sees only core/ (ok)"
exit "$fail"
