#!/usr/bin/env python3
"""A registry front that adds the OCI 1.1 referrers API (python3 stdlib only).

usage: referrersproxy.py LISTEN_PORT UPSTREAM_PORT LOG_FILE

No registry packaged for Debian serves the referrers API (docker-registry 2.8
and crane 0.20 answer 404), so tests put this in front of docker-registry:
every request is forwarded to 127.0.0.1:UPSTREAM_PORT, except that
  - a manifest PUT whose body has a "subject" is recorded as a referrer of
    that subject and answered with the OCI-Subject header, as a registry
    with the API does (clients then write no referrers tag);
  - GET /v2/NAME/referrers/DIGEST[?artifactType=T] answers the image index
    of the referrers recorded for DIGEST (filtered by T, with
    OCI-Filters-Applied), 200 even when there are none.
Each request is logged to LOG_FILE as "METHOD PATH STATUS".
"""
import hashlib
import http.client
import http.server
import json
import re
import sys
import threading
import urllib.parse

LISTEN, UPSTREAM, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
referrers = {}  # (name, subject digest) -> [descriptor]
MANIFEST = re.compile(r"^/v2/(.+)/manifests/([^/?]+)$")
REFERRERS = re.compile(r"^/v2/(.+)/referrers/(sha256:[0-9a-f]{64})(\?.*)?$")


def log(line, status):
    with lock, open(LOG, "a") as f:
        f.write(f"{line} {status}\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def referrers_api(self, m):
        name, digest, query = m.group(1), m.group(2), m.group(3) or ""
        want = urllib.parse.parse_qs(query[1:]).get("artifactType", [None])[0]
        with lock:
            found = list(referrers.get((name, digest), []))
        headers = [("Content-Type", "application/vnd.oci.image.index.v1+json")]
        if want:
            found = [d for d in found if d.get("artifactType") == want]
            headers.append(("OCI-Filters-Applied", "artifactType"))
        idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": found}
        self.answer(200, headers, json.dumps(idx).encode())
        log(f"{self.command} {self.path}", 200)

    def handle_one(self):
        line = f"{self.command} {self.path}"
        m = REFERRERS.match(self.path)
        if m and self.command in ("GET", "HEAD"):
            self.body()
            return self.referrers_api(m)
        body = self.body()
        up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "content-length", "transfer-encoding")}
        if body or self.command in ("PUT", "POST", "PATCH"):
            headers["Content-Length"] = str(len(body))
        up.request(self.command, self.path, body=body, headers=headers)
        resp = up.getresponse()
        data = resp.read()
        up.close()
        out = [(k, v) for k, v in resp.getheaders()
               if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive")]
        m = MANIFEST.match(self.path)
        if m and self.command == "PUT" and resp.status == 201:
            try:
                man = json.loads(body)
            except ValueError:
                man = {}
            subject = man.get("subject") if isinstance(man, dict) else None
            if isinstance(subject, dict) and "digest" in subject:
                desc = {"mediaType": man.get("mediaType", self.headers.get("Content-Type")),
                        "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                        "size": len(body)}
                at = man.get("artifactType") or man.get("config", {}).get("mediaType")
                if at:
                    desc["artifactType"] = at
                if man.get("annotations"):
                    desc["annotations"] = man["annotations"]
                with lock:
                    lst = referrers.setdefault((m.group(1), subject["digest"]), [])
                    if all(d["digest"] != desc["digest"] for d in lst):
                        lst.append(desc)
                out.append(("OCI-Subject", subject["digest"]))
        if self.command == "HEAD":
            clen = resp.getheader("Content-Length")
            self.send_response(resp.status)
            for k, v in out:
                self.send_header(k, v)
            if clen is not None:
                self.send_header("Content-Length", clen)
            self.end_headers()
        else:
            self.answer(resp.status, out, data)
        log(line, resp.status)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_one


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", LISTEN), Handler).serve_forever()
