#!/bin/sh
# skrun's supervisor on the real sched_ext kernel: status, one supervisor per
# host, switch (good and verifier-rejected), stop, a stalling scheduler ejected
# by the watchdog and replaced by the fallback, restart requests with backoff
# and a limit, and kill -9 of skrun returning the host to the default scheduler.
# Then the operator's side: a reboot with the registry unreachable (a tag
# starts from the store with --pull missing), status exit codes in each state,
# idempotent stop, a failed start recorded, identities per source (primary,
# fallback, switch), skrun run from skrun.json and skrun mode switching presets
# with the tunables in status, sched_ext event counters, and store rm/prune
# against the running supervisor's lease.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"
. "$SK_ROOT/tests/vm/signed.sh"

if ! vm_kernel_ready 2>"$T/kernel.err"; then
	fail vm-kernel "$(cat "$T/kernel.err")"
	exit 1
fi
signed_setup
for s in fifo vtime; do
	signed_artifact $s "$SK_ROOT/scheds/$s"
done
for s in stall restart broken needs_kfunc; do
	signed_artifact $s "$SK_ROOT/tests/scheds/$s.bpf.c"
done
signed_artifact unsigned "$SK_ROOT/scheds/fifo" unsigned --cflags -DSK_TEST_UNSIGNED
check "build the notify-socket stand-in" gcc -O2 -Wall -o "$T/data/notify_listen" "$SK_ROOT/tests/vm/helpers/notify_listen.c"
check "build asuser" gcc -O2 -Wall -o "$T/data/asuser" "$SK_ROOT/tests/vm/helpers/asuser.c"

# The guest's store, as a host with network would have it before a reboot
# that finds the registry unreachable (the guest has no network at all).
for s in fifo vtime; do
	check "host: pull $s:1 into the guest's store" \
		"$SKRUN" pull --store "$T/store" --policy "$T/etc/policy.json" "$SIGNED_REPO/$s:1"
done
# Archives whose entry is a plain tag: only --identity says what they were signed for.
for s in fifo vtime; do
	check "host: $s archive with a plain tag" python3 - "$T/data/$s.tar" "$T/data/$s-plain.tar" <<'PY'
import io, json, sys, tarfile
src, dst = sys.argv[1:3]
with tarfile.open(src) as t, tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as o:
    for m in t.getmembers():
        data = t.extractfile(m).read() if m.isfile() else None
        if m.name.lstrip("./") == "index.json":
            idx = json.loads(data)
            for e in idx["manifests"]:
                a = e.get("annotations", {})
                if not a.get("org.opencontainers.image.ref.name", "").endswith(".sig"):
                    a["org.opencontainers.image.ref.name"] = "1"
            data = json.dumps(idx, separators=(",", ":")).encode()
            m.size = len(data)
        o.addfile(m, io.BytesIO(data) if data is not None else None)
PY
done
echo "REPO=$SIGNED_REPO" >"$T/data/env"
cat >"$T/etc/skrun.json" <<JSON
{
  "version": 1,
  "scheduler": "vtime",
  "fallback": "fifo",
  "pull": "missing",
  "restart": {"policy": "on-failure", "backoffMs": 100, "maxRestarts": 1},
  "schedulers": {
    "vtime": {
      "ref": "$SIGNED_REPO/vtime:1",
      "set": {"slice_ns": 5000000},
      "modes": {"gaming": {"slice_ns": 1000000}, "power-save": {"slice_ns": 20000000}}
    },
    "fifo": {"ref": "$SIGNED_REPO/fifo:1", "set": {"fast_path": false}}
  }
}
JSON

# The node agent (tests/vm/supervise_agent.sh): the DaemonSet's exact command
# and readinessProbe from the rendered base overlay, and the desired states the
# guest projects the way kubelet does. Refs are the guest's archives.
if kubectl kustomize "$SK_ROOT/deploy/kubernetes/base" >"$T/base.yaml" 2>"$T/kustomize.err" &&
	python3 - "$T/base.yaml" "$T/data" <<'PY'; then
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ds = [d for d in docs if d["kind"] == "DaemonSet"
      and d["metadata"]["labels"].get("app.kubernetes.io/component") == "agent"]
