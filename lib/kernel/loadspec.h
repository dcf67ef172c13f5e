/* SPDX-License-Identifier: Apache-2.0 */
/* Load-time declarations inside lib/kernel: shared by loadspec.c and attach.c. */
#ifndef SK_KERNEL_LOADSPEC_H
#define SK_KERNEL_LOADSPEC_H

#include <stdint.h>

#include <bpf/libbpf.h>

#include "schedkit/kernel.h"

struct sk_loadspec_state;

/* The sched_ext ops map to use: by ELF name, or the only one (attach.c). */
struct bpf_map *sk_select_ops_map(struct bpf_object *obj, const char *want, struct sk_error *err);

/*
 * Refuses a declaration that says the scheduler needs its own user-space
 * half at run time, naming what. load may be NULL. sched names the scheduler.
 */
int sk_loadspec_refuse_user_space(const struct json_object *load, const char *sched,
				  struct sk_error *err);

/* Types every declaration against the opened (not loaded) object's BTF. */
int sk_loadspec_check(struct bpf_object *obj, struct bpf_map *ops_map,
		      const struct json_object *load, struct sk_error *err);

/*
 * Before the load: resolves kernel enumerators from kbtf_path (the running
 * kernel's BTF), reads the host facts under root, fills rodata, sizes maps,
 * sets ops fields, and remembers the inner-map templates the load drops.
 * *st is for sk_loadspec_after_load and sk_loadspec_free.
 */
int sk_loadspec_before_load(struct bpf_object *obj, struct bpf_map *ops_map,
			    const struct json_object *load, const char *root, const char *kbtf_path,
			    struct sk_loadspec_state **st, struct sk_error *err);

/* Notes the --set tunables applied after the declarations, for the log line. */
void sk_loadspec_note_sets(struct sk_loadspec_state *st, const char *const *set);

/* After the load, before attach: fills map-of-maps, runs the SEC("syscall") programs. */
int sk_loadspec_after_load(struct bpf_object *obj, const struct json_object *load,
			   struct sk_loadspec_state *st, struct sk_error *err);
void sk_loadspec_free(struct sk_loadspec_state *st);

/*
 * The object's __kconfig externs that libbpf reads from the kernel config
 * (LINUX_* ones come from elsewhere): strong ones by name, weak ones as the
 * config line that leaves them unset ("CONFIG_X=n", "=0" or "=\"\"").
 */
int sk_kconfig_externs(const void *obj, size_t len, struct sk_strv *strong, struct sk_strv *weak,
		       struct sk_error *err);

/* v into a size-byte integer slot (1, 2, 4 or 8) of a map's data, host byte order. */
void sk_store_uint(uint8_t *dst, uint32_t size, uint64_t v);

#endif
