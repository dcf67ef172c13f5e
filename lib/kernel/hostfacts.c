/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host facts: what the user-space loaders of scx schedulers read about the
 * machine before they load one (possible CPUs, SMT siblings, capacities,
 * NUMA nodes, caches), read from sysfs, and the kernel configuration libbpf
 * needs for __kconfig externs. A root prefix lets tests point both at a tree
 * of their own.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <zlib.h>

#include "schedkit/kernel.h"

/* The kernel's own ceiling (CONFIG_NR_CPUS is at most 8192 on x86). */
#define MAX_CPUS	 8192
#define DEFAULT_CAPACITY 1024 /* SCHED_CAPACITY_SCALE */
#define KCONFIG_MAX	 (4u << 20)
#define CPU_DIR		 "/sys/devices/system/cpu"
#define NODE_DIR	 "/sys/devices/system/node"

/* The first line of root+path, trailing whitespace removed; -errno when unreadable. */
static int read_line(const char *root, const char *path, char *buf, size_t sz)
{
	char full[PATH_MAX];
	FILE *f;
	int ret = 0;

	buf[0] = '\0';
	snprintf(full, sizeof(full), "%s%s", root, path);
	f = fopen(full, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)sz, f))
		ret = ferror(f) ? -EIO : 0;
	fclose(f);
	sk_rstrip(buf);
	return ret;
}

static int read_int(const char *root, const char *path, int64_t *out)
{
	char buf[64], *end;
	long long v;
	int ret = read_line(root, path, buf, sizeof(buf));

	if (ret)
		return ret;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * Calls add(cpu, ctx) for each CPU of a sysfs cpulist ("0-3,8,10-11").
 * -EINVAL for anything else, or a CPU at or above MAX_CPUS.
 */
static int parse_cpulist(const char *s, void (*add)(unsigned cpu, void *ctx), void *ctx)
{
	while (*s) {
		char *end;
		unsigned long a, b;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return -EINVAL;
			b = strtoul(end + 1, &end, 10);
		}
		if (b < a || b >= MAX_CPUS)
			return -EINVAL;
		for (unsigned long c = a; c <= b; c++)
			add((unsigned)c, ctx);
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		s = end;
	}
	return 0;
}

struct cpuset {
	unsigned max; /* highest CPU + 1 */
	unsigned n;
	bool *has; /* MAX_CPUS entries, or NULL when only counting */
};

static void cpuset_add(unsigned cpu, void *ctx)
{
	struct cpuset *c = ctx;

	if (c->has && !c->has[cpu]) {
		c->has[cpu] = true;
		c->n++;
	} else if (!c->has) {
		c->n++;
	}
	if (cpu + 1 > c->max)
		c->max = cpu + 1;
}

static int read_cpulist(const char *root, const char *path, struct cpuset *set,
			struct sk_error *err)
{
	char buf[4096];
	int ret = read_line(root, path, buf, sizeof(buf));

	if (ret)
		return sk_errf(err, ret, "host facts: cannot read %s%s: %s", root, path,
			       strerror(-ret));
	ret = parse_cpulist(buf, cpuset_add, set);
	if (ret)
		return sk_errf(err, ret, "host facts: %s%s: '%s' is not a CPU list", root, path,
			       buf);
	return 0;
}

struct sibling_ctx {
	struct sk_host_cpu *cpu;
	unsigned self;
};

static void sibling_add(unsigned cpu, void *ctx)
{
	struct sibling_ctx *s = ctx;

	if (cpu != s->self && s->cpu->nr_siblings < SK_HOST_MAX_SIBLINGS)
		s->cpu->siblings[s->cpu->nr_siblings++] = (int32_t)cpu;
}

static void first_cpu(unsigned cpu, void *ctx)
{
	int64_t *first = ctx;

	if (*first < 0 || cpu < *first)
		*first = cpu;
}

/*
 * The caches of one CPU: cache/indexK/{level,type,id,shared_cpu_list}.
 * Without an id file (older kernels, some architectures) the first CPU
 * sharing the cache names it, as upstream scx's topology code does.
 */
