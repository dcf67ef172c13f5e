#!/usr/bin/env python3
"""Writes the adversarial corpus tests/host/adversarial.sh feeds to skrun pull.

usage: mkcorpus.py OUT VICTIM

OUT/archives/NAME.tar[.gz]  hostile oci-archives: links, devices, escaping
                            names (pax and GNU long names), huge, endless and
                            too many entries, duplicates, foreign names
OUT/layouts/NAME/           crafted OCI layouts tagged "v1": deeply nested and
                            very large JSON, thousands of layers or manifests,
                            blobs larger than their descriptors, digests of
                            other algorithms or with bad hex, bad sizes

VICTIM is an absolute path outside every destination; links point at it (and
relative names climb towards it), so a test can prove nothing reached it.
Everything is generated (nothing binary is committed) and small on disk: the
largest file is a few MiB.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.schedkit.scheduler.config.v1+json"
MT_BPF = "application/vnd.schedkit.scheduler.bpf.v1+elf"
LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
SHA_ZERO = "0" * 64


def dumps(o):
    return json.dumps(o, separators=(",", ":")).encode()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---- archives ----

def member(name, data=b"", typ=tarfile.REGTYPE, link="", pax=None, size=None):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.linkname = link
    ti.size = len(data) if size is None else size
    ti.mtime = 0
    if typ in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        ti.devmajor, ti.devminor = 1, 3
    if pax:
        ti.pax_headers = pax
    return ti


def write_tar(path, members, fmt=tarfile.USTAR_FORMAT, gz=False):
    """members: (TarInfo, data or None) pairs, written in order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None and ti.isreg() else None)
    blob = raw.getvalue()
    if gz:
        blob = gzip.compress(blob, mtime=0)
    with open(path, "wb") as f:
        f.write(blob)


