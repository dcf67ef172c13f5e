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

#define SK_SYSFS_BTF	"/sys/kernel/btf/vmlinux"
#define SK_SCX_OPS_TYPE "sched_ext_ops"
#define SK_SCX_NAME_LEN 128 /* SCX_OPS_NAME_LEN, including the NUL */

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
	char *type;	   /* C type as written, e.g. "u64", "bool", "char[16]" */
	char *kind;	   /* "int", "uint", "bool", "char-array", "enum", "other" */
	uint32_t size;	   /* bytes */
	uint32_t offset;   /* in .rodata */
	char *default_str; /* rendered default value */
};

struct sk_ops_info {
	char *map_name;	     /* the struct_ops map (ELF symbol) */
	char *type;	     /* its struct: "sched_ext_ops", "sched_ext_ops_cid" (no ___flavour) */
	char *name;	     /* ops .name */
	uint64_t flags;	     /* ops .flags */
	uint32_t timeout_ms; /* ops .timeout_ms */
	uint32_t dispatch_max_batch;
	uint32_t exit_dump_len;
	struct sk_strv callbacks; /* implemented callbacks, sorted */
	struct sk_strv members;	  /* other non-zero data members (e.g. sub_cgroup_id), sorted */
	bool link;		  /* SEC(".struct_ops.link") */
};

struct sk_sched_info {
	char *license;
	struct sk_ops_info *ops; /* the selected sched_ext_ops map */
	struct sk_strv all_ops_maps;
	struct sk_strv
	    kfuncs_required; /* strong externs by kernel name (___suffix stripped), sorted */
	struct sk_strv kfuncs_optional; /* weak externs not also required, sorted */
	/*
	 * "NAME RET(P1, P2)": each required kfunc's prototype as the object
	 * declares it (sk_btf_render_proto()'s terms), sorted; the host check
	 * compares it with the kernel's, as libbpf does when it links the extern.
	 */
	struct sk_strv kfunc_protos;
	/*
	 * "NAME FLAVOR RET(P1, P2)": a kfunc declared only as two or more weak
	 * flavors (NAME___x) with different prototypes, one line per flavor,
	 * sorted. Where the kernel has NAME, one of them must link (NAME is
	 * in kfuncs_optional: a kernel without it may run a fallback); libbpf
	 * leaves the others unresolved and bpf_ksym_exists() picks.
	 */
	struct sk_strv kfunc_oneof;
	struct sk_strv sleepable;    /* programs in SEC("struct_ops.s/..."), sorted */
	struct sk_tunable *tunables; /* `const volatile` .rodata variables, sorted by name */
	size_t nr_tunables;
	bool has_uei; /* upstream-compatible exit record "uei" in .data */
	/* derived by sk_requirements_derive() */
	char min_kernel[16];		   /* at least "6.12", sched_ext's first release */
	struct sk_strv min_kernel_because; /* "kfunc scx_bpf_now (6.14)"; empty at 6.12 */
	struct sk_strv unknown;		   /* "kfunc foo", "callback bar", "flag 0x..." */
	/*
	 * Upper bound: the first release that no longer has a required kfunc
	 * ("6.17" for scx_bpf_dispatch); "" when there is none.
	 */
	char kernel_before[16];
	struct sk_strv kernel_before_because; /* "kfunc scx_bpf_dispatch (removed in 6.17)" */
};

/*
 * Analyses a compiled BPF object (the ELF bytes; nothing is loaded). ops_name
 * selects the struct_ops map by its ELF name when there are several (NULL:
 * exactly one is required). Derives requirements as well. Fails when the
 * kernel would refuse the object whatever its release: a license that is not
 * GPL-compatible, an invalid ops name, timeout_ms above 30000.
 */
int sk_sched_analyze(const void *obj, size_t len, const char *ops_name, struct sk_sched_info **out,
		     struct sk_error *err);
/*
 * What skrun checks before every load, and nothing more: the object's ELF and
 * BTF (the bounds libbpf 1.4 trusts), its license, the ops map ops_name
 * selects and its values (name, timeout), and the "NAME=VALUE" tunables in
 * set (may be NULL), as sk_sched_validate_sets() does. Unlike
 * sk_sched_analyze() it neither opens the object with libbpf (the load does,
 * once) nor lists kfuncs, programs or tunables.
 */
int sk_sched_check_object(const void *obj, size_t len, const char *ops_name, const char *const *set,
			  struct sk_error *err);
