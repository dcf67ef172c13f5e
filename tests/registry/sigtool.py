#!/usr/bin/env python3
"""Writes a hostile cosign signature manifest into a registry (test input only).

usage: sigtool.py junk REGISTRY REPO DIGEST COUNT
    Tags sha256-<hex>.sig in REPO with a manifest of COUNT simple-signing layers
    whose payload is junk and whose signature annotation is garbage.
usage: sigtool.py append REGISTRY REPO DIGEST COUNT
    The same, but keeps the layers of the .sig already there first.
"""
import hashlib
import http.client
import json
import sys

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_SIMPLE = "application/vnd.dev.cosign.simplesigning.v1+json"


def conn(reg):
    host, port = reg.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=20)


def put_blob(reg, repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    c = conn(reg)
    c.request("POST", "/v2/%s/blobs/uploads/" % repo)
    r = c.getresponse()
    r.read()
    loc = r.getheader("Location")
    sep = "&" if "?" in loc else "?"
    path = loc.split("//", 1)[-1]
    path = path[path.index("/"):] if not loc.startswith("/") else loc
    c.request("PUT", "%s%sdigest=%s" % (path, sep, d), body=data,
              headers={"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    r.read()
    assert r.status in (201, 202), r.status
    return d, len(data)


def get_manifest(reg, repo, ref):
    c = conn(reg)
    c.request("GET", "/v2/%s/manifests/%s" % (repo, ref), headers={"Accept": MT_MANIFEST})
    r = c.getresponse()
    body = r.read()
    return json.loads(body) if r.status == 200 else None


def main():
    mode, reg, repo, digest, count = sys.argv[1:6]
    tag = "sha256-%s.sig" % digest.split(":")[1]
    layers = []
    if mode == "append":
        have = get_manifest(reg, repo, tag)
        layers = have["layers"] if have else []
    junk, size = put_blob(reg, repo, b'{"critical":"junk"}')
    for i in range(int(count)):
        layers.append({"mediaType": MT_SIMPLE, "digest": junk, "size": size,
                       "annotations": {"dev.cosignproject.cosign/signature": "AAAA%04d" % i}})
    cfg, cfg_size = put_blob(reg, repo, b"{}")
    m = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg,
                    "size": cfg_size},
         "layers": layers}
    body = json.dumps(m).encode()
    c = conn(reg)
    c.request("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=body,
              headers={"Content-Type": MT_MANIFEST})
    r = c.getresponse()
    r.read()
    assert r.status == 201, r.status


main()