static void read_caches(const char *root, unsigned cpu, struct sk_host_cpu *c)
{
	int64_t best_level = -1;

	c->l2_id = c->l3_id = c->llc_id = -1;
	for (int k = 0; k < 16; k++) {
		char path[256], type[32];
		int64_t level, id = -1;

		snprintf(path, sizeof(path), CPU_DIR "/cpu%u/cache/index%d/level", cpu, k);
		if (read_int(root, path, &level))
			continue;
		snprintf(path, sizeof(path), CPU_DIR "/cpu%u/cache/index%d/type", cpu, k);
		if (!read_line(root, path, type, sizeof(type)) && !strcmp(type, "Instruction"))
			continue;
		snprintf(path, sizeof(path), CPU_DIR "/cpu%u/cache/index%d/id", cpu, k);
		if (read_int(root, path, &id)) {
			char list[4096];

			snprintf(path, sizeof(path), CPU_DIR "/cpu%u/cache/index%d/shared_cpu_list",
				 cpu, k);
			id = -1;
			if (read_line(root, path, list, sizeof(list)) ||
			    parse_cpulist(list, first_cpu, &id))
				id = -1;
		}
		if (level == 2)
			c->l2_id = id;
		else if (level == 3)
			c->l3_id = id;
		if (level > best_level) {
			best_level = level;
			c->llc_id = id;
		}
	}
}

struct node_ctx {
	struct sk_hostfacts *f;
	int64_t node;
	bool any;
};

static void node_add(unsigned cpu, void *ctx)
{
	struct node_ctx *n = ctx;

	if (cpu < n->f->nr_cpu_ids) {
		n->f->cpu[cpu].node = n->node;
		n->any = true;
	}
}

/* nodeN/cpulist for every node directory; nodes without CPUs do not count. */
static int read_nodes(const char *root, struct sk_hostfacts *f, struct sk_error *err)
{
	char path[PATH_MAX], list[4096];
	struct dirent *d;
	DIR *dir;
	int ret = 0;

	f->nr_nodes = 1;
	snprintf(path, sizeof(path), "%s" NODE_DIR, root);
	dir = opendir(path);
	if (!dir)
		return 0; /* CONFIG_NUMA off: one node */
	f->nr_nodes = 0;
	while ((d = readdir(dir))) {
		struct node_ctx n = {.f = f};
		char *end;
		char rel[300];

		if (strncmp(d->d_name, "node", 4) || !isdigit((unsigned char)d->d_name[4]))
			continue;
		n.node = strtoll(d->d_name + 4, &end, 10);
		if (*end)
			continue;
		snprintf(rel, sizeof(rel), NODE_DIR "/%s/cpulist", d->d_name);
		if (read_line(root, rel, list, sizeof(list)))
			continue;
		if (parse_cpulist(list, node_add, &n)) {
			ret = sk_errf(err, -EINVAL, "host facts: %s%s: '%s' is not a CPU list",
				      root, rel, list);
			break;
		}
		if (n.any)
			f->nr_nodes++;
	}
	closedir(dir);
	if (!f->nr_nodes)
		f->nr_nodes = 1;
	return ret;
}

