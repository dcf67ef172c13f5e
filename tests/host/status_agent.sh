#!/bin/sh
# The node agent (skrun run --follow) on the build host, which has no
# sched_ext: every digest it is asked to run is refused by the kernel check,
# which is what a node lacking a kfunc sees. What that leaves to test here:
# the desired-state file watched through a kubelet-style ..data swap; a
# malformed, half-written or deleted file reported without touching the store;
# the bad digest remembered and not retried; a registry tag polled with one
# request per poll (counted in the registry's access log); a tag moved to an
# unsigned digest refused before anything is stored; a registry outage; status
# --json and the metrics file. Attaching, the health window and the rollback
# run on the sched_ext kernel in tests/vm/test_supervise.sh.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

if [ -d /sys/kernel/sched_ext ]; then
	# this file relies on the kernel check refusing everything; the VM test covers a real kernel
	echo "INFO: status_agent: this host has sched_ext; its scenarios run in tests/vm/test_supervise.sh"
	exit 0
fi
export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache SKBUILD_KEY_PASSWORD=
reg_start agent
REPO=127.0.0.1:$REG_PORT/scheds
S=$T/store
"$SKBUILD" key generate -o "$T/ci" >/dev/null 2>&1 || reg_fatal "key" "skbuild key generate failed"
cat >"$T/policy.json" <<JSON
{"version": 1, "keys": {"ci": "ci.pub"}, "scopes": {"$REPO": {"keys": ["ci"]}}}
JSON
build() { # SRC REF [skbuild options]
	_src=$1 _ref=$2
	shift 2
	"$SKBUILD" build -q "$_src" -o "$T/l-$(echo "$_ref" | tr '/:' '__')" -t 1 --push "$_ref" "$@" \
		>"$T/build.log" 2>&1 || reg_fatal "build $_ref" "$(tail -5 "$T/build.log")"
}
build "$SK_ROOT/scheds/fifo" "$REPO/fifo:stable" --sign "$T/ci.key"

A=""
stop_agent() {
	[ -n "$A" ] || return 0
	"$SKRUN" stop >"$T/stop.out" 2>&1
	wait "$A"
	_rc=$?
	A=""
	return $_rc
}
sk_on_exit 'kill $A 2>/dev/null'
wait_log() { # PATTERN [TENTHS]
	for _ in $(seq "${2:-150}"); do grep -q -- "$1" "$T/agent.log" && return 0; sleep 0.1; done
	return 1
}
logged() { # NAME PATTERN
	if wait_log "$2"; then pass "$1"; else fail "$1" "no /$2/ in: $(tail -n 5 "$T/agent.log")"; fi
}
# the store's content (what the issue calls "unchanged"): blobs and index, not leases
store_sum() { (cd "$S" && find blobs index.json -type f 2>/dev/null | sort | xargs -r sha256sum); }
# the agent logs a transition, then records it: status is asked until it agrees (2 s)
json() { # NAME PYTHON: asserts on j (status --json) and a (its agent record)
	for _ in $(seq 20); do
		"$SKRUN" status --json >"$T/st.json" 2>&1
		python3 - "$T/st.json" "$2" 2>"$T/json.err" <<'PY' && break
import json, sys
j = json.load(open(sys.argv[1]))
a = j["skrun"]["agent"]
exec(sys.argv[2])
PY
		sleep 0.1
	done
	if [ ! -s "$T/json.err" ]; then pass "$1"; else fail "$1" "$(cat "$T/json.err" "$T/st.json")"; fi
}

