#!/bin/sh
# The adversarial corpus (tests/adversarial/mkcorpus.py) against skrun pull:
# hostile oci-archives (links and devices, names escaping through pax and GNU
# headers, huge, truncated, endless and too many entries), crafted layouts
# (deeply nested and very large JSON, thousands of layers or manifests, blobs
# larger or smaller than their descriptors, other digest algorithms, bad hex,
# bad sizes), the same served by a hostile registry (fakereg.py), and
# references with bad digests. Each is refused with a clear message into a
# fresh store that records nothing, keeps nothing in .tmp and still verifies;
# nothing outside the destination is touched. The basic '..', absolute-name
# and symlink archives are in registry_archive.sh, tampering through a proxy
# in registry_integrity.sh.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"
. "$SK_ROOT/tests/adversarial/storelib.sh"

ADV=$SK_ROOT/tests/adversarial
mkdir -p "$T/outside"
echo "must stay as it is" >"$T/outside/victim"
python3 "$ADV/mkcorpus.py" "$T/c" "$T/outside/victim" || reg_fatal "corpus" "mkcorpus.py failed"
snapshot "$T/outside" >"$T/outside.before"
C=$T/c

# only_store_files STORE: the store root holds what a store holds, nothing else.
only_store_files() {
	# leases/: the store's lease files (skrun store gc); a refused pull holds none after it exits
	_x=$(ls -A "$1" | grep -Ev '^(oci-layout|index\.json|blobs|\.tmp|leases)$')
	[ -z "$_x" ] || {
		echo "unexpected in $1: $_x"
		return 1
	}
}

# untouched STORE: nothing recorded or left behind, and the store verifies.
untouched() {
	nothing_recorded "$1" && tmp_empty "$1" && only_store_files "$1" &&
		"$SKRUN" store verify --store "$1" >/dev/null
}

# refused NAME PATTERN SOURCE [STORE]: the pull fails with PATTERN and leaves the store untouched.
n=0
refused() {
	n=$((n + 1))
	_st=${4:-$T/st$n}
	check_fails "$1" "$2" pull "$3" --store "$_st"
	check "$1: store untouched and consistent" untouched "$_st"
}

# ---- archives ----
special="refusing entry '[^']*': links, devices and other special files are not allowed"
for a in hardlink-out hardlink-abs hardlink-in symlink-out symlink-dir chardev blockdev fifo; do
	refused "archive with $a" "$special" "$C/archives/$a.tar"
done
refused "archive: pax path with '..'" "refusing entry '(\.\./)+.*victim-pax' \(absolute or '\.\.'\)" "$C/archives/pax-dotdot.tar"
refused "archive: GNU long name with '..'" "refusing entry 'blobs/(d/)+(\.\./)+gnu-escape' \(absolute or '\.\.'\)" \
	"$C/archives/gnu-longname-dotdot.tar"
refused "archive: duplicate entry" "refusing duplicate entry 'blobs/sha256/(ab)+'" "$C/archives/dup.tar"
refused "archive: foreign name" "unexpected entry 'etc/cron.d/evil'" "$C/archives/foreign-name.tar"
refused "archive: sha512 blob name" "unexpected entry 'blobs/sha512/(ef)+'" "$C/archives/sha512-name.tar"
refused "archive: upper-case hex blob name" "unexpected entry 'blobs/sha256/(AB)+'" "$C/archives/bad-hex-name.tar"
refused "archive: entry declaring 1 TiB" "entry 'blobs/sha256/(ab)+' is too large \(1099511627776 bytes\)" "$C/archives/huge-1tib.tar"
refused "archive: entry one byte over the blob limit" "is too large \(268435457 bytes\)" "$C/archives/huge-over-limit.tar"
refused "archive: entry whose data never comes" "entry 'blobs/sha256/(ab)+' is truncated" "$C/archives/truncated.tar"
refused "archive: 5000 entries" "more than 4096 entries" "$C/archives/too-many-entries.tar.gz"
refused "archive: not a tar" "not a readable tar archive" "$C/archives/not-a-tar.tar"
mount_tmpfs "$T/small" 2m
refused "archive: 64 MiB of zeros in 64 KiB, into a 2 MiB store" \
	"extracting 'blobs/sha256/(ab)+' into .*: No space left on device \(the archive is unpacked inside the store first" \
	"$C/archives/endless.tar.gz" "$T/small/store"
check "endless archive: the space is given back" sh -c "test \$(du -sk '$T/small' | cut -f1) -lt 64"

