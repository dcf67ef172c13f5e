# Helpers for the store fault, concurrency and adversarial tests; source after
# tests/lib.sh and tests/registry/lib.sh.

# pull ARGS...: skrun pull. Signature verification is not what these tests are
# about: when pull verifies signatures, the artifacts here are unsigned.
SK_PULL_NOVERIFY=
"$SKRUN" pull --help 2>/dev/null | grep -q -- --insecure-skip-verify && SK_PULL_NOVERIFY=--insecure-skip-verify
# These tests compare whole artifacts: the optional source layer comes too.
"$SKRUN" pull --help 2>/dev/null | grep -q -- --with-source && SK_PULL_NOVERIFY="$SK_PULL_NOVERIFY --with-source"
pull() {
	"$SKRUN" pull "$@" $SK_PULL_NOVERIFY ${SK_PULL_EXTRA:-}
}

# Background processes still running: killed on exit, and only those (a pid
# that was already waited for is dropped, so a recycled pid is never hit).
SK_LIVE=""
sk_on_exit 'for _p in $SK_LIVE; do kill -9 $_p 2>/dev/null; done'
live_add() { SK_LIVE="$SK_LIVE $1"; }
live_del() { SK_LIVE=$(echo " $SK_LIVE " | sed "s/ $1 / /"); }

# mount_tmpfs DIR SIZE: a tmpfs of SIZE on DIR, unmounted when the test exits
# (whatever happened; lazily, so a killed process cannot keep it busy).
mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" ||
		reg_fatal "mount a $2 tmpfs on $1" "mount failed; these tests need root (CAP_SYS_ADMIN)"
	sk_on_exit "umount -l '$1' 2>/dev/null"
}

# wait_for SECONDS CMD...: polls CMD every 20 ms; fails after SECONDS.
wait_for() {
	_wt=$(($1 * 50))
	shift
	while ! "$@" 2>/dev/null; do
		_wt=$((_wt - 1))
		[ $_wt -gt 0 ] || return 1
		sleep 0.02
	done
}

# recorded STORE: the reference names index.json holds, one a line.
recorded() {
	python3 -c '
import json, sys
for m in json.load(open(sys.argv[1] + "/index.json")).get("manifests", []):
    print(m.get("annotations", {}).get("org.opencontainers.image.ref.name", m["digest"]))
' "$1"
}

# store_ok NAME STORE: skrun store verify passes (every blob re-hashed, every
# recorded reference complete).
store_ok() {
	check "$1: skrun store verify passes" "$SKRUN" store verify --store "$2"
}

# nothing_recorded STORE: index.json names nothing (store verify checks that it is valid).
nothing_recorded() {
	[ -f "$1/index.json" ] || {
		echo "$1/index.json is missing"
		return 1
	}
	! grep -q '"org.opencontainers.image.ref.name"' "$1/index.json" || {
		echo "recorded: $(cat "$1/index.json")"
		return 1
	}
}

# no_blob STORE DIGEST...: none of these blobs is visible in the store.
no_blob() {
	_s=$1
	shift
	for _d in "$@"; do
		[ ! -e "$_s/blobs/sha256/${_d#sha256:}" ] || {
			echo "blob $_d is visible"
			return 1
		}
	done
}

# has_blob STORE DIGEST...: every one of these blobs is visible.
has_blob() {
	_s=$1
	shift
	for _d in "$@"; do
		[ -f "$_s/blobs/sha256/${_d#sha256:}" ] || {
			echo "blob $_d is missing"
			return 1
		}
	done
}

# tmp_empty STORE: no temporary file or extraction directory is left.
tmp_empty() {
	[ -z "$(ls -A "$1/.tmp" 2>/dev/null)" ] || {
		echo "left in $1/.tmp: $(ls -l "$1/.tmp")"
		return 1
	}
}

# snapshot DIR: every path with its type, size, mode and content hash.
snapshot() {
	(cd "$1" && find . -printf '%p %y %s %m\n' | sort && find . -type f -exec sha256sum {} + | sort)
}
