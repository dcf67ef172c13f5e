#!/bin/sh
# Fetches Debian's cloud kernel (sid, else trixie-backports), which enables
# sched_ext, into a cache: vmlinuz to boot in qemu and vmlinux for its BTF.
# Prints the cache directory. Does not touch the machine's own apt setup.
set -eu

CACHE=${SCHEDKIT_KERNEL_CACHE:-/var/cache/schedkit/kernel}
if [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/vmlinux" ] && [ -s "$CACHE/release" ]; then
	echo "$CACHE"
	exit 0
fi

uri=$(grep -rhs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ {print $2}' | grep -v security | head -n1)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 ~ /^bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "fetch-kernel: no Debian archive URI found in the apt sources" >&2; exit 1; }

st=$(mktemp -d)
trap 'rm -rf "$st"' EXIT
mkdir -p "$st/lists/partial" "$st/archives/partial" "$st/x"

try_suite() {
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $1 main" >"$st/sources.list"
	opts="-o Dir::Etc::sourcelist=$st/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$st/lists -o Dir::Cache::archives=$st/archives -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"
	apt-get $opts update -qq >/dev/null 2>&1 || return 1
	# Resolve the versioned package from the metapackage: sid moves.
	img=$(apt-cache $opts depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$img" ] || return 1
	ver=${img#linux-image-}
	(cd "$st" && apt-get $opts download "linux-binary-$ver" "linux-base-$ver" >/dev/null 2>&1) ||
		(cd "$st" && apt-get $opts download "$img" >/dev/null 2>&1) || return 1
	echo "$ver"
}

ver=$(try_suite sid) || ver=$(try_suite trixie-backports) ||
	{ echo "fetch-kernel: could not download a cloud kernel from sid or trixie-backports" >&2; exit 1; }
for d in "$st"/*.deb; do dpkg-deb -x "$d" "$st/x"; done

vmlinuz=$(find "$st/x" -name vmlinuz -o -name "vmlinuz-$ver" | head -n1)
config=$(find "$st/x" -name config -path "*$ver*" -o -name "config-$ver" | head -n1)
[ -n "$vmlinuz" ] || { echo "fetch-kernel: no vmlinuz in the $ver packages" >&2; exit 1; }
[ -n "$config" ] || { echo "fetch-kernel: no kernel config in the $ver packages" >&2; exit 1; }
grep -q '^CONFIG_SCHED_CLASS_EXT=y' "$config" ||
	{ echo "fetch-kernel: kernel $ver lacks CONFIG_SCHED_CLASS_EXT=y" >&2; exit 1; }

# The bzImage payload is zstd: decompress from the first zstd frame magic.
off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$vmlinuz" | head -n1 | cut -d: -f1)
[ -n "$off" ] || { echo "fetch-kernel: no zstd payload in $vmlinuz" >&2; exit 1; }
tail -c +"$((off + 1))" "$vmlinuz" | zstd -dq -c >"$st/vmlinux" 2>/dev/null || true
head -c 4 "$st/vmlinux" | grep -q 'ELF' || { echo "fetch-kernel: decompressed payload is not ELF" >&2; exit 1; }

mkdir -p "$CACHE"
cp "$vmlinuz" "$CACHE/vmlinuz.tmp" && mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
cp "$st/vmlinux" "$CACHE/vmlinux.tmp" && mv "$CACHE/vmlinux.tmp" "$CACHE/vmlinux"
cp "$config" "$CACHE/config"
echo "$ver" >"$CACHE/release.tmp" && mv "$CACHE/release.tmp" "$CACHE/release"
echo "$CACHE"