def header_only(path, name, size):
    """A tar whose only entry declares size bytes and carries none of them."""
    ti = member(name, size=size)
    with open(path, "wb") as f:
        f.write(ti.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape"))
        f.write(b"\0" * 1024)


def endless(path, name, size):
    """gzip of a tar entry of size zero bytes: a few KiB that unpack to size."""
    ti = member(name, size=size)
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(ti.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"))
        left = size
        while left:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
        f.write(b"\0" * 1024)


def archives(out, victim):
    os.makedirs(out, exist_ok=True)
    head = [(member("oci-layout", LAYOUT), LAYOUT)]
    blob = "blobs/sha256/" + "ab" * 32
    # the archive is unpacked at STORE/.tmp/archive-X: enough ../ to reach /
    climb = "../" * 24 + victim.lstrip("/")
    cases = {
        "hardlink-out": [(member(blob, typ=tarfile.LNKTYPE, link=climb), None)],
        "hardlink-abs": [(member(blob, typ=tarfile.LNKTYPE, link=victim), None)],
        "hardlink-in": [(member("index.json", b"{}"), b"{}"),
                        (member(blob, typ=tarfile.LNKTYPE, link="index.json"), None)],
        "symlink-out": [(member(blob, typ=tarfile.SYMTYPE, link=climb), None)],
        "symlink-dir": [(member("blobs", typ=tarfile.SYMTYPE, link=os.path.dirname(victim)), None),
                        (member("blobs/sha256/" + "cd" * 32, b"x"), b"x")],
        "chardev": [(member(blob, typ=tarfile.CHRTYPE), None)],
        "blockdev": [(member(blob, typ=tarfile.BLKTYPE), None)],
        "fifo": [(member(blob, typ=tarfile.FIFOTYPE), None)],
        "pax-dotdot": [(member(blob, b"x", pax={"path": climb + "-pax"}), b"x")],
        "gnu-longname-dotdot": [(member("blobs/" + "d/" * 60 + "../" * 70 + "gnu-escape", b"x"), b"x")],
        "dup": [(member(blob, b"x"), b"x"), (member(blob, b"y"), b"y")],
        "foreign-name": [(member("etc/cron.d/evil", b"x"), b"x")],
        "sha512-name": [(member("blobs/sha512/" + "ef" * 64, b"x"), b"x")],
        "bad-hex-name": [(member("blobs/sha256/" + "AB" * 32, b"x"), b"x")],
    }
    for name, members in cases.items():
        # pax where names or link targets outgrow ustar's 100 bytes
        fmt = tarfile.GNU_FORMAT if name == "gnu-longname-dotdot" else tarfile.PAX_FORMAT
        write_tar(os.path.join(out, name + ".tar"), head + members, fmt)
    # declared sizes: 1 TiB, and one byte over the 256 MiB blob limit
    header_only(os.path.join(out, "huge-1tib.tar"), blob, 1 << 40)
    header_only(os.path.join(out, "huge-over-limit.tar"), blob, (256 << 20) + 1)
    # declared 1 MiB, 10 bytes present: the data never comes
    with open(os.path.join(out, "truncated.tar"), "wb") as f:
        f.write(member(blob, size=1 << 20).tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"))
        f.write(b"0123456789")
    # 64 MiB of zeros in ~64 KiB: more than the test store can take
    endless(os.path.join(out, "endless.tar.gz"), blob, 64 << 20)
    # more entries than any layout needs
    many = [(member("blobs/sha256/%064x" % i, b""), b"") for i in range(5000)]
    write_tar(os.path.join(out, "too-many-entries.tar.gz"), head + many, gz=True)
    with open(os.path.join(out, "not-a-tar.tar"), "wb") as f:
        f.write(hashlib.sha512(b"noise").digest() * 64)


# ---- layouts ----

class Layout:
    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "wb") as f:
            f.write(LAYOUT)

    def put(self, data, name=None):
        d = sha(data)
        with open(os.path.join(self.root, "blobs", "sha256", name or d[7:]), "wb") as f:
            f.write(data)
        return d

    def index_json(self, raw):
        with open(os.path.join(self.root, "index.json"), "wb") as f:
            f.write(raw)

    def tag(self, mt, digest, size):
        self.index_json(dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": mt, "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))

    def manifest(self, layers, config=None):
        """A manifest of layers (descriptor dicts), tagged v1 directly."""
        if config is None:
            cfg = b'{"name":"x"}'
            config = {"mediaType": MT_CONFIG, "digest": self.put(cfg), "size": len(cfg)}
        m = dumps({"schemaVersion": 2, "mediaType": MT_MANIFEST,
                   "artifactType": "application/vnd.schedkit.scheduler.v1",
                   "config": config, "layers": layers})
        self.tag(MT_MANIFEST, self.put(m), len(m))
        return m


def layer(digest, size):
    return {"mediaType": MT_BPF, "digest": digest, "size": size}


def layouts(out):
    def new(name):
        return Layout(os.path.join(out, name))

    depth = 100000
    # index.json nested 100000 levels deep
    new("deep-index").index_json(b'{"schemaVersion":2,"manifests":' + b"[" * depth + b"]" * depth + b"}")
    # a manifest nested 100000 levels deep, named by a valid index.json
    lay = new("deep-manifest")
    deep = b'{"a":' * depth + b"1" + b"}" * depth
    lay.tag(MT_MANIFEST, lay.put(deep), len(deep))
    # a 5 MiB index.json
    big = {"schemaVersion": 2, "manifests": [
        {"mediaType": MT_MANIFEST, "digest": "sha256:" + SHA_ZERO, "size": 1,
         "annotations": {"org.opencontainers.image.ref.name": "x" * 200 + str(i)}}
        for i in range(20000)]}
    new("big-index").index_json(dumps(big))
    # a 5 MiB manifest, its descriptor honest about the size
    lay = new("big-manifest")
    fat = dumps({"schemaVersion": 2, "mediaType": MT_MANIFEST, "pad": "x" * (5 << 20),
                 "config": {}, "layers": []})
    lay.tag(MT_MANIFEST, lay.put(fat), len(fat))
    # the same, its descriptor claiming 300 bytes
    lay = new("big-manifest-lying")
    lay.tag(MT_MANIFEST, lay.put(fat), 300)
    # 5000 layers, every blob present
    lay = new("many-layers")
    ls = []
    for i in range(5000):
        data = b"layer %d" % i
        ls.append(layer(lay.put(data), len(data)))
    lay.manifest(ls)
    # an index of 5000 platform manifests
    lay = new("many-manifests")
    ms = [{"mediaType": MT_MANIFEST, "digest": "sha256:%064x" % i, "size": 100,
           "platform": {"os": "linux", "architecture": "arch%d" % i}} for i in range(5000)]
    idx = dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": ms})
    lay.tag(MT_INDEX, lay.put(idx), len(idx))
    # a layer 50 bytes longer than its descriptor says (its digest is right)
    lay = new("blob-larger")
    data = b"B" * 150
    lay.manifest([layer(lay.put(data), 100)])
    # a config larger than its descriptor
    lay = new("config-larger")
    cfg = b'{"name":"' + b"c" * 200 + b'"}'
    lay.manifest([], config={"mediaType": MT_CONFIG, "digest": lay.put(cfg), "size": 20})
    # a layer shorter than its descriptor says
    lay = new("blob-shorter")
    lay.manifest([layer(lay.put(data), 400)])
    # a layer descriptor of 2^62 bytes
    lay = new("blob-huge-size")
    lay.manifest([layer(lay.put(data), 1 << 62)])
    # digests: another algorithm, or not 64 lowercase hex digits
    bad = {
        "sha512-layer": "sha512:" + hashlib.sha512(data).hexdigest(),
        "md5-layer": "md5:" + hashlib.md5(data).hexdigest(),
        "upper-hex-layer": "sha256:" + hashlib.sha256(data).hexdigest().upper(),
        "short-hex-layer": "sha256:" + hashlib.sha256(data).hexdigest()[:63],
        "long-hex-layer": "sha256:" + hashlib.sha256(data).hexdigest() + "0",
        "nonhex-layer": "sha256:" + "g" * 64,
        "traversal-layer": "sha256:../../../../../../../../etc/passwd",
        "empty-digest-layer": "",
        "no-algo-layer": hashlib.sha256(data).hexdigest(),
    }
    for name, dg in bad.items():
        lay = new(name)
        lay.put(data)
        lay.manifest([layer(dg, len(data))])
    lay = new("sha512-index-entry")
    lay.index_json(dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": MT_MANIFEST, "digest": "sha512:" + "ab" * 64, "size": 10,
        "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))
    lay = new("sha512-config")
    lay.manifest([], config={"mediaType": MT_CONFIG, "digest": "sha512:" + "cd" * 64, "size": 2})
    # a layer the layout does not hold: fakereg.py streams it without end
    lay = new("endless")
    lay.manifest([layer(sha(b"never stored"), 1000)])
    # sizes that are not sizes
    for name, size in (("negative-size", -1), ("string-size", "150"), ("float-size", 1.5)):
        lay = new(name)
        lay.manifest([{"mediaType": MT_BPF, "digest": lay.put(data), "size": size}])


def main():
    out, victim = sys.argv[1], sys.argv[2]
    archives(os.path.join(out, "archives"), victim)
    layouts(os.path.join(out, "layouts"))


if __name__ == "__main__":
    main()