# ===== the desired-state file, projected the way kubelet projects a ConfigMap =====
export SKRUN_STATE_DIR=$T/run
P=$T/pool
mkdir -p "$P"
n=0
project() { # CONTENT
	n=$((n + 1))
	mkdir "$P/..ts$n" && printf '%s\n' "$1" >"$P/..ts$n/skrun.json"
	_old=$(readlink "$P/..data" 2>/dev/null)
	ln -s "..ts$n" "$P/..data_tmp" && mv -T "$P/..data_tmp" "$P/..data"
	[ -L "$P/skrun.json" ] || ln -s ..data/skrun.json "$P/skrun.json"
	[ -z "$_old" ] || rm -rf "${P:?}/$_old"
}
GOOD="{\"version\": 1, \"scheduler\": \"fifo\", \"health\": {\"windowS\": 2},
 \"schedulers\": {\"fifo\": {\"ref\": \"$REPO/fifo:stable\"}}}"
project "$GOOD"
"$SKRUN" run --config "$P/skrun.json" --follow --store "$S" --policy "$T/policy.json" \
	--metrics-file "$T/m.prom" >"$T/agent.log" 2>&1 &
A=$!
logged "file: the desired state read through the ..data symlinks" "agent: desired: $P/skrun.json: scheduler 'fifo' (content sha256:[0-9a-f]*), health window 2 s"
logged "file: a kernel that cannot run it: refused, remembered" "agent: refused to sha256:[0-9a-f]*: cannot run on this kernel: $REPO/fifo:stable: .*sha256:[0-9a-f]* verified, nothing was stored: sha256:[0-9a-f]* is not compatible with this kernel"
# judged on its config before any layer is fetched: nothing of it is kept
check_eq "file: the kernel's refusal stored nothing (no blob: not the index, config or object; no reference)" \
	"$(find "$S/blobs" -type f 2>/dev/null | wc -l) $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("manifests", [])))' "$S/index.json" 2>&1)" "0 0"
json "status --json: the agent's source, desired digest, bad digest, transitions, not ready" "
assert j['status'] == 'waiting' and j['supervisorPid'] > 0, j
assert a['source'] == {'kind': 'file', 'path': '$P/skrun.json', 'watching': '$P'}, a['source']
assert a['healthWindowS'] == 2 and a['pending'] is None and a['committed'] is None and a['running'] is None, a
d = a['desired']
assert d['valid'] and d['ref'] == '$REPO/fifo:stable' and d['digest'].startswith('sha256:'), d
assert [b['digest'] for b in a['bad']] == [d['digest']] and 'not compatible with this kernel' in a['bad'][0]['reason'], a['bad']
assert [t['event'] for t in a['transitions']] == ['start', 'desired', 'refused'], a['transitions']
assert a['ready'] is False and a['readiness'].startswith('the desired ' + d['digest'] + ' does not run: '), a
"
grep -q "\"bad\":\[{\"digest\":\"sha256:" "$SKRUN_STATE_DIR/agent.json" && pass "file: the bad digest is kept in the state dir (agent.json)" ||
	fail "file: agent.json" "$(cat "$SKRUN_STATE_DIR/agent.json")"
before=$(store_sum)

project '{"version": 1, "scheduler": "vtime", "schedulers": {"vtime": {"ref": '
logged "file: a malformed desired state is reported" "desired-invalid: desired state not usable: $P/skrun.json: invalid JSON"
json "status --json: the desired state invalid, with the parser's reason" "
assert a['desired']['valid'] is False and 'invalid JSON' in a['desired']['error'], a['desired']
assert a['transitions'][-1]['event'] == 'desired-invalid' and a['ready'] is False, a
"
# an editor's half-written file, in place: IN_CLOSE_WRITE on the file behind the links
printf '{"version": 1, "scheduler": "vti' >"$P/..data/skrun.json"
logged "file: a file half-written in place is reported" "desired-invalid: desired state not usable: $P/skrun.json: invalid JSON: document ends early (after 32 bytes)"
project '{"version": 1, "scheduler": "vtime", "schedulers": {"vtime": {"ref": "x", "sets": {}}}}'
logged "file: a desired state skrun.json's schema refuses" 'schedulers.vtime: unknown field "sets" (did you mean "set"?)'
rm "$P/skrun.json"
logged "file: a deleted desired state is no request to stop" "skrun.json is gone (deleted, or a swap left no file); a missing desired state is not a request to stop; keeping what runs"
kill -0 "$A" 2>/dev/null && pass "file: the agent keeps going after bad desired states" || fail "file: the agent keeps going" "it exited: $(tail -5 "$T/agent.log")"
check_eq "file: bad desired states changed nothing in the store" "$(store_sum)" "$before"
fetches=$(grep -c "switch: preparing" "$T/agent.log")
check_eq "file: bad desired states fetched nothing" "$fetches" 1
# the first content again: a change back, so it is looked at, but its digest is not retried
project "$GOOD"
logged "file: the same digest under the same desired state is not retried" "refused to sha256:[0-9a-f]*: not retried: it failed before ($REPO/fifo:stable: .*is not compatible"
check_eq "file: ...and the kernel check did not run again" \
	"$(grep -c "^skrun: ERROR .*is not compatible with this kernel" "$T/agent.log")" 1
