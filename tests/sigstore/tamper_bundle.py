#!/usr/bin/env python3
"""Edits the first Sigstore bundle attached to a digest in an OCI layout.

usage: tamper_bundle.py LAYOUT DIGEST OP [ARG]

The bundle is found as skrun finds it: index.json's sha256-<hex> entry (the
referrers tag), its index, the first manifest, that manifest's one layer. OP
changes the bundle, and every digest above it is written again (bundle blob,
manifest, referrers index, index.json), so that only the bundle itself is
wrong:
  dump              print the bundle (no change)
  truncate          cut the bundle in half (malformed JSON)
  version           an unknown bundle version (mediaType ...;version=0.9)
  root              flip a bit of the first log entry's inclusion proof root
  entry-from FILE   replace the log entries with those of the bundle in FILE
"""
import hashlib
import json
import os
import sys

lay, digest, op = sys.argv[1], sys.argv[2], sys.argv[3]
arg = sys.argv[4] if len(sys.argv) > 4 else None
tag = "sha256-" + digest.split(":")[1]


def blob(d):
    return open(os.path.join(lay, "blobs", "sha256", d.split(":")[1]), "rb").read()


def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(lay, "blobs", "sha256", d.split(":")[1]), "wb") as f:
        f.write(data)
    return d


def compact(o):
    return json.dumps(o, separators=(",", ":")).encode()


index_json = json.load(open(os.path.join(lay, "index.json")))
entry = next(m for m in index_json["manifests"]
             if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
ref_index = json.loads(blob(entry["digest"]))
manifest = json.loads(blob(ref_index["manifests"][0]["digest"]))
data = blob(manifest["layers"][0]["digest"])
if op == "dump":
    sys.stdout.write(data.decode())
    sys.exit(0)
b = json.loads(data)
if op == "truncate":
    data = data[: len(data) // 2]
elif op == "version":
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.9"
    data = compact(b)
elif op == "root":
    p = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    raw = bytearray(__import__("base64").b64decode(p["rootHash"]))
    raw[0] ^= 1
    p["rootHash"] = __import__("base64").b64encode(bytes(raw)).decode()
    data = compact(b)
elif op == "entry-from":
    other = json.load(open(arg))
    b["verificationMaterial"]["tlogEntries"] = other["verificationMaterial"]["tlogEntries"]
    data = compact(b)
else:
    sys.exit("unknown op " + op)
manifest["layers"][0]["digest"] = put(data)
manifest["layers"][0]["size"] = len(data)
mdata = compact(manifest)
ref_index["manifests"][0]["digest"] = put(mdata)
ref_index["manifests"][0]["size"] = len(mdata)
idata = compact(ref_index)
entry["digest"] = put(idata)
entry["size"] = len(idata)
with open(os.path.join(lay, "index.json"), "w") as f:
    json.dump(index_json, f)
