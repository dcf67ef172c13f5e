/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * restart: a working global FIFO that, about one second after it first
 * sees a tick, asks to be unloaded with exit code SCX_ECODE_ACT_RESTART | 1.
 * The kernel reports kind SCX_EXIT_UNREG_BPF; a supervisor seeing the
 * restart bit in uei.exit_code should load it again.
 */
#include <schedkit/vmlinux_wrap.h>
#include <schedkit/scx.h>
#include <schedkit/exit_info.h>

char _license[] SEC("license") = "GPL";

/* How long to run before asking for a restart. */
const volatile u64 restart_after_ns = 1000000000;

UEI_DEFINE(uei);

static u64 first_tick_ns;
static u32 exit_requested;

void BPF_STRUCT_OPS(restart_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

/* ops.tick runs on every CPU that is running an SCX task, each timer tick. */
void BPF_STRUCT_OPS(restart_tick, struct task_struct *p)
{
	u64 now = bpf_ktime_get_ns();

	if (!first_tick_ns) {
		first_tick_ns = now;
		return;
	}
	if (now - first_tick_ns < restart_after_ns)
		return;
	/* Ask once; other CPUs may tick before the kernel tears us down. */
	if (__sync_val_compare_and_swap(&exit_requested, 0, 1) != 0)
		return;
	scx_bpf_exit(SCX_ECODE_ACT_RESTART | 1, "restart requested after %llu ms",
		     (now - first_tick_ns) / 1000000);
}

void BPF_STRUCT_OPS(restart_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops restart_ops = {
    .enqueue = (void *)restart_enqueue,
    .tick = (void *)restart_tick,
    .exit = (void *)restart_exit,
    .name = "restart",
};
