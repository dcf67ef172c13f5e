# The qemu harness: boots the sched_ext test kernel with an initramfs. Shared
# by the VM tests (tests/vm/vm.sh sources it) and `skbuild vmtest`
# (scripts/vmtest.sh; installed as DATADIR/vm/vm.sh). Source it and call:
#
#   vm_run WORKDIR GUEST_SCRIPT [HOSTPATH[:GUESTPATH]]...
#       Boots the sched_ext test kernel with an initramfs holding busybox,
#       the given files (plus the shared libraries of every dynamically
#       linked ELF among them) and GUEST_SCRIPT as /test.sh. Returns the
#       guest script's exit status, or 125 when the guest never reported
#       one (no kernel, boot failure, timeout, kernel oops).
#       Serial output: WORKDIR/console.log. Env SKVM_TIMEOUT (s, default 120);
#       SKVM_ICOUNT, when set, is qemu's -icount (e.g. shift=0,sleep=off: the
#       guest's clock counts executed instructions, for benchmarks that must
#       not depend on the host's load).
#   vm_extract WORKDIR NAME DEST
#       Writes the file that the guest sent with `skvm-out NAME FILE`.
#   vm_kernel_ready
#       Returns 0 when the kernel cache holds a bootable kernel, else prints
#       why on stderr.
#
# Why everything goes through the initramfs and the serial console: 9p and
# virtio-blk are modules in the cloud kernel and the guest has no modules,
# and the guest gets no network on purpose.

SKVM_KERNEL=${SK_KERNEL:-${SCHEDKIT_KERNEL_CACHE:-/var/cache/schedkit/kernel}}

vm_kernel_ready() {
	if [ ! -s "$SKVM_KERNEL/vmlinuz" ]; then
		echo "vm: no test kernel at $SKVM_KERNEL/vmlinuz; run 'make kernel' first" >&2
		return 1
	fi
}

# The guest's /init. Runs /test.sh without tracing, then prints the marker
# vm_run looks for and powers off (no reboot: qemu runs with -no-reboot).
_vm_init_script() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# Optional: bpffs for pinning, debugfs/tracefs for trace_pipe. Absence is
# not fatal here; a guest script that needs them checks for itself.
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
cd /
# The firmware's last bytes before the kernel takes over the UART are
# sometimes lost with their newline: start the guest's output on a line
# of its own.
printf '\nSKVM-START\n'
sh /test.sh </dev/null
rc=$?
# Leading newline: the script's last line may lack one.
printf '\nSKVM-EXIT=%d\n' "$rc"
# poweroff -f does not wait for the UART to drain; give it a moment so
# the marker is not lost.
sleep 0.2
poweroff -f
EOF
}

