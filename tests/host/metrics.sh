#!/bin/sh
# The metrics file (runner/metrics.c, docs/metrics.md) is the Prometheus text
# exposition format: the unit test writes the file of a whole scenario (run,
# stall, restart, switch, error, fallback, stop) with the function the
# supervisor uses, and two independent parsers read it: promtool (Debian's
# prometheus package, `promtool check metrics`) and a strict parser of the
# format written here, which also checks the values the scenario must give.
# Each parser is first shown a broken file, so that a parser accepting
# anything cannot pass.
. "$(dirname "$0")/../lib.sh"

unit=$SK_BUILD/tests/test_metrics
[ -x "$unit" ] || { fail "metrics: unit test binary" "$unit missing (make BUILD=... tests)"; exit 0; }
SK_METRICS_DUMP=$T/schedkit.prom "$unit" >"$T/unit.out" 2>&1 ||
	{ fail "metrics: unit test" "$(tail -n 5 "$T/unit.out")"; }
[ -s "$T/schedkit.prom" ] || { fail "metrics: scenario file written" "$T/schedkit.prom empty"; exit 0; }
pass "metrics: scenario file written"

cat >"$T/parse.py" <<'EOF'
import re, sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}

def value(s):
    if s in ("NaN", "+Inf", "-Inf"):
        return float(s.replace("+", ""))
    if not re.fullmatch(r'[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?', s):
        raise ValueError("not a number: %r" % s)
    return float(s)

def labels(s, i):
    out = {}
    assert s[i] == "{"
    i += 1
    while s[i] != "}":
        m = LABEL.match(s, i)
        if not m:
            raise ValueError("bad label name at %d" % i)
        name = m.group(0)
        if name.startswith("__") or name in out:
            raise ValueError("label %s reserved or repeated" % name)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError("label %s: expected =\"" % name)
        i += 2
        v = []
        while s[i] != '"':
            if s[i] == "\\":
                esc = s[i + 1]
                if esc not in '\\"n':
                    raise ValueError("bad escape \\%s" % esc)
                v.append("\n" if esc == "n" else esc)
                i += 2
            elif s[i] == "\n":
                raise ValueError("raw newline in a label value")
            else:
                v.append(s[i])
                i += 1
        out[name] = "".join(v)
        i += 1
        if s[i] == ",":
            i += 1
        elif s[i] != "}":
            raise ValueError("expected , or } at %d" % i)
    return out, i + 1

def parse(text):
    if not text.endswith("\n"):
        raise ValueError("no final newline")
    types, helps, seen, done, samples = {}, {}, set(), set(), {}
    cur = None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        try:
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    name = parts[2]
                    if not NAME.fullmatch(name):
                        raise ValueError("bad metric name %r" % name)
                    table = helps if parts[1] == "HELP" else types
                    if name in table:
                        raise ValueError("second %s for %s" % (parts[1], name))
                    if parts[1] == "TYPE":
                        if name in seen:
                            raise ValueError("TYPE after samples of %s" % name)
                        if len(parts) != 4 or parts[3] not in TYPES:
                            raise ValueError("bad TYPE line")
                    table[name] = parts[3] if len(parts) == 4 else ""
                    if cur != name:
                        if name in done:
                            raise ValueError("%s not contiguous" % name)
                        if cur:
                            done.add(cur)
                        cur = name
                continue
            if not line:
                raise ValueError("empty line")
            m = NAME.match(line)
            if not m:
                raise ValueError("bad sample name")
            name, i = m.group(0), m.end()
            lab = {}
            if i < len(line) and line[i] == "{":
                lab, i = labels(line, i)
            rest = line[i:]
            if not rest.startswith(" "):
                raise ValueError("no space before the value")
            fields = rest[1:].split(" ")
            if len(fields) not in (1, 2) or (len(fields) == 2 and not re.fullmatch(r'-?\d+', fields[1])):
                raise ValueError("bad value/timestamp %r" % rest)
            v = value(fields[0])
            family = name
            if cur != family:
                if family in done:
                    raise ValueError("%s not contiguous" % family)
                if cur:
                    done.add(cur)
                cur = family
            if types.get(family) == "counter":
                if not family.endswith("_total") or v < 0:
                    raise ValueError("counter %s: needs _total and a value >= 0" % family)
            key = (name, tuple(sorted(lab.items())))
            if key in samples:
                raise ValueError("duplicate series %s%s" % key)
            samples[key] = v
            seen.add(family)
        except (ValueError, IndexError) as e:
            raise ValueError("line %d: %s: %r" % (n, e, line))
    for name in seen:
        if name not in types or name not in helps:
            raise ValueError("%s has no TYPE or HELP" % name)
    return samples

