# Registry test helpers; source after tests/lib.sh. Every server listens on
# 127.0.0.1 on a free port, logs into $T/<name>/log and is stopped on exit.
# A server that does not come up fails the test with its log.
REG_TOOLS=$SK_ROOT/tests/registry

# reg_fatal WHAT: report a setup failure with the reason and stop the script.
reg_fatal() {
	fail "$1" "$2"
	exit 1
}

# reg_wait_port PORT PID LOG NAME: waits up to 10 s for a listener.
reg_wait_port() {
	_i=0
	while ! python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$1" 2>/dev/null; do
		_i=$((_i + 1))
		if ! kill -0 "$2" 2>/dev/null || [ $_i -gt 100 ]; then
			echo "--- $3:"
			tail -n 20 "$3" | sed 's/^/    | /'
			reg_fatal "start $4" "server did not come up on 127.0.0.1:$1 (see log above)"
		fi
		sleep 0.1
	done
}

# reg_certs DIR: a test CA and a server certificate for 127.0.0.1/localhost.
reg_certs() {
	mkdir -p "$1"
	(
		cd "$1" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
			-subj "/CN=schedkit test CA" >/dev/null 2>&1 &&
			openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
				-subj "/CN=127.0.0.1" >/dev/null 2>&1 &&
			printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
			openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
				-out server.crt -days 2 -extfile ext.cnf >/dev/null 2>&1
	) || reg_fatal "reg_certs" "openssl could not create the test CA in $1"
}

# reg_start NAME [tls] [htpasswd FILE] [token REALM SERVICE ISSUER CERT]
# Starts docker-registry; sets REG_PORT and REG_LOG.
reg_start() {
	_name=$1
	shift
	_d=$T/$_name
	mkdir -p "$_d/data"
	REG_PORT=$(free_port)
	REG_LOG=$_d/log
	{
		echo "version: 0.1"
		echo "log:"
		echo "  level: info"
		echo "  formatter: text"
		echo "  accesslog:"
		echo "    disabled: false"
		echo "storage:"
		echo "  filesystem:"
		echo "    rootdirectory: $_d/data"
		echo "  delete:"
		echo "    enabled: true"
		echo "http:"
		echo "  addr: 127.0.0.1:$REG_PORT"
		echo "  secret: schedkit-test-secret"
	} >"$_d/config.yml"
	_auth=""
	while [ $# -gt 0 ]; do
		case $1 in
		tls)
			printf '  tls:\n    certificate: %s\n    key: %s\n' "$T/certs/server.crt" \
				"$T/certs/server.key" >>"$_d/config.yml"
			shift
			;;
		htpasswd)
			_auth=$(printf 'auth:\n  htpasswd:\n    realm: schedkit-test\n    path: %s\n' "$2")
			shift 2
			;;
		token)
			_auth=$(printf 'auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n' "$2" "$3" "$4" "$5")
			shift 5
			;;
		*) reg_fatal "reg_start" "unknown option $1" ;;
		esac
	done
	[ -z "$_auth" ] || echo "$_auth" >>"$_d/config.yml"
	docker-registry serve "$_d/config.yml" >"$REG_LOG" 2>&1 &
	_pid=$!
	echo "$_pid" >"$_d/pid"
	sk_on_exit "kill $_pid 2>/dev/null"
	reg_wait_port "$REG_PORT" "$_pid" "$REG_LOG" "docker-registry $_name"
}

# reg_stop NAME
reg_stop() {
	kill "$(cat "$T/$1/pid")" 2>/dev/null
	wait "$(cat "$T/$1/pid")" 2>/dev/null || true
}

# crane_start NAME: a second registry implementation, go-containerregistry's
# (`crane registry serve`, Debian's crane package, which make deps fetches),
# in memory; sets REG_PORT and REG_LOG. It logs one "DATE TIME METHOD URL" line
# per request, as it receives it.
crane_start() {
	command -v crane >/dev/null 2>&1 ||
		reg_fatal "crane present" "crane not found in $SK_TOOLS or PATH (make deps fetches Debian's crane)"
	_d=$T/$1
	mkdir -p "$_d"
	REG_PORT=$(free_port)
	REG_LOG=$_d/log
	crane registry serve --address "127.0.0.1:$REG_PORT" >"$REG_LOG" 2>&1 &
	_pid=$!
	echo "$_pid" >"$_d/pid"
	sk_on_exit "kill $_pid 2>/dev/null"
	reg_wait_port "$REG_PORT" "$_pid" "$REG_LOG" "crane registry $1"
}

# Requests to /v2/ in a registry's log: docker-registry's access log (combined
# log format) or crane's request lines.
reg_access() {
	grep -E '^[0-9.:]+ - [^ ]+ \[[^]]*\] "[A-Z]+ /v2/|^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} [A-Z]+ /v2/' "$1"
}

