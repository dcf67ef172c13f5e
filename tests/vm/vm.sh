# The VM tests' qemu harness: scripts/vm.sh, shared with `skbuild vmtest`.
# Source it after tests/lib.sh (which sets SK_ROOT); see scripts/vm.sh for
# vm_run, vm_extract and vm_kernel_ready.
. "$SK_ROOT/scripts/vm.sh"
