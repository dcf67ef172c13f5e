#!/usr/bin/env python3
"""A forward HTTP proxy for the proxy tests (python3 stdlib only), on loopback.

usage: fwdproxy.py LISTEN_PORT LOG_FILE

Plain HTTP requests in absolute form ("GET http://host:port/path") are
forwarded; CONNECT host:port opens a tunnel (what clients do for https://
through a proxy). Only 127.0.0.1 and localhost are reached. Each request is
logged as "METHOD TARGET" to LOG_FILE.
"""
import http.client
import http.server
import select
import socket
import sys
import threading
import urllib.parse

LISTEN, LOG = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
ALLOWED = ("127.0.0.1", "localhost")


def log(line):
    with lock, open(LOG, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def refuse(self, code, why):
        body = why.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self):
        log(f"CONNECT {self.path}")
        host, _, port = self.path.rpartition(":")
        if host not in ALLOWED:
            return self.refuse(403, "loopback only")
        try:
            up = socket.create_connection((host, int(port)), 10)
        except OSError as e:
            return self.refuse(502, str(e))
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        conns = [self.connection, up]
        try:
            while True:
                r, _, _ = select.select(conns, [], [], 30)
                if not r:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is self.connection else self.connection).sendall(data)
        finally:
            up.close()

    def forward(self):
        log(f"{self.command} {self.path}")
        u = urllib.parse.urlsplit(self.path)
        if u.scheme != "http" or u.hostname not in ALLOWED:
            return self.refuse(403, "absolute http:// URLs to loopback only")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-connection", "connection", "keep-alive")}
        up = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
        up.request(self.command, u.path + ("?" + u.query if u.query else ""), body=body,
                   headers=headers)
        resp = up.getresponse()
        data = resp.read()
        up.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                self.send_header(k, v)
        if self.command != "HEAD" or resp.getheader("Content-Length") is None:
            self.send_header("Content-Length", str(len(data)))
        else:
            self.send_header("Content-Length", resp.getheader("Content-Length"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", LISTEN), Handler).serve_forever()
