#!/bin/sh
# The Containerfile's two images, built once here with podman from a base made
# out of Debian's archive (no public registry is reachable), then used for
# every container check:
# - the builder image builds and pushes scheds/fifo to a loopback registry
#   with htpasswd auth, and gets the same digest as the host's build;
# - the run steps of both CI templates (templates/ci/), extracted from their
#   YAML, run in it with the secrets in the environment; `cosign verify` and
#   `skrun verify` accept what they pushed, and a re-run adds no signature;
# - the skrun image runs skrun (and verifies in it);
# - the image sizes are reported (bench/results.md keeps them).
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

PY=/usr/bin/python3
cd "$T" || exit 1 # podman needs a working directory that outlives the test's callers
BUILDER=localhost/schedkit-builder:check
SKRUN_IMG=localhost/schedkit-skrun:check
# What works here (FACTS.md): runc, the host network, podman's default
# rlimits lowered to what runc may set.
RUNF="--runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"

if ! sh "$SK_ROOT/scripts/deps.sh" --containers >"$T/deps.log" 2>&1; then
	fail "container tools installed by scripts/deps.sh --containers" "$(tail -n 5 "$T/deps.log")"
	exit 1
fi
pass "container tools installed by scripts/deps.sh --containers"
if ! sh "$SK_ROOT/scripts/container-base.sh" >"$T/base.log" 2>&1; then
	fail "base image from Debian's archive (scripts/container-base.sh)" "$(tail -n 5 "$T/base.log")"
	exit 1
fi
pass "base image: $(tail -n 1 "$T/base.log")"
if [ ! -s "$SK_KERNEL/vmlinux" ]; then
	fail "test kernel BTF" "no $SK_KERNEL/vmlinux; run make kernel"
	exit 1
fi

build_image() { # TARGET TAG
	_t0=$(date +%s)
	# shellcheck disable=SC2086
	if (cd "$SK_ROOT" && podman build $RUNF --pull=never --target "$1" -t "$2" -f Containerfile .) \
		>"$T/build-$1.log" 2>&1; then
		pass "the $1 image builds from the Containerfile ($(($(date +%s) - _t0)) s)"
	else
		fail "the $1 image builds from the Containerfile" "podman build failed"
		tail -n 30 "$T/build-$1.log" | sed 's/^/    | /'
		exit 1
	fi
}
build_image builder "$BUILDER"
build_image skrun "$SKRUN_IMG"
# Whole megabytes as podman counts them (the uncompressed layers).
for img in "$BUILDER" "$SKRUN_IMG"; do
	size=$(podman image inspect --format '{{.Size}}' "$img")
	pass "image size: $img $((size / 1000000)) MB"
done

# rc_is NAME RC LOG: passes when RC is 0, else fails with the tail of LOG.
rc_is() {
	if [ "$2" = 0 ]; then pass "$1"; else
		fail "$1" "exit $2"
		tail -n 30 "$3" | sed 's/^/    | /'
	fi
}

# cinrun ENV... -- CMD...: runs CMD in the builder image with the source tree
# (read-only), the test kernel's BTF and $T/out mounted.
mkdir -p "$T/ci" "$T/keys"
cinrun() {
	_envs=""
	while [ "$1" != -- ]; do
		_envs="$_envs -e $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	podman run --rm $RUNF $_envs -v "$SK_ROOT:/src:ro" -v "$SK_KERNEL/vmlinux:/kernel/vmlinux:ro" \
		-v "$T/ci:/out" -v "$T/keys:/keys:ro" -w /out "$BUILDER" "$@"
}

htpasswd -Bbn ci 'pipeline secret' >"$T/htpasswd" 2>/dev/null || { fail htpasswd "htpasswd failed"; exit 1; }
reg_start ci htpasswd "$T/htpasswd"
R=127.0.0.1:$REG_PORT
export SCHEDKIT_REGISTRY_USERNAME=ci SCHEDKIT_REGISTRY_PASSWORD='pipeline secret'

# 1. the host's build and the container's give one digest
host_digest=$("$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf "$SK_KERNEL/vmlinux" -o "$T/fifo.oci" -q 2>"$T/host.err")
case $host_digest in sha256:*) pass "host build of scheds/fifo: $host_digest" ;; *) fail "host build of scheds/fifo" "$(cat "$T/host.err")" ;; esac
cinrun SCHEDKIT_REGISTRY_USERNAME SCHEDKIT_REGISTRY_PASSWORD -- \
	skbuild build /src/scheds/fifo --btf /kernel/vmlinux -o /out/fifo.oci \
	--push "$R/scheds/fifo:1.0.0" --insecure -q >"$T/c.out" 2>"$T/c.err"
