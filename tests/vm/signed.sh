# Signed artifacts for VM scenarios, made the way production makes them: built,
# pushed and signed to a loopback registry, then saved as oci-archives (which
# carry their signatures and their full reference) for the guest, which has
# no network. Source after tests/lib.sh and tests/vm/vm.sh.
#
#   signed_setup          start the registry, make the trusted key and the
#                         guest's /etc/schedkit/policy.json (in $T/etc)
#   signed_artifact NAME SRC [signed|unsigned|otherkey] [skbuild build options]
#                         writes $T/data/NAME.tar
. "$SK_ROOT/tests/registry/lib.sh"

signed_setup() {
	export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache SKBUILD_KEY_PASSWORD=
	mkdir -p "$T/data" "$T/etc" "$T/keys"
	reg_start vmreg
	SIGNED_REPO=127.0.0.1:$REG_PORT/scheds
	"$SKBUILD" key generate -o "$T/keys/trusted" >/dev/null 2>&1 ||
		reg_fatal "trusted key" "skbuild key generate failed"
	"$SKBUILD" key generate -o "$T/keys/other" >/dev/null 2>&1 ||
		reg_fatal "other key" "skbuild key generate failed"
	cp "$T/keys/trusted.pub" "$T/etc/trusted.pub"
	cat >"$T/etc/policy.json" <<JSON
{
  "version": 1,
  "keys": { "ci": "trusted.pub" },
  "scopes": { "$SIGNED_REPO": { "keys": ["ci"] } }
}
JSON
}

signed_artifact() {
	_n=$1
	_src=$2
	_how=${3:-signed}
	shift 2
	[ $# -eq 0 ] || shift
	_ref=$SIGNED_REPO/$_n:1
	case $_how in
	signed) _sign="--sign $T/keys/trusted.key" ;;
	otherkey) _sign="--sign $T/keys/other.key" ;;
	*) _sign="" ;;
	esac
	# shellcheck disable=SC2086
	if "$SKBUILD" build -q "$_src" -o "$T/layouts/$_n.oci" -t 1 "$@" --push "$_ref" $_sign \
		>"$T/build-$_n.log" 2>&1 &&
		"$SKBUILD" save "$_ref" -o "$T/data/$_n.tar" >>"$T/build-$_n.log" 2>&1; then
		pass "artifact $_n ($_how)"
	else
		fail "artifact $_n ($_how)" "$(tail -n 20 "$T/build-$_n.log")"
	fi
}
