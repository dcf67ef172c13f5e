/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skrun doctor: is this host fit to run sched_ext schedulers? Every check has a
 * stable ID (scripts and monitoring key on it) and a fix hint when not ok.
 * Every path can be redirected so that each failure path is testable.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "schedkit/hostcheck.h"
#include "schedkit/kernel.h"
#include "schedkit/oci.h"
#include "schedkit/store.h"
#include "schedkit/trust.h"

#define SK_SCX_FIRST_RELEASE "6.12"
#define SK_CLOCK_MIN	     1704067200 /* 2024-01-01T00:00:00Z */
#define SK_KCONFIG_MAX	     (8u << 20)

#define CAP_SYS_ADMIN_BIT 21
#define CAP_PERFMON_BIT	  38
#define CAP_BPF_BIT	  39

#define HINT_SCHED_EXT                                                                             \
	"boot a kernel 6.12+ built with CONFIG_SCHED_CLASS_EXT=y (e.g. Debian sid's "              \
	"linux-image-cloud-amd64; Debian's 6.12 kernels do not enable it)"

struct doc {
	const struct sk_doctor_opts *o;
	struct sk_doctor_report *r;
	char release[256];
	struct btf *btf; /* NULL when kernel.btf failed */
};

const char *sk_doctor_status_str(enum sk_doctor_status s)
{
	switch (s) {
	case SK_DOCTOR_OK:
		return "ok";
	case SK_DOCTOR_WARN:
		return "warn";
	case SK_DOCTOR_FAIL:
		return "fail";
	}
	return "?";
}