void sk_sched_info_free(struct sk_sched_info *info);

/*
 * The "requirements"/"tunables" parts of the artifact config: license, ops,
 * requirements, tunables, exitInfo, in that key order, every array sorted.
 * requirements ends with "kernelBefore" (string or null) and
 * "kernelBeforeBecause". NULL on allocation failure.
 */
struct json_object *sk_sched_info_to_json(const struct sk_sched_info *info);

/* ---- kernel release table ---- */

enum sk_req_kind {
	SK_REQ_KFUNC,	 /* by kernel name: "scx_bpf_dsq_insert___v2" is the 6.19 kfunc */
	SK_REQ_CALLBACK, /* any struct sched_ext_ops member, callbacks and data alike */
	SK_REQ_FLAG,	 /* by enumerator name: "SCX_OPS_ENQ_LAST" */
};

/* First mainline release providing name ("6.12"), or NULL when not in the table. */
const char *sk_req_release(enum sk_req_kind kind, const char *name);
/* First mainline release without the kfunc (kernel name), or NULL when it was never removed. */
const char *sk_req_kfunc_removed(const char *name);
/* First release for an SCX_OPS_* flag bit; NULL when unknown. */
const char *sk_req_flag_release(uint64_t bit);
/*
 * The length of the sched_ext ops struct a struct_ops type names, without a
 * libbpf "___flavour" suffix: "sched_ext_ops", or a kernel's later variant
 * "sched_ext_ops_<suffix>" (7.2's "sched_ext_ops_cid"). 0 for other names.
 */
size_t sk_scx_ops_type_len(const char *name);
/* First mainline release with that ops struct ("6.12" for sched_ext_ops); NULL when unknown. */
const char *sk_req_ops_type_release(const char *type);
/* Compares "6.12" style releases like strverscmp. */
int sk_release_cmp(const char *a, const char *b);
/*
 * Fills info->min_kernel, min_kernel_because, unknown, kernel_before and
 * kernel_before_because from the required kfuncs, the ops' callbacks, data
 * members and flag bits (optional kfuncs never raise the minimum nor count
 * as unknown). Replaces earlier results. Returns 0 or -ENOMEM.
 */
int sk_requirements_derive(struct sk_sched_info *info);

/* ---- host facts (hostfacts.c) ---- */

/*
 * What a scheduler's own loader reads about the machine before it loads,
 * read from sysfs: /sys/devices/system/cpu (possible, online, cpuN/topology,
 * cpuN/cpu_capacity, cpuN/cache/indexK, smt/active) and
 * /sys/devices/system/node. The per-CPU arrays have nr_cpu_ids entries;
 * a value that sysfs does not give is -1 (capacity: 1024, node: 0).
 */
#define SK_HOST_MAX_SIBLINGS 8

struct sk_host_cpu {
	bool online;
	int64_t capacity;      /* cpu_capacity, 1024 when absent (symmetric CPUs) */
	int64_t node;	       /* NUMA node, 0 without NUMA */
	int64_t core_id;       /* topology/core_id */
	int64_t package_id;    /* topology/physical_package_id */
	int64_t l2_id, l3_id;  /* the cache's id (else its first CPU), -1 when none */
	int64_t llc_id;	       /* the same for the highest-level data/unified cache */
	int64_t capacity_rank; /* the CPU at this rank by capacity, highest first */
	int nr_siblings;       /* SMT siblings other than this CPU */
	int32_t siblings[SK_HOST_MAX_SIBLINGS];
};

struct sk_hostfacts {
	uint32_t nr_cpu_ids; /* last possible CPU + 1 */
	uint32_t nr_online;
	uint32_t nr_nodes; /* NUMA nodes with CPUs; 1 without NUMA */
	uint32_t nr_llcs;
	bool smt_enabled;
	struct sk_host_cpu *cpu; /* nr_cpu_ids entries */
};

/* Reads the facts under root ("" or NULL: this machine). */
int sk_hostfacts_read(const char *root, struct sk_hostfacts *out, struct sk_error *err);
void sk_hostfacts_free(struct sk_hostfacts *f);

/* The kinds of named facts load declarations may use. */
enum sk_fact_kind {
	SK_FACT_NONE,
	SK_FACT_INT,	 /* one number for the host */
	SK_FACT_BOOL,	 /* one condition for the host */
	SK_FACT_PER_CPU, /* one number per possible CPU */
};

