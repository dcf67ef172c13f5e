#!/bin/sh
# skrun's supervisor on the real sched_ext kernel: status, one supervisor per
# host, switch (good and verifier-rejected), stop, a stalling scheduler ejected
# by the watchdog and replaced by the fallback, restart requests with backoff
# and a limit, and kill -9 of skrun returning the host to the default scheduler.
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
grep -q "skrun:      dead" /tmp/st2.txt && ok "status notices the dead supervisor" || no "status notices the dead supervisor" "$(cat /tmp/st2.txt)"
skrun run /data/fifo.tar >/tmp/f.log 2>&1 &
pid=$!
if wait_for "attached 'fifo'" /tmp/f.log; then ok "next run after kill -9 works"; else no "next run after kill -9 works" "$(cat /tmp/f.log)"; fi
kill -TERM $pid
wait $pid
expect "disabled at the end" disabled "$(state)"
EOF

SKVM_TIMEOUT=${SKVM_TIMEOUT:-180} vm_run "$T/vm" "$T/guest.sh" "$SKRUN:/bin/skrun" "$T/data:/data" "$T/etc:/etc/schedkit" >"$T/vm.out" 2>&1
rc=$?
grep -E '^(PASS|FAIL|INFO): |^    ' "$T/vm/console.log"
if [ $rc = 0 ]; then pass "vm scenario ran"; else
	fail "vm scenario ran" "vm_run returned $rc"
	tail -n 40 "$T/vm.out"
fi