static int add_check(struct doc *d, const char *id, enum sk_doctor_status st, const char *hint,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int add_check(struct doc *d, const char *id, enum sk_doctor_status st, const char *hint,
		     const char *fmt, ...)
{
	struct sk_doctor_report *r = d->r;
	struct sk_doctor_check *c;
	va_list ap;
	int n;

	c = realloc(r->checks, (r->nr_checks + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	r->checks = c;
	c = &c[r->nr_checks++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->status = st;
	va_start(ap, fmt);
	n = vasprintf(&c->detail, fmt, ap);
	va_end(ap);
	if (n < 0) {
		c->detail = NULL;
		return -ENOMEM;
	}
	if (st != SK_DOCTOR_OK && hint) {
		c->hint = strdup(hint);
		if (!c->hint)
			return -ENOMEM;
	}
	return 0;
}

static char *root_path(const char *root, const char *dflt_root, const char *rel)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", root ? root : dflt_root, rel) < 0)
		return NULL;
	return p;
}

/* ---- kernel.* ---- */

static int check_release(struct doc *d)
{
	struct utsname uts;
	unsigned int maj, min;
	char mm[32];

	if (d->o->release) {
		snprintf(d->release, sizeof(d->release), "%s", d->o->release);
	} else if (uname(&uts)) {
		return add_check(d, "kernel.release", SK_DOCTOR_FAIL,
				 "uname(2) failed; this is not a usable Linux system", "uname: %s",
				 strerror(errno));
	} else {
		snprintf(d->release, sizeof(d->release), "%s", uts.release);
	}
	if (sscanf(d->release, "%u.%u", &maj, &min) != 2)
		return add_check(d, "kernel.release", SK_DOCTOR_WARN,
				 "the release does not start with MAJOR.MINOR; the sched_ext "
				 "check below decides",
				 "%s (not a MAJOR.MINOR release)", d->release);
	snprintf(mm, sizeof(mm), "%u.%u", maj, min);
	if (sk_release_cmp(mm, SK_SCX_FIRST_RELEASE) >= 0)
		return add_check(d, "kernel.release", SK_DOCTOR_OK, NULL, "%s", d->release);
	return add_check(d, "kernel.release", SK_DOCTOR_WARN,
			 "sched_ext arrived in Linux 6.12: upgrade to 6.12+ unless your "
			 "distribution backported it (kernel.sched_ext decides)",
			 "%s is older than %s", d->release, SK_SCX_FIRST_RELEASE);
}

static int check_btf(struct doc *d)
{
	char *path = d->o->btf_path ? strdup(d->o->btf_path)
				    : root_path(d->o->sysfs_root, "/sys", "kernel/btf/vmlinux");
	int ret, e;

	if (!path)
		return -ENOMEM;
	d->btf = btf__parse(path, NULL);
	e = errno;
	if (d->btf)
		ret = add_check(d, "kernel.btf", SK_DOCTOR_OK, NULL, "%s (%u types)", path,
				btf__type_cnt(d->btf) - 1);
	else
		ret = add_check(d, "kernel.btf", SK_DOCTOR_FAIL,
				"boot a kernel built with CONFIG_DEBUG_INFO_BTF=y: skrun checks "
				"every artifact against the kernel's own BTF",
				"cannot read %s: %s", path, strerror(e ? e : EINVAL));
	free(path);
	return ret;
}

static int read_small(const char *path, char *buf, size_t sz)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sz - 1, f);
	fclose(f);
	buf[n] = '\0';
	sk_rstrip(buf);
	return 0;
}

static int check_sched_ext(struct doc *d)
{
	char *dir = root_path(d->o->sysfs_root, "/sys", "kernel/sched_ext");
	char *state_p = NULL, *ops_p = NULL, state[64] = "", ops[SK_SCX_NAME_LEN] = "";
	bool in_btf =
	    d->btf && btf__find_by_name_kind(d->btf, SK_SCX_OPS_TYPE, BTF_KIND_STRUCT) > 0;
	bool in_sysfs;
	int ret;

	if (!dir)
		return -ENOMEM;
	state_p = sk_path_join(dir, "state");
	ops_p = sk_path_join(dir, "root/ops");
	if (!state_p || !ops_p) {
		ret = -ENOMEM;
		goto out;
	}
	in_sysfs = read_small(state_p, state, sizeof(state)) == 0;
	if (in_sysfs) {
		read_small(ops_p, ops, sizeof(ops));
		if (*ops)
			ret = add_check(d, "kernel.sched_ext", SK_DOCTOR_OK, NULL,
					"present: state %s, scheduler '%s' attached", state, ops);
		else
			ret = add_check(d, "kernel.sched_ext", SK_DOCTOR_OK, NULL,
					"present: state %s (the kernel's default scheduler runs)",
					state);
	} else if (in_btf) {
		ret =
		    add_check(d, "kernel.sched_ext", SK_DOCTOR_FAIL,
			      "mount sysfs (mount -t sysfs sysfs /sys): skrun reads the "
			      "scheduler state there",
			      "the BTF has struct sched_ext_ops but %s/state is not readable", dir);
	} else {
		ret = add_check(d, "kernel.sched_ext", SK_DOCTOR_FAIL, HINT_SCHED_EXT,
				"this kernel has no sched_ext: no %s and no struct sched_ext_ops "
				"in its BTF",
				dir);
	}
out:
	free(dir);
	free(state_p);
	free(ops_p);
	return ret;
}

/* Value of CONFIG_X in a kernel config text: "y", "m", "n" (is not set) or "" (absent). */
static void kconfig_value(const char *text, const char *opt, char *out, size_t sz)
{
	size_t ol = strlen(opt);

	out[0] = '\0';
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		size_t len = strcspn(l, "\n");

		if (!strncmp(l, opt, ol) && l[ol] == '=') {
			snprintf(out, sz, "%.*s", (int)(len - ol - 1), l + ol + 1);
			return;
		}
		if (!strncmp(l, "# ", 2) && !strncmp(l + 2, opt, ol) &&
		    !strncmp(l + 2 + ol, " is not set", 11)) {
			snprintf(out, sz, "n");
			return;
		}
	}
}

