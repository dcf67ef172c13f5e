# Helpers for the keyless tests; source after tests/lib.sh and tests/registry/lib.sh.
# The stand-in (tests/sigstore/standin.c, built by make tests) is started on
# 127.0.0.1 with keys made for this test run only; its trusted root stays in
# $T and is named by the tests' policies, never installed anywhere else.
STANDIN=$SK_BUILD/tests/sigstore/standin
[ -x "$STANDIN" ] || reg_fatal "standin present" "$STANDIN is missing (make tests)"

# standin_init DIR: fresh keys and DIR/trusted_root.json
standin_init() {
	"$STANDIN" init "$1" >/dev/null 2>"$T/standin-init.err" || reg_fatal "standin init" "$(cat "$T/standin-init.err")"
}

# standin_start DIR NAME [knobs]: serves DIR's keys; sets SI (its base URL)
standin_start() {
	_sd=$1
	_sn=$2
	shift 2
	rm -f "$T/$_sn.port"
	"$STANDIN" serve "$_sd" "$T/$_sn.port" "$@" 2>"$T/$_sn.log" &
	_spid=$!
	sk_on_exit "kill $_spid 2>/dev/null"
	_i=0
	while [ ! -s "$T/$_sn.port" ]; do
		_i=$((_i + 1))
		if ! kill -0 "$_spid" 2>/dev/null || [ $_i -gt 100 ]; then
			reg_fatal "start standin $_sn" "$(tail -n 5 "$T/$_sn.log")"
		fi
		sleep 0.1
	done
	SI=http://127.0.0.1:$(cat "$T/$_sn.port")
}

# token [CLAIMS-JSON]: an unsigned JWT for a GitHub Actions release workflow of
# org/sched, with the claims given merged in (the stand-in reads, never checks it)
token() {
	python3 - "${1:-{\}}" <<'PY'
import base64, json, sys
def b(x): return base64.urlsafe_b64encode(json.dumps(x).encode()).rstrip(b"=").decode()
c = {"iss": "https://token.actions.githubusercontent.com", "aud": "sigstore",
     "sub": "repo:org/sched:ref:refs/heads/main",
     "job_workflow_ref": "org/sched/.github/workflows/release.yml@refs/heads/main",
     "repository": "org/sched", "ref": "refs/heads/main", "workflow": "release",
     "event_name": "push", "sha": "0123456789abcdef0123456789abcdef01234567"}
c.update(json.loads(sys.argv[1]))
c = {k: v for k, v in c.items() if v is not None}
print(b({"alg": "RS256", "typ": "JWT"}) + "." + b(c) + ".c2lnbmF0dXJl")
PY
}

# keyless_sign TARGET [args]: skbuild sign --keyless against the stand-in $SI
keyless_sign() {
	_kt=$1
	shift
	"$SKBUILD" sign --keyless --fulcio-url "$SI" --rekor-url "$SI" "$@" "$_kt"
}

WORKFLOW=https://github.com/org/sched/.github/workflows/release.yml@refs/heads/main
GHA_ISSUER=https://token.actions.githubusercontent.com
