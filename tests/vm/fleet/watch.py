#!/usr/bin/env python3
"""Waits until a fleet node's report (tests/vm/fleet/guest.sh) meets every check.

  watch.py NODEDIR TIMEOUT [--hold SECONDS] [--since SEQ] [--vm VMDIR] CHECK...
  watch.py --get NODEDIR NAME     prints a KEY=VALUE line's value, or else an
                                  unlabelled metric sample, of the last report

NODEDIR/report is the guest's latest report: KEY=VALUE lines (seq, time,
observed, probe, agent, state, ops, enable_seq), then "--- status" and
`skrun status --json`, then "--- metrics" and the metrics file. A CHECK is
  KEY=VALUE  KEY!=VALUE           a report line (probe=0, ops=vtime)
  json:PATH=VALUE  json:PATH!=VALUE  a field of status --json (dotted path,
                                  array indexes as numbers; a string compares
                                  as is, anything else as compact JSON, null
                                  as "null"; a missing field is "")
  json:PATH~REGEX                 the field, as compact JSON, matches REGEX
  metric:NAME{L="V",...}=N (or >=N) a sample whose labels include those given
  status~REGEX                    the status --json text matches REGEX
With --hold, every check must stay true in every report for SECONDS of guest
time (the DaemonSet's minReadySeconds). With --since, only reports after
SEQ count. With --vm, it stops waiting when the guest's qemu has exited
(vm_start's VMDIR/qemu.rc). Exits 0 when met; else 1, naming the checks not met in the last
report, and printing it. Prints the seq of the report that met them.
"""
import json
import os
import re
import sys
import time


def parse(path):
    try:
        text = open(path).read()
    except OSError:
        return None
    kv, status, metrics, part = {}, [], [], "kv"
    for line in text.splitlines():
        if line == "--- status":
            part = "status"
        elif line == "--- metrics":
            part = "metrics"
        elif part == "kv" and "=" in line:
            k, v = line.split("=", 1)
            kv[k] = v
        elif part == "status":
            status.append(line)
        elif part == "metrics":
            metrics.append(line)
    st_text = "\n".join(status)
    try:
        st = json.loads(st_text)
    except ValueError:
        st = None
    samples = []
    for line in metrics:
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
            samples.append((m.group(1), labels, m.group(4)))
    return {"kv": kv, "status_text": st_text, "status": st, "metrics": samples, "text": text}


def field(st, path):
    v = st
    for p in path.split("."):
        if isinstance(v, list) and p.lstrip("-").isdigit() and -len(v) <= int(p) < len(v):
            v = v[int(p)]
        elif isinstance(v, dict) and p in v:
            v = v[p]
        else:
            return ""  # missing; a JSON null is "null"
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def check(r, c):
    if c.startswith("json:"):
        if r["status"] is None:
            return False
        m = re.match(r"^json:([^=!~]+)(=|!=|~)(.*)$", c)
        got = field(r["status"], m.group(1))
        if m.group(2) == "=":
            return got == m.group(3)
        if m.group(2) == "!=":
            return got != m.group(3)
        return re.search(m.group(3), got) is not None
    if c.startswith("metric:"):
        m = re.match(r"^metric:([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?(>=|=)(\S+)$", c)
        want = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        for name, labels, val in r["metrics"]:
            if name != m.group(1) or any(labels.get(k) != v for k, v in want.items()):
                continue
            if m.group(4) == "=" and float(val) == float(m.group(5)):
                return True
            if m.group(4) == ">=" and float(val) >= float(m.group(5)):
                return True
        return False
    if c.startswith("status~"):
        return re.search(c[len("status~"):], r["status_text"]) is not None
    m = re.match(r"^(\w+)(!=|=)(.*)$", c)
    got = r["kv"].get(m.group(1), "")
    return (got == m.group(3)) if m.group(2) == "=" else (got != m.group(3))


def get(node, name):
    r = parse(os.path.join(node, "report"))
    if r and name in r["kv"]:
        print(r["kv"][name])
        return 0
    for n, labels, val in (r or {}).get("metrics", []):
        if n == name and not labels:
            print(val.split(".")[0] if val.endswith(".0") else val)
            return 0
    print(f"{node}: no {name} in the last report", file=sys.stderr)
    return 1


def main():
    args = sys.argv[1:]
    if args[0] == "--get":
        return get(args[1], args[2])
    node, timeout = args[0], float(args[1])
    args = args[2:]
    hold, since, vm = 0.0, 0, None
    while args and args[0] in ("--hold", "--since", "--vm"):
        if args[0] == "--hold":
            hold = float(args[1])
        elif args[0] == "--vm":
            vm = args[1]
        else:
            since = int(args[1])
        args = args[2:]
    deadline = time.monotonic() + timeout
    last, met_at, seen, gone = None, None, None, ""
    while time.monotonic() < deadline:
        r = parse(os.path.join(node, "report"))
        if r and r["kv"].get("seq") != seen and int(r["kv"].get("seq", 0)) > since:
            seen = r["kv"].get("seq")
            last = r
            if all(check(r, c) for c in args):
                t = int(r["kv"].get("time", 0))
                met_at = t if met_at is None else met_at
                if t - met_at >= hold:
                    print(seen)
                    return 0
            else:
                met_at = None
        if os.path.exists(os.path.join(node, "fatal")):
            break
        if vm and os.path.exists(os.path.join(vm, "qemu.rc")):
            gone = f" (the guest's qemu exited, status {open(os.path.join(vm, 'qemu.rc')).read().strip()})"
            break
        time.sleep(0.2)
    name = os.path.basename(node.rstrip("/"))
    if last is None:
        print(f"{name}: no report from the guest within {timeout:.0f} s{gone}", file=sys.stderr)
    else:
        bad = [c for c in args if not check(last, c)]
        if bad:
            print(f"{name}: not met within {timeout:.0f} s{gone}: {' '.join(bad)}", file=sys.stderr)
        else:
            print(f"{name}: met, but not held for {hold:.0f} s within {timeout:.0f} s{gone}", file=sys.stderr)
        print("--- last report:", file=sys.stderr)
        sys.stderr.write(last["text"])
    if os.path.exists(os.path.join(node, "fatal")):
        print(f"{name}: the guest gave up: {open(os.path.join(node, 'fatal')).read()}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