/* Reads a kernel config, gzip'd (/proc/config.gz) or plain (/boot); zlib handles both. */
static int read_kconfig(const char *path, struct sk_buf *b)
{
	gzFile gz = gzopen(path, "rb");
	char chunk[65536];
	int n, ret = 0;

	if (!gz)
		return errno ? -errno : -ENOMEM;
	while ((n = gzread(gz, chunk, sizeof(chunk))) > 0) {
		if (b->len + (size_t)n > SK_KCONFIG_MAX) {
			ret = -EFBIG;
			break;
		}
		ret = sk_buf_append(b, chunk, (size_t)n);
		if (ret)
			break;
	}
	if (!ret && n < 0)
		ret = -EIO;
	if (!ret)
		ret = sk_buf_append(b, "", 1);
	gzclose(gz);
	return ret;
}

static int check_config(struct doc *d)
{
	static const char *const need[] = {"CONFIG_SCHED_CLASS_EXT", "CONFIG_DEBUG_INFO_BTF",
					   "CONFIG_BPF_SYSCALL", "CONFIG_BPF_JIT"};
	char *proc = root_path(d->o->proc_root, "/proc", "config.gz"), *boot = NULL, *src = NULL;
	struct sk_buf text = {0}, bad = {0}, hint = {0};
	int ret = 0;

	if (!proc || asprintf(&boot, "%s/config-%s", d->o->boot_dir ? d->o->boot_dir : "/boot",
			      d->release) < 0) {
		boot = NULL;
		ret = -ENOMEM;
		goto out;
	}
	if (sk_is_file(proc) && !read_kconfig(proc, &text))
		src = proc;
	else if (sk_is_file(boot) && (sk_buf_free(&text), !read_kconfig(boot, &text)))
		src = boot;
	if (!src) {
		ret = add_check(d, "kernel.config", SK_DOCTOR_WARN,
				"optional: enable CONFIG_IKCONFIG_PROC or install the "
				"distribution's /boot/config-RELEASE; the BTF and sched_ext checks "
				"decide anyway",
				"no readable kernel config (%s, %s)", proc, boot);
		goto out;
	}
	for (size_t i = 0; !ret && i < sizeof(need) / sizeof(need[0]); i++) {
		char v[16];

		kconfig_value((const char *)text.data, need[i], v, sizeof(v));
		if (!strcmp(v, "y"))
			continue;
		ret = sk_buf_printf(&bad, "%s%s %s", bad.len ? ", " : "", need[i],
				    !*v		      ? "is absent"
				    : !strcmp(v, "n") ? "is not set"
						      : "is not y");
		if (!ret)
			ret = sk_buf_printf(&hint, "%s%s=y",
					    hint.len ? ", " : "use a kernel built with ", need[i]);
	}
	if (ret)
		goto out;
	if (!bad.len) {
		ret = add_check(d, "kernel.config", SK_DOCTOR_OK, NULL,
				"%s: CONFIG_SCHED_CLASS_EXT, CONFIG_DEBUG_INFO_BTF, "
				"CONFIG_BPF_SYSCALL, CONFIG_BPF_JIT are y",
				src);
		goto out;
	}
	ret = sk_buf_printf(&hint, " (sched_ext: Debian sid's linux-image-cloud-amd64 has it; "
				   "Debian's 6.12 kernels do not)");
	if (!ret)
		ret = add_check(d, "kernel.config", SK_DOCTOR_FAIL, (char *)hint.data, "%s: %s",
				src, (char *)bad.data);
out:
	sk_buf_free(&text);
	sk_buf_free(&bad);
	sk_buf_free(&hint);
	free(proc);
	free(boot);
	return ret;
}

/* ---- caps.bpf, bpf.syscall ---- */

