#!/bin/sh
# Regenerates the seed corpora under tests/fuzz/corpus/ from real artifacts:
# schedulers built with build/skbuild, an oci-archive from `skbuild save`, the
# cosign 2.5 captures and test keys under tests/trust/, the unit tests' BPF
# objects (stripped), and challenges answered by a real docker-registry.
# Crash regressions (corpus/*/crash-*) are kept. Run from anywhere after `make`.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
C=$ROOT/tests/fuzz/corpus
SKBUILD=${SKBUILD:-$ROOT/build/skbuild}
BTF=${SCHEDKIT_KERNEL_CACHE:-/var/cache/schedkit/kernel}/vmlinux
W=$(mktemp -d /tmp/skcorpus.XXXXXX)
trap 'kill $reg_pid 2>/dev/null; rm -rf "$W"' EXIT
reg_pid=

for d in json artifact ref challenge cred policy payload sigmanifest verify key analyze archive; do
	mkdir -p "$C/$d"
	find "$C/$d" -type f ! -name 'crash-*' -delete
done

# ---- real artifacts ----
for s in fifo vtime; do
	SCHEDKIT_CACHE=$W/cache "$SKBUILD" build "scheds/$s" -o "$W/$s.oci" --btf "$BTF" >/dev/null
done
"$SKBUILD" save "$W/fifo.oci" -o "$W/fifo.tar" >/dev/null

# Layout documents and blobs, by kind, into json/ (and the BPF objects into analyze/).
python3 - "$W" "$C" <<'PY'
import json, os, sys, re
w, c = sys.argv[1], sys.argv[2]
def blob(lay, d):
    return open(os.path.join(lay, "blobs", "sha256", d.split(":")[1]), "rb").read()
def put(kind, name, data):
    open(os.path.join(c, kind, name), "wb").write(data)
for s in ("fifo", "vtime"):
    lay = os.path.join(w, s + ".oci")
    top_raw = open(os.path.join(lay, "index.json"), "rb").read()
    put("json", s + "-layout-index.json", top_raw)
    top = json.loads(top_raw)["manifests"][0]
    idx_raw = blob(lay, top["digest"])
    put("json", s + "-image-index.json", idx_raw)
    mdesc = json.loads(idx_raw)["manifests"][0]
    man_raw = blob(lay, mdesc["digest"])
    put("json", s + "-manifest.json", man_raw)
    man = json.loads(man_raw)
    cfg_raw = blob(lay, man["config"]["digest"])
    put("json", s + "-config.json", cfg_raw)
    bpf = [l for l in man["layers"] if l["mediaType"].endswith("bpf.v1+elf")][0]
    obj = blob(lay, bpf["digest"])
    put("analyze", s + ".bpf.o", obj)

    # The artifact harness's form: index.json, index, manifest, config, object,
    # with digests and sizes of later parts as @N@ / #N# placeholders.
    def ph(raw, n, desc):
        return raw.replace(desc["digest"].encode(), b"@%d@" % n).replace(
            b'"size":%d' % desc["size"], b'"size":#%d#' % n)
    sep = b"\n==\n"
    p_top = ph(top_raw, 1, top)
    p_idx = ph(idx_raw, 2, mdesc)
    p_man = ph(ph(man_raw, 3, man["config"]), 4, bpf)
    put("artifact", s + ".seed", sep.join([p_top, p_idx, p_man, cfg_raw, obj]))
    # A layout entry naming the manifest itself (no index), tagged "latest".
    mtop = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": mdesc["mediaType"], "digest": "@1@", "size": 0,
                           "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    mt = json.dumps(mtop, separators=(",", ":")).encode().replace(b'"size":0', b'"size":#1#')
    put("artifact", s + "-bare-manifest.seed", sep.join([mt, p_man.replace(b"@3@", b"@2@").replace(b"#3#", b"#2#").replace(b"@4@", b"@3@").replace(b"#4#", b"#3#"), cfg_raw, obj]))