def get(samples, name, **lab):
    key = (name, tuple(sorted(lab.items())))
    if key not in samples:
        raise SystemExit("missing %s%s" % (name, lab))
    return samples[key]

if __name__ == "__main__":
    text = open(sys.argv[2]).read()
    try:
        s = parse(text)
    except ValueError as e:
        raise SystemExit("invalid: %s" % e)
    if sys.argv[1] == "scenario":
        want = {
            ("schedkit_up", ()): 0,
            ("schedkit_restarts_total", ()): 2,
            ("schedkit_switches_total", ()): 1,
            ("schedkit_fallbacks_total", ()): 1,
            ("schedkit_rollbacks_total", ()): 0,
            ("schedkit_last_transition_timestamp_seconds", ()): 1700000007,
            ("schedkit_status", (("status", "stopped"),)): 1,
            ("schedkit_status", (("status", "running"),)): 0,
            ("schedkit_ejections_total", (("kind", "1026"), ("kind_name", "runnable task stall"))): 1,
            ("schedkit_ejections_total", (("kind", "1025"), ("kind_name", "scx_bpf_error"))): 1,
            ("schedkit_sched_ext_state", (("state", "disabled"),)): 1,
            ("schedkit_sched_ext_state", (("state", "enabled"),)): 0,
        }
        for k, v in want.items():
            if s.get(k) != v:
                raise SystemExit("%s%s = %r, want %r" % (k[0], dict(k[1]), s.get(k), v))
        ej = [k for k in s if k[0] == "schedkit_ejections_total"]
        if len(ej) != 2:
            raise SystemExit("ejections by kind: %r (the stop is no ejection)" % ej)
        if any(k[0] == "schedkit_scheduler_running" for k in s):
            raise SystemExit("schedkit_scheduler_running present while stopped")
        fb = [dict(k[1]) for k in s if k[0] == "schedkit_artifact_info" and dict(k[1]).get("role") == "fallback"]
        if len(fb) != 1 or fb[0]["digest"] != "sha256:" + "f" * 64:
            raise SystemExit("fallback artifact_info: %r" % fb)
    print("ok: %d series" % len(s))
EOF

# Broken on purpose: an unknown escape in a label value, a sample before its TYPE.
printf '# HELP schedkit_up x\n# TYPE schedkit_up gauge\nschedkit_up{a="b\\q"} 1\n' >"$T/bad1.prom"
printf 'schedkit_x_total 1\n# TYPE schedkit_x_total counter\n' >"$T/bad2.prom"
check_fails "metrics: the parser refuses a bad escape" "bad escape" python3 "$T/parse.py" any "$T/bad1.prom"
check_fails "metrics: the parser refuses a TYPE after samples" "TYPE after samples" python3 "$T/parse.py" any "$T/bad2.prom"
check "metrics: the scenario file parses and holds the scenario's values" python3 "$T/parse.py" scenario "$T/schedkit.prom"

if command -v promtool >/dev/null 2>&1; then
	check_fails "metrics: promtool refuses a bad escape" "invalid escape|error|unknown" sh -c "promtool check metrics <'$T/bad1.prom'"
	check "metrics: promtool check metrics accepts the file" sh -c "promtool check metrics <'$T/schedkit.prom'"
else
	fail "metrics: promtool" "not installed (make deps puts it in $SK_TOOLS)"
fi
