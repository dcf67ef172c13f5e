#!/bin/sh
# Fetches Debian cloud kernels that enable sched_ext into a cache: vmlinuz to
# boot in qemu and vmlinux for its BTF. Does not touch the machine's own apt
# setup (a private sources list and state directory).
#
#   fetch-kernel.sh             the default kernel (sid's, else trixie-backports'
#                               newest) into $CACHE/{vmlinuz,vmlinux,config,release};
#                               prints $CACHE
#   fetch-kernel.sh NAME...     each kernel into $CACHE/NAME/ (same files); prints
#                               one directory per line. NAME is "sid" (sid's
#                               current cloud kernel) or MAJOR.MINOR ("6.16",
#                               "7.3": the newest cloud kernel of that series in
#                               trixie-backports or sid)
#
# Every kernel must have CONFIG_SCHED_CLASS_EXT=y, or the fetch fails.
set -eu

CACHE=${SCHEDKIT_KERNEL_CACHE:-/var/cache/schedkit/kernel}

# config is optional: 7.1's packages carry none (see fetch_version).
have() { [ -s "$1/vmlinuz" ] && [ -s "$1/vmlinux" ] && [ -s "$1/release" ]; }

if [ $# -eq 0 ] && have "$CACHE"; then
	echo "$CACHE"
	exit 0
fi
need=0
for n in "$@"; do
	case $n in
	sid | [0-9]*.[0-9]*) ;;
	*)
		echo "fetch-kernel: '$n' is not a kernel name: use sid or MAJOR.MINOR (e.g. 6.16)" >&2
		exit 2
		;;
	esac
	have "$CACHE/$n" || need=1
