#!/bin/sh
# Smoke run of the benchmarks (make bench) with one iteration each, the VM
# part included: the scripts run end to end against the real peers, and
# results.json / results.md are well formed and complete. Timings are not
# judged here (one run on a shared machine says nothing); request counts are
# checked only for being counted at all.
. "$(dirname "$0")/../lib.sh"

out=$T/results
if python3 "$SK_ROOT/bench/bench.py" --iterations 1 --out "$out" --build "$SK_BUILD" \
	>"$T/bench.log" 2>&1; then
	pass "bench.py --iterations 1 runs every benchmark without error"
else
	fail "bench.py --iterations 1 runs every benchmark without error" "exit $?"
	tail -n 40 "$T/bench.log" | sed 's/^/    | /'
fi

check "results.json and results.md written" test -s "$out/results.json" -a -s "$out/results.md"

# Structure and completeness of results.json, one line per finding.
python3 - "$out/results.json" "$SK_ROOT" >"$T/json.log" 2>&1 <<'PY'
import json, os, sys
doc = json.load(open(sys.argv[1]))
root = sys.argv[2]
bad = []
def need(cond, what):
    if not cond:
        bad.append(what)
scheds = sorted(d for d in os.listdir(os.path.join(root, "scheds"))
                if os.path.isfile(os.path.join(root, "scheds", d, "schedkit.json")))
need(doc.get("schema") == "schedkit-bench/1", "schema is schedkit-bench/1")
need(doc.get("iterations") == 1, "iterations recorded as 1")
need(doc.get("errors") == [], "no errors: %s" % doc.get("errors"))
rows = {r["id"]: r for r in doc.get("rows", [])}
want = ["push_ms", "push_requests", "repush_ms", "repush_requests", "pull_ms",
        "pull_requests", "pull_stored_requests", "pull_stored_ms", "push_sign_ms",
        "push_sign_requests", "verify_ms", "verify_requests", "pull_verify_ms",
        "pull_verify_requests", "rss_peak_kb",
        "rss_steady_kb", "skrun_size_bytes", "skrun_size_stripped_bytes"]
want += ["build_ms_" + s for s in scheds] + ["attach_ms_" + s for s in scheds]
for rid in want:
    need(rid in rows, "row %s present" % rid)
for rid, r in rows.items():
    for k in ("name", "unit", "ours", "peer", "ratio", "target", "met", "samples", "note"):
        need(k in r, "%s has field %s" % (rid, k))
    if r.get("samples") is None:
        # Only a capability the build lacks may go unmeasured, and it says so.
        need(rid.startswith(("push_sign", "verify", "pull_verify")), "%s measured" % rid)
        need((r.get("note") or "").startswith("not measured: "), "%s says why not measured" % rid)
        continue
    s = r["samples"]
    need(isinstance(s.get("ours"), list) and len(s["ours"]) == 1, "%s: one sample of ours" % rid)
    need(all(isinstance(x, (int, float)) and x >= 0 for x in s["ours"]), "%s: numeric samples" % rid)
    if s.get("peer") is not None:
        need(len(s["peer"]) == 1, "%s: one peer sample" % rid)
        if r["peer"]:
            need(abs(r["ratio"] - r["ours"] / r["peer"]) < 1e-9, "%s: ratio = ours/peer" % rid)
    if r["target"] != "—":
        need(isinstance(r["met"], bool), "%s: met is a verdict" % rid)
    if rid.endswith("_ms") or "_ms_" in rid:
        need(r["ours"] > 0 and (r["peer"] is None or r["peer"] > 0), "%s: times are positive" % rid)
# The access log was read: a cold push makes requests, for both tools.
p = rows.get("push_requests", {})
need((p.get("ours") or 0) > 0 and (p.get("peer") or 0) > 0, "push requests counted for both tools")
print("\n".join("BAD: " + b for b in bad) if bad else "OK %d rows" % len(rows))
sys.exit(1 if bad else 0)
PY
if [ $? = 0 ]; then pass "results.json complete and well formed ($(cat "$T/json.log"))"; else
	fail "results.json complete and well formed" "see below"
	sed 's/^/    | /' "$T/json.log"
fi

# results.md: the table header and one table line per row of the JSON.
check "results.md has the results table" grep -q '^| Row | Ours | Peer | Ratio | Target | Met? |$' "$out/results.md"
python3 - "$out/results.json" "$out/results.md" >"$T/md.log" 2>&1 <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read().splitlines()
table = [l for l in md if l.startswith("| ")]
missing = [r["name"] for r in doc["rows"] if not any(l.startswith("| " + r["name"]) for l in table)]
print("missing from the table: %s" % missing if missing else "ok")
sys.exit(1 if missing else 0)
PY
if [ $? = 0 ]; then pass "results.md lists every row"; else
	fail "results.md lists every row" "$(cat "$T/md.log")"
fi
check "every missed target has its explanation section" grep -q '^## Missed targets' "$out/results.md"
