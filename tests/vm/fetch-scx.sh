#!/bin/sh
# Fetches the upstream sched_ext example schedulers and their scx headers
# (the kernel's tools/sched_ext/) from Debian sid's linux-source package
# into a cache, to test that third-party schedulers written against those
# headers build and run with schedkit. Prints the cache directory. Does not
# touch the machine's own apt setup.
#
# Cached: tools/sched_ext/ only (the examples, include/scx and
# include/bpf-compat; ~320 KiB) and a VERSION file naming the source package.
# Their BPF side needs nothing else from the tree: beyond those directories
# and vmlinux.h it includes only libbpf's headers and <asm-generic/errno.h>
# (linux-libc-dev). The ~160 MB package goes through a temp dir and is dropped.
set -eu

CACHE=${SCHEDKIT_SCX_CACHE:-/var/cache/schedkit/scx}
if [ -s "$CACHE/VERSION" ] && [ -d "$CACHE/tools/sched_ext/include/scx" ]; then
	echo "$CACHE"
	exit 0
fi

uri=$(grep -rhs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ {print $2}' | grep -v security | head -n1)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 ~ /^bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "fetch-scx: no Debian archive URI found in the apt sources" >&2; exit 1; }

st=$(mktemp -d)
trap 'rm -rf "$st"' EXIT
mkdir -p "$st/lists/partial" "$st/archives/partial" "$st/x"

echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri sid main" >"$st/sources.list"
opts="-o Dir::Etc::sourcelist=$st/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$st/lists -o Dir::Cache::archives=$st/archives -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"
# shellcheck disable=SC2086
apt-get $opts update -qq >/dev/null 2>&1 ||
	{ echo "fetch-scx: apt-get update of sid from $uri failed" >&2; exit 1; }
# The versioned package (linux-source-X.Y) comes from the metapackage: sid moves.
# shellcheck disable=SC2086
pkg=$(apt-cache $opts depends linux-source 2>/dev/null |
	awk '/Depends: linux-source-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "fetch-scx: sid's linux-source names no linux-source-X.Y package" >&2; exit 1; }
# shellcheck disable=SC2086
(cd "$st" && apt-get $opts download "$pkg" >/dev/null 2>&1) ||
	{ echo "fetch-scx: could not download $pkg from sid" >&2; exit 1; }
deb=$(ls "$st"/"$pkg"_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { echo "fetch-scx: $pkg downloaded but no .deb found" >&2; exit 1; }

# The package holds usr/src/<pkg>.tar.xz; stream it out and unpack only
# tools/sched_ext/.
dpkg-deb --fsys-tarfile "$deb" | tar -xf - -C "$st/x" --wildcards './usr/src/linux-source-*.tar.*' ||
	{ echo "fetch-scx: $deb holds no usr/src/linux-source tarball" >&2; exit 1; }
ver=$(dpkg-deb -f "$deb" Version)
rm -f "$deb"
src=$(ls "$st"/x/usr/src/linux-source-*.tar.* | head -n1)
top=$(tar -tf "$src" 2>/dev/null | head -n1 | cut -d/ -f1)
mkdir -p "$st/out"
tar -xf "$src" -C "$st/out" --strip-components=1 --wildcards \
	"$top/tools/sched_ext/*" ||
	{ echo "fetch-scx: $src has no $top/tools/sched_ext" >&2; exit 1; }
[ -d "$st/out/tools/sched_ext/include/scx" ] ||
	{ echo "fetch-scx: $pkg lacks tools/sched_ext/include/scx" >&2; exit 1; }
echo "$pkg $ver" >"$st/out/VERSION"

# Replace the cache in one rename so a reader never sees half of it.
mkdir -p "$(dirname "$CACHE")"
rm -rf "$CACHE.tmp"
mv "$st/out" "$CACHE.tmp"
rm -rf "$CACHE.old"
[ ! -e "$CACHE" ] || mv "$CACHE" "$CACHE.old"
mv "$CACHE.tmp" "$CACHE"
rm -rf "$CACHE.old"
echo "$CACHE"