static int check_caps(struct doc *d)
{
	static const char hint[] = "run skrun as root, or grant CAP_SYS_ADMIN, CAP_BPF and "
				   "CAP_PERFMON (systemd: AmbientCapabilities=CAP_SYS_ADMIN "
				   "CAP_BPF CAP_PERFMON)";
	char *path = root_path(d->o->proc_root, "/proc", "self/status");
	uint8_t *data = NULL;
	unsigned long long eff = 0;
	bool found = false, admin, bpf, perfmon;
	struct sk_error e = {0};
	size_t len;
	int ret;

	if (!path)
		return -ENOMEM;
	if (sk_read_file(path, 1 << 20, &data, &len, &e)) {
		ret = add_check(d, "caps.bpf", SK_DOCTOR_FAIL, "mount procfs at /proc",
				"cannot read %s: %s", path, e.msg);
		goto out;
	}
	for (char *l = (char *)data; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, "CapEff:", 7) && sscanf(l + 7, "%llx", &eff) == 1)
			found = true;
	if (!found) {
		ret = add_check(d, "caps.bpf", SK_DOCTOR_FAIL, "mount procfs at /proc",
				"no CapEff line in %s", path);
		goto out;
	}
	admin = eff & (1ULL << CAP_SYS_ADMIN_BIT);
	bpf = eff & (1ULL << CAP_BPF_BIT);
	perfmon = eff & (1ULL << CAP_PERFMON_BIT);
	/* The kernel's bpf_capable()/perfmon_capable() accept CAP_SYS_ADMIN too. */
	if (admin)
		ret = add_check(d, "caps.bpf", SK_DOCTOR_OK, NULL, "CapEff %llx: CAP_SYS_ADMIN%s%s",
				eff, bpf ? ", CAP_BPF" : "", perfmon ? ", CAP_PERFMON" : "");
	else if (bpf && perfmon)
		ret = add_check(d, "caps.bpf", SK_DOCTOR_WARN, hint,
				"CapEff %llx: CAP_BPF and CAP_PERFMON but no CAP_SYS_ADMIN, which "
				"registering struct_ops may need",
				eff);
	else
		ret = add_check(d, "caps.bpf", SK_DOCTOR_FAIL, hint, "CapEff %llx: missing%s%s%s",
				eff, " CAP_SYS_ADMIN", bpf ? "" : " CAP_BPF",
				perfmon ? "" : " CAP_PERFMON");
out:
	free(data);
	free(path);
	return ret;
}

static int check_bpf_syscall(struct doc *d)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sk_doctor", 4, 4, 1, NULL);
	const char *hint;
	int e;

	if (fd >= 0) {
		close(fd);
		return add_check(d, "bpf.syscall", SK_DOCTOR_OK, NULL,
				 "bpf(BPF_MAP_CREATE) of an array map works");
	}
	e = fd == -1 ? errno : -fd;
	if (e == EPERM || e == EACCES)
		hint = "grant the capabilities of caps.bpf (unprivileged BPF is usually disabled "
		       "by kernel.unprivileged_bpf_disabled); in a container, allow bpf(2) in "
		       "its seccomp profile";
	else if (e == ENOSYS)
		hint = "use a kernel built with CONFIG_BPF_SYSCALL=y; in a container, allow "
		       "bpf(2) in its seccomp profile";
	else
		hint = "check RLIMIT_MEMLOCK (ulimit -l) and the kernel log (dmesg)";
	return add_check(d, "bpf.syscall", SK_DOCTOR_FAIL, hint,
			 "bpf(BPF_MAP_CREATE) of an array map failed: %s", strerror(e));
}

/* ---- store.readable, policy.readable, clock.sane ---- */

/* The nearest existing ancestor of path (of any type): where creating it would start. */
static char *existing_ancestor(const char *path)
{
	char *p = strdup(path), *slash;

	while (p && access(p, F_OK)) {
		slash = strrchr(p, '/');
		if (!slash) {
			free(p);
			return strdup(".");
		}
		if (slash == p) {
			p[1] = '\0';
			break;
		}
		*slash = '\0';
	}
	return p;
}