assert len(ds) == 1, [d["metadata"]["name"] for d in docs]
c = ds[0]["spec"]["template"]["spec"]["containers"][0]
cmd, probe = c["command"], c["readinessProbe"]["exec"]["command"]
assert "--follow" in cmd, cmd
env = {e["name"]: e.get("value") for e in c.get("env", [])}
assert env.get("SKRUN_STATE_DIR") == "/run/schedkit", env
open(sys.argv[2] + "/agent.cmd", "w").write("\n".join(cmd) + "\n")
open(sys.argv[2] + "/probe.cmd", "w").write("\n".join(probe) + "\n")
PY
	pass "host: the agent DaemonSet's command and readinessProbe from kubectl kustomize: $(tr '\n' ' ' <"$T/data/agent.cmd")/ $(tr '\n' ' ' <"$T/data/probe.cmd")"
else
	fail "host: the agent DaemonSet's command and readinessProbe from kubectl kustomize" "$(cat "$T/kustomize.err")"
fi
mkdir -p "$T/data/desired"
desired() { # NAME SCHEDULER REF WINDOW [SET]
	_set=
	[ -z "${5:-}" ] || _set=", \"set\": $5"
	cat >"$T/data/desired/$1.json" <<JSON
{
  "version": 1,
  "scheduler": "$2",
  "pull": "missing",
  "metrics": "/var/lib/node-exporter/schedkit.prom",
  "health": {"windowS": $4},
  "schedulers": {"$2": {"ref": "$3"$_set}}
}
JSON
}
desired v1 fifo /data/fifo.tar 8
desired v2 vtime /data/vtime.tar 3 '{"slice_ns": 5000000}'
desired stall stall /data/stall.tar 10
desired kfunc needs_kfunc /data/needs_kfunc.tar 3

cat >"$T/guest.sh" <<'EOF'
ok() { echo "PASS: vm: $1"; }
no() { echo "FAIL: vm: $1: $2"; }
state() { cat /sys/kernel/sched_ext/state; }
ops() { cat /sys/kernel/sched_ext/root/ops 2>/dev/null; }
expect() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then ok "$1"; else no "$1" "want '$2', got '$3'"; fi
}
wait_for() { # PATTERN FILE [TENTHS]
	for _ in $(seq ${3:-100}); do grep -q "$1" "$2" && return 0; sleep 0.1; done
	return 1
}
wait_state() { # STATE [TENTHS]
	for _ in $(seq ${2:-100}); do [ "$(state)" = "$1" ] && return 0; sleep 0.1; done
	return 1
}
show() { sed 's/^/    [guest] /' "$1"; }
export SKRUN_STATE_DIR=/run/schedkit

# --- refused before anything is loaded: incompatible, bad tunables ---
seq0=$(cat /sys/kernel/sched_ext/enable_seq)
skrun run /data/needs_kfunc.tar >/tmp/n.log 2>&1
rc=$?
show /tmp/n.log
[ $rc != 0 ] && grep -q "not compatible with this kernel.*scx_bpf_schedkit_test_missing" /tmp/n.log &&
	ok "incompatible artifact refused by the kernel check" || no "incompatible artifact refused by the kernel check" "rc $rc"
grep -q "loaded\|libbpf" /tmp/n.log && no "nothing loaded for the incompatible artifact" "it reached the loader" ||
	ok "nothing loaded for the incompatible artifact"
skrun run /data/fifo.tar --set slice_ns=banana >/tmp/s1.log 2>&1
rc=$?
[ $rc != 0 ] && grep -q "not a valid unsigned integer" /tmp/s1.log && ok "--set with a bad value refused" ||
	no "--set with a bad value refused" "rc $rc $(cat /tmp/s1.log)"
skrun run /data/fifo.tar --set no_such_knob=1 >/tmp/s2.log 2>&1
rc=$?
[ $rc != 0 ] && grep -q "no tunable named 'no_such_knob'" /tmp/s2.log && ok "--set of an unknown tunable refused" ||
	no "--set of an unknown tunable refused" "rc $rc $(cat /tmp/s2.log)"
expect "state stays disabled after refusals" disabled "$(state)"
expect "nothing was enabled after refusals" "$seq0" "$(cat /sys/kernel/sched_ext/enable_seq)"

# --- status, single supervisor, switch, stop ---
# under a careless umask: the control socket must still be root's alone
sh -c 'umask 000; exec skrun run /data/fifo.tar --set slice_ns=2000000 --set fast_path=false' >/tmp/a.log 2>&1 &
pid=$!
wait_for "attached 'fifo'" /tmp/a.log
expect "fifo enabled" enabled "$(state)"
expect "control socket is 0600 under umask 000" 600 "$(stat -c %a /run/schedkit/control.sock)"
/data/asuser 65534 skrun switch /data/vtime.tar --set slice_ns=18446744073709551615 >/tmp/u1.log 2>&1
rc=$?
[ $rc != 0 ] && grep -q "permission denied: only root may control skrun" /tmp/u1.log &&
	ok "an unprivileged user cannot switch" || no "an unprivileged user cannot switch" "rc $rc $(cat /tmp/u1.log)"
