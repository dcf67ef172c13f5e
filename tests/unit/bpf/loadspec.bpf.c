/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What load declarations (test_loadspec.c) are typed against: rodata, .data
 * and .bss scalars and per-CPU arrays (two of them upstream's
 * RESIZABLE_ARRAY), a map
 * its loader sizes, a map of maps, SEC("syscall") programs with and without
 * an argument struct, a non-syscall program, and __kconfig externs.
 */
#include "test_common.h"

char _license[] SEC("license") = "GPL";

extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;

const volatile u32 nr_cpus = 1;
const volatile bool smt_on;
const volatile u64 capacity[64];
const volatile s32 partner[1] SEC(".rodata.partner");
const volatile char label[8];
/* .bss and upstream's RESIZABLE_ARRAY(data, dnode) */
u32 nr_seen;
u64 dnode[1] SEC(".data.dnode");
extern bool CONFIG_PREEMPT_RCU __kconfig __weak;
extern const char CONFIG_CC_VERSION_TEXT[64] __kconfig __weak;
extern unsigned long CONFIG_NR_CPUS __kconfig;

struct pair_ctx {
	u64 started_at;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct pair_ctx);
} pairs SEC(".maps");

struct inner_q {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16);
	__type(value, u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, s32);
	__array(values, struct inner_q);
} queues SEC(".maps");

struct cpu_arg {
	s32 cpu_id;
	s32 sibling_id;
	u64 weight;
};

SEC("syscall")
int set_cpu(struct cpu_arg *arg)
{
	return arg->cpu_id < 0 ? -22 : 0;
}

SEC("syscall")
int no_arg(void *ctx)
{
	return 0;
}

SEC("struct_ops/ls_enqueue")
void BPF_PROG(ls_enqueue, struct task_struct *p, u64 enq_flags)
{
	u32 k = 0;
	struct pair_ctx *pc = bpf_map_lookup_elem(&pairs, &k);
	u64 slice = nr_cpus + smt_on + capacity[0] + partner[0] + label[0] + CONFIG_NR_CPUS;

	if (CONFIG_PREEMPT_RCU || CONFIG_CC_VERSION_TEXT[0])
		slice++;
	if (pc)
		slice += pc->started_at;
	slice += nr_seen + dnode[0];
	if (bpf_map_lookup_elem(&queues, &k))
		slice++;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops ls_ops = {
    .enqueue = (void *)ls_enqueue,
    .name = "loadspec",
};
