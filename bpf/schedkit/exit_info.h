/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * schedkit/exit_info.h: the exit record a scheduler leaves for its loader.
 *
 * When sched_ext unloads a scheduler (unregistered, error, watchdog stall,
 * scx_bpf_exit()), the kernel passes a struct scx_exit_info to ops.exit and
 * then frees it. A loader only learns why the scheduler stopped if ops.exit
 * copies the interesting parts into a global it can read afterwards. This
 * header defines that global with the same name and layout as the upstream
 * scx tools (`uei`), so loaders and schedulers from either side interoperate:
 *
 *	UEI_DEFINE(uei);
 *	void BPF_STRUCT_OPS(my_exit, struct scx_exit_info *ei)
 *	{
 *		UEI_RECORD(uei, ei);
 *	}
 *
 * The loader reads `uei` from the object's .data map once the scheduler's
 * state leaves "enabled"; `kind` != 0 means the record is complete.
 */
#ifndef SCHEDKIT_EXIT_INFO_H
#define SCHEDKIT_EXIT_INFO_H

/* Sizes of scx_exit_info's reason and msg buffers (SCX_EXIT_REASON_LEN is
 * not an enum in every kernel, so they are fixed here; they are part of the
 * record's layout, which must not change). */
#define SK_UEI_REASON_LEN 128
#define SK_UEI_MSG_LEN	  1024

struct user_exit_info {
	int kind;      /* enum scx_exit_kind; written last, 0 = not exited */
	s64 exit_code; /* SCX_ECODE_* bits | scheduler-defined low bits */
	char reason[SK_UEI_REASON_LEN];
	char msg[SK_UEI_MSG_LEN];
};

/*
 * Define the record. It is forced into .data (it would otherwise land in
 * .bss) because that is where loaders look for it, by name. The
 * <name>_dump_len constant in .rodata lets a loader that sizes the
 * kernel's debug dump (ops.exit_dump_len) tell the scheduler what it chose;
 * schedkit schedulers do not use it, but its presence marks the convention.
 */
#define UEI_DEFINE(__name)                                                                         \
	const volatile u32 __name##_dump_len;                                                      \
	struct user_exit_info __name SEC(".data")

/*
 * Copy the kernel's exit info into the record from ops.exit. reason and msg
 * are kernel pointers (char *), hence bpf_probe_read_kernel_str. kind is
 * published last with a compare-and-swap: a reader that sees kind != 0 sees
 * the rest of the record, and only the first exit is kept. The 32-bit
 * atomic is why schedulers must be compiled with -mcpu=v3.
 */
#define UEI_RECORD(__name, __ei)                                                                   \
	({                                                                                         \
		bpf_probe_read_kernel_str(__name.reason, sizeof(__name.reason), (__ei)->reason);   \
		bpf_probe_read_kernel_str(__name.msg, sizeof(__name.msg), (__ei)->msg);            \
		__name.exit_code = (__ei)->exit_code;                                              \
		__sync_val_compare_and_swap(&__name.kind, 0, (__ei)->kind);                        \
	})

#endif /* SCHEDKIT_EXIT_INFO_H */