/data/asuser 65534 skrun stop >/tmp/u2.log 2>&1
rc=$?
[ $rc != 0 ] && grep -q "permission denied" /tmp/u2.log && ok "an unprivileged user cannot stop" ||
	no "an unprivileged user cannot stop" "rc $rc $(cat /tmp/u2.log)"
# the peer is checked too, not only the file mode
chmod 666 /run/schedkit/control.sock
/data/asuser 65534 skrun stop >/tmp/u3.log 2>&1
rc=$?
chmod 600 /run/schedkit/control.sock
[ $rc != 0 ] && grep -q "ERROR permission denied: only root may control skrun" /tmp/u3.log &&
	ok "a non-root peer is refused even through a world-writable socket" ||
	no "a non-root peer is refused even through a world-writable socket" "rc $rc $(cat /tmp/u3.log)"
expect "fifo still attached after refused requests" fifo "$(ops)"
skrun status --json >/tmp/st.json
grep -q '"digest":"sha256:' /tmp/st.json && grep -q '"name":"fifo"' /tmp/st.json &&
	grep -q '"verdict":"ok: the kernel runs' /tmp/st.json && ok "status --json names the digest" ||
	no "status --json names the digest" "$(cat /tmp/st.json)"
skrun status >/tmp/st.txt
grep -q "verdict:    ok" /tmp/st.txt && ok "status (text)" || no "status (text)" "$(cat /tmp/st.txt)"
skrun run /data/vtime.tar >/tmp/b.log 2>&1
rc=$?
[ $rc != 0 ] && grep -q "already supervising" /tmp/b.log && ok "second skrun run refused" ||
	no "second skrun run refused" "rc $rc $(cat /tmp/b.log)"
expect "fifo still attached after refused run" fifo "$(ops)"
skrun switch /data/vtime.tar >/tmp/sw.log 2>&1
rc=$?
show /tmp/sw.log
expect "switch to vtime exit 0" 0 $rc
expect "switch: root/ops is vtime" vtime "$(ops)"
expect "switch: enabled" enabled "$(state)"
skrun switch /data/broken.tar >/tmp/sw2.log 2>&1
rc=$?
show /tmp/sw2.log
[ $rc != 0 ] && ok "switch to a rejected scheduler fails" || no "switch to a rejected scheduler fails" "rc 0"
grep -q "verifier log" /tmp/sw2.log && ok "switch shows the verifier's error" || no "switch shows the verifier's error" "no log"
expect "old scheduler still attached after failed switch" vtime "$(ops)"
expect "still enabled after failed switch" enabled "$(state)"
skrun stop >/tmp/stop.log 2>&1 && ok "skrun stop" || no "skrun stop" "$(cat /tmp/stop.log)"
wait $pid
expect "supervisor exit 0 after stop" 0 $?
expect "disabled after stop" disabled "$(state)"
grep -q "kind=64 (unregistered from user space)" /tmp/a.log && ok "stop reports unregistered" ||
	no "stop reports unregistered" "$(tail -3 /tmp/a.log)"
show /tmp/a.log

# --- a switch's pull runs beside the supervision loop, not inside it ---
ip link set lo up
nc -l -p 5999 >/dev/null 2>&1 &
ncpid=$!
skrun run /data/fifo.tar >/tmp/e.log 2>&1 &
pid=$!
wait_for "attached 'fifo'" /tmp/e.log
# a registry that accepts the connection and never answers
skrun switch 127.0.0.1:5999/scheds/slow:1 >/tmp/e-sw.log 2>&1 &
swpid=$!
wait_for "switch: preparing" /tmp/e.log
sleep 1
expect "fifo attached while the switch hangs in the fetch" fifo "$(ops)"
t0=$(date +%s)
kill -TERM $pid
wait $pid
t1=$(date +%s)
[ $((t1 - t0)) -le 5 ] && ok "SIGTERM during a hanging switch is handled at once ($((t1 - t0)) s)" ||
	no "SIGTERM during a hanging switch is handled at once" "$((t1 - t0)) s"