# reg_mark LOG: remembers how many requests the log holds (into REG_MARK).
reg_mark() {
	REG_MARK=$(reg_access "$1" | wc -l)
}

# reg_since LOG [REGEX]: requests since the last reg_mark, optionally only those matching.
reg_since() {
	reg_access "$1" | tail -n +$((REG_MARK + 1)) | grep -cE "${2:-.}" || true
}

# check_eq NAME GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

# store_clean STORE: every visible blob hashes to its name and no temporary file is left.
store_clean() {
	for _b in "$1"/blobs/sha256/*; do
		[ -f "$_b" ] || continue
		[ "$(sha256sum "$_b" | cut -d' ' -f1)" = "$(basename "$_b")" ] || {
			echo "corrupt blob $_b"
			return 1
		}
	done
	[ -z "$(ls -A "$1/.tmp" 2>/dev/null)" ] || {
		echo "leftover temporary files: $(ls "$1/.tmp")"
		return 1
	}
}

# same_blobs STORE LAYOUT DIGEST...: each blob is byte-identical in both.
same_blobs() {
	_s=$1
	_l=$2
	shift 2
	for _dg in "$@"; do
		cmp "$_s/blobs/sha256/${_dg#sha256:}" "$_l/blobs/sha256/${_dg#sha256:}" || return 1
	done
}

# pulled_digests LAYOUT TOP: layout_digests without the source tarball layers,
# which skrun pull leaves out unless --with-source.
pulled_digests() {
	python3 - "$1" "$2" <<'PY'
import json, sys, os
root, top = sys.argv[1], sys.argv[2]
SRC = "application/vnd.schedkit.scheduler.source.v1.tar+gzip"
def load(d):
    return json.load(open(os.path.join(root, "blobs", "sha256", d.split(":")[1])))
out = [top]
for m in load(top).get("manifests", []):
    out.append(m["digest"])
    man = load(m["digest"])
    out.append(man["config"]["digest"])
    out += [l["digest"] for l in man["layers"] if l["mediaType"] != SRC]
print(" ".join(out))
PY
}

# Digests of every blob a layout index references (index, manifests, configs, layers).
layout_digests() {
	python3 - "$1" "$2" <<'PY'
import json, sys, os
root, top = sys.argv[1], sys.argv[2]
def load(d):
    return json.load(open(os.path.join(root, "blobs", "sha256", d.split(":")[1])))
out = [top]
idx = load(top)
for m in idx.get("manifests", []):
    out.append(m["digest"])
    man = load(m["digest"])
    out.append(man["config"]["digest"])
    out += [l["digest"] for l in man["layers"]]
print(" ".join(out))
PY
}

# reg_proxy_start UPSTREAM_PORT: the fault proxy in front of a registry; sets
# PROXY_PORT, PROXY_LOG (one line per request) and PROXY_RULES (see faultproxy.py).
reg_proxy_start() {
	PROXY_PORT=$(free_port)
	PROXY_LOG=$T/proxy/requests
	PROXY_RULES=$T/proxy/rules.json
	mkdir -p "$T/proxy"
	: >"$PROXY_LOG"
	echo '[]' >"$PROXY_RULES"
	python3 "$REG_TOOLS/faultproxy.py" "$PROXY_PORT" "$1" "$PROXY_RULES" "$PROXY_LOG" >"$T/proxy/log" 2>&1 &
	_pid=$!
	sk_on_exit "kill $_pid 2>/dev/null"
	reg_wait_port "$PROXY_PORT" "$_pid" "$T/proxy/log" "fault proxy"
}

# proxy_rules JSON: replaces the rules (and their counters).
proxy_rules() {
	echo "$1" >"$PROXY_RULES.new" && mv "$PROXY_RULES.new" "$PROXY_RULES"
	sleep 0.01
}

# token_start ARGS...: the Bearer token server (tokenserver.py) with a fresh
# signing key; sets TOKEN_PORT, TOKEN_LOG, TOKEN_CERT.
token_start() {
	mkdir -p "$T/token"
	if [ ! -f "$T/token/key.pem" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/token/key.pem" \
			-out "$T/token/cert.pem" -days 2 -subj "/CN=schedkit test token issuer" \
			>/dev/null 2>&1 || reg_fatal "token key" "openssl could not create the token key"
	fi
	TOKEN_PORT=${TOKEN_PORT:-$(free_port)}
	TOKEN_LOG=$T/token/requests
	TOKEN_CERT=$T/token/cert.pem
	: >"$TOKEN_LOG"
	python3 "$REG_TOOLS/tokenserver.py" "$TOKEN_PORT" "$T/token/key.pem" "$TOKEN_CERT" \
		sk-issuer "$TOKEN_LOG" "$@" >"$T/token/log" 2>&1 &
	TOKEN_PID=$!
	sk_on_exit "kill $TOKEN_PID 2>/dev/null"
	reg_wait_port "$TOKEN_PORT" "$TOKEN_PID" "$T/token/log" "token server"
}