# Guest-side sender: base64 between markers, with a SHA-256 so the host can
# tell a transfer garbled by interleaved kernel messages from a good one.
_vm_out_script() {
	cat <<'EOF'
#!/bin/sh
# skvm-out NAME FILE: send FILE to the host (vm_extract WORKDIR NAME DEST).
[ $# = 2 ] && [ -f "$2" ] || { echo "usage: skvm-out NAME FILE" >&2; exit 2; }
sum=$(sha256sum "$2" | cut -d' ' -f1)
echo "SKVM-FILE-BEGIN $1"
base64 "$2"
echo "SKVM-FILE-END $1 $sum"
EOF
}

# _vm_is_elf FILE: true when FILE starts with the ELF magic.
_vm_is_elf() {
	[ "$(head -c 4 "$1" 2>/dev/null)" = "$(printf '\177ELF')" ]
}

# _vm_copy_libs ROOT FILE: copies into ROOT the libraries and loader that
# ldd lists for FILE, at the same paths, so the guest's loader finds them
# in its default directories. Fails when a library is missing on the host.
_vm_copy_libs() {
	_out=$(ldd "$2" 2>/dev/null) || return 0 # static, or not a program/library
	if echo "$_out" | grep -q 'not found'; then
		echo "vm: $2 needs libraries the host lacks:" >&2
		echo "$_out" | grep 'not found' >&2
		return 1
	fi
	for _lib in $(echo "$_out" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		case $_lib in "$1"/*) continue ;; esac # $ORIGIN lib, copied already
		[ -e "$1$_lib" ] && continue
		mkdir -p "$1$(dirname "$_lib")" && cp -L "$_lib" "$1$_lib" || return 1
	done
}

# _vm_add ROOT HOSTPATH GUESTPATH: copies a file or directory tree into ROOT
# (dereferencing symlinks: links to host paths would dangle in the guest),
# then pulls in the libraries of its executables and shared objects.
_vm_add() {
	if [ ! -e "$2" ]; then
		echo "vm: cannot copy $2 into the guest: no such file or directory" >&2
		return 1
	fi
	mkdir -p "$1$(dirname "$3")" && cp -RL --preserve=mode,timestamps "$2" "$1$3" || return 1
	find "$1$3" -type f \( -perm -u+x -o -name '*.so*' \) >"$1.elfs"
	while IFS= read -r _f; do
		_vm_is_elf "$_f" || continue
		_vm_copy_libs "$1" "$_f" || return 1
	done <"$1.elfs"
	rm -f "$1.elfs"
}

# _vm_build_initramfs WORKDIR GUEST_SCRIPT SPEC...: writes WORKDIR/initramfs.img.
_vm_build_initramfs() {
	_w=$1
	_root=$_w/root
	rm -rf "$_root"
	mkdir -p "$_root" && (cd "$_root" && mkdir -p bin sbin usr/bin usr/sbin proc sys dev tmp run root etc) || return 1
	cp /bin/busybox "$_root/bin/busybox" || return 1
	_vm_init_script >"$_root/init"
	_vm_out_script >"$_root/bin/skvm-out"
	cp "$2" "$_root/test.sh" || return 1
	chmod 755 "$_root/init" "$_root/bin/skvm-out" "$_root/test.sh"
	shift 2
	for _spec in "$@"; do
		_host=${_spec%%:*}
		case $_spec in *:*) _guest=${_spec#*:} ;; *) _guest=$(realpath -s "$_host") ;; esac
		case $_guest in /*) ;; *)
			echo "vm: guest path '$_guest' must be absolute" >&2
			return 1
			;;
		esac
		_vm_add "$_root" "$_host" "$_guest" || return 1
		# skrun finds its fetch helper next to itself
		case $_host in */skrun)
			if [ -x "${_host%/skrun}/skrun-fetch" ]; then
				_vm_add "$_root" "${_host%/skrun}/skrun-fetch" "$(dirname "$_guest")/skrun-fetch" || return 1
			fi
			;;
		esac
	done
	# Uncompressed by default: with skrun's libraries (~60 MB, libicudata
	# alone is 30) gzip costs ~1 s on the host and ~1.2 s of emulated
	# decompression in the guest, per boot. SKVM_GZIP=1 compresses.
	if [ "${SKVM_GZIP:-0}" = 1 ]; then
		(cd "$_root" && find . | cpio -o -H newc --quiet | gzip -1) >"$_w/initramfs.tmp"
	else
		(cd "$_root" && find . | cpio -o -H newc --quiet) >"$_w/initramfs.tmp"
	fi && mv "$_w/initramfs.tmp" "$_w/initramfs.img" &&
		rm -rf "$_root" # the image holds it; keeps big WORKDIRs from doubling
}

# _vm_fail WORKDIR MESSAGE: reports why the guest gave no result, with the
# tail of its console, and returns 125.
_vm_fail() {
	echo "vm: $2" >&2
	if [ -s "$1/console.log" ]; then
		echo "vm: last 30 lines of $1/console.log:" >&2
		tail -n 30 "$1/console.log" | sed 's/^/    | /' >&2
	fi
	if [ -s "$1/qemu.err" ]; then
		echo "vm: qemu stderr:" >&2
		sed 's/^/    | /' "$1/qemu.err" >&2
	fi
	return 125
}

vm_run() {
	if [ $# -lt 2 ]; then
		echo "usage: vm_run WORKDIR GUEST_SCRIPT [HOSTPATH[:GUESTPATH]]..." >&2
		return 125
	fi
	_w=$1
	_script=$2
	shift 2
	vm_kernel_ready || return 125
	[ -f "$_script" ] || { echo "vm: guest script $_script not found" >&2; return 125; }
	mkdir -p "$_w" || return 125
	rm -f "$_w/console.log" "$_w/qemu.err" "$_w/qemu.rc"
	_vm_build_initramfs "$_w" "$_script" "$@" || {
		echo "vm: could not build the initramfs in $_w" >&2
		return 125
	}
	_t=${SKVM_TIMEOUT:-120}
	# Single-threaded TCG: KVM does not work here and multi-threaded TCG
	# occasionally oopses in early boot. stdin is /dev/null so qemu never
	# puts the caller's terminal in raw mode. timeout kills qemu (then
	# SIGKILL 5 s later) when the guest hangs; --foreground keeps qemu in
	# the caller's process group so Ctrl-C stops it too.
	# The firmware's terminal resets (ESC c, ESC [2J) would otherwise stick
	# to the front of the guest's first output line.
	_esc=$(printf '\033')
	{
		timeout --foreground -k 5 "$_t" qemu-system-x86_64 -accel tcg,thread=single \
			${SKVM_ICOUNT:+-icount "$SKVM_ICOUNT"} -cpu max \
			-m 1024 -smp 2 -nographic -no-reboot -nic none \
			-kernel "$SKVM_KERNEL/vmlinuz" -initrd "$_w/initramfs.img" \
			-append "console=ttyS0 panic=-1 quiet" </dev/null 2>"$_w/qemu.err"
		echo $? >"$_w/qemu.rc"
	} | tr -d '\r' | sed "s/$_esc\\[[0-9;?]*[A-Za-z]//g; s/${_esc}c//g" >"$_w/console.log"
	_qrc=$(cat "$_w/qemu.rc" 2>/dev/null)
	# grep -o: kernel messages may land on the marker's line.
	_rc=$(grep -ao 'SKVM-EXIT=[0-9]*' "$_w/console.log" | tail -n 1 | cut -d= -f2)
	if grep -Eq 'Oops:|Kernel panic|BUG: |general protection fault' "$_w/console.log"; then
		_vm_fail "$_w" "the guest kernel oopsed or panicked (guest script status: ${_rc:-none})"
		return 125
	fi
	if [ -n "$_rc" ]; then
		return "$_rc"
	fi
	case $_qrc in
	124 | 137) _vm_fail "$_w" "the guest did not finish within ${_t} s (SKVM_TIMEOUT); qemu was killed" ;;
	*) _vm_fail "$_w" "the guest never reported an exit status (qemu exited ${_qrc:-?}); boot failed or /init died" ;;
	esac
}