expect "disabled after SIGTERM during a switch" disabled "$(state)"
wait $swpid
grep -q "cancelled: skrun is stopping" /tmp/e-sw.log && ok "the switch's client is told it was cancelled" ||
	no "the switch's client is told it was cancelled" "$(cat /tmp/e-sw.log)"
kill $ncpid 2>/dev/null
show /tmp/e.log

# --- stall: the watchdog ejects it, skrun says why, the fallback takes over ---
skrun run /data/stall.tar --fallback /data/fifo.tar --backoff-ms 100 --max-restarts 1 >/tmp/c.log 2>&1 &
pid=$!
if wait_for "attached 'fifo'" /tmp/c.log 300; then ok "fallback attached after stalls"; else no "fallback attached after stalls" "timeout"; fi
show /tmp/c.log
grep -q "kind=1026 (runnable task stall)" /tmp/c.log && ok "stall reported as runnable task stall" ||
	no "stall reported as runnable task stall" "missing"
grep -q "message: .*watchdog failed to check in" /tmp/c.log && ok "kernel's stall message shown" ||
	no "kernel's stall message shown" "missing"
grep -q "restarting 'stall'" /tmp/c.log && grep -q "giving up: 1 restarts" /tmp/c.log &&
	ok "stall restarted once, then gave up" || no "stall restarted once, then gave up" "missing"
expect "fallback enabled" enabled "$(state)"
expect "fallback is fifo" fifo "$(ops)"
skrun status --json | grep -q '"status":"fallback"' && ok "status says fallback" || no "status says fallback" "$(skrun status --json)"
skrun status >/tmp/st3.txt
expect "status exit 150 on the fallback (degraded)" 150 $?
kill -TERM $pid
wait $pid
expect "disabled after SIGTERM" disabled "$(state)"

# --- restart requested by the scheduler: reattach after backoff, then a limit ---
skrun run /data/restart.tar --backoff-ms 200 --max-restarts 2 --restart-window 120 >/tmp/d.log 2>&1
rc=$?
show /tmp/d.log
[ $rc != 0 ] && ok "restart loop ends with failure status" || no "restart loop ends with failure status" "rc 0"
n=$(grep -c "asked to be restarted (SCX_ECODE_ACT_RESTART)" /tmp/d.log)
expect "three ejections asked for a restart" 3 "$n"
expect "two reattachments" 2 "$(grep -c "^skrun: attached 'restart'" /tmp/d.log | awk '{print $1 - 1}')"
grep -q "restarting 'restart' in 2[0-9][0-9] ms" /tmp/d.log && grep -q "restarting 'restart' in [45][0-9][0-9] ms" /tmp/d.log &&
	ok "backoff doubles" || no "backoff doubles" "missing delays"
grep -q "giving up: 2 restarts" /tmp/d.log && grep -q "default scheduler in place" /tmp/d.log &&
	ok "limit reached, default scheduler left" || no "limit reached, default scheduler left" "missing"
expect "disabled after giving up" disabled "$(state)"

# --- systemd Type=notify readiness, and skrun's footprint ---
/data/notify_listen /run/notify.sock STOPPING=1 >/tmp/notify.log 2>&1 &
lpid=$!
sleep 0.3
NOTIFY_SOCKET=/run/notify.sock skrun run /data/vtime.tar >/tmp/g.log 2>&1 &
pid=$!
wait_for "attached 'vtime'" /tmp/g.log
wait_for "READY=1" /tmp/notify.log 30 && grep -q "STATUS=running vtime (sha256:" /tmp/notify.log &&
	ok "READY=1 with status sent to NOTIFY_SOCKET" || no "READY=1 sent to NOTIFY_SOCKET" "$(cat /tmp/notify.log)"
sleep 1
echo "INFO: skrun binary $(wc -c </bin/skrun) bytes; $(grep -E 'VmRSS|VmHWM' /proc/$pid/status | tr -s ' \t' ' ' | tr '\n' ' ')"
kill -TERM $pid
wait $pid
wait $lpid
grep -q "STOPPING=1" /tmp/notify.log && ok "STOPPING=1 sent on SIGTERM" || no "STOPPING=1 sent on SIGTERM" "$(cat /tmp/notify.log)"

# --- the explicit opt-out runs an unsigned artifact, and says so everywhere ---
skrun run --insecure-skip-verify /data/unsigned.tar >/tmp/u.log 2>&1 &
pid=$!
wait_for "attached 'fifo'" /tmp/u.log
grep -q "WARNING: .* was NOT verified" /tmp/u.log && ok "unverified run warns" || no "unverified run warns" "$(head -3 /tmp/u.log)"
skrun status --json | grep -q '"verified":false' && ok "status records it unverified" || no "status records it unverified" "$(skrun status --json)"
kill -TERM $pid
wait $pid