# ---- crafted layouts, pulled as directories ----
L=$C/layouts
notsha="is not sha256: followed by 64 lowercase hex digits"
refused "layout: index.json nested 100000 deep" "index.json: invalid JSON: nested deeper than 64 levels" "$L/deep-index:v1"
refused "layout: manifest nested 100000 deep" "sha256:[0-9a-f]{64}: invalid JSON: nested deeper than 64 levels" "$L/deep-manifest:v1"
refused "layout: 5 MiB index.json" "index.json: larger than the 4194304 bytes allowed" "$L/big-index:v1"
refused "layout: 5 MiB manifest" "larger than the 4194304 bytes allowed" "$L/big-manifest:v1"
refused "layout: 5 MiB manifest whose descriptor says 300 bytes" "larger than the 4194304 bytes allowed" "$L/big-manifest-lying:v1"
refused "layout: manifest with 5000 layers" "has 5000 layers, more than the 256 allowed" "$L/many-layers:v1"
refused "layout: index with 5000 manifests" "lists 5000 manifests, more than the 256 allowed" "$L/many-manifests:v1"
refused "layout: layer larger than its descriptor" "refusing blob: blob sha256:[0-9a-f]{64}: 150 bytes arrived, 100 expected" "$L/blob-larger:v1"
refused "layout: config larger than its descriptor" "211 bytes arrived, 20 expected" "$L/config-larger:v1"
refused "layout: layer shorter than its descriptor" "150 bytes arrived, 400 expected" "$L/blob-shorter:v1"
refused "layout: layer descriptor of 2^62 bytes" "size 4611686018427387904 is beyond the 268435456 bytes allowed" "$L/blob-huge-size:v1"
for x in sha512-layer sha512-index-entry sha512-config; do
	refused "layout: $x" "digest \"sha512:[0-9a-f]+\" uses the sha512 algorithm; only sha256 digests are supported" "$L/$x:v1"
done
refused "layout: md5 layer digest" "uses the md5 algorithm; only sha256" "$L/md5-layer:v1"
for x in upper-hex-layer short-hex-layer long-hex-layer nonhex-layer traversal-layer no-algo-layer; do
	refused "layout: $x" "$notsha" "$L/$x:v1"
done
refused "layout: empty digest" "\"digest\" is empty" "$L/empty-digest-layer:v1"
refused "layout: negative size" "negative size -1" "$L/negative-size:v1"
refused "layout: size as a string" "missing or non-integer \"size\"" "$L/string-size:v1"
refused "layout: size as a float" "missing or non-integer \"size\"" "$L/float-size:v1"

# ---- the same, served by a registry that checks nothing ----
FREG_PORT=$(free_port)
: >"$T/freg.log"
python3 "$ADV/fakereg.py" "$FREG_PORT" "$L" "$T/freg.log" >"$T/freg.err" 2>&1 &
FREG_PID=$!
sk_on_exit "kill $FREG_PID 2>/dev/null"
reg_wait_port "$FREG_PORT" "$FREG_PID" "$T/freg.err" "hostile registry"
F=127.0.0.1:$FREG_PORT
refused "registry: manifest nested 100000 deep" "invalid JSON: nested deeper than 64 levels" "$F/deep-manifest:v1"
refused "registry: 5 MiB manifest" "the response is larger than the 4194304 bytes expected" "$F/big-manifest:v1"
refused "registry: manifest that never ends" "fetching manifest endless:forever: the response is larger than the 4194304 bytes expected" "$F/endless:forever"
refused "registry: blob that never ends" "fetching blob sha256:[0-9a-f]{64} of endless: the response is larger than the 1000 bytes expected" "$F/endless:v1"
refused "registry: manifest with 5000 layers" "has 5000 layers, more than the 256 allowed" "$F/many-layers:v1"
check_eq "registry: 5000 layers: no blob was requested" "$(grep -c 'many-layers/blobs' "$T/freg.log")" 0
refused "registry: index with 5000 manifests" "lists 5000 manifests, more than the 256 allowed" "$F/many-manifests:v1"
refused "registry: layer larger than its descriptor" "the response is larger than the 100 bytes expected" "$F/blob-larger:v1"
refused "registry: layer shorter than its descriptor" "got 150 bytes, the descriptor says 400" "$F/blob-shorter:v1"
refused "registry: sha512 layer digest" "uses the sha512 algorithm" "$F/sha512-layer:v1"
refused "registry: path traversal in a digest" "$notsha" "$F/traversal-layer:v1"
check_eq "registry: no request ever named a path outside a repository" \
	"$(grep -c '\.\./' "$T/freg.log")" 0
refused "reference pinned by a sha512 digest" "only sha256 digests are supported" \
	"$F/x@sha512:$(printf 'ab%.0s' $(seq 64))"
refused "reference with an upper-case digest" "the digest must be sha256: followed by 64 lowercase hex digits" \
	"$F/x@sha256:$(printf 'AB%.0s' $(seq 32))"
refused "reference with a short digest" "the digest must be sha256: followed by 64 lowercase hex digits" "$F/x@sha256:abc"

# ---- nothing outside the destinations ----
snapshot "$T/outside" >"$T/outside.after"
check "nothing outside the destination was touched" cmp "$T/outside.before" "$T/outside.after"
check "no escaped file anywhere it could have landed" sh -c \
	"test ! -e /gnu-escape && test ! -e '$T/gnu-escape' && test ! -e '$T/outside/victim-pax' && \
	 ! find '$T' -name 'gnu-escape' -o -name 'victim-pax' | grep -q ."