done
if [ $# -gt 0 ] && [ $need -eq 0 ]; then
	for n in "$@"; do echo "$CACHE/$n"; done
	exit 0
fi

uri=$(grep -rhs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ {print $2}' | grep -v security | head -n1)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 ~ /^bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "fetch-kernel: no Debian archive URI found in the apt sources" >&2; exit 1; }

st=$(mktemp -d)
trap 'rm -rf "$st"' EXIT

# One private apt state per suite set, updated once.
apt_state() { # DIR SUITE...
	d=$1
	shift
	mkdir -p "$d/lists/partial" "$d/archives/partial"
	: >"$d/sources.list"
	for s in "$@"; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $s main" >>"$d/sources.list"
	done
	apt-get $(apt_opts "$d") update -qq >/dev/null 2>&1
}
apt_opts() {
	echo "-o Dir::Etc::sourcelist=$1/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$1/lists -o Dir::Cache::archives=$1/archives -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"
}

# The versioned kernel of the metapackage: sid moves.
meta_version() { # STATEDIR
	apt-cache $(apt_opts "$1") depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {sub(/^linux-image-/, "", $2); print $2; exit}'
}

# The newest cloud kernel of a MAJOR.MINOR series.
series_version() { # STATEDIR SERIES
	apt-cache $(apt_opts "$1") pkgnames linux-image-"$2". 2>/dev/null |
		grep -E "^linux-image-$(echo "$2" | sed 's/\./\\./')\.[0-9]+\+deb[0-9]+-cloud-amd64\$" |
		sed 's/^linux-image-//' | sort -V | tail -n1
}

# Downloads and unpacks one kernel version into DEST (replaced atomically).
fetch_version() { # STATEDIR VERSION DEST
	w="$st/w.$2"
	mkdir -p "$w/x"
	# 7.x splits the kernel (linux-binary) and its config (linux-base, a real
	# package from 7.2, provided by linux-binary in 7.1) off linux-image, which
	# only depends on them; 6.x has everything in linux-image.
	if (cd "$w" && apt-get $(apt_opts "$1") download "linux-binary-$2" >/dev/null 2>&1); then
		(cd "$w" && apt-get $(apt_opts "$1") download "linux-base-$2" >/dev/null 2>&1) || true
	else
		(cd "$w" && apt-get $(apt_opts "$1") download "linux-image-$2" >/dev/null 2>&1) ||
			{ echo "fetch-kernel: could not download the packages of kernel $2" >&2; return 1; }
	fi
	for d in "$w"/*.deb; do dpkg-deb -x "$d" "$w/x"; done
	vmlinuz=$(find "$w/x" \( -name vmlinuz -o -name "vmlinuz-$2" \) -type f | head -n1)
	config=$(find "$w/x" \( -name config -path "*$2*" -o -name "config-$2" \) -type f | head -n1)
	[ -n "$vmlinuz" ] || { echo "fetch-kernel: no vmlinuz in the $2 packages" >&2; return 1; }
	if [ -n "$config" ]; then
		grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$config" ||
			{ echo "fetch-kernel: kernel $2 lacks CONFIG_SCHED_CLASS_EXT=y: it cannot run sched_ext" >&2; return 1; }
	fi
	# The bzImage payload is zstd: decompress from the first zstd frame magic.
	off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$vmlinuz" | head -n1 | cut -d: -f1)
	[ -n "$off" ] || { echo "fetch-kernel: no zstd payload in $vmlinuz" >&2; return 1; }
	tail -c +"$((off + 1))" "$vmlinuz" | zstd -dq -c >"$w/vmlinux" 2>/dev/null || true
	head -c 4 "$w/vmlinux" | grep -q 'ELF' ||
		{ echo "fetch-kernel: the decompressed payload of $2 is not ELF" >&2; return 1; }
	# Without a config (7.1 ships none in linux-binary and has no linux-base),
	# the BTF decides: struct sched_ext_ops exists only with CONFIG_SCHED_CLASS_EXT=y.
	if [ -z "$config" ]; then
		bpftool btf dump file "$w/vmlinux" 2>/dev/null | grep -q "^\[[0-9]*\] STRUCT 'sched_ext_ops' " ||
			{ echo "fetch-kernel: kernel $2 has no config and no struct sched_ext_ops in its BTF: it cannot run sched_ext" >&2; return 1; }
	fi
	mkdir -p "$3"
	cp "$vmlinuz" "$3/vmlinuz.tmp" && mv "$3/vmlinuz.tmp" "$3/vmlinuz"
	cp "$w/vmlinux" "$3/vmlinux.tmp" && mv "$3/vmlinux.tmp" "$3/vmlinux"
	if [ -n "$config" ]; then cp "$config" "$3/config.tmp" && mv "$3/config.tmp" "$3/config"; fi
	echo "$2" >"$3/release.tmp" && mv "$3/release.tmp" "$3/release"
	rm -rf "$w"
}

if [ $# -eq 0 ]; then
	apt_state "$st/sid" sid && ver=$(meta_version "$st/sid") && [ -n "$ver" ] &&
		fetch_version "$st/sid" "$ver" "$CACHE" ||
		{ apt_state "$st/tbp" trixie-backports && ver=$(meta_version "$st/tbp") &&
			[ -n "$ver" ] && fetch_version "$st/tbp" "$ver" "$CACHE"; } ||
		{ echo "fetch-kernel: could not fetch a cloud kernel from sid or trixie-backports" >&2; exit 1; }
	echo "$CACHE"
	exit 0
fi

for n in "$@"; do
	if have "$CACHE/$n"; then
		echo "$CACHE/$n"
		continue
	fi
	if [ "$n" = sid ]; then
		[ -d "$st/sid" ] || apt_state "$st/sid" sid ||
			{ echo "fetch-kernel: apt-get update of sid failed ($uri)" >&2; exit 1; }
		ver=$(meta_version "$st/sid")
		state=$st/sid
	else
		[ -d "$st/all" ] || apt_state "$st/all" trixie-backports sid ||
			{ echo "fetch-kernel: apt-get update of trixie-backports and sid failed ($uri)" >&2; exit 1; }
		ver=$(series_version "$st/all" "$n")
		state=$st/all
	fi
	[ -n "$ver" ] || { echo "fetch-kernel: no cloud kernel of series $n in sid or trixie-backports" >&2; exit 1; }
	fetch_version "$state" "$ver" "$CACHE/$n" || exit 1
	echo "$CACHE/$n"
done
