#!/bin/sh
# Proves the VM harness (tests/vm/vm.sh) before any scenario relies on it:
# the sched_ext kernel boots with 2 CPUs and sched_ext disabled, dynamically
# linked programs (bpftool, and a probe linked like skrun) run in the guest,
# files come back through the console intact, and exit statuses, timeouts
# and kernel panics reach the host as they should.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"

if ! vm_kernel_ready 2>"$T/kernel.err"; then
	fail vm-kernel "$(cat "$T/kernel.err")"
	exit 1
fi
pass vm-kernel

# expect_125 NAME PATTERN CMD...: CMD must return 125 (the guest gave no
# status) and say why, matching the grep -E PATTERN.
expect_125() {
	_n=$1
	_p=$2
	shift 2
	"$@" >"$T/out" 2>&1
	_r=$?
	if [ "$_r" = 125 ] && grep -Eq -- "$_p" "$T/out"; then pass "$_n"; else
		fail "$_n" "want status 125 and /$_p/, got status $_r"
		sed 's/^/    | /' "$T/out" | tail -n 30
	fi
}

# Without a kernel, vm_run must refuse with the fix, not boot nothing.
no_kernel() { (SKVM_KERNEL=$T/nokernel vm_run "$T/nk" /dev/null); }
expect_125 vm-no-kernel-message "run 'make kernel'" no_kernel

# A probe linked against the libraries skrun uses: the harness must ship
# every library (and the loader) ldd lists for it.
cat >"$T/probe.c" <<'EOF'
#include <archive.h>
#include <bpf/libbpf.h>
#include <curl/curl.h>
#include <gelf.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <zlib.h>
#include <zstd.h>

int main(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	struct json_object *o = json_tokener_parse("{\"ok\":true}");

	if (elf_version(EV_CURRENT) == EV_NONE || !o ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !EVP_Digest("x", 1, md, &n, EVP_sha256(), NULL))
		return 1;
	printf("probe-ok libbpf=%s zstd=%s zlib=%s curl=%s %s %s\n",
	       libbpf_version_string(), ZSTD_versionString(), zlibVersion(),
	       curl_version_info(CURLVERSION_NOW)->version,
	       OpenSSL_version(OPENSSL_VERSION), archive_version_string());
	json_object_put(o);
	curl_global_cleanup();
	return 0;
}
EOF
check vm-probe-build sh -c "gcc -std=c17 -O1 -o '$T/probe' '$T/probe.c' \
	\$(pkg-config --cflags --libs libbpf libarchive libcurl json-c openssl libzstd zlib) -lelf"

# The guest prints facts for the host to check and exits non-zero if any
# of its commands failed.
cat >"$T/guest.sh" <<'EOF'
bad=0
run() { # NAME CMD...: runs CMD, reports its status as NAME-rc=N
	n=$1
	shift
	"$@"
	r=$?
	echo "$n-rc=$r"
	[ "$r" = 0 ] || bad=1
}
echo "state=$(cat /sys/kernel/sched_ext/state)"
echo "release=$(uname -r)"
echo "cpus=$(nproc)"
run bpftool /usr/sbin/bpftool version
# Not `bpftool feature probe kernel`: it costs 2.5 s under TCG. Listing
# struct_ops maps proves the syscall path; the BTF must name the ops type.
run struct-ops-show bpftool struct_ops show
run btf-sched-ext-ops grep -q sched_ext_ops /sys/kernel/btf/vmlinux
run probe /opt/skvm/probe
head -c 65536 /dev/urandom >/tmp/rnd
echo "rnd=$(sha256sum /tmp/rnd | cut -d' ' -f1)"
run skvm-out skvm-out rnd /tmp/rnd
exit $bad
EOF

start=$(date +%s.%N)
vm_run "$T/boot" "$T/guest.sh" /usr/sbin/bpftool "$T/probe:/opt/skvm/probe" 2>"$T/boot.err"
rc=$?
end=$(date +%s.%N)
con=$T/boot/console.log
echo "boot: vm_run took $(echo "$end - $start" | bc) s, initramfs $(du -k "$T/boot/initramfs.img" 2>/dev/null | cut -f1) KiB"
if [ "$rc" = 0 ]; then pass vm-guest-exit-0; else
	fail vm-guest-exit-0 "vm_run returned $rc"
	sed 's/^/    | /' "$T/boot.err" "$con" | tail -n 40
fi

# has NAME LINE-REGEX: passes when a console line matches.
has() {
	if grep -Eq "$2" "$con"; then pass "$1"; else
		fail "$1" "no console line matches /$2/"
	fi
}
has vm-sched-ext-disabled '^state=disabled$'
if grep -qxF "release=$(cat "$SK_KERNEL/release")" "$con"; then pass vm-release; else
	fail vm-release "guest kernel is not $(cat "$SK_KERNEL/release"): $(grep '^release=' "$con")"
fi
has vm-two-cpus '^cpus=2$'
has vm-bpftool-runs '^bpftool v[0-9]'
has vm-bpftool-rc '^bpftool-rc=0$'
has vm-struct-ops-show '^struct-ops-show-rc=0$'
has vm-btf-sched-ext-ops '^btf-sched-ext-ops-rc=0$'
has vm-probe-runs '^probe-ok libbpf=v1\.[4-9].* curl=.*OpenSSL 3.*libarchive'

want=$(sed -n 's/^rnd=//p' "$con")
if vm_extract "$T/boot" rnd "$T/rnd" 2>"$T/x.err" && [ -n "$want" ] &&
	[ "$(sha256sum <"$T/rnd" | cut -d' ' -f1)" = "$want" ] && [ "$(wc -c <"$T/rnd")" = 65536 ]; then
	pass vm-extract-roundtrip
else
	fail vm-extract-roundtrip "$(cat "$T/x.err") (guest sha256 '$want')"
fi
check_fails vm-extract-missing "no complete file named 'nosuch'" vm_extract "$T/boot" nosuch "$T/nosuch"

# A non-zero guest status is what vm_run returns.
printf 'echo bye\nexit 7\n' >"$T/exit7.sh"
vm_run "$T/exit7" "$T/exit7.sh" 2>"$T/exit7.err"
rc=$?
if [ "$rc" = 7 ]; then pass vm-exit-status; else
	fail vm-exit-status "vm_run returned $rc, want 7"
	sed 's/^/    | /' "$T/exit7.err"
fi

# A guest that hangs is killed from the host: 125 and a message.
hang() { SKVM_TIMEOUT=5 vm_run "$T/hang" "$T/hang.sh"; }
printf 'sleep 600\n' >"$T/hang.sh"
start=$(date +%s)
expect_125 vm-timeout "did not finish within 5 s" hang
hang_s=$(($(date +%s) - start))
if [ "$hang_s" -lt 15 ]; then pass vm-timeout-enforced; else
	fail vm-timeout-enforced "vm_run took $hang_s s with SKVM_TIMEOUT=5"
fi

# A guest kernel panic yields 125 with the console tail, not a status.
panic() { vm_run "$T/panic" "$T/panic.sh"; }
printf 'echo c >/proc/sysrq-trigger\nsleep 5\n' >"$T/panic.sh"
expect_125 vm-panic "oopsed or panicked" panic