static int cmp_rank(const void *a, const void *b, void *ctx)
{
	const struct sk_hostfacts *f = ctx;
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	int64_t cx = f->cpu[x].online ? f->cpu[x].capacity : -1;
	int64_t cy = f->cpu[y].online ? f->cpu[y].capacity : -1;

	if (cx != cy)
		return cx > cy ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int count_llcs(const struct sk_hostfacts *f)
{
	int n = 0;

	for (uint32_t i = 0; i < f->nr_cpu_ids; i++) {
		bool seen = f->cpu[i].llc_id < 0;

		for (uint32_t j = 0; j < i && !seen; j++)
			seen = f->cpu[j].llc_id == f->cpu[i].llc_id;
		n += !seen;
	}
	return n;
}

int sk_hostfacts_read(const char *root, struct sk_hostfacts *out, struct sk_error *err)
{
	struct cpuset possible = {0}, online = {0};
	struct sk_hostfacts f = {0};
	int32_t *rank = NULL;
	char buf[64];
	int ret;

	memset(out, 0, sizeof(*out));
	if (!root)
		root = "";
	ret = read_cpulist(root, CPU_DIR "/possible", &possible, err);
	if (ret)
		return ret;
	online.has = calloc(MAX_CPUS, sizeof(bool));
	if (!online.has)
		return sk_errf(err, -ENOMEM, "out of memory");
	ret = read_cpulist(root, CPU_DIR "/online", &online, err);
	if (ret)
		goto out;
	f.nr_cpu_ids = possible.max;
	if (!f.nr_cpu_ids) {
		ret =
		    sk_errf(err, -EINVAL, "host facts: %s" CPU_DIR "/possible lists no CPU", root);
		goto out;
	}
	f.nr_online = online.n;
	f.cpu = calloc(f.nr_cpu_ids, sizeof(*f.cpu));
	rank = calloc(f.nr_cpu_ids, sizeof(*rank));
	if (!f.cpu || !rank) {
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < f.nr_cpu_ids; i++) {
		struct sk_host_cpu *c = &f.cpu[i];
		struct sibling_ctx sc = {.cpu = c, .self = i};
		char path[256], list[4096];

		c->online = online.has[i];
		snprintf(path, sizeof(path), CPU_DIR "/cpu%u/cpu_capacity", i);
		if (read_int(root, path, &c->capacity))
			c->capacity = DEFAULT_CAPACITY;
		snprintf(path, sizeof(path), CPU_DIR "/cpu%u/topology/core_id", i);
		if (read_int(root, path, &c->core_id))
			c->core_id = -1;
		snprintf(path, sizeof(path), CPU_DIR "/cpu%u/topology/physical_package_id", i);
		if (read_int(root, path, &c->package_id))
			c->package_id = -1;
		snprintf(path, sizeof(path), CPU_DIR "/cpu%u/topology/thread_siblings_list", i);
		if (!read_line(root, path, list, sizeof(list)) &&
		    parse_cpulist(list, sibling_add, &sc)) {
			ret = sk_errf(err, -EINVAL, "host facts: %s%s: '%s' is not a CPU list",
				      root, path, list);
			goto out;
		}
		if (c->online && c->nr_siblings)
			f.smt_enabled = true;
		read_caches(root, i, c);
		rank[i] = (int32_t)i;
	}
	/* smt/active is the kernel's own verdict (SMT switched off at run time). */
	if (!read_line(root, CPU_DIR "/smt/active", buf, sizeof(buf)) && !strcmp(buf, "0"))
		f.smt_enabled = false;
	ret = read_nodes(root, &f, err);
	if (ret)
		goto out;
	f.nr_llcs = (uint32_t)count_llcs(&f);
	if (!f.nr_llcs)
		f.nr_llcs = 1;
	qsort_r(rank, f.nr_cpu_ids, sizeof(*rank), cmp_rank, &f);
	for (unsigned i = 0; i < f.nr_cpu_ids; i++)
		f.cpu[i].capacity_rank = rank[i];
	*out = f;
	f.cpu = NULL;
out:
	free(f.cpu);
	free(rank);
	free(online.has);
	return ret;
}

void sk_hostfacts_free(struct sk_hostfacts *f)
{
	if (!f)
		return;
	free(f->cpu);
	f->cpu = NULL;
}

/* ---- named facts ---- */

enum fact_id {
	F_NR_CPU_IDS,
	F_NR_ONLINE,
	F_NR_CPU_PAIRS,
	F_NR_NODES,
	F_NR_NODE_IDS,
	F_NR_LLCS,
	F_SMT,
	F_NUMA,
	F_CPU,
	F_ONLINE,
	F_CAPACITY,
	F_BY_CAPACITY,
	F_NODE,
	F_CORE,
	F_PACKAGE,
	F_L2,
	F_L3,
	F_LLC,
	F_SIBLING,
	F_PAIR_PARTNER,
	F_PAIR_ID,
	F_PAIR_INDEX,
};

static const struct fact {
	const char *name;
	enum sk_fact_kind kind;
	enum fact_id id;
} facts[] = {
    {"nr_cpu_ids", SK_FACT_INT, F_NR_CPU_IDS},
    {"nr_online_cpus", SK_FACT_INT, F_NR_ONLINE},
    {"nr_cpu_pairs", SK_FACT_INT, F_NR_CPU_PAIRS},
    {"nr_nodes", SK_FACT_INT, F_NR_NODES},
    {"nr_node_ids", SK_FACT_INT, F_NR_NODE_IDS},
    {"nr_llcs", SK_FACT_INT, F_NR_LLCS},
    {"smt_enabled", SK_FACT_BOOL, F_SMT},
    {"numa", SK_FACT_BOOL, F_NUMA},
    {"cpu", SK_FACT_PER_CPU, F_CPU},
    {"cpu_online", SK_FACT_PER_CPU, F_ONLINE},
    {"cpu_capacity", SK_FACT_PER_CPU, F_CAPACITY},
    {"cpus_by_capacity", SK_FACT_PER_CPU, F_BY_CAPACITY},
    {"cpu_node", SK_FACT_PER_CPU, F_NODE},
    {"cpu_core_id", SK_FACT_PER_CPU, F_CORE},
    {"cpu_package_id", SK_FACT_PER_CPU, F_PACKAGE},
    {"cpu_l2_id", SK_FACT_PER_CPU, F_L2},
    {"cpu_l3_id", SK_FACT_PER_CPU, F_L3},
    {"cpu_llc_id", SK_FACT_PER_CPU, F_LLC},
    {"cpu_smt_sibling", SK_FACT_PER_CPU, F_SIBLING},
    {"cpu_pair_partner", SK_FACT_PER_CPU, F_PAIR_PARTNER},
    {"cpu_pair_id", SK_FACT_PER_CPU, F_PAIR_ID},
    {"cpu_pair_index", SK_FACT_PER_CPU, F_PAIR_INDEX},
};

static const struct fact *find_fact(const char *name)
{
	for (size_t i = 0; name && i < sizeof(facts) / sizeof(facts[0]); i++)
		if (!strcmp(facts[i].name, name))
			return &facts[i];
	return NULL;
}

enum sk_fact_kind sk_fact_kind(const char *name)
{
	const struct fact *f = find_fact(name);

	return f ? f->kind : SK_FACT_NONE;
}

const char *sk_fact_names(void)
{
	return "nr_cpu_ids, nr_online_cpus, nr_cpu_pairs, nr_nodes, nr_node_ids, nr_llcs, "
	       "smt_enabled, numa, "
	       "cpu, cpu_online, cpu_capacity, cpus_by_capacity, cpu_node, cpu_core_id, "
	       "cpu_package_id, cpu_l2_id, cpu_l3_id, cpu_llc_id, cpu_smt_sibling, "
	       "cpu_pair_partner, cpu_pair_id, cpu_pair_index";
}

/*
 * CPU pairs as scx_pair's loader makes them by default: the first half of
 * the possible CPUs paired with the second half (stride nr_cpu_ids / 2).
 */
static int pairs_ok(const struct sk_hostfacts *f, const char *name, struct sk_error *err)
{
	if (f->nr_cpu_ids && !(f->nr_cpu_ids & 1))
		return 0;
	return sk_errf(err, -EINVAL,
		       "host fact %s: CPUs are paired first half with second half, which needs "
		       "an even number of possible CPUs; this host has %u",
		       name, f->nr_cpu_ids);
}

int sk_fact_value(const struct sk_hostfacts *f, const char *name, uint32_t cpu, int64_t *out,
		  struct sk_error *err)
{
	static const struct sk_host_cpu no_cpu;
	const struct fact *d = find_fact(name);
	const struct sk_host_cpu *c;
	uint32_t half = f->nr_cpu_ids / 2;

	if (!d)
		return sk_errf(err, -ENOENT, "'%s' is not a host fact (known: %s)",
			       name ? name : "(null)", sk_fact_names());
	if (d->kind == SK_FACT_PER_CPU && cpu >= f->nr_cpu_ids)
		return sk_errf(err, -ERANGE,
			       "host fact %s: CPU %u is not possible on this host (%u)", name, cpu,
			       f->nr_cpu_ids);
	/* host-wide facts never read it */
	c = d->kind == SK_FACT_PER_CPU ? &f->cpu[cpu] : &no_cpu;
	switch (d->id) {
	case F_NR_CPU_IDS:
		*out = f->nr_cpu_ids;
		return 0;
	case F_NR_ONLINE:
		*out = f->nr_online;
		return 0;
	case F_NR_NODES:
		*out = f->nr_nodes;
		return 0;
	case F_NR_NODE_IDS: {
		int64_t max = 0;

		for (uint32_t i = 0; i < f->nr_cpu_ids; i++)
			if (f->cpu[i].node > max)
				max = f->cpu[i].node;
		*out = max + 1;
		return 0;
	}
	case F_NR_LLCS:
		*out = f->nr_llcs;
		return 0;
	case F_SMT:
		*out = f->smt_enabled;
		return 0;
	case F_NUMA:
		*out = f->nr_nodes > 1;
		return 0;
	case F_CPU:
		*out = cpu;
		return 0;
	case F_ONLINE:
		*out = c->online;
		return 0;
	case F_CAPACITY:
		*out = c->capacity;
		return 0;
	case F_BY_CAPACITY:
		*out = c->capacity_rank;
		return 0;
	case F_NODE:
		*out = c->node;
		return 0;
	case F_CORE:
		*out = c->core_id;
		return 0;
	case F_PACKAGE:
		*out = c->package_id;
		return 0;
	case F_L2:
		*out = c->l2_id;
		return 0;
	case F_L3:
		*out = c->l3_id;
		return 0;
	case F_LLC:
		*out = c->llc_id;
		return 0;
	case F_SIBLING:
		*out = c->nr_siblings ? c->siblings[0] : -1;
		return 0;
	case F_NR_CPU_PAIRS:
	case F_PAIR_PARTNER:
	case F_PAIR_ID:
	case F_PAIR_INDEX:
		break;
	}
	if (pairs_ok(f, name, err))
		return err ? err->code : -EINVAL;
	if (d->id == F_NR_CPU_PAIRS)
		*out = half;
	else if (d->id == F_PAIR_PARTNER)
		*out = (cpu + half) % f->nr_cpu_ids;
	else if (d->id == F_PAIR_ID)
		*out = cpu % half;
	else
		*out = cpu >= half;
	return 0;
}

/* ---- kernel configuration ---- */

/* The whole of a plain or gzip file (zlib reads both), at most KCONFIG_MAX bytes. */
static int read_gz(const char *path, char **out)
{
	gzFile g = gzopen(path, "rbe");
	size_t len = 0, cap = 1 << 16;
	char *buf = NULL;
	int n, ret = 0;

	if (!g)
		return errno ? -errno : -ENOENT;
	buf = malloc(cap + 1);
	if (!buf) {
		gzclose(g);
		return -ENOMEM;
	}
	while ((n = gzread(g, buf + len, (unsigned)(cap - len))) > 0) {
		len += (size_t)n;
		if (len == cap) {
			char *nb;

			if (cap >= KCONFIG_MAX) {
				ret = -EFBIG;
				break;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
		}
	}
	if (n < 0)
		ret = -EIO;
	gzclose(g);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

int sk_kconfig_read(const char *root, char **out, char *from, size_t from_sz, struct sk_error *err)
{
	struct utsname u;
	char cand[3][PATH_MAX];
	int ret = -ENOENT;

	*out = NULL;
	if (!root)
		root = "";
	if (uname(&u))
		return sk_errf(err, -errno, "uname: %s", strerror(errno));
	snprintf(cand[0], sizeof(cand[0]), "%s/boot/config-%s", root, u.release);
	snprintf(cand[1], sizeof(cand[1]), "%s/lib/modules/%s/config", root, u.release);
	snprintf(cand[2], sizeof(cand[2]), "%s/proc/config.gz", root);
	for (int i = 0; i < 3; i++) {
		if (access(cand[i], R_OK))
			continue;
		ret = read_gz(cand[i], out);
		if (ret)
			return sk_errf(err, ret, "cannot read the kernel config %s: %s", cand[i],
				       strerror(-ret));
		snprintf(from, from_sz, "%s", cand[i]);
		return 0;
	}
	return sk_errf(err, ret,
		       "no kernel config for %s: none of %s, %s, %s exists (install the "
		       "kernel's config file, or build the kernel with CONFIG_IKCONFIG_PROC=y)",
		       u.release, cand[0], cand[1], cand[2]);
}