/* The kind of the fact called name, SK_FACT_NONE when there is none. */
enum sk_fact_kind sk_fact_kind(const char *name);
/* Every fact name, comma-separated, for messages and docs. */
const char *sk_fact_names(void);
/*
 * The value of fact name for the host (cpu ignored) or for CPU cpu (per-CPU
 * facts). -ENOENT for an unknown name, -ERANGE for a CPU out of range,
 * -EINVAL when the host cannot give it (pairs of an odd CPU count), with
 * why in err.
 */
int sk_fact_value(const struct sk_hostfacts *f, const char *name, uint32_t cpu, int64_t *out,
		  struct sk_error *err);

/*
 * The running kernel's configuration for libbpf's __kconfig externs:
 * /boot/config-RELEASE, /lib/modules/RELEASE/config or /proc/config.gz
 * (gzip, read with zlib), under root. *out is the text (malloc'd), *from
 * the file it came from; -ENOENT when none exists (err lists where it
 * looked).
 */
int sk_kconfig_read(const char *root, char **out, char *from, size_t from_sz, struct sk_error *err);

/* ---- load-time declarations (loadspec.c) ---- */

/*
 * Checks the "load" object of a schedkit.json against a compiled object's
 * BTF (programs, maps, variables, the ops struct and argument structs, by
 * name and type) and the kernel BTF the build used (kbtf_path; NULL: the
 * running kernel's) for the SCX_OPS_* flags it names. On success *out is the
 * object to record under "load" in the artifact config. Every refusal says
 * what, where and how to fix it.
 */
int sk_loadspec_validate(const void *obj, size_t len, const char *ops_name,
			 const struct json_object *load, const char *kbtf_path,
			 struct json_object **out, struct sk_error *err);

/* ---- load, attach, exit info ---- */

struct sk_sched;

struct sk_load_opts {
	const char *ops_name;	     /* NULL: the only sched_ext_ops map */
	const char *btf_custom_path; /* NULL: the running kernel */
	const char *const *set;	     /* "NAME=VALUE" tunables, NULL-terminated, may be NULL */
	/*
	 * The artifact's config (NULL: none). Its "load" object, the
	 * load-time declarations (docs/authors.md), is validated against the
	 * object and applied: rodata and map sizes from host facts and ops
	 * fields before the load, SEC("syscall") programs after it. --set
	 * tunables are applied after the declarations, so the operator wins.
	 */
	const struct json_object *config;
	/* Prefix for /sys and /proc when reading host facts and kernel config; NULL: "". */
	const char *host_root;
};

/*
 * Routes libbpf's own messages (warnings and info; debug is dropped) to
 * stderr as "PROG: libbpf: ...", after flushing stdout, so that they appear in
 * order with the program's own output. Call once at start.
 */
void sk_kernel_log_init(void);

/*
 * For a process that stays resident next to a scheduler: returns freed heap
 * to the system (malloc_trim) and drops its mappings of file pages nobody
 * wrote to (library code and read-only data; mappings with private copies,
 * such as relocated data, keep theirs). Those pages stay in the page cache
 * and fault back in when used, so the process's RSS shows what it uses, not
 * every library page it ever touched (OpenSSL's code, after verification).
 * 0, or -errno when /proc/self/smaps cannot be read.
 */
int sk_trim_resident(void);

/* Opens and loads (verifies) the object; the verifier log ends up in err. */
int sk_sched_load(const void *obj, size_t len, const struct sk_load_opts *opts,
		  struct sk_sched **out, struct sk_error *err);
/*
 * Type-checks "NAME=VALUE" tunables against the object's BTF without loading
 * anything: the same rules sk_sched_load applies. Integers are decimal (no
 * leading zeros) or 0x hex, with a '-' only for signed types and nothing
 * around them, within the type's width; bools are true, false, 1 or 0; enums
 * take an enumerator's name or a number; char arrays a string that fits.
 */
int sk_sched_validate_sets(const void *obj, size_t len, const char *const *set,
			   struct sk_error *err);
/*
 * Registers the scheduler with the kernel. Once attached, everything libbpf
 * built to load it is released (the object, its programs, maps and BTF; the
 * kernel holds them through the link), and freed heap is returned to the
 * system: a resident supervisor keeps only the link and the exit record's
 * map. So a detached scheduler cannot be attached again; load it anew.
 */
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

/*
 * Reads the `uei` exit record from the kernel's map (also after detach).
 * -ENOENT when the object defines none, -EINVAL when it is malformed.
 */
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