static bool dir_is_empty(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	bool empty = true;

	if (!dh)
		return false;
	while (empty && (de = readdir(dh)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(dh);
	return empty;
}

static int check_store(struct doc *d)
{
	static const char hint_create[] = "create the store's parent directory or pass --store "
					  "DIR; skrun pull creates the store itself";
	const char *dir = d->o->store_dir ? d->o->store_dir : SK_STORE_DEFAULT;
	struct sk_layout *l = NULL;
	struct sk_error e = {0};
	char *anc = NULL;
	int ret;

	if (sk_is_dir(dir)) {
		if (access(dir, R_OK | X_OK))
			return add_check(d, "store.readable", SK_DOCTOR_FAIL,
					 "run skrun as the user that owns the store (root), or "
					 "fix its permissions",
					 "%s is not readable: %s", dir, strerror(errno));
		if (!sk_layout_open(dir, &l, &e)) {
			sk_layout_close(l);
			return add_check(d, "store.readable", SK_DOCTOR_OK, NULL,
					 "%s is an OCI image layout", dir);
		}
		if (dir_is_empty(dir) && !access(dir, W_OK))
			return add_check(d, "store.readable", SK_DOCTOR_OK, NULL,
					 "%s is empty; skrun pull makes it a store", dir);
		return add_check(d, "store.readable", SK_DOCTOR_FAIL,
				 "move the directory aside (skrun pull recreates the store) or "
				 "pass --store DIR",
				 "%s is not a store: %s", dir, e.msg);
	}
	if (!access(dir, F_OK))
		return add_check(d, "store.readable", SK_DOCTOR_FAIL,
				 "remove the file or pass --store DIR",
				 "%s exists but is not a directory", dir);
	anc = existing_ancestor(dir);
	if (!anc)
		return -ENOMEM;
	if (!sk_is_dir(anc))
		ret = add_check(d, "store.readable", SK_DOCTOR_FAIL, hint_create,
				"%s does not exist and cannot be created: %s is not a directory",
				dir, anc);
	else if (!access(anc, W_OK | X_OK))
		ret = add_check(d, "store.readable", SK_DOCTOR_OK, NULL,
				"%s does not exist yet; skrun pull will create it (under %s)", dir,
				anc);
	else
		ret = add_check(d, "store.readable", SK_DOCTOR_FAIL, hint_create,
				"%s does not exist and cannot be created: %s is not writable", dir,
				anc);
	free(anc);
	return ret;
}

/* The same check as `skrun policy check`: what verification would refuse fails here. */
static int check_policy(struct doc *d)
{
	const char *path = d->o->policy_path ? d->o->policy_path : SK_POLICY_DEFAULT;
	struct sk_policy_lint l = {0};
	struct sk_buf what = {0}, hint = {0};
	int ret;

	ret = sk_policy_lint(path, &l, NULL);
	if (ret)
		return ret;
	for (size_t i = 0; i < l.n; i++) {
		const struct sk_lint_problem *p = &l.v[i];

		if (l.errors && p->severity != SK_LINT_ERROR)
			continue;
		sk_buf_printf(&what, "%s%s%s%s", what.len ? "; " : "", p->where,
			      *p->where ? ": " : "", p->msg);
		if (p->hint && !hint.len)
			sk_buf_printf(&hint, "%s: %s", p->where[0] ? p->where : path, p->hint);
	}
	sk_buf_printf(&hint,
		      "%s(`skrun policy check %s` lists every problem with its fix; "
		      "docs/policy.md)",
		      hint.len ? " " : "", path);
	if (!hint.data || ((l.errors || l.warnings) && !what.data))
		ret = -ENOMEM;
	else if (l.errors)
		ret = add_check(d, "policy.readable", SK_DOCTOR_FAIL, (char *)hint.data,
				"%s: %zu problem(s) verification would refuse: %s", path, l.errors,
				(char *)what.data);
	else if (l.warnings)
		ret = add_check(d, "policy.readable", SK_DOCTOR_WARN, (char *)hint.data,
				"%s loads, with %zu warning(s): %s", path, l.warnings,
				(char *)what.data);
	else
		ret = add_check(d, "policy.readable", SK_DOCTOR_OK, NULL,
				"%s is a valid trust policy (%zu key(s), %zu scope(s))", path,
				l.nkeys, l.nscopes);
	sk_buf_free(&what);
	sk_buf_free(&hint);
	sk_policy_lint_free(&l);
	return ret;
}

static int check_clock(struct doc *d)
{
	time_t now = d->o->now ? (time_t)d->o->now : time(NULL);
	struct tm tm;
	char when[64] = "?";

	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (now >= SK_CLOCK_MIN)
		return add_check(d, "clock.sane", SK_DOCTOR_OK, NULL, "%s", when);
	return add_check(d, "clock.sane", SK_DOCTOR_FAIL,
			 "set the realtime clock (e.g. timedatectl set-ntp true): signature "
			 "and token times are checked against it",
			 "the realtime clock reads %s, before 2024", when);
}

/* ---- the report ---- */

int sk_doctor_run(const struct sk_doctor_opts *opts, struct sk_doctor_report **out,
		  struct sk_error *err)
{
	static const struct sk_doctor_opts none = {0};
	struct doc d = {.o = opts ? opts : &none};
	int ret;

	*out = NULL;
	d.r = calloc(1, sizeof(*d.r));
	if (!d.r)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = check_release(&d);
	if (!ret)
		ret = check_btf(&d);
	if (!ret)
		ret = check_sched_ext(&d);
	if (!ret)
		ret = check_config(&d);
	if (!ret)
		ret = check_caps(&d);
	if (!ret)
		ret = check_bpf_syscall(&d);
	if (!ret)
		ret = check_store(&d);
	if (!ret)
		ret = check_policy(&d);
	if (!ret)
		ret = check_clock(&d);
	btf__free(d.btf);
	if (ret) {
		sk_doctor_report_free(d.r);
		return sk_errf(err, ret, "doctor: %s", strerror(-ret));
	}
	*out = d.r;
	return 0;
}

bool sk_doctor_ok(const struct sk_doctor_report *r)
{
	for (size_t i = 0; r && i < r->nr_checks; i++)
		if (r->checks[i].status == SK_DOCTOR_FAIL)
			return false;
	return r != NULL;
}

void sk_doctor_print(const struct sk_doctor_report *r, FILE *f)
{
	size_t n[3] = {0};

	for (size_t i = 0; i < r->nr_checks; i++) {
		const struct sk_doctor_check *c = &r->checks[i];

		n[c->status]++;
		fprintf(f, "%-4s  %-17s %s\n", sk_doctor_status_str(c->status), c->id, c->detail);
		if (c->hint)
			fprintf(f, "      %-17s hint: %s\n", "", c->hint);
	}
	fprintf(f, "\n%zu ok, %zu warn, %zu fail: %s\n", n[SK_DOCTOR_OK], n[SK_DOCTOR_WARN],
		n[SK_DOCTOR_FAIL],
		n[SK_DOCTOR_FAIL] ? "this host cannot run sched_ext schedulers yet"
				  : "this host can run sched_ext schedulers");
}

struct json_object *sk_doctor_to_json(const struct sk_doctor_report *r)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	int ret = o && arr ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < r->nr_checks; i++) {
		const struct sk_doctor_check *c = &r->checks[i];
		struct json_object *j = json_object_new_object();

		ret = j ? 0 : -ENOMEM;
		if (!ret)
			ret = sk_json_add(j, "id", json_object_new_string(c->id));
		if (!ret)
			ret = sk_json_add(j, "status",
					  json_object_new_string(sk_doctor_status_str(c->status)));
		if (!ret)
			ret = sk_json_add(j, "detail", json_object_new_string(c->detail));
		if (!ret && c->hint)
			ret = sk_json_add(j, "hint", json_object_new_string(c->hint));
		else if (!ret)
			ret = json_object_object_add(j, "hint", NULL) ? -ENOMEM : 0;
		if (ret || json_object_array_add(arr, j)) {
			json_object_put(j);
			ret = -ENOMEM;
		}
	}
	if (!ret)
		ret = sk_json_add(o, "ok", json_object_new_boolean(sk_doctor_ok(r)));
	if (!ret) {
		ret = sk_json_add(o, "checks", arr);
		arr = NULL;
	}
	json_object_put(arr);
	if (ret) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

void sk_doctor_report_free(struct sk_doctor_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nr_checks; i++) {
		free(r->checks[i].detail);
		free(r->checks[i].hint);
	}
	free(r->checks);
	free(r);
}
