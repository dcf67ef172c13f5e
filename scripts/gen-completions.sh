#!/bin/sh
# Writes the bash completion of TOOL (skbuild or skrun) from the program
# itself: its subcommands from `TOOL --help`, each subcommand's options from
# `TOOL CMD --list-options` (the command's getopt table). Run by make all;
# installed by make install. usage: gen-completions.sh TOOL BINARY >FILE
set -eu
tool=$1
bin=$2
cmds=$("$bin" --help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}')
[ -n "$cmds" ] || { echo "gen-completions: $bin --help lists no commands" >&2; exit 1; }
fn=_${tool}_complete
cat <<HDR
# bash completion for $tool, generated from its option tables by
# scripts/gen-completions.sh; do not edit.
$fn() {
	local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} opts=""
	if [ "\$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=(\$(compgen -W "$(echo $cmds) --help --version" -- "\$cur"))
		return
	fi
	case \$cmd in
HDR
for c in $cmds; do
	# a command that dispatches to subcommands of its own has no one table:
	# the options its --help lists instead
	if ! opts=$("$bin" "$c" --list-options 2>/dev/null); then
		opts=$("$bin" "$c" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	fi
	opts=$(echo "$opts" | sed 's/=$//' | tr '\n' ' ')
	printf '\t%s) opts="%s" ;;\n' "$c" "${opts% }"
done
cat <<FTR
	esac
	case \$cur in
	-*) COMPREPLY=(\$(compgen -W "\$opts" -- "\$cur")) ;;
	*) COMPREPLY=(\$(compgen -f -- "\$cur")) ;;
	esac
}
complete -F $fn $tool
FTR