rc_is "builder image: build --push of scheds/fifo exits 0" $? "$T/c.err"
check_eq "... -q printed exactly one line, the digest" "$(wc -l <"$T/c.out") $(head -c 7 "$T/c.out")" "1 sha256:"
check_eq "... the container's digest is the host's" "$(cat "$T/c.out")" "$host_digest"
check "... the registry serves that digest (host skrun pull, credentials from the environment)" \
	"$SKRUN" pull --insecure-skip-verify --insecure "$R/scheds/fifo@$host_digest" --store "$T/store1"

# 2. the CI templates, run as their CI would: the script text from the YAML
if ! "$PY" - "$SK_ROOT/templates/ci" "$T" <<'EOF' 2>"$T/extract.err"; then
import sys, yaml
ci, t = sys.argv[1], sys.argv[2]
gh = yaml.safe_load(open(ci + "/github/action.yml"))
gl = yaml.safe_load(open(ci + "/gitlab/schedkit.yml"))
steps = [s for s in gh["runs"]["steps"] if "run" in s]
assert gh["runs"]["using"] == "composite" and len(steps) == 1, "one run step"
assert gh["outputs"]["digest"]["value"] == "${{ steps.%s.outputs.digest }}" % steps[0]["id"]
open(t + "/github.sh", "w").write(steps[0]["run"])
# GitHub hands the inputs to the step as these variables
open(t + "/github.env", "w").write("\n".join(sorted(steps[0]["env"])) + "\n")
job = gl[".schedkit-publish"]
open(t + "/gitlab.sh", "w").write("\n".join(job["script"]) + "\n")
assert job["artifacts"]["reports"]["dotenv"] == "schedkit.env"
# both call skbuild the same way: GitLab's first script entry is GitHub's run step
assert steps[0]["run"].startswith(job["script"][0]), "the two templates' commands differ"
EOF
	fail "CI templates parse, and call skbuild the same way" "$(tail -n 3 "$T/extract.err")"
	exit 1
fi
pass "CI templates parse, and call skbuild the same way"
cp "$T/github.sh" "$T/gitlab.sh" "$T/ci/"

SKBUILD_KEY_PASSWORD='' "$SKBUILD" key generate -o "$T/keys/ci" >/dev/null 2>&1 ||
	{ fail "CI signing key" "key generate failed"; exit 1; }
chmod 644 "$T/keys/ci.key" # the container reads the File-type variable as another user may
export DOCKER_CONFIG="$T/docker"
mkdir -p "$DOCKER_CONFIG"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R" "$(printf 'ci:pipeline secret' | base64)" >"$DOCKER_CONFIG/config.json"
COSIGN_REG="--allow-http-registry --allow-insecure-registry"

verify_pushed() { # NAME REF DIGEST
	# shellcheck disable=SC2086
	check "$1: cosign verify --key accepts it" \
		cosign verify --key "$T/keys/ci.pub" --insecure-ignore-tlog $COSIGN_REG "$2@$3"
	"$SKRUN" verify --key "$T/keys/ci.pub" --insecure --json "$2@$3" >"$T/v.json" 2>"$T/v.err"
	rc_is "$1: skrun verify --json accepts it" $? "$T/v.err"
	check_eq "$1: ... for that digest, one signature" \
		"$("$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["digest"], j["verified"], j["signatures"])' "$T/v.json" 2>&1)" \
		"$3 True 1"
}

# GitHub: the key is the secret's PEM text in an input (an environment variable)
SCHEDKIT_SCHEDULER=/src/scheds/vtime SCHEDKIT_REFERENCE="$R/ci/vtime:gh" \
	SCHEDKIT_SIGNING_KEY="$(cat "$T/keys/ci.key")" SKBUILD_KEY_PASSWORD='' \
	SCHEDKIT_BTF=/kernel/vmlinux SCHEDKIT_INSECURE=true GITHUB_OUTPUT=/out/github_output \
	cinrun SCHEDKIT_SCHEDULER SCHEDKIT_REFERENCE SCHEDKIT_SIGNING_KEY SKBUILD_KEY_PASSWORD \
	SCHEDKIT_REGISTRY_USERNAME SCHEDKIT_REGISTRY_PASSWORD SCHEDKIT_BTF SCHEDKIT_INSECURE GITHUB_OUTPUT -- \
	sh -e /out/github.sh >"$T/gh.out" 2>&1
rc_is "GitHub action's run step exits 0 in the builder image" $? "$T/gh.out"
gh_digest=$(sed -n 's/^digest=//p' "$T/ci/github_output" 2>/dev/null)
case $gh_digest in sha256:????????????????????????????????????????????????????????????????)
	pass "... wrote output digest=$gh_digest to \$GITHUB_OUTPUT" ;;
