#!/usr/bin/env python3
"""A Bearer token server for docker-registry's `auth: token:` (python3 stdlib
plus the openssl command for RS256 signatures).

usage: tokenserver.py PORT KEY.pem CERT.pem ISSUER LOG [--user U:P]...
                      [--ttl SECONDS] [--expires-in SECONDS]

GET /token?service=S&scope=repository:NAME:ACTIONS... with optional Basic
auth. A known user gets every action asked for; anonymous callers get only
"pull" on repositories under public/; wrong credentials get 401. The JWT
carries the signing certificate in x5c (the registry checks it against its
rootcertbundle). --ttl is how long the registry will accept the token (the
registry adds 60 s of leeway to exp, which is subtracted here); --expires-in
is what the answer claims (default: the ttl), so a token can be made to
expire earlier than the client was told. Each request is logged to LOG as
one JSON line {user, service, scopes, granted}.
"""
import argparse
import base64
import http.server
import json
import subprocess
import threading
import time
import urllib.parse
import uuid

LEEWAY = 60
ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("key")
ap.add_argument("cert")
ap.add_argument("issuer")
ap.add_argument("log")
ap.add_argument("--user", action="append", default=[])
ap.add_argument("--ttl", type=int, default=300)
ap.add_argument("--expires-in", type=int)
args = ap.parse_args()
users = dict(u.split(":", 1) for u in args.user)
with open(args.cert) as f:
    pem = f.read()
cert_der_b64 = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
lock = threading.Lock()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(data):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key], input=data,
                          capture_output=True, check=True).stdout


def token(user, service, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der_b64]}
    claims = {"iss": args.issuer, "sub": user or "", "aud": service,
              "exp": now + args.ttl - LEEWAY, "nbf": now - 1, "iat": now,
              "jti": str(uuid.uuid4()), "access": access}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    return signing_input.decode() + "." + b64url(sign(signing_input))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != "/token":
            return self.reply(404, {"error": "not found"})
        q = urllib.parse.parse_qs(u.query)
        service = q.get("service", [""])[0]
        scopes = q.get("scope", [])
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                name, pw = base64.b64decode(auth[6:]).decode().split(":", 1)
            except Exception:
                return self.reply(400, {"error": "bad Authorization header"})
            if users.get(name) != pw:
                self.log_req(name, service, scopes, [], 401)
                return self.reply(401, {"error": "invalid credentials"},
                                  [("WWW-Authenticate", 'Basic realm="token"')])
            user = name
        access = []
        for s in scopes:
            for one in s.split(" "):
                parts = one.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
                if user is None:
                    actions = [a for a in actions if a == "pull" and name.startswith("public/")]
                if actions:
                    access.append({"type": "repository", "name": name, "actions": actions})
        self.log_req(user, service, scopes, access, 200)
        tok = token(user, service, access)
        self.reply(200, {"token": tok, "access_token": tok,
                         "expires_in": args.expires_in if args.expires_in is not None else args.ttl,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    def log_req(self, user, service, scopes, access, code):
        with lock, open(args.log, "a") as f:
            f.write(json.dumps({"user": user, "service": service, "scopes": scopes,
                                "granted": access, "status": code}) + "\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", args.port), Handler).serve_forever()