grep -qx 'schedkit_status{status="waiting"} 1' "$T/m.prom" && grep -qx 'schedkit_agent_ready 0' "$T/m.prom" &&
	grep -qx 'schedkit_agent_bad_digests 1' "$T/m.prom" && grep -qx 'schedkit_agent_transitions_total{event="desired-invalid"} 4' "$T/m.prom" &&
	grep -qx 'schedkit_agent_transitions_total{event="refused"} 2' "$T/m.prom" &&
	pass "metrics: waiting, not ready, one bad digest, four invalid desired states, two refusals" || fail "metrics" "$(grep -v '^#' "$T/m.prom")"
if command -v promtool >/dev/null 2>&1; then
	check "metrics: promtool accepts the agent's file" sh -c "promtool check metrics <'$T/m.prom'"
else
	fail "metrics: promtool" "not installed (make deps puts it in $SK_TOOLS)"
fi
stop_agent && grep -q "stop requested; nothing attached" "$T/agent.log" && pass "skrun stop ends an agent with nothing attached" ||
	fail "skrun stop ends an agent with nothing attached" "$(tail -3 "$T/agent.log")"
check_fails "a second agent of the same file refuses a missing directory" "cannot watch $T/nodir \\(the desired state's directory\\): No such file or directory; it must exist" \
	"$SKRUN" run --config "$T/nodir/skrun.json" --follow --store "$S" --policy "$T/policy.json"

# ===== a registry tag as a channel =====
export SKRUN_STATE_DIR=$T/run2
: >"$T/agent.log"
"$SKRUN" run "$REPO/fifo:stable" --follow --poll-interval 2 --store "$S" --policy "$T/policy.json" >"$T/agent.log" 2>&1 &
A=$!
logged "tag: the first poll resolves it, the kernel check refuses it" "agent: refused to sha256:[0-9a-f]*: cannot run on this kernel: $REPO/fifo:stable"
# one request per poll: the tag's manifest; a digest refused before is not
# fetched again (no signatures, no config)
polls() { grep -c "switch: preparing $REPO/fifo:stable" "$T/agent.log"; }
p0=$(polls)
reg_mark "$REG_LOG"
for _ in $(seq 100); do [ "$(polls)" -ge $((p0 + 3)) ] && break; sleep 0.1; done
# a poll logs "preparing" before its request: let the last one land
sleep 0.5
n=$(($(polls) - p0))
got=$(reg_since "$REG_LOG")
manifests=$(reg_since "$REG_LOG" '"GET /v2/scheds/fifo/manifests/stable ')
echo "INFO: tag: $n polls of an unchanged tag cost $got request(s) at the registry ($manifests GET of the tag's manifest)"
# each request the tag's manifest, one per poll (a poll under way at either end may add or lack one)
if [ "$got" = "$manifests" ] && [ "$n" -ge 3 ] && [ "$got" -ge $((n - 1)) ] && [ "$got" -le $((n + 1)) ]; then
	pass "tag: one request per poll when the digest is unchanged ($got for $n polls)"
