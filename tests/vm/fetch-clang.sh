#!/bin/sh
# Fetches a newer clang than bookworm has (trixie's clang-22) into a cache,
# for the BPF arena code of the kernel's scx_qmap: clang-19, bookworm's
# newest, miscompiles one arena store in qmap_dequeue (docs/kernels.md).
# Does not touch the machine's own apt setup or /usr: the packages and the
# trixie C/C++ runtime they need are unpacked into the cache, and small
# wrappers run them through trixie's own dynamic loader (bookworm's glibc is
# too old for them). Prints the wrappers' directory: bin/clang-22,
# bin/llvm-strip-22, bin/llvm-objdump-22.
#
# Env: SCHEDKIT_CLANG_CACHE (default /var/cache/schedkit/clang),
#      SCHEDKIT_CLANG_VERSION (default 22), SCHEDKIT_CLANG_SUITE (default trixie).
set -eu

V=${SCHEDKIT_CLANG_VERSION:-22}
SUITE=${SCHEDKIT_CLANG_SUITE:-trixie}
CACHE=${SCHEDKIT_CLANG_CACHE:-/var/cache/schedkit/clang}
BIN=$CACHE/bin
if [ -x "$BIN/clang-$V" ] && "$BIN/clang-$V" --version >/dev/null 2>&1; then
	echo "$BIN"
	exit 0
fi

uri=$(grep -rhs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ {print $2}' | grep -v security | head -n1)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 ~ /^bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "fetch-clang: no Debian archive URI found in the apt sources" >&2; exit 1; }

st=$(mktemp -d)
trap 'rm -rf "$st"' EXIT
mkdir -p "$st/lists/partial" "$st/archives/partial" "$st/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $SUITE main" >"$st/sources.list"
opts="-o Dir::Etc::sourcelist=$st/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$st/lists -o Dir::Cache::archives=$st/archives -o Dir::State::status=/dev/null -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"
apt-get $opts update -qq >/dev/null 2>&1 ||
	{ echo "fetch-clang: apt-get update of $SUITE failed ($uri)" >&2; exit 1; }
# clang and LLVM, and the runtime libraries of their (trixie) dependencies.
pkgs="clang-$V libclang-cpp$V libllvm$V libclang-common-$V-dev llvm-$V libc6 libgcc-s1
libstdc++6 libedit2 libffi8 libxml2 libz3-4 libzstd1 zlib1g libbsd0 libmd0 libtinfo6
liblzma5 libicu76"
# shellcheck disable=SC2086
(cd "$st/debs" && apt-get $opts download $pkgs >"$st/download.log" 2>&1) ||
	{ echo "fetch-clang: downloading clang-$V from $SUITE failed: $(tail -1 "$st/download.log")" >&2; exit 1; }
rm -rf "$CACHE.tmp"
mkdir -p "$CACHE.tmp/root" "$CACHE.tmp/bin"
for d in "$st/debs"/*.deb; do dpkg-deb -x "$d" "$CACHE.tmp/root"; done
R=$CACHE/root
L=$R/usr/lib/x86_64-linux-gnu
for t in clang llvm-strip llvm-objdump; do
	extra=
	# clang finds its own headers relative to itself; through ld.so it sees ld.so's directory.
	[ $t = clang ] && extra="-resource-dir=$R/usr/lib/llvm-$V/lib/clang/$V"
	cat >"$CACHE.tmp/bin/$t-$V" <<W
#!/bin/sh
# $SUITE's $t-$V, run on this older system through $SUITE's own dynamic loader (tests/vm/fetch-clang.sh).
exec $L/ld-linux-x86-64.so.2 --library-path $L:$R/usr/lib/llvm-$V/lib $R/usr/lib/llvm-$V/bin/$t $extra "\$@"
W
	chmod +x "$CACHE.tmp/bin/$t-$V"
done
ls "$st/debs" >"$CACHE.tmp/PACKAGES"
rm -rf "$CACHE"
mv "$CACHE.tmp" "$CACHE"
"$BIN/clang-$V" --version >/dev/null 2>&1 ||
	{ echo "fetch-clang: $BIN/clang-$V does not run: $("$BIN/clang-$V" --version 2>&1 | head -2)" >&2; exit 1; }
echo "$BIN"
