/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fleet_stall: the broken release in the fleet test (tests/vm/test_fleet.sh).
 *
 * DELIBERATE BUG (test fixture): it takes the same tunable as vtime
 * (slice_ns), so a pool's skrun.json that sets it accepts this release, and
 * it verifies, loads and attaches; then enqueue parks every task in a custom
 * DSQ that dispatch never drains, and the sched_ext watchdog (1 s here)
 * ejects it with SCX_EXIT_ERROR_STALL. That is the failure a health window
 * exists for: nothing is wrong until the scheduler runs.
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

#define PARKING_DSQ 0x5ad

const volatile u64 slice_ns = 5000000;

s32 BPF_STRUCT_OPS(fleet_stall_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	return prev_cpu;
}

void BPF_STRUCT_OPS(fleet_stall_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, PARKING_DSQ, slice_ns, enq_flags);
}

void BPF_STRUCT_OPS(fleet_stall_dispatch, s32 cpu, struct task_struct *prev)
{
	/* Deliberately empty: nothing ever leaves PARKING_DSQ. */
}

s32 BPF_STRUCT_OPS_SLEEPABLE(fleet_stall_init)
{
	return scx_bpf_create_dsq(PARKING_DSQ, -1);
}

void BPF_STRUCT_OPS(fleet_stall_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops fleet_stall_ops = {
    .select_cpu = (void *)fleet_stall_select_cpu,
    .enqueue = (void *)fleet_stall_enqueue,
    .dispatch = (void *)fleet_stall_dispatch,
    .init = (void *)fleet_stall_init,
    .exit = (void *)fleet_stall_exit,
    .timeout_ms = 1000,
    .name = "fleet_stall",
};
