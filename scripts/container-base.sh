#!/bin/sh
# Makes the base image the Containerfile names (docker.io/library/debian:
# bookworm-slim) from Debian's archive with mmdebstrap, for machines that
# cannot pull from a public registry, and imports it into podman under that
# name. Does nothing when podman already has the image. Reuses the archive
# URI of the machine's own apt sources.
set -eu
NAME=${SCHEDKIT_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}

if podman image exists "$NAME" 2>/dev/null; then
	echo "container-base: $NAME is there"
	exit 0
fi
for t in podman mmdebstrap; do
	command -v "$t" >/dev/null 2>&1 ||
		{ echo "container-base: $t is missing; run: sh scripts/deps.sh --containers" >&2; exit 1; }
done
uri=$(grep -rhs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ {print $2}' | grep -v security | head -n1)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 ~ /^bookworm/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "container-base: no Debian archive URI in the apt sources" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# minbase: what debian:bookworm-slim holds (apt, dpkg, coreutils, no docs
# policy); the archive line is the one the image's apt will use too.
mmdebstrap --quiet --variant=minbase bookworm "$tmp/base.tar" "deb $uri bookworm main"
podman import --quiet "$tmp/base.tar" "$NAME" >/dev/null
echo "container-base: imported $NAME ($(du -h "$tmp/base.tar" | cut -f1) root file system)"
