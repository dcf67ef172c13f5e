#!/bin/sh
# Air-gapped transfer: skbuild save writes a deterministic oci-archive (from a
# registry or a layout, every platform); skrun pull reads archives and layouts
# as sources, records the same name a registry pull would, and refuses hostile
# or corrupt archives without recording anything.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
ALL=$(pulled_digests "$T/lay" "$TOP")
reg_start reg
R=127.0.0.1:$REG_PORT
"$SKBUILD" push "$T/lay:v1" "$R/t/s:v1" >/dev/null 2>"$T/err" || reg_fatal "setup push" "$(cat "$T/err")"

check "save from a registry" "$SKBUILD" save "$R/t/s:v1" -o "$T/a.tar"
check_eq "save prints the digest" "$(cat "$T/out")" "$TOP"
check "save again" "$SKBUILD" save "$R/t/s:v1" -o "$T/b.tar"
check "saved archives are byte-identical" cmp "$T/a.tar" "$T/b.tar"
check "archive holds every platform and nothing else" sh -c "tar -tf '$T/a.tar' | sort >'$T/list' && \
	test \$(grep -c '^blobs/sha256/[0-9a-f]\{64\}\$' '$T/list') = 9 && \
	test \$(wc -l <'$T/list') = 13"
check "archive entries are owned by 0:0 with mtime 0" sh -c "tar -tvf '$T/a.tar' | grep -v ' 0/0 ' | grep -q . && exit 1; tar --numeric-owner -tvf '$T/a.tar' | grep -q '1970-01-01'"

check "pull the archive" "$SKRUN" pull --insecure-skip-verify "$T/a.tar" --store "$T/st1" --platform linux/arm64
check_eq "archive pull: digest" "$(cat "$T/out")" "$TOP"
check "archive pull: recorded under the registry reference" grep -q "\"$R/t/s:v1\"" "$T/st1/index.json"
check "archive pull: blobs byte-identical" sh -c "'$SKRUN' pull --insecure-skip-verify '$T/a.tar' --store '$T/st1' --platform linux/amd64 >/dev/null && \
	for d in $ALL; do cmp '$T/st1/blobs/sha256/'\${d#sha256:} '$T/lay/blobs/sha256/'\${d#sha256:} || exit 1; done"
check "archive pull: extraction directory removed" test -z "$(ls -A "$T/st1/.tmp")"

check "save from a layout" "$SKBUILD" save "$T/lay:v1" -o "$T/l.tar"
check "pull oci-archive:FILE:TAG" "$SKRUN" pull --insecure-skip-verify "oci-archive:$T/l.tar:v1" --store "$T/st2"
check_eq "layout archive pull: digest" "$(cat "$T/out")" "$TOP"
check "pull a layout directory" "$SKRUN" pull --insecure-skip-verify "$T/lay:v1" --store "$T/st3"
check "layout pull: recorded under its tag" grep -q '"v1"' "$T/st3/index.json"
check "skopeo reads the archive" sh -c "skopeo inspect --raw 'oci-archive:$T/l.tar:v1' | cmp - '$T/lay/blobs/sha256/${TOP#sha256:}'"

# hostile and corrupt archives
python3 - "$T" "$TOP" <<'PY'
import io, os, sys, tarfile
t, top = sys.argv[1], sys.argv[2]
def add(tf, name, data=b"x", typ=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name); ti.size = len(data) if typ == tarfile.REGTYPE else 0
    ti.type = typ; ti.linkname = link
    tf.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
with tarfile.open(f"{t}/dotdot.tar", "w") as tf:
    add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}'); add(tf, "../../escape")
with tarfile.open(f"{t}/symlink.tar", "w") as tf:
    add(tf, "index.json", typ=tarfile.SYMTYPE, link="/etc/passwd")
with tarfile.open(f"{t}/abs.tar", "w") as tf:
    add(tf, "/tmp/sk-abs-escape")
# the same name twice: the second would replace what was read first
with tarfile.open(f"{t}/dup.tar", "w") as tf:
    add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}'); add(tf, "index.json", b"{}")
    add(tf, "index.json", b'{"manifests":[]}')
# the parent of later entries as a symlink to a directory elsewhere
os.mkdir(f"{t}/outside")
with tarfile.open(f"{t}/parentlink.tar", "w") as tf:
    add(tf, "blobs", typ=tarfile.SYMTYPE, link=f"{t}/outside")
    add(tf, "blobs/sha256/" + "0" * 64)
# a layout whose bpf layer was altered after it was written
src = f"{t}/lay"
with tarfile.open(f"{t}/corrupt.tar", "w") as tf:
    import json
    idx = json.load(open(f"{src}/blobs/sha256/{top[7:]}"))
    man = json.load(open(f"{src}/blobs/sha256/{idx['manifests'][0]['digest'][7:]}"))
    bad = man["layers"][0]["digest"][7:]
    for root, _, files in os.walk(src):
        for f in files:
            p = os.path.join(root, f); rel = os.path.relpath(p, src)
            data = open(p, "rb").read()
            if f == bad:
                data = bytes([data[0] ^ 1]) + data[1:]
            add(tf, rel, data)
PY
for a in dotdot symlink abs dup parentlink; do
	check_fails "hostile archive ($a) refused" "refusing|not allowed" "$SKRUN" pull --insecure-skip-verify "$T/$a.tar" --store "$T/h$a"
	check "hostile archive ($a): nothing recorded, nothing left" sh -c "! grep -q ref.name '$T/h$a/index.json' && test -z \"\$(ls -A '$T/h$a/.tmp')\""
done
check "nothing escaped the extraction directory" sh -c "test ! -e '$T/escape' && test ! -e /tmp/sk-abs-escape && test -z \"\$(ls -A '$T/outside')\""
check_fails "corrupt archive: altered layer refused" "hashes to|does not match" \
	"$SKRUN" pull --insecure-skip-verify "$T/corrupt.tar:v1" --store "$T/hc" --platform linux/amd64
check "corrupt archive: nothing recorded, store clean" sh -c "! grep -q ref.name '$T/hc/index.json'"
check "corrupt archive: store clean" store_clean "$T/hc"
check_fails "save without -o" "usage: skbuild save" "$SKBUILD" save "$R/t/s:v1"
check "save --help" "$SKBUILD" save --help