*) fail "... wrote the digest output" "'$(cat "$T/ci/github_output" 2>/dev/null)'"; sed 's/^/    | /' "$T/gh.out" ;;
esac
for v in $(cat "$T/github.env"); do
	grep -q "^        $v: \${{ inputs\." "$SK_ROOT/templates/ci/github/action.yml" ||
		fail "GitHub step variable $v comes from an input" "not found"
done
verify_pushed "GitHub template's artifact" "$R/ci/vtime" "$gh_digest"
# a re-run of the pipeline: the same key and annotations sign nothing new
SCHEDKIT_SCHEDULER=/src/scheds/vtime SCHEDKIT_REFERENCE="$R/ci/vtime:gh" \
	SCHEDKIT_SIGNING_KEY="$(cat "$T/keys/ci.key")" SKBUILD_KEY_PASSWORD='' \
	SCHEDKIT_BTF=/kernel/vmlinux SCHEDKIT_INSECURE=true GITHUB_OUTPUT=/out/github_output2 \
	cinrun SCHEDKIT_SCHEDULER SCHEDKIT_REFERENCE SCHEDKIT_SIGNING_KEY SKBUILD_KEY_PASSWORD \
	SCHEDKIT_REGISTRY_USERNAME SCHEDKIT_REGISTRY_PASSWORD SCHEDKIT_BTF SCHEDKIT_INSECURE GITHUB_OUTPUT -- \
	sh -e /out/github.sh >"$T/gh2.out" 2>&1
rc_is "... a re-run of the step exits 0" $? "$T/gh2.out"
check "... and says the digest was signed already" grep -q "already signed $gh_digest" "$T/gh2.out"
verify_pushed "... after the re-run" "$R/ci/vtime" "$gh_digest"

# GitLab: the key is a File-type CI/CD variable (a path), the rest plain variables
SCHEDKIT_SCHEDULER=/src/scheds/fifo SCHEDKIT_REFERENCE="$R/ci/fifo:gl" \
	SCHEDKIT_SIGNING_KEY=/keys/ci.key SKBUILD_KEY_PASSWORD='' SCHEDKIT_BTF=/kernel/vmlinux \
	SCHEDKIT_INSECURE=true \
	cinrun SCHEDKIT_SCHEDULER SCHEDKIT_REFERENCE SCHEDKIT_SIGNING_KEY SKBUILD_KEY_PASSWORD \
	SCHEDKIT_REGISTRY_USERNAME SCHEDKIT_REGISTRY_PASSWORD SCHEDKIT_BTF SCHEDKIT_INSECURE -- \
	sh -e /out/gitlab.sh >"$T/gl.out" 2>&1
rc_is "GitLab template's script exits 0 in the builder image" $? "$T/gl.out"
gl_digest=$(sed -n 's/^SCHEDKIT_DIGEST=//p' "$T/ci/schedkit.env" 2>/dev/null)
check_eq "... its dotenv report holds the digest, which is the host's build of fifo" "$gl_digest" "$host_digest"
verify_pushed "GitLab template's artifact" "$R/ci/fifo" "$gl_digest"

# 3. the skrun image: its own skrun verifies the GitLab artifact
podman run --rm $RUNF -e SCHEDKIT_REGISTRY_USERNAME -e SCHEDKIT_REGISTRY_PASSWORD \
	-v "$T/keys:/keys:ro" "$SKRUN_IMG" verify --key /keys/ci.pub --insecure "$R/ci/fifo@$gl_digest" \
	>"$T/sk.out" 2>&1
rc_is "skrun image: skrun verify accepts the GitLab artifact" $? "$T/sk.out"
check_eq "skrun image: skrun --version" "$(podman run --rm $RUNF "$SKRUN_IMG" --version 2>&1)" \
	"skrun $(sed -n 's/^#define SK_VERSION "\(.*\)"/\1/p' "$SK_ROOT/lib/include/schedkit/cli.h")"
# what the image holds: skrun, its helper and their libraries, nothing else
cid=$(podman create $RUNF "$SKRUN_IMG")
podman export "$cid" | tar -t >"$T/skrun-files" 2>/dev/null
podman rm "$cid" >/dev/null 2>&1
check "skrun image holds skrun-fetch" grep -qx 'usr/local/libexec/schedkit/skrun-fetch' "$T/skrun-files"
if grep -Eq '(^|/)(sh|bash|clang-16|skbuild|apt-get)$' "$T/skrun-files"; then
	fail "skrun image holds no shell, compiler, skbuild or apt" "$(grep -E '(^|/)(sh|bash|clang-16|skbuild|apt-get)$' "$T/skrun-files" | head -3)"
else
	pass "skrun image holds no shell, compiler, skbuild or apt ($(grep -c . "$T/skrun-files") entries)"
fi