# --- kill -9: the kernel drops the scheduler, the next run works ---
skrun run /data/fifo.tar >/tmp/e.log 2>&1 &
pid=$!
wait_for "attached 'fifo'" /tmp/e.log
expect "enabled before kill -9" enabled "$(state)"
kill -9 $pid
wait $pid 2>/dev/null
if wait_state disabled 50; then ok "kill -9: kernel back to disabled"; else no "kill -9: kernel back to disabled" "$(state)"; fi
skrun status >/tmp/st2.txt
expect "status exit 1 for a dead supervisor" 1 $?
grep -q "skrun:      dead" /tmp/st2.txt && ok "status notices the dead supervisor" || no "status notices the dead supervisor" "$(cat /tmp/st2.txt)"
skrun run /data/fifo.tar >/tmp/f.log 2>&1 &
pid=$!
if wait_for "attached 'fifo'" /tmp/f.log; then ok "next run after kill -9 works"; else no "next run after kill -9 works" "$(cat /tmp/f.log)"; fi
kill -TERM $pid
wait $pid
expect "disabled after the kill -9 scenario" disabled "$(state)"

# ===== the operator's side =====
. /data/env
# --- a reboot with the registry unreachable: the tag starts from the store ---
skrun run --pull missing "$REPO/fifo:1" >/tmp/p1.log 2>&1 &
pid=$!
if wait_for "attached 'fifo'" /tmp/p1.log 300; then ok "--pull missing: a tag starts from the store with no registry"; else
	no "--pull missing: a tag starts from the store with no registry" "$(cat /tmp/p1.log)"; fi
grep -q "$REPO/fifo:1: sha256:[0-9a-f]* verified (key ci)" /tmp/p1.log && ok "--pull missing: verified again from the signatures kept" ||
	no "--pull missing: verified again from the signatures kept" "$(cat /tmp/p1.log)"
grep -q "fetch helper" /tmp/p1.log && no "--pull missing: no fetch helper started" "$(cat /tmp/p1.log)" || ok "--pull missing: no fetch helper started"
skrun status >/tmp/p1.st
expect "status exit 0 while running as intended" 0 $?
grep -q "^events:     [A-Z_]*=[0-9]" /tmp/p1.st && grep -q "([0-9]* more at 0)$" /tmp/p1.st && ok "status shows the sched_ext event counters" ||
	no "status shows the sched_ext event counters" "$(cat /tmp/p1.st)"
skrun status --json >/tmp/p1.json
grep -q '"events":{"SCX_EV_[A-Z_]*":[0-9]' /tmp/p1.json && grep -q '"exitStatus":0' /tmp/p1.json &&
	ok "status --json: kernel.events and exitStatus" || no "status --json: kernel.events and exitStatus" "$(cat /tmp/p1.json)"
