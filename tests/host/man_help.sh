#!/bin/sh
# The man pages, --help and the option tables agree, for every subcommand of
# skbuild and skrun: an option --help lists must be in the command's section
# of its man page (.SS "TOOL COMMAND"), and the reverse; --help must list
# every option of the command's getopt table (--list-options, which the bash
# completions are generated from), and the reverse. Also: the generated
# completions offer every subcommand and option.
. "$(dirname "$0")/../lib.sh"

# the long options of a --help text: its option lines ("  -x, --name ...")
# and its usage lines (the synopsis), not options named in the prose
help_opts() {
	sed -n -e 's/^ \{1,8\}\(-[A-Za-z0-9], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' \
		-e '/^usage: /p' -e '/^       sk[a-z]* /p' | grep -o -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u
}
# the long options of a man page section (troff writes - as \-)
man_section() { # PAGE TOOL COMMAND
	awk -v want="$2 $3" '
		/^\.SS / { s = $0; sub(/^\.SS +"?/, "", s); sub(/"$/, "", s); on = (s == want); next }
		/^\.SH / { on = 0 }
		on' "$1"
}
man_opts() {
	sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z0-9-]*' | grep -vx -- --help | sort -u
}
diff_sets() { # NAME A-FILE B-FILE A-NAME B-NAME
	_missing=$(comm -23 "$2" "$3" | tr '\n' ' ')
	_extra=$(comm -13 "$2" "$3" | tr '\n' ' ')
	if [ -z "$_missing$_extra" ]; then pass "$1"; else
		fail "$1" "${_missing:+in $4 but not $5: $_missing}${_extra:+in $5 but not $4: $_extra}"
	fi
}

for tool in skbuild skrun; do
	bin=$SK_BUILD/$tool
	page=$SK_ROOT/docs/man/$tool.1
	cmds=$("$bin" --help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}')
	[ -n "$cmds" ] || { fail "$tool --help lists its commands" "none found"; continue; }
	for cmd in $cmds; do
		"$bin" "$cmd" --help 2>&1 | help_opts >"$T/help"
		table=1
		"$bin" "$cmd" --list-options >"$T/table.raw" 2>/dev/null || table=0
		man_section "$page" "$tool" "$cmd" >"$T/section"
		if [ ! -s "$T/section" ]; then
			fail "$tool $cmd: a section .SS \"$tool $cmd\" in $tool.1" "missing"
			continue
		fi
		man_opts <"$T/section" >"$T/man"
		diff_sets "$tool $cmd: --help and $tool.1 name the same options" "$T/help" "$T/man" "--help" "$tool.1"
		if [ $table = 1 ]; then
			sed -n 's/=$//; /^--/p' "$T/table.raw" | grep -vx -- --help | sort -u >"$T/table"
			diff_sets "$tool $cmd: --help documents its option table" "$T/table" "$T/help" "the table" "--help"
		else
			# not counted either way: a dispatcher of subcommands has a table per subcommand
			echo "NOTE: $tool $cmd dispatches to subcommands; only --help and the man page compared"
		fi
	done
done

# bash completions: generated from the same tables
comp=$SK_BUILD/completions/skbuild
if [ -s "$comp" ] && [ -s "$SK_BUILD/completions/skrun" ]; then
	pass "bash completions generated into $SK_BUILD/completions"
	for tool in skbuild skrun; do
		if bash -c ". '$SK_BUILD/completions/$tool'
			COMP_WORDS=($tool ''); COMP_CWORD=1; _${tool}_complete
			printf '%s\n' \"\${COMPREPLY[@]}\" | grep -v '^-'" >"$T/c1" 2>"$T/c1.err" &&
			[ "$(sort "$T/c1" | tr '\n' ' ')" = "$("$SK_BUILD/$tool" --help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}' | sort | tr '\n' ' ')" ]; then
			pass "$tool completion offers every subcommand"
		else
			fail "$tool completion offers every subcommand" "$(cat "$T/c1" "$T/c1.err" | head -5)"
		fi
	done
	bash -c ". '$SK_BUILD/completions/skbuild'; COMP_WORDS=(skbuild push --ins); COMP_CWORD=2; _skbuild_complete
		printf '%s\n' \"\${COMPREPLY[@]}\"" >"$T/c2" 2>&1
	check_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
	check_eq "skbuild push --ins<TAB> completes both insecure options" "$(sort "$T/c2" | tr '\n' ' ')" \
		"--insecure --insecure-registry "
else
	fail "bash completions generated into $SK_BUILD/completions" "missing: make all writes them"
fi
