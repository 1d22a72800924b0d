#!/bin/sh
# Checks the dynamic symbol table of the shared library against the public headers:
#  - every defined dynamic symbol is a rotor_* function (no C++ std templates, no internals);
#  - every function declared with ROTOR_API in the headers is exported;
#  - nothing named rotor_* is exported that no public header declares.
# Usage: check_symbols.sh <librotor.so> <include/rotor dir> [nm program]
set -eu
lib=$1
include_dir=$2
nm_tool=${3:-nm}

exported=$(mktemp) declared=$(mktemp)
trap 'rm -f "$exported" "$declared"' EXIT

# "address type name[@version]": keep the name. Undefined symbols (imports) are excluded.
"$nm_tool" -D --defined-only "$lib" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u >"$exported"
# Declarations put ROTOR_API, the return type and the name on one line: "ROTOR_API T *name(".
# A name in parentheses (a function that a macro of the same name wraps) is a declaration too.
cat "$include_dir"/*.h | sed 's/(\(rotor_[A-Za-z0-9_]*\))(/ \1(/' | grep -o 'ROTOR_API[^(;]*(' | sed 's/.*[ *]\([A-Za-z_][A-Za-z0-9_]*\)($/\1/' |
  grep '^rotor_' | sort -u >"$declared"

status=0
if [ ! -s "$exported" ]; then echo "check_symbols: $lib exports nothing"; exit 1; fi
if [ ! -s "$declared" ]; then echo "check_symbols: no ROTOR_API declaration in $include_dir"; exit 1; fi
foreign=$(grep -v '^rotor_' "$exported" || true)
if [ -n "$foreign" ]; then
  echo "check_symbols: exported symbols outside the C API:"; echo "$foreign" | sed 's/^/  /'; status=1
fi
missing=$(comm -23 "$declared" "$exported")
if [ -n "$missing" ]; then
  echo "check_symbols: declared in the headers but not exported:"; echo "$missing" | sed 's/^/  /'; status=1
fi
undeclared=$(grep '^rotor_' "$exported" | comm -13 "$declared" -)
if [ -n "$undeclared" ]; then
  echo "check_symbols: exported but declared in no public header:"; echo "$undeclared" | sed 's/^/  /'; status=1
fi
if [ "$status" -eq 0 ]; then
  echo "check_symbols: $(wc -l <"$exported") symbols exported, all rotor_* and all declared"
fi
exit "$status"