vm_extract() {
	if [ $# != 3 ]; then
		echo "usage: vm_extract WORKDIR NAME DEST" >&2
		return 1
	fi
	# The last transfer under NAME wins; only base64 lines count, so kernel
	# messages printed on lines of their own are skipped.
	awk -v n="$2" -v d="$3.b64" -v s="$3.sum" '
		$1 == "SKVM-FILE-BEGIN" && $2 == n { on = 1; printf "" >d; next }
		$1 == "SKVM-FILE-END" && $2 == n && on { on = 0; print $3 >s; close(d); close(s); next }
		on && /^[A-Za-z0-9+\/=]+$/ { print >>d }
	' "$1/console.log"
	if [ ! -s "$3.sum" ]; then
		rm -f "$3.b64" "$3.sum"
		echo "vm: the guest sent no complete file named '$2' (see $1/console.log)" >&2
		return 1
	fi
	base64 -d <"$3.b64" >"$3.tmp" 2>/dev/null
	if [ "$(sha256sum <"$3.tmp" | cut -d' ' -f1)" != "$(cat "$3.sum")" ]; then
		rm -f "$3.b64" "$3.sum" "$3.tmp"
		echo "vm: file '$2' from the guest is corrupt (SHA-256 mismatch; kernel messages interleaved?)" >&2
		return 1
	fi
	rm -f "$3.b64" "$3.sum"
	mv "$3.tmp" "$3"
}

# ---------------------------------------------------------------------------
# Guests in the background, several at a time, with a shared folder.
#
#   vm_start WORKDIR GUEST_SCRIPT [--share HOSTDIR] [--mem MB] [HOSTPATH[:GUESTPATH]]...
#       Like vm_run, but returns as soon as qemu is started (its pid in
#       WORKDIR/qemu.pid) and does not wait for the guest; collect the result
#       with vm_wait. With --share, HOSTDIR is exported over virtiofs under the
#       tag "share" (the guest mounts it: mount -t virtiofs share /share), so
#       the host and the guest see each other's changes while both run.
#       virtiofs is the one shared-folder transport the cloud kernel has built
#       in (CONFIG_VIRTIO_FS=y; 9p is a module). It needs the guest's memory in
#       a shared memfd (virtiofsd maps it) and /usr/lib/qemu/virtiofsd
#       (SKVM_VIRTIOFSD) on the host. Returns 0, or 125 with the reason when
#       the kernel, virtiofsd or qemu cannot start. Env as vm_run's.
#   vm_wait WORKDIR
#       Waits for a guest started with vm_start and returns what vm_run would
#       have: the guest script's exit status, or 125 with the reason.
#   vm_kill WORKDIR
#       Stops a guest started with vm_start (and its virtiofsd) at once; for
#       cleanup when the caller gives up on it.
# ---------------------------------------------------------------------------

SKVM_VIRTIOFSD=${SKVM_VIRTIOFSD:-/usr/lib/qemu/virtiofsd}

# _vm_virtiofsd WORKDIR HOSTDIR: starts virtiofsd on WORKDIR/vfs.sock and
# waits for the socket. sandbox=chroot: the namespace sandbox needs
# unprivileged user namespaces and pivot_root, which containers often deny;
# the guest is ours, so chroot is confinement enough. cache=none: the host
# changes files behind the guest's back, and the guest must see them at once.
_vm_virtiofsd() {
	if [ ! -x "$SKVM_VIRTIOFSD" ]; then
		echo "vm: virtiofsd not found at $SKVM_VIRTIOFSD (Debian's qemu-system-common ships it; set SKVM_VIRTIOFSD)" >&2
		return 1
	fi
	if [ ! -d "$2" ]; then
		echo "vm: shared folder $2 is not a directory" >&2
		return 1
	fi
	rm -f "$1/vfs.sock"
	"$SKVM_VIRTIOFSD" --socket-path="$1/vfs.sock" -o source="$2" -o cache=none \
		-o sandbox=chroot -o log_level=warn </dev/null >"$1/virtiofsd.log" 2>&1 &
	echo $! >"$1/virtiofsd.pid"
	_i=0
	while [ ! -S "$1/vfs.sock" ]; do
		_i=$((_i + 1))
		if ! kill -0 "$(cat "$1/virtiofsd.pid")" 2>/dev/null || [ $_i -gt 100 ]; then
			echo "vm: virtiofsd did not create $1/vfs.sock within 10 s:" >&2
			sed 's/^/    | /' "$1/virtiofsd.log" >&2
			return 1
		fi
		sleep 0.1
	done
}

vm_start() {
	if [ $# -lt 2 ]; then
		echo "usage: vm_start WORKDIR GUEST_SCRIPT [--share HOSTDIR] [--mem MB] [HOSTPATH[:GUESTPATH]]..." >&2
		return 125
	fi
	_w=$1
	_script=$2
	shift 2
	_share=""
	_mem=1024
	while [ $# -gt 0 ]; do
		case $1 in
		--share) _share=$2 && shift 2 ;;
		--mem) _mem=$2 && shift 2 ;;
		*) break ;;
		esac
	done
	vm_kernel_ready || return 125
	[ -f "$_script" ] || { echo "vm: guest script $_script not found" >&2; return 125; }
	mkdir -p "$_w" || return 125
	rm -f "$_w/console.log" "$_w/qemu.err" "$_w/qemu.rc" "$_w/qemu.pid" "$_w/virtiofsd.pid"
	_vm_build_initramfs "$_w" "$_script" "$@" || {
		echo "vm: could not build the initramfs in $_w" >&2
		return 125
	}
	_fs=""
	if [ -n "$_share" ]; then
		_vm_virtiofsd "$_w" "$_share" || return 125
		_fs="-object memory-backend-memfd,id=mem,size=${_mem}M,share=on -numa node,memdev=mem
		     -chardev socket,id=vfs,path=$_w/vfs.sock -device vhost-user-fs-pci,chardev=vfs,tag=share"
	fi
	_t=${SKVM_TIMEOUT:-120}
	echo "$_t" >"$_w/timeout"
	_esc=$(printf '\033')
	# As vm_run, in a background subshell; timeout (not --foreground: the
	# caller keeps its terminal) kills a hung guest.
	(
		# shellcheck disable=SC2086
		{
			timeout -k 5 "$_t" qemu-system-x86_64 -accel tcg,thread=single \
				${SKVM_ICOUNT:+-icount "$SKVM_ICOUNT"} -cpu max \
				-m "$_mem" -smp 2 -nographic -no-reboot -nic none $_fs \
				-kernel "$SKVM_KERNEL/vmlinuz" -initrd "$_w/initramfs.img" \
				-append "console=ttyS0 panic=-1 quiet" </dev/null 2>"$_w/qemu.err" &
			echo $! >"$_w/qemu.pid"
			wait $!
			echo $? >"$_w/qemu.rc"
		} | tr -d '\r' | sed -u "s/$_esc\\[[0-9;?]*[A-Za-z]//g; s/${_esc}c//g" >"$_w/console.log"
	) &
	echo $! >"$_w/vm.pid"
	_i=0
	while [ ! -s "$_w/qemu.pid" ] && [ $_i -lt 50 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	[ -s "$_w/qemu.pid" ] || { _vm_fail "$_w" "qemu did not start"; return 125; }
}

vm_wait() {
	[ $# = 1 ] || { echo "usage: vm_wait WORKDIR" >&2; return 125; }
	_w=$1
	[ -s "$_w/vm.pid" ] || { echo "vm: no guest was started in $_w" >&2; return 125; }
	# not our child when called from another subshell: poll for the rc file
	while [ ! -e "$_w/qemu.rc" ] && kill -0 "$(cat "$_w/vm.pid")" 2>/dev/null; do sleep 0.2; done
	wait "$(cat "$_w/vm.pid")" 2>/dev/null
	rm -f "$_w/vm.pid"
	if [ -s "$_w/virtiofsd.pid" ]; then
		# virtiofsd exits by itself when qemu hangs up; make sure
		kill "$(cat "$_w/virtiofsd.pid")" 2>/dev/null
		rm -f "$_w/virtiofsd.pid"
	fi
	_qrc=$(cat "$_w/qemu.rc" 2>/dev/null)
	_rc=$(grep -ao 'SKVM-EXIT=[0-9]*' "$_w/console.log" | tail -n 1 | cut -d= -f2)
	if grep -Eq 'Oops:|Kernel panic|BUG: |general protection fault' "$_w/console.log"; then
		_vm_fail "$_w" "the guest kernel oopsed or panicked (guest script status: ${_rc:-none})"
		return 125
	fi
	if [ -n "$_rc" ]; then
		return "$_rc"
	fi
	case $_qrc in
	124 | 137) _vm_fail "$_w" "the guest did not finish within $(cat "$_w/timeout") s (SKVM_TIMEOUT); qemu was killed" ;;
	*) _vm_fail "$_w" "the guest never reported an exit status (qemu exited ${_qrc:-?}); boot failed or /init died" ;;
	esac
}

vm_kill() {
	[ $# = 1 ] || { echo "usage: vm_kill WORKDIR" >&2; return 1; }
	for _p in qemu virtiofsd; do
		[ -s "$1/$_p.pid" ] && kill "$(cat "$1/$_p.pid")" 2>/dev/null
	done
	return 0
}
