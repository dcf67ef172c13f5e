#!/usr/bin/env python3
"""Writes a schedkit-shaped OCI layout for registry tests (before `skbuild build`
is needed): an index tagged TAG pointing at one manifest per platform, each with
a config blob, a "bpf" layer of SIZE pseudo-random bytes and a source layer.

usage: mklayout.py DIR TAG [--size N] [--seed S] [--platforms amd64,arm64] [--layers N]

--layers N adds N more layers of SIZE bytes (a many-layer artifact for the
concurrency tests).
"""
import argparse
import hashlib
import json
import os
import random

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ARTIFACT = "application/vnd.schedkit.scheduler.v1"
MT_CONFIG = "application/vnd.schedkit.scheduler.config.v1+json"
MT_BPF = "application/vnd.schedkit.scheduler.bpf.v1+elf"
MT_SRC = "application/vnd.schedkit.scheduler.source.v1.tar+gzip"


def put(root, data):
    d = hashlib.sha256(data).hexdigest()
    p = os.path.join(root, "blobs", "sha256", d)
    if not os.path.exists(p):
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)
    return "sha256:" + d, len(data)


def dumps(o):
    return json.dumps(o, separators=(",", ":")).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("tag")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--platforms", default="amd64,arm64")
    ap.add_argument("--layers", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(os.path.join(a.dir, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(a.dir, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    manifests = []
    for arch in a.platforms.split(","):
        rnd = random.Random(f"{a.seed}-{arch}")
        obj = rnd.randbytes(a.size)
        src = rnd.randbytes(512)
        cfg = dumps({"name": "test-" + a.seed, "arch": arch})
        cd, cs = put(a.dir, cfg)
        od, os_ = put(a.dir, obj)
        sd, ss = put(a.dir, src)
        extra = []
        for k in range(a.layers):
            ld, ls = put(a.dir, rnd.randbytes(a.size))
            extra.append({"mediaType": MT_BPF, "digest": ld, "size": ls})
        man = dumps({
            "schemaVersion": 2, "mediaType": MT_MANIFEST, "artifactType": ARTIFACT,
            "config": {"mediaType": MT_CONFIG, "digest": cd, "size": cs},
            "layers": [
                {"mediaType": MT_BPF, "digest": od, "size": os_,
                 "annotations": {"org.opencontainers.image.title": "test.bpf.o"}},
                {"mediaType": MT_SRC, "digest": sd, "size": ss},
            ] + extra,
        })
        md, ms = put(a.dir, man)
        manifests.append({"mediaType": MT_MANIFEST, "digest": md, "size": ms,
                          "artifactType": ARTIFACT,
                          "platform": {"os": "linux", "architecture": arch}})
    idx = dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "artifactType": ARTIFACT,
                 "manifests": manifests})
    idd, ids = put(a.dir, idx)
    path = os.path.join(a.dir, "index.json")
    top = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": []}
    if os.path.exists(path):
        with open(path) as f:
            top = json.load(f)
    top["manifests"] = [m for m in top["manifests"]
                        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != a.tag]
    top["manifests"].append({"mediaType": MT_INDEX, "digest": idd, "size": ids,
                             "annotations": {"org.opencontainers.image.ref.name": a.tag}})
    with open(path + ".tmp", "w") as f:
        json.dump(top, f)
    os.rename(path + ".tmp", path)
    print(idd)


if __name__ == "__main__":
    main()
