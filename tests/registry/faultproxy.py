#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for registry tests (python3 stdlib only).

usage: faultproxy.py LISTEN_PORT [UPSTREAM_HOST:]UPSTREAM_PORT RULES_FILE LOG_FILE

Forwards every request to 127.0.0.1:UPSTREAM_PORT. Before each request it
reads RULES_FILE (JSON list; re-read when it changes, which also resets the
counters, and the most-in-flight count). A rule is {"match": REGEX on "METHOD PATH?QUERY", "action": A,
"times": N (default: always)}; the first rule that matches and has uses left
applies. Actions:
  tamper       flip one byte of the response body (length and headers kept)
  wrong_digest replace Docker-Content-Digest with another digest
  extra        append bytes to the body (and to Content-Length)
  truncate     announce the full Content-Length, send half, close
  drop         close the connection without answering
  status500    answer 500 without forwarding
  status404    answer 404 without forwarding
  status429    answer 429 with Retry-After: "retry_after" seconds (default 1)
               without forwarding
  slowbody     send the body in 20 pieces, 0.1 s apart
  delay        wait "ms" milliseconds (default 200), then forward normally
  refuse_range answer 416 to a request that asks for a Range, forward others
Each request is logged to LOG_FILE as "METHOD PATH STATUS ACTION", followed
by "range=bytes=N-" when it asked for a Range and "at=SECONDS" (monotonic)
when it arrived. LOG_FILE.max holds the most requests ever in flight at once.
"""
import http.client
import http.server
import json
import os
import re
import sys
import threading
import time

LISTEN, RULES, LOG = int(sys.argv[1]), sys.argv[3], sys.argv[4]
# UPSTREAM_PORT, or HOST:PORT for an upstream on another local address
UP_HOST, _, UPSTREAM = sys.argv[2].rpartition(":")
UP_HOST, UPSTREAM = UP_HOST or "127.0.0.1", int(UPSTREAM)
lock = threading.Lock()
state = {"mtime": None, "rules": [], "used": [], "inflight": 0, "max": 0}


def pick(line):
    with lock:
        try:
            mt = os.stat(RULES).st_mtime_ns
        except FileNotFoundError:
            mt = None
        if mt != state["mtime"]:
            state["mtime"] = mt
            state["rules"] = json.load(open(RULES)) if mt else []
            state["used"] = [0] * len(state["rules"])
            state["max"] = state["inflight"]
        for i, r in enumerate(state["rules"]):
            if re.search(r["match"], line) and state["used"][i] < r.get("times", 1 << 30):
                state["used"][i] += 1
                return r["action"], r
    return None, None


def log(line, status, action, extra=""):
    with lock, open(LOG, "a") as f:
        f.write(f"{line} {status} {action or '-'}{extra}\n")


def inflight(delta):
    with lock:
        state["inflight"] += delta
        if state["inflight"] > state["max"]:
            state["max"] = state["inflight"]
            with open(LOG + ".max", "w") as f:
                f.write(f"{state['max']}\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_one(self):
        inflight(1)
        try:
            self.handle_counted()
        finally:
            inflight(-1)

    def handle_counted(self):
        line = f"{self.command} {self.path}"
        rng = self.headers.get("Range")
        extra = (f" range={rng}" if rng else "") + f" at={time.monotonic():.3f}"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        action, rule = pick(line)
        if action == "delay":
            time.sleep(rule.get("ms", 200) / 1000.0)
        if action == "drop":
            log(line, "drop", action, extra)
            self.close_connection = True
            self.connection.close()
            return
        if action == "refuse_range" and rng:
            action = "status416"
        if action in ("status500", "status404", "status429", "status416"):
            code = int(action[6:])
            msg = json.dumps({"errors": [{"code": "INJECTED", "message": f"injected {code}"}]}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(msg)))
            if code == 429:
                self.send_header("Retry-After", str(rule.get("retry_after", 1)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(msg)
            log(line, code, action, extra)
            return
        up = http.client.HTTPConnection(UP_HOST, UPSTREAM, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        if body or self.command in ("PUT", "POST", "PATCH"):
            headers["Content-Length"] = str(len(body))
        up.request(self.command, self.path, body=body, headers=headers)
        resp = up.getresponse()
        data = resp.read()
        up.close()
        out_headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive")]
        clen = resp.getheader("Content-Length")
        if self.command != "HEAD":
            clen = str(len(data))
        if action == "tamper" and data:
            data = data[:-1] + bytes([data[-1] ^ 1])
        elif action == "extra":
            data = data + b"EXTRA-BYTES"
            clen = str(len(data))
        elif action == "wrong_digest":
            out_headers = [(k, "sha256:" + "0" * 64 if k.lower() == "docker-content-digest" else v)
                           for k, v in out_headers]
        self.send_response(resp.status)
        for k, v in out_headers:
            self.send_header(k, v)
        if clen is not None:
            self.send_header("Content-Length", clen)
        self.end_headers()
        log(line, resp.status, action, extra)
        if self.command == "HEAD":
            return
        if action == "truncate":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if action == "slowbody":
            step = max(1, len(data) // 20)
            for i in range(0, len(data), step):
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                time.sleep(0.1)
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_one


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", LISTEN), Handler).serve_forever()
