#!/bin/sh
# Installs every build and test dependency from Debian. Idempotent: packages
# already present are left alone, so `make check` can call it every time.
set -eu

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "deps: installing packages needs root (run: sudo make deps)" >&2
		exit 1
	fi
}

# The archive URI the machine already uses for bookworm; backports and the
# private trixie/sid lists reuse it rather than naming a host of our own.
archive_uri() {
	uri=$(grep -rhs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ {print $2}' | grep -v security | head -n1)
	if [ -z "$uri" ]; then
		uri=$(awk '$1 == "deb" && $3 ~ /^bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	fi
	[ -n "$uri" ] || { echo "deps: cannot find the bookworm archive URI in the apt sources" >&2; exit 1; }
	echo "$uri"
}

PKGS="make gcc pkg-config clang-16 llvm-16 clang-19 llvm-19 libelf-dev zlib1g-dev libzstd-dev
libarchive-dev libssl-dev libcurl4-openssl-dev libnghttp2-dev dpkg-dev libjson-c-dev libcmocka-dev
qemu-system-x86 busybox-static cpio zstd gzip docker-registry apache2-utils skopeo
openssl curl ca-certificates python3 python3-jsonschema python3-yaml clang-format cppcheck clang-tidy
clang-tidy-16 libclang-rt-16-dev"
BPORTS="libbpf-dev libbpf1 bpftool"
# --build: only what building and running skbuild/skrun needs (the Containerfile).
# --containers: what the container tests need to build the images here (podman
# with runc, and mmdebstrap for a base image made from the Debian archive).
case "${1:-}" in
--build)
	PKGS="make gcc pkg-config clang-16 llvm-16 libelf-dev zlib1g-dev libzstd-dev
libarchive-dev libssl-dev libcurl4-openssl-dev libjson-c-dev ca-certificates git"
	;;
--containers)
	PKGS="podman buildah runc mmdebstrap uidmap fuse-overlayfs"
	BPORTS=""
	;;
esac

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
bp_ok=1
if [ -n "$BPORTS" ]; then
	v=$(dpkg-query -W -f='${Version}' "${BPORTS%% *}" 2>/dev/null || true)
	case "$v" in 1:1.[4-9]* | 1:[2-9]* | 1.[4-9]*) ;; *) bp_ok=0 ;; esac
	case "$BPORTS" in *bpftool*) command -v bpftool >/dev/null 2>&1 || bp_ok=0 ;; esac
fi

if [ -n "$missing" ] || [ $bp_ok = 0 ]; then
	need_root
	uri=$(archive_uri)
	if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		echo "deb $uri bookworm-backports main" >/etc/apt/sources.list.d/schedkit-backports.list
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	[ -z "$missing" ] || apt-get install -y -qq --no-install-recommends $missing
	[ $bp_ok = 1 ] || apt-get install -y -qq --no-install-recommends -t bookworm-backports $BPORTS
fi

case "${1:-}" in --build | --containers)
	echo "deps: ok (${1#--} only)"
	exit 0
	;;
esac

# cosign and oras come from trixie as static Go binaries; fetch the .debs through
# a private apt state so the machine's own apt setup is not changed.
TOOLS=${SCHEDKIT_TOOLS:-/var/cache/schedkit/tools}
if [ ! -x "$TOOLS/bin/cosign" ] || [ ! -x "$TOOLS/bin/oras" ]; then
	need_root
	uri=$(archive_uri)
	st=$(mktemp -d)
	trap 'rm -rf "$st"' EXIT
	mkdir -p "$st/lists/partial" "$st/archives/partial" "$TOOLS"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" >"$st/sources.list"
	opts="-o Dir::Etc::sourcelist=$st/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$st/lists -o Dir::Cache::archives=$st/archives -o APT::Get::List-Cleanup=0"
	apt-get $opts update -qq
	(cd "$st" && apt-get $opts download cosign oras)
	for d in "$st"/*.deb; do dpkg-deb -x "$d" "$st/x"; done
	mkdir -p "$TOOLS/bin"
	cp "$st/x/usr/bin/cosign" "$st/x/usr/bin/oras" "$TOOLS/bin/"
fi
# crane (go-containerregistry, sid only): `crane registry serve` is the second
# registry implementation the request-count tests run against (registry_http.sh).
if [ ! -x "$TOOLS/bin/crane" ]; then
	need_root
	uri=$(archive_uri)
	cst=$(mktemp -d)
	mkdir -p "$cst/lists/partial" "$cst/archives/partial" "$TOOLS/bin"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri sid main" >"$cst/sources.list"
	copts="-o Dir::Etc::sourcelist=$cst/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$cst/lists -o Dir::Cache::archives=$cst/archives -o APT::Get::List-Cleanup=0"
	apt-get $copts update -qq
	(cd "$cst" && apt-get $copts download crane)
	dpkg-deb -x "$cst"/crane_*.deb "$cst/x"
	cp "$cst/x/usr/bin/crane" "$TOOLS/bin/"
	rm -rf "$cst"
fi
# promtool (bookworm's prometheus package; only this binary is kept):
# tests/host/metrics.sh reads skrun's metrics file with Prometheus's own parser.
if [ ! -x "$TOOLS/bin/promtool" ]; then
	need_root
	pt=$(mktemp -d)
	(cd "$pt" && apt-get download prometheus)
	dpkg-deb -x "$pt"/prometheus_*.deb "$pt/x"
	mkdir -p "$TOOLS/bin"
	cp "$pt/x/usr/bin/promtool" "$TOOLS/bin/"
	rm -rf "$pt"
fi
# cosign 3 (sid): Sigstore bundles attached as OCI referrers, the format cosign v3
# writes by default (sigstore_oci.sh). Installed as cosign3 next to trixie's
# cosign 2.5, which the legacy-format tests keep using.
if [ ! -x "$TOOLS/bin/cosign3" ]; then
	need_root
	uri=$(archive_uri)
	c3=$(mktemp -d)
	mkdir -p "$c3/lists/partial" "$c3/archives/partial" "$TOOLS/bin"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri sid main" >"$c3/sources.list"
	c3opts="-o Dir::Etc::sourcelist=$c3/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$c3/lists -o Dir::Cache::archives=$c3/archives -o APT::Get::List-Cleanup=0"
	apt-get $c3opts update -qq
	(cd "$c3" && apt-get $c3opts download cosign)
	set -- "$c3"/cosign_3.*.deb
	[ -f "$1" ] || { echo "deps: sid's cosign is not a 3.x release: $(ls "$c3")" >&2; exit 1; }
	dpkg-deb -x "$1" "$c3/x"
	cp "$c3/x/usr/bin/cosign" "$TOOLS/bin/cosign3"
	rm -rf "$c3"
fi
# the minimal static libcurl skbuild and skrun-fetch link (Makefile CURL_MIN);
# without it they link the system's, which starts ~5 ms slower
sh "$(dirname "$0")/build-curl.sh" ||
	echo "deps: warning: the minimal libcurl could not be built; the system's libcurl is used" >&2
echo "deps: ok"
