/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel side: vmlinux.h from BTF, analysis of compiled sched_ext objects,
 * the table of which kernel release introduced what, and loading/attaching.
 */
#ifndef SCHEDKIT_KERNEL_H
#define SCHEDKIT_KERNEL_H

#include <json-c/json.h>

#include "schedkit/common.h"
#include "schedkit/oci.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_SYSFS_BTF	  "/sys/kernel/btf/vmlinux"
#define SK_SCX_OPS_TYPE	  "sched_ext_ops"
#define SK_SCX_NAME_LEN	  128 /* SCX_OPS_NAME_LEN, including the NUL */

/* ---- vmlinux.h ---- */

/*
 * Writes a vmlinux.h for btf_src (a vmlinux ELF, a raw BTF file; NULL for the
 * running kernel's /sys/kernel/btf/vmlinux) into cache_dir/<btf digest>/vmlinux.h
 * unless it is already there. The BTF must contain struct sched_ext_ops.
 * out_dir receives the directory holding vmlinux.h; btf_digest the BTF's digest.
 */
int sk_vmlinux_h(const char *btf_src, const char *cache_dir, char *out_dir, size_t out_dir_sz,
		 char btf_digest[SK_DIGEST_MAX], struct sk_error *err);

/* ---- object analysis ---- */

struct sk_tunable {
	char *name;
	char *type;	  /* C type as written, e.g. "u64", "bool", "char[16]" */
	char *kind;	  /* "int", "uint", "bool", "char-array", "enum", "other" */
	uint32_t size;	  /* bytes */
	uint32_t offset;  /* in .rodata */
	char *default_str; /* rendered default value */
};

struct sk_ops_info {
	char *map_name;		 /* the struct_ops map (ELF symbol) */
	char *name;		 /* ops .name */
	uint64_t flags;		 /* ops .flags */
	uint32_t timeout_ms;	 /* ops .timeout_ms */
	uint32_t dispatch_max_batch;
	uint32_t exit_dump_len;
	struct sk_strv callbacks; /* implemented callbacks, sorted */
	bool link;		  /* SEC(".struct_ops.link") */
};

struct sk_sched_info {
	char *license;
	struct sk_ops_info *ops; /* the selected sched_ext_ops map */
	struct sk_strv all_ops_maps;
	struct sk_strv kfuncs_required; /* strong externs, sorted */
	struct sk_strv kfuncs_optional; /* weak externs, sorted */
	struct sk_strv sleepable;	/* sleepable programs */
	struct sk_tunable *tunables;
	size_t nr_tunables;
	bool has_uei; /* upstream-compatible exit record "uei" in .data */
	/* derived by sk_requirements_derive() */
	char min_kernel[16];
	struct sk_strv min_kernel_because; /* "kfunc scx_bpf_now (6.14)" ... */
	struct sk_strv unknown;		   /* "kfunc foo", "callback bar", "flag 0x..." */
};

/*
 * Analyses a compiled BPF object. ops_name selects the struct_ops map by its
 * ELF name when there are several (NULL: exactly one is required).
 * Derives requirements as well.
 */
int sk_sched_analyze(const void *obj, size_t len, const char *ops_name,
		     struct sk_sched_info **out, struct sk_error *err);
void sk_sched_info_free(struct sk_sched_info *info);

/* The "requirements"/"tunables" parts of the artifact config. */
struct json_object *sk_sched_info_to_json(const struct sk_sched_info *info);

/* ---- kernel release table ---- */

enum sk_req_kind {
	SK_REQ_KFUNC,
	SK_REQ_CALLBACK,
	SK_REQ_FLAG,
};

/* First mainline release providing name ("6.12"), or NULL when not in the table. */
const char *sk_req_release(enum sk_req_kind kind, const char *name);
/* First release for an SCX_OPS_* flag bit; NULL when unknown. */
const char *sk_req_flag_release(uint64_t bit);
/* Compares "6.12" style releases like strverscmp. */
int sk_release_cmp(const char *a, const char *b);
/* Fills info->min_kernel, min_kernel_because and unknown. */
int sk_requirements_derive(struct sk_sched_info *info);

/* ---- load, attach, exit info ---- */

struct sk_sched;

struct sk_load_opts {
	const char *ops_name;	     /* NULL: the only sched_ext_ops map */
	const char *btf_custom_path; /* NULL: the running kernel */
	const char *const *set;	     /* "NAME=VALUE" tunables, NULL-terminated, may be NULL */
};

/* Opens and loads (verifies) the object; the verifier log ends up in err. */
int sk_sched_load(const void *obj, size_t len, const struct sk_load_opts *opts,
		  struct sk_sched **out, struct sk_error *err);
/* Registers the scheduler with the kernel. */
int sk_sched_attach(struct sk_sched *s, struct sk_error *err);
/* Unregisters (the kernel records exit kind UNREG). Idempotent. */
void sk_sched_detach(struct sk_sched *s);
void sk_sched_close(struct sk_sched *s);
const char *sk_sched_name(const struct sk_sched *s);

struct sk_exit_info {
	bool valid; /* the object has an exit record and the kernel filled it */
	int kind;
	int64_t exit_code;
	char reason[128];
	char msg[1024];
};

int sk_sched_exit_info(struct sk_sched *s, struct sk_exit_info *out);
/* "unregistered", "runnable task stall", ... for an SCX_EXIT_* kind. */
const char *sk_exit_kind_str(int kind);

/* sysfs state: "enabled", "disabled", ...; "absent" without sched_ext. */
int sk_scx_state(char *buf, size_t sz);
/* Name in /sys/kernel/sched_ext/root/ops; "" when none. */
int sk_scx_ops_name(char *buf, size_t sz);

#ifdef __cplusplus
}
#endif
#endif
