#!/bin/sh
# `make lint` inside `make check`: cppcheck, clang-tidy and clang-format must
# all be clean (scripts/lint.sh prints the findings).
. "$(dirname "$0")/../lib.sh"
cd "$SK_ROOT" || exit 1
for tool in cppcheck tidy format; do
	if LINT_ONLY=$tool sh scripts/lint.sh >"$T/$tool.out" 2>&1; then
		pass "lint $tool: $(grep '^lint: .* clean' "$T/$tool.out" | head -n1 | sed 's/^lint: //')"
	else
		fail "lint $tool" "$(grep '^lint: ' "$T/$tool.out" | head -n1 | sed 's/^lint: //')"
		grep -v '^lint: ' "$T/$tool.out" | head -n 40 | sed 's/^/    | /'
	fi
done