skrun stop >/tmp/p1.stop 2>&1
rc=$?
expect "stop exit 0" 0 $rc
kill -0 $pid 2>/dev/null && [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" != Z ] &&
	no "stop returns once the supervisor is gone" "pid $pid still there" || ok "stop returns once the supervisor is gone"
wait $pid
skrun stop >/tmp/p2.stop 2>&1
rc=$?
[ $rc = 0 ] && grep -q "nothing to stop" /tmp/p2.stop && ok "stop again: exit 0, nothing to stop" ||
	no "stop again: exit 0, nothing to stop" "rc $rc $(cat /tmp/p2.stop)"
skrun status >/tmp/p2.st
expect "status exit 3 after stop" 3 $?
skrun run "$REPO/vtime:1" >/tmp/p3.log 2>&1 &
pid=$!
if wait_for "attached 'vtime'" /tmp/p3.log 300; then ok "--pull always: the stored digest when the registry is unreachable"; else
	no "--pull always: the stored digest when the registry is unreachable" "$(cat /tmp/p3.log)"; fi
grep -q "warning: $REPO/vtime:1: the registry could not be reached" /tmp/p3.log && ok "--pull always: warns that it fell back" ||
	no "--pull always: warns that it fell back" "$(cat /tmp/p3.log)"
skrun stop >/dev/null 2>&1
wait $pid
skrun run --pull never "$REPO/nothere:1" >/tmp/p4.log 2>&1
rc=$?
[ $rc = 4 ] && grep -q "not recorded in the store and --pull never" /tmp/p4.log && ok "--pull never: a tag the store lacks is refused (exit 4)" ||
	no "--pull never: a tag the store lacks is refused (exit 4)" "rc $rc $(cat /tmp/p4.log)"
skrun status >/tmp/p4.st
rc=$?
expect "status exit 3 after a failed start" 3 $rc
grep -q "skrun:      failed" /tmp/p4.st && grep -q "error:      .*not recorded in the store" /tmp/p4.st &&
	ok "status shows the failed start and why" || no "status shows the failed start and why" "$(cat /tmp/p4.st)"

# --- identity per source ---
skrun run /data/fifo-plain.tar >/tmp/i0.log 2>&1
rc=$?
[ $rc != 0 ] && grep -q "pass --identity HOST/REPO" /tmp/i0.log && ok "an archive with a plain tag needs --identity" ||
	no "an archive with a plain tag needs --identity" "rc $rc $(cat /tmp/i0.log)"
skrun run /data/fifo-plain.tar --identity "$REPO/fifo" --fallback /data/vtime-plain.tar --fallback-identity "$REPO/fifo" >/tmp/i1.log 2>&1
rc=$?
[ $rc = 3 ] && grep -q "fallback /data/vtime-plain.tar: .*signature copied from another repository" /tmp/i1.log &&
	ok "the fallback is verified for its own identity (a wrong one refused, exit 3)" || no "the fallback's own identity" "rc $rc $(cat /tmp/i1.log)"
skrun status --json >/tmp/i1.json
grep -q '"status":"failed"' /tmp/i1.json && grep -q '"supervisorPid":0' /tmp/i1.json &&
	ok "that failed start left no running record" || no "that failed start left no running record" "$(cat /tmp/i1.json)"
skrun run /data/fifo-plain.tar --identity "$REPO/fifo" --fallback /data/vtime-plain.tar --fallback-identity "$REPO/vtime" >/tmp/i2.log 2>&1 &
pid=$!
if wait_for "attached 'fifo'" /tmp/i2.log 300; then ok "primary and fallback each with their own identity"; else
	no "primary and fallback each with their own identity" "$(cat /tmp/i2.log)"; fi
skrun status >/tmp/i2.st
grep -q "identity:   $REPO/fifo" /tmp/i2.st && grep -q "fallback:   /data/vtime-plain.tar (sha256:[0-9a-f]*)" /tmp/i2.st &&
	ok "status shows the identity and the fallback's digest" || no "status shows the identity and the fallback's digest" "$(cat /tmp/i2.st)"
skrun switch /data/fifo-plain.tar --identity "$REPO/vtime" >/tmp/i3.log 2>&1
rc=$?
[ $rc = 1 ] && grep -q "signature copied from another repository" /tmp/i3.log && ok "switch: verified for the identity given with it" ||
	no "switch: verified for the identity given with it" "rc $rc $(cat /tmp/i3.log)"
expect "fifo still attached after the refused switch" fifo "$(ops)"
skrun switch /data/vtime-plain.tar --identity "$REPO/vtime" >/tmp/i4.log 2>&1
rc=$?
expect "switch with its own --identity: exit 0" 0 $rc
expect "switch with its own --identity: vtime attached" vtime "$(ops)"
skrun status --json | grep -q "\"identity\":\"$REPO/vtime\"" && ok "status: the switched-in identity" ||
	no "status: the switched-in identity" "$(skrun status --json)"
skrun stop >/dev/null 2>&1
wait $pid

# --- skrun run from skrun.json, skrun mode, tunables in status ---
skrun run >/tmp/c1.log 2>&1 &
pid=$!
if wait_for "attached 'vtime'" /tmp/c1.log 300; then ok "skrun run with no REF runs the configured scheduler"; else
	no "skrun run with no REF runs the configured scheduler" "$(cat /tmp/c1.log)"; fi
grep -q "skrun.json: scheduler 'vtime', fallback fifo" /tmp/c1.log && ok "run says what the configuration chose" ||
	no "run says what the configuration chose" "$(head -3 /tmp/c1.log)"
skrun status >/tmp/c1.st
rc=$?
expect "status exit 0 (from the configuration)" 0 $rc
grep -q "tunables:   slice_ns=5000000" /tmp/c1.st && grep -q "fallback:   $REPO/fifo:1 (sha256:" /tmp/c1.st &&
	grep -q "pull:       missing" /tmp/c1.st && ok "status: the scheduler's tunables, the fallback's digest, the pull policy" ||
	no "status: tunables, fallback, pull" "$(cat /tmp/c1.st)"
skrun mode >/tmp/c2.txt
grep -q "^\* default slice_ns=5000000" /tmp/c2.txt && grep -q "^  gaming slice_ns=1000000" /tmp/c2.txt &&
	ok "skrun mode lists the presets, the one in force marked" || no "skrun mode lists the presets" "$(cat /tmp/c2.txt)"
seq1=$(cat /sys/kernel/sched_ext/enable_seq)
skrun mode gaming >/tmp/c3.log 2>&1
rc=$?
show /tmp/c3.log
expect "skrun mode gaming: exit 0" 0 $rc
grep -q "OK switched from 'vtime' to 'vtime' (sha256:[0-9a-f]*), mode gaming" /tmp/c3.log && ok "mode: reloaded through the switch path" ||
	no "mode: reloaded through the switch path" "$(cat /tmp/c3.log)"
[ "$(cat /sys/kernel/sched_ext/enable_seq)" -gt "$seq1" ] && ok "mode: the kernel attached it anew" || no "mode: the kernel attached it anew" "enable_seq $seq1"
skrun status >/tmp/c3.st
grep -q "tunables:   slice_ns=1000000$" /tmp/c3.st && grep -q "mode:       gaming" /tmp/c3.st &&
	ok "status: the gaming preset's tunables in force" || no "status: the gaming preset's tunables" "$(cat /tmp/c3.st)"
skrun mode gamng >/tmp/c4.log 2>&1
rc=$?
[ $rc = 4 ] && grep -q 'no mode "gamng"; did you mean "gaming"?' /tmp/c4.log && ok "mode: an unknown preset refused with the one meant" ||
	no "mode: an unknown preset refused" "rc $rc $(cat /tmp/c4.log)"
skrun mode power-save >/dev/null 2>&1
expect "skrun mode power-save: exit 0" 0 $?
skrun status --json >/tmp/c5.json
grep -q '"tunables":{"slice_ns":"20000000"}' /tmp/c5.json && grep -q '"mode":"power-save"' /tmp/c5.json &&
	ok "status --json: power-save's tunables and mode" || no "status --json: power-save" "$(cat /tmp/c5.json)"
skrun mode >/tmp/c6.txt
grep -q "^\* power-save" /tmp/c6.txt && ok "skrun mode marks power-save" || no "skrun mode marks power-save" "$(cat /tmp/c6.txt)"

# --- store rm/prune against the running supervisor and its fallback ---
DV=$(sed -n 's/.*"skrun":{[^}]*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' /tmp/c5.json)
size_before=$(skrun store ls | grep "^$REPO/vtime:1 " | awk '{print $3 $4}')
# by digest: every name of it goes (the plain-tag archives recorded it as "1" too)
skrun store rm "$DV" "$REPO/fifo:1" >/tmp/g1.log 2>&1
rc=$?
show /tmp/g1.log
expect "store rm of the running and fallback names: exit 0" 0 $rc
[ -n "$DV" ] && grep -q "in use: skrun run (pid $pid): $DV" /tmp/g1.log && [ "$(grep -c "in use: skrun run (pid $pid): sha256:" /tmp/g1.log)" = 2 ] &&
	ok "gc kept the running and fallback digests (the supervisor's lease)" || no "gc kept what the supervisor uses" "$DV $(cat /tmp/g1.log)"
skrun store ls --json >/tmp/g2.json
grep -q "$DV" /tmp/g2.json && grep -q "skrun run (pid $pid)" /tmp/g2.json && ok "store ls: the digests in use" ||
	no "store ls: the digests in use" "$(cat /tmp/g2.json)"
# what it reaches is all there still: the same size as when it had a name
short=$(echo "$DV" | cut -c1-19)
after=$(skrun store ls | grep "^<none> *$short" | awk '{print $3 $4}')
[ -n "$size_before" ] && [ "$after" = "$size_before" ] && ok "the running artifact is whole in the store ($after)" ||
	no "the running artifact is whole in the store" "before '$size_before', after '$after': $(skrun store ls)"
skrun status >/dev/null
expect "status exit 0 after rm and prune" 0 $?
skrun stop >/dev/null 2>&1
wait $pid
skrun store prune >/tmp/g4.log 2>&1
rc=$?
show /tmp/g4.log
[ $rc = 0 ] && grep -q "removed [1-9][0-9]* blob(s)" /tmp/g4.log && ok "prune collects them once the supervisor is gone" ||
	no "prune collects them once the supervisor is gone" "rc $rc $(cat /tmp/g4.log)"
skrun store ls >/tmp/g5.log 2>&1
grep -q "$short" /tmp/g5.log && no "the collected artifact is gone" "$(cat /tmp/g5.log)" || ok "the collected artifact is gone"
[ ! -e "/var/lib/schedkit/blobs/sha256/${DV#sha256:}" ] && ok "its index blob is gone" || no "its index blob is gone" "still there"
skrun store verify >/tmp/g6.log 2>&1 && ok "store consistent after prune" || no "store consistent after prune" "$(cat /tmp/g6.log)"
expect "disabled at the end" disabled "$(state)"

# --- the metrics file (docs/metrics.md) after a real run, switch and stop ---
mkdir -p /var/lib/node-exporter
M=/var/lib/node-exporter/schedkit.prom
skrun run /data/fifo.tar --metrics-file $M >/tmp/m.log 2>&1 &
pid=$!
wait_for "attached 'fifo'" /tmp/m.log
skrun status --json >/tmp/m.json
DF=$(sed -n 's/.*"skrun":{[^}]*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' /tmp/m.json)
grep -qx 'schedkit_up 1' $M && grep -qx 'schedkit_status{status="running"} 1' $M &&
	grep -q "^schedkit_scheduler_running{name=\"fifo\",scheduler=\"\",mode=\"\",digest=\"$DF\",fallback=\"false\"} 1\$" $M &&
	grep -q "^schedkit_artifact_info{role=\"current\",ref=\"/data/fifo.tar\",digest=\"$DF\",verified=\"true\"" $M &&
	grep -qx 'schedkit_sched_ext_state{state="enabled"} 1' $M && grep -qx 'schedkit_sched_ext_ops_info{ops="fifo"} 1' $M &&
	[ -n "$DF" ] && ok "metrics: running fifo, its digest as status has it, sysfs enabled" || no "metrics after run" "$DF $(cat $M)"
t0=$(sed -n 's/^schedkit_last_transition_timestamp_seconds //p' $M)
sleep 1
skrun switch /data/vtime.tar >/dev/null 2>&1
expect "metrics: switch to vtime exit 0" 0 $?
grep -q '^schedkit_scheduler_running{name="vtime",' $M && grep -qx 'schedkit_switches_total 1' $M &&
	grep -qx 'schedkit_sched_ext_ops_info{ops="vtime"} 1' $M &&
	[ "$(sed -n 's/^schedkit_last_transition_timestamp_seconds //p' $M)" -gt "$t0" ] &&
	ok "metrics: the switch counted, vtime running, the transition time moved" || no "metrics after switch" "$(cat $M)"
skrun switch /data/broken.tar >/dev/null 2>&1
grep -qx 'schedkit_switches_total 1' $M && grep -q '^schedkit_scheduler_running{name="vtime",' $M &&
	ok "metrics: a refused switch counts nothing" || no "metrics after a refused switch" "$(cat $M)"
skrun stop >/dev/null 2>&1
wait $pid
grep -qx 'schedkit_up 0' $M && grep -qx 'schedkit_status{status="stopped"} 1' $M &&
	grep -qx 'schedkit_sched_ext_state{state="disabled"} 1' $M && ! grep -q '^schedkit_sched_ext_ops_info{' $M &&
	! grep -q '^schedkit_scheduler_running{' $M && ! grep -q '^schedkit_ejections_total{' $M &&
	grep -qx 'schedkit_restarts_total 0' $M &&
	ok "metrics: stopped, sysfs disabled, a stop is no ejection" || no "metrics after stop" "$(cat $M)"
expect "metrics: only the .prom file in the collector's directory (no temporary left)" schedkit.prom "$(ls /var/lib/node-exporter)"
EOF

cat "$SK_ROOT/tests/vm/supervise_agent.sh" >>"$T/guest.sh"

SKVM_TIMEOUT=${SKVM_TIMEOUT:-480} vm_run "$T/vm" "$T/guest.sh" "$SKRUN:/bin/skrun" "$T/data:/data" "$T/etc:/etc/schedkit" \
	"$T/store:/var/lib/schedkit" >"$T/vm.out" 2>&1
rc=$?
grep -E '^(PASS|FAIL|INFO): |^    ' "$T/vm/console.log"
if [ $rc = 0 ]; then pass "vm scenario ran"; else
	fail "vm scenario ran" "vm_run returned $rc"
	tail -n 40 "$T/vm.out"
fi
