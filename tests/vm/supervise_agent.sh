# Guest fragment of tests/vm/test_supervise.sh (appended to its guest script,
# same boot; uses its ok/no/expect/wait_for/show/state/ops helpers): the node
# agent. The DaemonSet's own container command and readinessProbe, as
# `kubectl kustomize deploy/kubernetes/base` renders them (/data/agent.cmd,
# /data/probe.cmd, one argument per line), run against /etc/schedkit/pool made
# the way kubelet projects a ConfigMap: a timestamped directory, ..data -> it,
# skrun.json -> ..data/skrun.json, and each update a new directory whose
# ..data_tmp symlink is renamed over ..data (rename(2)), the old one removed.
# The desired-state files are in /data/desired (their refs are the guest's
# archives: the guest has no registry).
tA=$(date +%s)
P=/etc/schedkit/pool
M=/var/lib/node-exporter/schedkit.prom
mkdir -p $P /etc/schedkit/trust /var/lib/node-exporter
cp /etc/schedkit/policy.json /etc/schedkit/trusted.pub /etc/schedkit/trust/
rm -f $M
nproj=0
project() { # FILE
	nproj=$((nproj + 1))
	_d=..2026_12_01_10_00_$(printf %02d $nproj).$nproj
	mkdir "$P/$_d" && cat "$1" >"$P/$_d/skrun.json"
	_old=$(readlink "$P/..data" 2>/dev/null)
	ln -s "$_d" "$P/..data_tmp" && mv -T "$P/..data_tmp" "$P/..data"
	[ -L "$P/skrun.json" ] || ln -s ..data/skrun.json "$P/skrun.json"
	[ -n "$_old" ] && rm -rf "${P:?}/$_old"
}
agent_start() {
	set --
	while IFS= read -r _a; do set -- "$@" "$_a"; done </data/agent.cmd
	echo "INFO: agent command: $*"
	"$@" >>/tmp/ag.log 2>&1 &
	apid=$!
}
probe() { # the readinessProbe's exit code
	set --
	while IFS= read -r _a; do set -- "$@" "$_a"; done </data/probe.cmd
	"$@" >/tmp/probe.out 2>&1
	echo $?
}
count() { grep -c "$1" /tmp/ag.log; }
wait_n() { # PATTERN N [TENTHS]: until PATTERN is in the agent's log N times
	for _ in $(seq ${3:-100}); do [ "$(count "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}
sj() { skrun status --json >/tmp/sj.json; }
# The agent logs a transition, then records it (state.json, the metrics file):
# what follows a log line is asked for until it is there (3 s).
sj_until() { # PATTERN...: status --json (in /tmp/sj.json) matches every one
	for _ in $(seq 30); do
		sj
		_all=1
		for _p; do grep -q -- "$_p" /tmp/sj.json || _all=; done
		[ -n "$_all" ] && return 0
		sleep 0.1
	done
	return 1
}
m_until() { # LINE...: the metrics file has every one
	for _ in $(seq 30); do
		_all=1
		for _p; do grep -qx -- "$_p" $M || _all=; done
		[ -n "$_all" ] && return 0
		sleep 0.1
	done
	return 1
}
probe_is() { # NAME WANT: the probe exits WANT (asked until it does, 3 s)
	for _ in $(seq 30); do
		_got=$(probe)
		[ "$_got" = "$2" ] && break
		sleep 0.1
	done
	expect "$1" "$2" "$_got"
}
seqn() { cat /sys/kernel/sched_ext/enable_seq; }
step() { # NAME CONDITION...: ok when the condition holds, else show the log
	_n=$1
	shift
	if "$@"; then ok "agent: $_n"; else
		no "agent: $_n" "$(tail -n 8 /tmp/ag.log | tr '\n' '|')"
	fi
}
: >/tmp/ag.log
read -r probe_cmd </data/probe.cmd
expect "agent: the probe is skrun status" skrun "$probe_cmd"

# --- v1: the agent starts with nothing committed, switches to fifo, commits after the window ---
project /data/desired/v1.json
agent_start
step "v1 projected: switched to fifo" wait_n "skrun: agent: switch " 1 300
expect "agent: the kernel runs fifo" fifo "$(ops)"
probe_is "agent: not ready while on trial (probe exit 150)" 150
sj_until '"pending":{'
grep -q '"pending":{"ref":"/data/fifo.tar","digest":"sha256:[0-9a-f]*","since":"[^"]*","deadline":"' /tmp/sj.json &&
	ok "agent: status --json: pending with its deadline" || no "agent: status --json: pending" "$(cat /tmp/sj.json)"
step "v1 committed after its health window" wait_n "skrun: agent: commit " 1 150
probe_is "agent: ready once committed (probe exit 0)" 0
sj_until '"pending":null' '"ready":true'
D1=$(sed -n 's/.*"committed":{"ref":"\/data\/fifo.tar","digest":"\(sha256:[0-9a-f]*\)".*/\1/p' /tmp/sj.json)
[ -n "$D1" ] && grep -q '"ready":true' /tmp/sj.json && grep -q '"pending":null' /tmp/sj.json &&
	ok "agent: status --json: committed fifo, ready" || no "agent: status --json: committed fifo" "$(cat /tmp/sj.json)"

# --- v2: a swap of ..data changes the scheduler ---
project /data/desired/v2.json
step "v2 projected: switched to vtime" wait_n "skrun: agent: switch " 2 300
expect "agent: the kernel runs vtime" vtime "$(ops)"
step "v2 committed" wait_n "skrun: agent: commit " 2 100
probe_is "agent: ready on v2 (probe exit 0)" 0
sj_until '"committed":{"ref":"/data/vtime.tar"' '"ready":true'
D2=$(sed -n 's/.*"committed":{"ref":"\/data\/vtime.tar","digest":"\(sha256:[0-9a-f]*\)".*/\1/p' /tmp/sj.json)
[ -n "$D2" ] && grep -q '"event":"switch","from":"'"$D1"'","to":"'"$D2"'"' /tmp/sj.json &&
	grep -q '"tunables":{"slice_ns":"5000000"}' /tmp/sj.json &&
	ok "agent: status --json: the switch fifo -> vtime, its tunables" || no "agent: status --json after v2" "$(cat /tmp/sj.json)"
m_until 'schedkit_agent_ready 1' 'schedkit_agent_transitions_total{event="commit"} 2'
grep -qx 'schedkit_agent_ready 1' $M && grep -q '^schedkit_scheduler_running{name="vtime",scheduler="vtime"' $M &&
	grep -qx 'schedkit_agent_transitions_total{event="commit"} 2' $M &&
	ok "agent: metrics: ready, vtime running, two commits" || no "agent: metrics after v2" "$(grep -v '^#' $M)"

# --- a scheduler the kernel ejects within the window: rolled back, remembered ---
project /data/desired/stall.json
step "stall ejected within its window: rolled back" wait_n "skrun: agent: rollback " 1 300
wait_for "attached 'vtime'" /tmp/ag.log
expect "agent: vtime runs again after the rollback" vtime "$(ops)"
expect "agent: enabled after the rollback" enabled "$(state)"
probe_is "agent: not ready after a rollback (probe exit 150)" 150
sj_until '"event":"rollback"' '"ready":false'
DS=$(sed -n 's/.*"bad":\[{"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' /tmp/sj.json)
[ -n "$DS" ] && grep -q "\"bad\":\[{\"digest\":\"$DS\",\"reason\":\"'stall' ejected by the kernel: kind=1026 (runnable task stall)" /tmp/sj.json &&
	grep -q "\"event\":\"rollback\",\"from\":\"$DS\",\"to\":\"$D2\"" /tmp/sj.json &&
	grep -q '"readiness":"the desired '"$DS"' does not run' /tmp/sj.json &&
	ok "agent: status --json: the bad digest with its reason, the rollback to v2's digest" ||
	no "agent: status --json after the rollback" "$(cat /tmp/sj.json)"
m_until 'schedkit_rollbacks_total 1' 'schedkit_agent_bad_digests 1'
grep -qx 'schedkit_rollbacks_total 1' $M && grep -qx 'schedkit_agent_ready 0' $M &&
	grep -qx 'schedkit_agent_bad_digests 1' $M && grep -q '^schedkit_scheduler_running{name="vtime",' $M &&
	ok "agent: metrics: one rollback, not ready, one bad digest, vtime running" || no "agent: metrics after the rollback" "$(grep -v '^#' $M)"
# no flapping: the same content projected again is no new desired state
s0=$(seqn)
n0=$(count "switch: preparing")
project /data/desired/stall.json
sleep 1.5
expect "agent: the same bad content again: nothing tried" "$s0 $n0" "$(seqn) $(count "switch: preparing")"
# a new pod with the same bad desired state: starts with what the node committed, does not retry
kill -TERM $apid
wait $apid
agent_start
step "a new pod starts with the committed v2" wait_for "starting with what this node committed: /data/vtime.tar ($D2)" /tmp/ag.log 300
step "a new pod does not retry the bad digest" wait_for "refused from $D2 to $DS: not retried: it failed before ('stall' ejected" /tmp/ag.log 300
expect "agent: the new pod runs vtime" vtime "$(ops)"
expect "agent: stall attached only once in all" 1 "$(count "attached 'stall'")"
probe_is "agent: the new pod is not ready (probe exit 150)" 150

# --- bad input keeps what runs: half-written, deleted, a kernel that cannot run it ---
s0=$(seqn)
head -c 60 /data/desired/v2.json >/tmp/half.json
project /tmp/half.json
step "a half-written desired state is reported" wait_for "desired-invalid: desired state not usable: $P/skrun.json: invalid JSON" /tmp/ag.log
expect "agent: vtime still runs after the half-written file" "vtime $s0" "$(ops) $(seqn)"
probe_is "agent: not ready with an unusable desired state (probe exit 150)" 150
sj_until '"desired":{"valid":false'
grep -q '"desired":{"valid":false' /tmp/sj.json && grep -q '"error":"desired state not usable: ' /tmp/sj.json &&
	ok "agent: status --json: the desired state invalid, and why" || no "agent: status --json: desired invalid" "$(cat /tmp/sj.json)"
rm "$P/skrun.json"
step "a deleted desired state is reported" wait_for "skrun.json is gone (deleted, or a swap left no file); a missing desired state is not a request to stop" /tmp/ag.log
expect "agent: vtime still runs after the file was deleted" "vtime $s0" "$(ops) $(seqn)"
project /data/desired/kfunc.json
step "a scheduler this kernel cannot run is refused" wait_for "refused from $D2 to sha256:[0-9a-f]*: cannot run on this kernel: .*scx_bpf_schedkit_test_missing" /tmp/ag.log 300
expect "agent: vtime still runs after the kfunc refusal" "vtime $s0" "$(ops) $(seqn)"
probe_is "agent: not ready after the refusal (probe exit 150)" 150
# v2's content again: it runs already, so the node is ready without a reload
project /data/desired/v2.json
step "v2 again: already running" wait_for "the desired state (/data/vtime.tar, $D2) is what runs" /tmp/ag.log
probe_is "agent: ready again (probe exit 0)" 0
expect "agent: ...and vtime was never reloaded (enable_seq)" "$s0" "$(seqn)"
m_until 'schedkit_agent_ready 1' 'schedkit_agent_transitions_total{event="refused"} 2'
grep -qx 'schedkit_agent_ready 1' $M && grep -qx 'schedkit_agent_transitions_total{event="desired-invalid"} 2' $M &&
	grep -qx 'schedkit_agent_transitions_total{event="refused"} 2' $M && grep -qx 'schedkit_agent_bad_digests 2' $M &&
	ok "agent: metrics (this pod's): two invalid desired states, two refusals, two bad digests, ready" || no "agent: metrics at the end" "$(grep -v '^#' $M)"
kill -TERM $apid
wait $apid
expect "agent: SIGTERM detaches (disabled)" disabled "$(state)"
show /tmp/ag.log
echo "INFO: the node agent scenario took $(($(date +%s) - tA)) s"
