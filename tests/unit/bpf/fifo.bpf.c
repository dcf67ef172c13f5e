/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal global FIFO with tunables of several types and an upstream-style exit record. */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
extern s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;

enum fifo_mode { FIFO_PLAIN = 0, FIFO_BOOST = 2 };

const volatile u64 slice_ns = 5000000;
const volatile s32 nice_bias = -3;
const volatile u8 small = 200;
const volatile bool verbose = true;
const volatile bool quiet;
const volatile char tag[16] = "hello";
const volatile enum fifo_mode mode = FIFO_BOOST;
const volatile enum fifo_mode odd_mode = (enum fifo_mode)7;
/* Not tunables: a loader placeholder, a plain const, the exit-dump size. */
const volatile u64 __SCX_DSQ_FLAG_BUILTIN;
const u32 plain_const = 9;
const volatile u32 uei_dump_len;
/* Not paired with an exit record, so a tunable like any other. */
const volatile u32 trace_dump_len = 64;

struct user_exit_info {
	int kind;
	s64 exit_code;
	char reason[128];
	char msg[1024];
};
struct user_exit_info uei SEC(".data");

SEC("struct_ops/fifo_enqueue")
void BPF_PROG(fifo_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 slice = slice_ns + plain_const + __SCX_DSQ_FLAG_BUILTIN + uei_dump_len;

	if (scx_bpf_dsq_nr_queued(SCX_DSQ_GLOBAL) > nice_bias + small + trace_dump_len)
		slice /= 2;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice, enq_flags);
}

SEC("struct_ops/fifo_dispatch")
void BPF_PROG(fifo_dispatch, s32 cpu, struct task_struct *prev)
{
}

SEC("struct_ops.s/fifo_init")
s32 BPF_PROG(fifo_init)
{
	return verbose && !quiet && tag[0] && mode == FIFO_BOOST && odd_mode ? 0 : 1;
}

SEC("struct_ops/fifo_exit")
void BPF_PROG(fifo_exit, struct scx_exit_info *ei)
{
	uei.kind = ei->kind;
	uei.exit_code = ei->exit_code;
}

SEC(".struct_ops.link")
struct sched_ext_ops fifo_ops = {
    .enqueue = (void *)fifo_enqueue,
    .dispatch = (void *)fifo_dispatch,
    .init = (void *)fifo_init,
    .exit = (void *)fifo_exit,
    .flags = SCX_OPS_ENQ_LAST | SCX_OPS_SWITCH_PARTIAL,
    .timeout_ms = 5000,
    .dispatch_max_batch = 8,
    .exit_dump_len = 1024,
    .name = "fifo",
};