else
	fail "tag: one request per poll when the digest is unchanged" "got $got request(s), $manifests of them the tag's manifest, for $n polls"
fi
D1=$(sed -n 's/.*agent: refused to \(sha256:[0-9a-f]*\): cannot run.*/\1/p' "$T/agent.log" | head -1)
check_eq "tag: an unchanged bad digest is refused once, not every poll" "$(grep -c "agent: refused" "$T/agent.log")" 1
# the tag moves to an unsigned digest: refused before anything is stored
before=$(store_sum)
build "$SK_ROOT/scheds/fifo" "$REPO/fifo:stable" --cflags -DSK_TEST_UNSIGNED
logged "tag: moved to an unsigned digest: refused by verification" "refused to sha256:[0-9a-f]*: $REPO/fifo:stable: .*verification of sha256:[0-9a-f]* failed, nothing was stored"
DU=$(sed -n 's/.*refused to \(sha256:[0-9a-f]*\): .*verification of.*/\1/p' "$T/agent.log" | head -1)
json "status --json: the unsigned digest remembered bad with the verifier's reason" "
assert a['source'] == {'kind': 'tag', 'ref': '$REPO/fifo:stable'} and a['pollS'] == 2, a
assert a['desired']['digest'] == '$DU' and '$DU' != '$D1', a['desired']
assert {b['digest'] for b in a['bad']} == {'$D1', '$DU'}, a['bad']
assert 'verification of $DU failed' in [b for b in a['bad'] if b['digest'] == '$DU'][0]['reason'], a['bad']
"
sleep 2.5
check_eq "tag: the unsigned digest changed nothing in the store, and is not reported again" \
	"$(store_sum) $(grep -c "agent: refused.*verification of" "$T/agent.log")" "$before 1"
# an outage: the agent keeps going and tries again at the next poll
reg_stop agent
p0=$(grep -c "switch: preparing" "$T/agent.log")
for _ in $(seq 60); do [ "$(grep -c "switch: preparing" "$T/agent.log")" -ge $((p0 + 2)) ] && break; sleep 0.1; done
kill -0 "$A" 2>/dev/null && [ "$(grep -c "switch: preparing" "$T/agent.log")" -ge $((p0 + 2)) ] &&
	grep -q "agent: fetch-failed: $REPO/fifo:stable: .*Couldn't connect" "$T/agent.log" &&
	pass "tag: a registry outage: warned, still polling" || fail "tag: a registry outage" "$(tail -5 "$T/agent.log")"
stop_agent || fail "tag: skrun stop" "$(cat "$T/stop.out")"

# ===== a tag whose registry is down and that the store never saw: retried, reported once =====
export SKRUN_STATE_DIR=$T/run3
dead=127.0.0.1:$(free_port)
"$SKRUN" run "$dead/scheds/fifo:1" --follow --poll-interval 1 --store "$S" --policy "$T/policy.json" >"$T/agent.log" 2>&1 &
A=$!
logged "outage: the fetch failed, reported, retried" "agent: fetch-failed: $dead/scheds/fifo:1: .*; keeping what runs, retrying"
for _ in $(seq 50); do [ "$(grep -c "switch: preparing" "$T/agent.log")" -ge 3 ] && break; sleep 0.1; done
json "status --json: one fetch-failed transition for an outage, however many polls" "
assert [t['event'] for t in a['transitions']] == ['start', 'fetch-failed'], a['transitions']
assert a['bad'] == [] and a['desired']['digest'] == '' and a['ready'] is False, a
"
check_eq "outage: polled again meanwhile" "$(grep -c "switch: preparing" "$T/agent.log" | awk '{print ($1 >= 3)}')" 1
stop_agent || fail "outage: skrun stop" "$(cat "$T/stop.out")"
