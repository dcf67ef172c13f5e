#!/usr/bin/env python3
"""A hostile read-only registry for adversarial tests (python3 stdlib only).

usage: fakereg.py PORT LAYOUTS_DIR LOG

Serves every OCI layout LAYOUTS_DIR/NAME as repository NAME, trusting nothing
and checking nothing: whatever bytes a crafted layout holds go out as they
are, under the digest its descriptors claim. GET/HEAD of
  /v2/                          200
  /v2/NAME/manifests/TAG        the blob index.json tags TAG (its mediaType
                                as Content-Type, its digest as
                                Docker-Content-Digest)
  /v2/NAME/manifests/DIGEST     the blob, typed by its own mediaType
  /v2/NAME/blobs/DIGEST         the blob
Two endless answers: blobs of repository "endless" that the layout does not
hold, and manifest tag "forever" of any repository, stream zeros with chunked
encoding until the client hangs up. Each request is logged as "METHOD PATH
STATUS".
"""
import http.server
import json
import os
import re
import sys

PORT, ROOT, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def blob_path(repo, digest):
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        return None
    p = os.path.join(ROOT, repo, "blobs", "sha256", digest[7:])
    return p if os.path.isfile(p) else None


def tagged(repo, tag):
    try:
        idx = json.load(open(os.path.join(ROOT, repo, "index.json")))
    except (OSError, ValueError, RecursionError):
        return None
    for m in idx.get("manifests", []):
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return m
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def log(self, status):
        with open(LOG, "a") as f:
            f.write(f"{self.command} {self.path} {status}\n")

    def send(self, status, body=b"", ctype="application/json", digest=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.log(status)

    def forever(self, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.log("200-endless")
        if self.command == "HEAD":
            return
        chunk = b"0" * 65536
        try:
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            self.close_connection = True

    def missing(self):
        self.send(404, b'{"errors":[{"code":"NOT_FOUND","message":"not here"}]}')

    def handle_one(self):
        if self.path == "/v2/":
            return self.send(200, b"{}")
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", self.path)
        if not m:
            return self.missing()
        repo, kind, ref = m.groups()
        if kind == "manifests" and ref == "forever":
            return self.forever(MT_MANIFEST)
        ctype, digest = "application/octet-stream", ref
        if kind == "manifests" and not ref.startswith("sha256:"):
            d = tagged(repo, ref)
            if not d:
                return self.missing()
            ctype, digest = d.get("mediaType", MT_MANIFEST), d.get("digest", "")
        path = blob_path(repo, digest)
        if not path:
            if repo == "endless" and kind == "blobs":
                return self.forever(ctype)
            return self.missing()
        data = open(path, "rb").read()
        if kind == "manifests" and ctype == "application/octet-stream":
            try:
                ctype = json.loads(data).get("mediaType", MT_MANIFEST)
            except (ValueError, RecursionError, AttributeError):
                ctype = MT_MANIFEST
        self.send(200, data, ctype, digest)

    do_GET = do_HEAD = handle_one


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