PY
cp "$W/fifo.oci/oci-layout" "$C/json/oci-layout.json"
cp "$W/fifo.tar" "$C/archive/fifo.tar"
gzip -9n <"$W/fifo.tar" >"$C/archive/fifo.tar.gz"
zstd -q -19 <"$W/fifo.tar" >"$C/archive/fifo.tar.zst"

# Hostile archives: each must be refused without touching anything outside.
python3 - "$C/archive" <<'PY'
import io, sys, tarfile
out = sys.argv[1]
def tar(name, entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    open(f"{out}/{name}", "wb").write(b.getvalue())
def f(name, data=b"x", **kw):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti, data
def link(name, target, kind):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = target
    return ti, None
tar("dotdot.tar", [f("../escape")])
tar("absolute.tar", [f("/tmp/skfuzz-escape")])
tar("symlink.tar", [link("blobs", "/tmp", tarfile.SYMTYPE), f("blobs/x")])
tar("hardlink.tar", [link("index.json", "/etc/passwd", tarfile.LNKTYPE)])
dev = tarfile.TarInfo("oci-layout"); dev.type = tarfile.CHRTYPE; dev.devmajor = 1; dev.devminor = 3
tar("device.tar", [(dev, None)])
tar("duplicate.tar", [f("index.json", b"{}"), f("index.json", b"{}")])
PY

# ---- JSON from registries ----
cat >"$C/json/token-response.json" <<'EOF'
{"token":"eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig","access_token":"eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig","expires_in":300,"issued_at":"2025-01-01T00:00:00Z"}
EOF
cp tests/trust/cosign-2.5/sig-manifest.json tests/trust/cosign-2.5/sig-config.json "$C/json/"
# Refused by sk_json_parse: repeated keys (also once decoded) and NULs in strings.
printf '%s' '{"schemaVersion":2,"layers":[{"mediaType":"a","digest":"b","size":1,"\u0073ize":2}],"config":{}}' >"$C/json/duplicate-key.json"
printf '%s' '{"schemaVersion":2,"annotations":{"org.opencontainers.image.ref.name":"r.io/a\u0000.evil/x","\ud800":"1","\ud801":"2"}}' >"$C/json/nul-and-surrogate-keys.json"

# ---- references ----
i=0
for r in fifo localhost/fifo:1.0 127.0.0.1:5000/sched/fifo:1.0.0 docker.io/library/alpine \
	registry.example.com/a/b/c@sha256:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958 \
	'[::1]:5000/x:y' quay.io/org/repo:v1.2.3-rc.1_x@sha256:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958; do
	i=$((i + 1))
	printf '%s' "$r" >"$C/ref/ref$i"
done

# ---- challenges from a real docker-registry (htpasswd and token auth) ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
htpasswd -Bbn user secret >"$W/htpasswd"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/tok.key" \
	-out "$W/tok.crt" -days 1 -subj /CN=token >/dev/null 2>&1
for mode in htpasswd token; do
	{
		printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n' "$W/reg"
		printf 'http:\n  addr: 127.0.0.1:%s\n  secret: s\n' "$port"
		if [ $mode = htpasswd ]; then
			printf 'auth:\n  htpasswd:\n    realm: schedkit-test\n    path: %s\n' "$W/htpasswd"
		else
			printf 'auth:\n  token:\n    realm: http://127.0.0.1:1/token\n    service: registry.test\n    issuer: test\n    rootcertbundle: %s\n' "$W/tok.crt"
		fi
	} >"$W/reg.yml"
	docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
	reg_pid=$!
	for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
	curl -s -D - -o /dev/null "http://127.0.0.1:$port/v2/" |
		sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: *//p' | tr -d '\r\n' >"$C/challenge/$mode"
	curl -s -D - -o /dev/null "http://127.0.0.1:$port/v2/sched/fifo/manifests/1.0" |
		sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: *//p' | tr -d '\r\n' >"$C/challenge/$mode-scoped"
	kill $reg_pid
	wait $reg_pid 2>/dev/null || true
	reg_pid=
done
printf '%s' 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull",error="insufficient_scope"' >"$C/challenge/dockerhub"
printf '%s' 'Basic realm="r", Bearer realm="t\"q",scope="a b"' >"$C/challenge/two"

# ---- auth files ----
printf '%s' '{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpzZWNyZXQ="},"https://index.docker.io/v1/":{"auth":"dTpw"}}}' >"$C/cred/docker-config.json"
printf '%s' '{"auths":{"127.0.0.1:5000/team":{"auth":"dXNlcjpzZWNyZXQ="},"127.0.0.1:5000/team/sched":{"username":"a","password":"b"},"docker.io":{"identitytoken":"x"}}}' >"$C/cred/containers-auth.json"
printf '%s' '{"credHelpers":{"registry.example.com":"ecr-login"},"credsStore":"desktop","auths":{"127.0.0.1:5000":{}}}' >"$C/cred/helpers.json"

# ---- trust ----
cat >"$C/policy/example.json" <<'EOF'
{
  "version": 1,
  "keys": {
    "release": "ecdsa.pub",
    "ci": { "path": "ed25519.pub" },
    "oncall": {
      "pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjoHpXONJ0FbZmBkGjIZozEHzjPEm\n4NprodzUbk4YlIgqOKSf08nSpRXvSH1Vp8TCULT4VYFzx2G+8LRP1san6w==\n-----END PUBLIC KEY-----\n"
    }
  },
  "scopes": {
    "127.0.0.1:52147": { "keys": ["release"] },
    "registry.example.com/sched": {
      "keys": ["release", "ci", "oncall"],
      "threshold": 2,
      "require": { "stage": "production" }
    },
    "registry.example.com/sched/experimental": { "keys": [] },
    "mirror.internal:5000": { "keys": ["release"], "mirror_of": ["registry.example.com"] }
  },
  "default": { "keys": ["ci"] }
}
EOF
printf '%s' '{"version":1,"keys":{"k":"ecdsa.pub"},"default":{"keys":["k"]}}' >"$C/policy/default.json"
printf '%s' '{"version":1,"keys":{"k":"ecdsa.pub"},"scopes":{"127.0.0.1:52147":{"keys":[]},"127.0.0.1:52147":{"keys":["k"]}}}' >"$C/policy/duplicate-scope.json"
cp tests/trust/cosign-2.5/payload-*.json "$C/payload/"
printf '%s' '{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/sched/fifo"},"image":{"docker-manifest-digest":"sha256:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958"},"type":"cosign container image signature"},"optional":{"stage":"production","z":"1"}}' >"$C/payload/annotated.json"
printf '%s' '{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/sched/fifo"},"image":{"docker-manifest-digest":"sha256:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958"},"type":"cosign container image signature"},"optional":{"stage":"production\u0000-NOT","stage":"production"}}' >"$C/payload/nul-and-duplicate.json"
cp tests/trust/cosign-2.5/sig-manifest.json tests/trust/cosign-2.5/sig-manifest-1.json "$C/sigmanifest/"
python3 - tests/trust/cosign-2.5/sig-manifest.json "$C/verify" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for i, l in enumerate(m["layers"]):
    open(f"{sys.argv[2]}/sig{i}", "w").write(l["annotations"]["dev.cosignproject.cosign/signature"])
PY
cp tests/trust/keys/*.pem tests/trust/keys/*.pub "$C/key/"
cp tests/trust/cosign-2.5/ecdsa.pub "$C/key/cosign-ecdsa.pub"
cp tests/trust/cosign-2.5/ed25519.pub "$C/key/cosign-ed25519.pub"

# ---- BPF objects of the analyzer's unit tests (what each exercises is in their names) ----
for o in no_ops two_ops kfuncs weak nongpl flags newops; do
	[ -f "build/tests/bpf/$o.bpf.o" ] || continue
	llvm-strip-16 -g "build/tests/bpf/$o.bpf.o" -o "$C/analyze/$o.bpf.o"
done

du -sh "$C"
