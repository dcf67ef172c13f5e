/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skbuild build: sources -> clang -> stripped BPF object -> analysis ->
 * OCI image layout. Every step is deterministic so that the same sources and
 * toolchain give the same index digest anywhere.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "commands.h"
#include "sign_cli.h"
#include "link.h"
#include "schedkit/kernel.h"
#include "schedkit/oci.h"
#include "schedkit/transfer.h"
#include "schedkit/verifier.h"

#define MAX_ARCH 4
#define SRC_MAX	 (16u << 20)
#define OBJ_MAX	 (64u << 20)

struct build_opts {
	const char *input;
	const char *out;
	const char *tag;
	const char *btf;
	const char *cc;
	const char *ops;
	const char *push_ref;
	const char *manifest; /* --manifest: schedkit.json from elsewhere than DIR */
	struct sk_strv arches;
	struct sk_strv includes;
	struct sk_strv cflags;
	bool no_source;
	bool quiet;
	bool json;
	struct sk_strv push_args; /* --push REF and its registry options, handed to push */
};

/* What the scheduler's own schedkit.json (or its absence) says. */
struct sched_manifest {
	char *dir;  /* source directory (absolute) */
	char *main; /* the .bpf.c compile unit, relative to dir */
	char *name;
	char *version;
	char *description;
	char *license;
	char *source_url;
	struct sk_strv sources;	  /* relative to dir, sorted */
	struct sk_strv objects;	  /* "objects": units compiled alone, then linked in this order */
	char *path;		  /* the schedkit.json read, NULL when none */
	struct json_object *load; /* its "load" declarations, NULL when none */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skbuild build DIR|FILE.bpf.c [options]\n"
		"\n"
		"Compiles a sched_ext scheduler, checks it with libbpf, derives what it needs\n"
		"from the kernel and writes it as an OCI artifact into an image layout.\n"
		"\n"
		"  -o, --output DIR     image layout to write (default: ./NAME.oci)\n"
		"  -t, --tag TAG        tag in the layout (default: the version, else latest)\n"
		"      --arch LIST      platforms, comma-separated: amd64,arm64 (default amd64)\n"
		"      --btf SRC        kernel BTF for vmlinux.h: vmlinux ELF or raw BTF file\n"
		"                       (default: $SKBUILD_BTF, else /sys/kernel/btf/vmlinux)\n"
		"  -I DIR               extra include directory (repeatable)\n"
		"      --cflags FLAGS   extra compiler flags (space-separated)\n"
		"      --cc CLANG       compiler (default: $SKBUILD_CC, else clang-16)\n"
		"      --ops NAME       the sched_ext_ops map to use when there are several\n"
		"      --manifest FILE  the schedkit.json to use instead of DIR/schedkit.json\n"
		"      --no-source      do not attach the source tarball layer\n"
		"  -q, --quiet          print only the index digest (once, also with --push)\n"
		"      --json           print the result as JSON (docs/json.md)\n"
		"      --push REF       then push the artifact to REF (as `skbuild push`);\n"
		"                       --digest-file F, --sign KEY, --annotation K=V,\n"
		"                       --force and the registry options below go to push\n"
		"      --digest-file F  with --push: also write the pushed digest to F\n"
		"      --sign KEY       with --push: sign what was pushed (file, env://VAR, -)\n"
		"      --annotation K=V with --sign: a signed annotation, repeatable\n"
		"      --force          with --sign: sign even if signed by KEY already\n"
		"      --recursive      with --sign: each platform manifest too\n"
		"With --push, signing as `skbuild push` does it:\n"
		"%s"
		"%s%s"
		"\n"
		"DIR may hold a schedkit.json: {\"name\", \"version\", \"description\",\n"
		"\"license\", \"sources\": [...], \"main\": \"x.bpf.c\", \"source\": URL};\n"
		"or \"objects\": [\"a.bpf.c\", ...] to compile and link several units.\n",
		SKB_SIGN_CLI_HELP, SK_REGISTRY_CLI_HELP, SK_REGISTRY_CLI_HELP_VERBOSE);
}

static void manifest_free(struct sched_manifest *m)
{
	free(m->dir);
	free(m->main);
	free(m->name);
	free(m->version);
	free(m->description);
	free(m->license);
	free(m->source_url);
	free(m->path);
	json_object_put(m->load);
	sk_strv_free(&m->sources);
	sk_strv_free(&m->objects);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int list_bpf_sources(const char *dir, struct sk_strv *out, struct sk_error *err)
{
	struct sk_buf listing = {0};
	char *argv[] = {"find", (char *)dir, "-maxdepth", "1", "-type",
			"f",	"-printf",   "%f\\n",	  NULL};
	int ret = sk_run(argv, &listing, err);

	if (ret < 0)
		goto out;
	if (ret) {
		ret = sk_errf(err, -EIO, "%s: cannot list the directory", dir);
		goto out;
	}
	/* An empty directory prints nothing: listing.data stays NULL. */
	for (char *save = NULL,
		  *line = listing.data ? strtok_r((char *)listing.data, "\n", &save) : NULL;
	     line; line = strtok_r(NULL, "\n", &save))
		if (ends_with(line, ".bpf.c") || ends_with(line, ".h"))
			sk_strv_push(out, line);
	sk_strv_sort_uniq(out);
	ret = 0;
out:
	sk_buf_free(&listing);
	return ret;
}

/*
 * "objects": [".bpf.c", ...], a scheduler of several compile units, each
 * compiled on its own and linked (link.c) in the order given. Exclusive with
 * "main" (one compile unit, which may #include others); the first object
 * names the scheduler when "name" does not.
 */
static int read_objects(struct json_object *j, const char *mpath, struct sched_manifest *m,
			struct sk_error *err)
{
	struct json_object *objs;

	if (!json_object_object_get_ex(j, "objects", &objs))
		return 0;
	if (!json_object_is_type(objs, json_type_array) || !json_object_array_length(objs))
		return sk_errf(err, -EINVAL,
			       "%s: \"objects\" must be a non-empty array of .bpf.c files, each "
			       "compiled on its own and then linked",
			       mpath);
	if (m->main || sk_json_str(j, "main"))
		return sk_errf(err, -EINVAL,
			       "%s: \"objects\" and %s both name what to compile; give one: "
			       "\"main\" for one compile unit, \"objects\" for several to link",
			       mpath,
			       sk_json_str(j, "main") ? "\"main\"" : "a FILE.bpf.c argument");
	for (size_t i = 0; i < json_object_array_length(objs); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(objs, i));

		if (!s || !ends_with(s, ".bpf.c") || s[0] == '/' || strstr(s, ".."))
			return sk_errf(err, -EINVAL,
				       "%s: \"objects\" entry '%s' must name a .bpf.c file inside "
				       "the scheduler's directory",
				       mpath, s ? s : "(not a string)");
		if (sk_strv_contains(&m->objects, s))
			return sk_errf(err, -EINVAL,
				       "%s: \"objects\" names %s twice (the linker would see every "
				       "symbol defined twice)",
				       mpath, s);
		if (sk_strv_push(&m->objects, s))
			return sk_errf(err, -ENOMEM, "out of memory");
	}
	m->main = strdup(m->objects.v[0]);
	return m->main ? 0 : sk_errf(err, -ENOMEM, "out of memory");
}

static int read_manifest(const char *input, const char *manifest, struct sched_manifest *m,
			 struct sk_error *err)
{
	struct json_object *j = NULL, *srcs;
	char *real = realpath(input, NULL);
	char *mpath = NULL;
	uint8_t *data = NULL;
	size_t len;
	int ret = 0;

	if (!real)
		return sk_errf(err, -errno, "%s: %s; give a scheduler directory or a .bpf.c file",
			       input, strerror(errno));
	if (sk_is_dir(real)) {
		m->dir = real;
	} else {
		char *slash = strrchr(real, '/');

		if (!ends_with(real, ".bpf.c")) {
			ret = sk_errf(err, -EINVAL, "%s: not a .bpf.c file or a directory", input);
			free(real);
			return ret;
		}
		*slash = '\0';
		m->dir = strdup(real);
		m->main = strdup(slash + 1);
		free(real);
	}
	mpath = manifest ? strdup(manifest) : sk_path_join(m->dir, "schedkit.json");
	if (manifest && !sk_is_file(mpath)) {
		ret = sk_errf(err, -ENOENT, "--manifest %s: no such file", manifest);
		goto out;
	}
	if (sk_is_file(mpath)) {
		m->path = strdup(mpath);
		ret = sk_read_file(mpath, 1 << 20, &data, &len, err);
		if (ret)
			goto out;
		ret = sk_json_parse(data, len, mpath, &j, err);
		if (ret)
			goto out;
		m->name = dup_or_null(sk_json_str(j, "name"));
		m->version = dup_or_null(sk_json_str(j, "version"));
		m->description = dup_or_null(sk_json_str(j, "description"));
		m->license = dup_or_null(sk_json_str(j, "license"));
		m->source_url = dup_or_null(sk_json_str(j, "source"));
		if (json_object_object_get_ex(j, "load", &m->load))
			json_object_get(m->load);
		if (!m->main && sk_json_str(j, "main")) {
			const char *main_src = sk_json_str(j, "main");

			/* The name is derived by cutting ".bpf.c" off it below. */
			if (!ends_with(main_src, ".bpf.c") || main_src[0] == '/' ||
			    strstr(main_src, "..")) {
				ret = sk_errf(err, -EINVAL,
					      "%s: \"main\" must name a .bpf.c file inside the "
					      "scheduler's directory, got '%s'",
					      mpath, main_src);
				goto out;
			}
			m->main = strdup(main_src);
		}
		ret = read_objects(j, mpath, m, err);
		if (ret)
			goto out;
		if (json_object_object_get_ex(j, "sources", &srcs)) {
			if (!json_object_is_type(srcs, json_type_array)) {
				ret = sk_errf(err, -EINVAL,
					      "%s: \"sources\" must be an array of "
					      "file names",
					      mpath);
				goto out;
			}
			for (size_t i = 0; i < json_object_array_length(srcs); i++) {
				const char *s =
				    json_object_get_string(json_object_array_get_idx(srcs, i));

				if (!s || s[0] == '/' || strstr(s, "..")) {
					ret = sk_errf(err, -EINVAL,
						      "%s: source '%s' must be a relative path "
						      "inside the scheduler's directory",
						      mpath, s ? s : "(null)");
					goto out;
				}
				sk_strv_push(&m->sources, s);
			}
		}
	}
	if (!m->sources.n) {
		/* m->dir is freed by the caller; the analyzer loses it when &m->sources escapes. */
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		ret = list_bpf_sources(m->dir, &m->sources, err);
		if (ret)
			goto out;
	}
	if (m->main && !sk_strv_contains(&m->sources, m->main))
		sk_strv_push(&m->sources, m->main);
	/* m->main (read_objects) is freed by the caller, as m->dir above */
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
	for (size_t i = 0; i < m->objects.n; i++)
		if (!sk_strv_contains(&m->sources, m->objects.v[i]))
			sk_strv_push(&m->sources, m->objects.v[i]);
	sk_strv_sort_uniq(&m->sources);
	if (!m->main) {
		for (size_t i = 0; i < m->sources.n; i++) {
			if (!ends_with(m->sources.v[i], ".bpf.c"))
				continue;
			if (m->main) {
				ret = sk_errf(err, -EINVAL,
					      "%s: several .bpf.c files (%s, %s); name the one "
					      "to compile as \"main\" in schedkit.json",
					      m->dir, m->main, m->sources.v[i]);
				goto out;
			}
			m->main = strdup(m->sources.v[i]);
		}
	}
	if (!m->main) {
		ret = sk_errf(err, -ENOENT, "%s: no .bpf.c source to compile", m->dir);
		goto out;
	}
	if (!m->name) {
		m->name = strdup(m->main);
		if (!m->name) {
			ret = sk_errf(err, -ENOMEM, "out of memory");
			goto out;
		}
		m->name[strlen(m->name) - strlen(".bpf.c")] = '\0';
	}
out:
	json_object_put(j);
	free(data);
	free(mpath);
	return ret;
}

/* bpf/ headers: $SCHEDKIT_DATADIR, the install tree next to the binary, or the source tree. */
static char *find_bpf_headers(void)
{
	const char *env = getenv("SCHEDKIT_DATADIR");
	char exe[4096], cand[4200];
	ssize_t n;

	if (env && *env)
		return sk_path_join(env, "bpf");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(cand, sizeof(cand), "%s/../share/schedkit/bpf/schedkit", exe);
		if (sk_is_dir(cand)) {
			snprintf(cand, sizeof(cand), "%s/../share/schedkit/bpf", exe);
			return realpath(cand, NULL);
		}
	}
	return sk_path_join(SK_SRC_DATADIR, "bpf");
}

static const char *target_arch_define(const char *arch)
{
	if (!strcmp(arch, "amd64"))
		return "-D__TARGET_ARCH_x86";
	if (!strcmp(arch, "arm64"))
		return "-D__TARGET_ARCH_arm64";
	return NULL;
}

/* llvm-strip matching the compiler: clang-16 -> llvm-strip-16. */
static void strip_tool(const char *cc, char *buf, size_t sz)
{
	const char *dash = strrchr(cc, '-');

	if (dash && dash[1] >= '0' && dash[1] <= '9')
		snprintf(buf, sz, "llvm-strip%s", dash);
	else
		snprintf(buf, sz, "llvm-strip");
}

/*
 * clang's own system include directories, as upstream scx Makefiles compute
 * CLANG_SYS_INCLUDES (`clang -v -E - </dev/null`): -target bpf has none, and
 * the scx headers include <errno.h>. Added after everything else (-idirafter).
 */
static void sys_includes(const char *cc, struct sk_strv *dirs)
{
	char *argv[] = {(char *)cc, "-v", "-E", "-", NULL};
	struct sk_buf out = {0};
	bool in = false;

	if (sk_run(argv, &out, NULL) != 0 || !out.data)
		goto out;
	for (char *save = NULL, *line = strtok_r((char *)out.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "#include <...> search starts here:"))
			in = true;
		else if (!strncmp(line, "End of search list.", 19))
			in = false;
		else if (in && line[0] == ' ' && line[1] == '/')
			sk_strv_push(dirs, line + 1);
	}
out:
	sk_buf_free(&out);
}

static int compile(const struct build_opts *o, const struct sched_manifest *m, const char *unit,
		   const char *vmlinux_dir, const char *bpf_dir, const char *arch,
		   const char *obj_path, struct sk_strv *recorded, struct sk_error *err)
{
	struct sk_strv argv = {0};
	struct sk_buf out = {0};
	char map1[4200], map2[4200], map3[4200], strip[64];
	char *src = sk_path_join(m->dir, unit);
	int ret;

	/* Flags that shape the object are recorded in the config; paths are not. */
	/*
	 * Recent kernels embed tagged structs without a member name (built with
	 * -fms-extensions); their BTF, and so vmlinux.h, needs the same to keep
	 * those members instead of dropping them with a warning.
	 */
	const char *base[] = {"-target",
			      "bpf",
			      "-mcpu=v3",
			      "-O2",
			      "-g",
			      "-Wall",
			      "-fms-extensions",
			      "-Wno-microsoft-anon-tag",
			      target_arch_define(arch)};

	sk_strv_push(&argv, o->cc);
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		sk_strv_push(&argv, base[i]);
		sk_strv_push(recorded, base[i]);
	}
	for (size_t i = 0; i < o->cflags.n; i++) {
		sk_strv_push(&argv, o->cflags.v[i]);
		sk_strv_push(recorded, o->cflags.v[i]);
	}
	/* Map every directory we pass in, so no host path reaches the object. */
	snprintf(map1, sizeof(map1), "-ffile-prefix-map=%s=.", m->dir);
	snprintf(map2, sizeof(map2), "-ffile-prefix-map=%s=/schedkit/vmlinux", vmlinux_dir);
	snprintf(map3, sizeof(map3), "-ffile-prefix-map=%s=/schedkit/bpf", bpf_dir);
	sk_strv_push(&argv, map1);
	sk_strv_push(&argv, map2);
	sk_strv_push(&argv, map3);
	sk_strv_push(&argv, "-fdebug-compilation-dir=.");
	for (size_t i = 0; i < o->includes.n; i++) {
		char *abs = realpath(o->includes.v[i], NULL);
		char map[4200];

		if (!abs) {
			ret = sk_errf(err, -errno, "-I %s: %s", o->includes.v[i], strerror(errno));
			goto out;
		}
		snprintf(map, sizeof(map), "-ffile-prefix-map=%s=/schedkit/include%zu", abs, i);
		sk_strv_push(&argv, map);
		sk_strv_push(&argv, "-I");
		sk_strv_push(&argv, abs);
		free(abs);
	}
	sk_strv_push(&argv, "-I");
	sk_strv_push(&argv, vmlinux_dir);
	sk_strv_push(&argv, "-I");
	sk_strv_push(&argv, bpf_dir);
	sk_strv_push(&argv, "-I");
	sk_strv_push(&argv, m->dir);
	{
		struct sk_strv sys = {0};

		sys_includes(o->cc, &sys);
		for (size_t i = 0; i < sys.n; i++) {
			char map[4200];

			snprintf(map, sizeof(map), "-ffile-prefix-map=%s=/schedkit/sys%zu",
				 sys.v[i], i);
			sk_strv_push(&argv, map);
			sk_strv_push(&argv, "-idirafter");
			sk_strv_push(&argv, sys.v[i]);
		}
		sk_strv_free(&sys);
	}
	sk_strv_push(&argv, "-c");
	sk_strv_push(&argv, src);
	sk_strv_push(&argv, "-o");
	sk_strv_push(&argv, obj_path);

	ret = sk_run(argv.v, &out, err);
	if (ret < 0)
		goto out;
	if (out.len && !o->quiet)
		fprintf(stderr, "%s", (char *)out.data);
	if (ret) {
		ret = sk_errf(err, -EINVAL,
			      "%s: compilation failed (%s exited %d); the diagnostics above "
			      "name the file and line",
			      unit, o->cc, ret);
		if (o->quiet && out.len)
			fprintf(stderr, "%s", (char *)out.data);
		goto out;
	}
	/* DWARF is big and carries paths; BTF and .BTF.ext are kept (CO-RE needs them). */
	strip_tool(o->cc, strip, sizeof(strip));
	{
		char *sargv[] = {strip, "-g", (char *)obj_path, NULL};

		sk_buf_free(&out);
		ret = sk_run(sargv, &out, err);
		if (ret > 0)
			ret = sk_errf(err, -EIO, "%s -g %s failed: %s", strip, obj_path,
				      out.data ? (char *)out.data : "");
	}
out:
	sk_strv_free(&argv);
	sk_buf_free(&out);
	free(src);
	return ret;
}

/* Every unit of "objects" compiled on its own (the same flags, recorded once), then linked. */
static int compile_and_link(const struct build_opts *o, const struct sched_manifest *m,
			    const char *vmlinux_dir, const char *bpf_dir, const char *arch,
			    const char *tmpdir, const char *obj_path, struct sk_strv *recorded,
			    struct sk_error *err)
{
	struct sk_strv paths = {0}, unused = {0};
	int ret = 0;

	for (size_t i = 0; !ret && i < m->objects.n; i++) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/%s.unit%zu.o", tmpdir, arch, i);
		ret = sk_strv_push(&paths, path);
		if (!ret)
			ret = compile(o, m, m->objects.v[i], vmlinux_dir, bpf_dir, arch, path,
				      i ? &unused : recorded, err);
	}
	if (!ret)
		ret = skb_link_objects((const char *const *)paths.v,
				       (const char *const *)m->objects.v, paths.n, obj_path, err);
	sk_strv_free(&paths);
	sk_strv_free(&unused);
	return ret;
}

static char *first_line_of(char *const argv[])
{
	struct sk_buf out = {0};
	char *nl, *res = NULL;

	if (sk_run(argv, &out, NULL) == 0 && out.data) {
		nl = strchr((char *)out.data, '\n');
		if (nl)
			*nl = '\0';
		res = strdup((char *)out.data);
	}
	sk_buf_free(&out);
	return res;
}

/* SOURCE_DATE_EPOCH, else the last commit's time, else nothing (never "now"). */
static bool created_time(const char *dir, char *buf, size_t sz)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	char *argv[] = {"git", "-C", (char *)dir, "log", "-1", "--format=%ct", NULL};
	char *line = NULL;
	time_t t;
	struct tm tm;

	if (sde && *sde) {
		t = (time_t)strtoll(sde, NULL, 10);
	} else {
		line = first_line_of(argv);
		if (!line || !*line || line[0] < '0' || line[0] > '9') {
			free(line);
			return false;
		}
		t = (time_t)strtoll(line, NULL, 10);
		free(line);
	}
	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return true;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static struct json_object *strv_json(const struct sk_strv *s)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < s->n; i++)
		json_object_array_add(a, json_object_new_string(s->v[i]));
	return a;
}

static struct json_object *make_config(const struct sched_manifest *m,
				       const struct sk_sched_info *info, const char *arch,
				       const char *compiler, const struct sk_strv *cflags,
				       const char *btf_digest, const char *btf_src,
				       const char *source_digest)
{
	struct json_object *c = json_object_new_object(), *b, *btf;
	struct json_object *analysis = sk_sched_info_to_json(info);
	char libbpf_ver[32];

	json_object_object_add(c, "schemaVersion", json_object_new_int(1));
	add_str(c, "name", m->name);
	add_str(c, "version", m->version);
	add_str(c, "description", m->description);
	json_object_object_foreach(analysis, k, v)
	{
		json_object_object_add(c, k, json_object_get(v));
	}
	json_object_put(analysis);

	b = json_object_new_object();
	add_str(b, "arch", arch);
	add_str(b, "compiler", compiler);
	snprintf(libbpf_ver, sizeof(libbpf_ver), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	add_str(b, "libbpf", libbpf_ver);
	json_object_object_add(b, "cflags", strv_json(cflags));
	btf = json_object_new_object();
	add_str(btf, "digest", btf_digest);
	add_str(btf, "source", btf_src);
	json_object_object_add(b, "btf", btf);
	if (source_digest)
		add_str(b, "sourceDigest", source_digest);
	add_str(b, "skbuild", SK_VERSION);
	json_object_object_add(c, "build", b);
	return c;
}

static struct json_object *make_annotations(const struct sched_manifest *m,
					    const struct sk_sched_info *info)
{
	struct json_object *a = json_object_new_object();
	char created[64], *kf, *cb;
	char *rev_argv[] = {"git", "-C", m->dir, "rev-parse", "HEAD", NULL};
	char *rev = first_line_of(rev_argv);

	add_str(a, "org.opencontainers.image.title", m->name);
	add_str(a, "org.opencontainers.image.description", m->description);
	add_str(a, "org.opencontainers.image.version", m->version);
	add_str(a, "org.opencontainers.image.licenses", m->license);
	add_str(a, "org.opencontainers.image.source", m->source_url);
	if (rev && strlen(rev) == 40)
		add_str(a, "org.opencontainers.image.revision", rev);
	if (created_time(m->dir, created, sizeof(created)))
		add_str(a, "org.opencontainers.image.created", created);
	add_str(a, SK_ANN_MIN_VERSION, info->min_kernel);
	add_str(a, SK_ANN_SCHED_NAME, info->ops->name);
	kf = sk_strv_join(&info->kfuncs_required, ",");
	cb = sk_strv_join(&info->ops->callbacks, ",");
	add_str(a, SK_ANN_KFUNCS, kf);
	add_str(a, SK_ANN_OPS, cb);
	add_str(a, SK_ANN_OPS_TYPE, info->ops->type);
	free(kf);
	free(cb);
	free(rev);
	return a;
}

static const char *out_tag(const struct build_opts *o, const struct sched_manifest *m)
{
	return o->tag ? o->tag : (m->version ? m->version : "latest");
}

/* docs/json.md's build object (push is added by the caller). */
static struct json_object *build_json(const struct sched_manifest *m,
				      const struct sk_sched_info *in, const struct build_opts *o,
				      const char *digest)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "name", json_object_new_string(m->name));
	json_object_object_add(j, "version",
			       m->version ? json_object_new_string(m->version) : NULL);
	json_object_object_add(j, "layout", json_object_new_string(o->out));
	json_object_object_add(j, "tag", json_object_new_string(out_tag(o, m)));
	json_object_object_add(j, "digest", json_object_new_string(digest));
	json_object_object_add(j, "platforms", strv_json(&o->arches));
	/* the caller passes the first platform's analysis, which a build always has */
	if (!in || !in->ops)
		return j;
	json_object_object_add(j, "ops", json_object_new_string(in->ops->name));
	json_object_object_add(j, "minKernel", json_object_new_string(in->min_kernel));
	json_object_object_add(j, "kfuncsRequired", strv_json(&in->kfuncs_required));
	return j;
}

static int parse_args(int argc, char **argv, struct build_opts *o)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"tag", required_argument, NULL, 't'},
	    {"arch", required_argument, NULL, 'a'},
	    {"btf", required_argument, NULL, 'b'},
	    {"cflags", required_argument, NULL, 'c'},
	    {"cc", required_argument, NULL, 'C'},
	    {"ops", required_argument, NULL, 'O'},
	    {"manifest", required_argument, NULL, 'M'},
	    {"no-source", no_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"push", required_argument, NULL, 'P'},
	    {"digest-file", required_argument, NULL, 'D'},
	    {"sign", required_argument, NULL, 'S'},
	    {"annotation", required_argument, NULL, 'N'},
	    {"force", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"recursive", no_argument, NULL, 'R'},
	    SKB_SIGN_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPTS,
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = sk_cli_getopt(argc, argv, "o:t:I:qvh", longopts)) != -1) {
		const char *regopt = sk_registry_cli_optname(c), *signopt;
		bool has_arg;

		/* handed to push as they are; push parses them */
		signopt = skb_sign_cli_optname(c, &has_arg);
		if (signopt) {
			char name[64];

			snprintf(name, sizeof(name), "--%s", signopt);
			sk_strv_push(&o->push_args, name);
			if (has_arg)
				sk_strv_push(&o->push_args, optarg);
			continue;
		}
		if (regopt) {
			sk_strv_push(&o->push_args, regopt);
			if (c != SK_REGISTRY_OPT_INSECURE && c != SK_REGISTRY_OPT_PASSWORD_STDIN &&
			    c != 'v')
				sk_strv_push(&o->push_args, optarg);
			continue;
		}
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 't':
			o->tag = optarg;
			break;
		case 'a':
			for (char *save = NULL, *p = strtok_r(optarg, ",", &save); p;
			     p = strtok_r(NULL, ",", &save))
				sk_strv_push(&o->arches, p);
			break;
		case 'b':
			o->btf = optarg;
			break;
		case 'I':
			sk_strv_push(&o->includes, optarg);
			break;
		case 'c':
			for (char *save = NULL, *p = strtok_r(optarg, " ", &save); p;
			     p = strtok_r(NULL, " ", &save))
				sk_strv_push(&o->cflags, p);
			break;
		case 'C':
			o->cc = optarg;
			break;
		case 'O':
			o->ops = optarg;
			break;
		case 'M':
			o->manifest = optarg;
			break;
		case 'n':
			o->no_source = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'P':
			o->push_ref = optarg;
			break;
		case 'D':
		case 'N':
		case 'S':
			sk_strv_push(&o->push_args, c == 'D'   ? "--digest-file"
						    : c == 'N' ? "--annotation"
							       : "--sign");
			sk_strv_push(&o->push_args, optarg);
			break;
		case 'f':
			sk_strv_push(&o->push_args, "--force");
			break;
		case 'R':
			sk_strv_push(&o->push_args, "--recursive");
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		sk_die_msg("build: expected one DIR or FILE.bpf.c (see 'skbuild build --help')");
		return -EINVAL;
	}
	o->input = argv[optind];
	if (!o->arches.n)
		sk_strv_push(&o->arches, "amd64");
	for (size_t i = 0; i < o->arches.n; i++)
		if (!target_arch_define(o->arches.v[i])) {
			sk_die_msg("build: --arch %s is not supported (amd64, arm64)",
				   o->arches.v[i]);
			return -EINVAL;
		}
	if (o->push_args.n && !o->push_ref) {
		sk_die_msg(
		    "build: --digest-file, --sign, --keyless and the other signing "
		    "options, --annotation, --force, --recursive and the registry options go "
		    "with --push REF");
		return -EINVAL;
	}
	if (!o->cc) {
		const char *cc = getenv("SKBUILD_CC");

		o->cc = cc && *cc ? cc : "clang-16";
	}
	if (!o->btf) {
		const char *btf = getenv("SKBUILD_BTF");

		if (btf && *btf)
			o->btf = btf;
	}
	return 0;
}

int cmd_build(int argc, char **argv)
{
	struct build_opts o = {0};
	struct sched_manifest m = {0};
	struct sk_error err = {0};
	struct sk_artifact_platform plats[MAX_ARCH] = {0};
	struct sk_sched_info *infos[MAX_ARCH] = {0};
	struct json_object *configs[MAX_ARCH] = {0}, *annots[MAX_ARCH] = {0};
	uint8_t *objs[MAX_ARCH] = {0};
	struct sk_source_file *files = NULL;
	struct sk_buf tgz = {0};
	struct sk_layout *layout = NULL;
	char cache[4096], vmdir[4200], btf_digest[SK_DIGEST_MAX], src_digest[SK_DIGEST_MAX];
	char index_digest[SK_DIGEST_MAX], tmpdir[] = "/tmp/skbuild.XXXXXX";
	char *bpf_dir = NULL, *compiler = NULL, *out_default = NULL, *title = NULL;
	char *cc_argv[] = {NULL, "--version", NULL};
	bool have_tmp = false;
	struct json_object *j = NULL;
	int ret, status = SK_EXIT_FAILURE;

	ret = parse_args(argc, argv, &o);
	if (ret) {
		status = ret > 0 ? SK_EXIT_OK : SK_EXIT_USAGE;
		goto out;
	}
	if (o.arches.n > MAX_ARCH) {
		sk_die_msg("build: at most %d platforms", MAX_ARCH);
		goto out;
	}
	ret = read_manifest(o.input, o.manifest, &m, &err);
	if (ret)
		goto fail;

	skb_cache_dir(cache, sizeof(cache), "vmlinux");
	ret = sk_vmlinux_h(o.btf, cache, vmdir, sizeof(vmdir), btf_digest, &err);
	if (ret)
		goto fail;
	bpf_dir = find_bpf_headers();
	cc_argv[0] = (char *)o.cc;
	compiler = first_line_of(cc_argv);
	if (!compiler) {
		ret = sk_errf(&err, -ENOENT,
			      "compiler %s not found; install clang-16 (`make deps`) or pass --cc",
			      o.cc);
		goto fail;
	}
	if (!mkdtemp(tmpdir)) {
		ret = sk_errf(&err, -errno, "cannot create a temporary directory: %s",
			      strerror(errno));
		goto fail;
	}
	have_tmp = true;

	if (!o.no_source) {
		files = calloc(m.sources.n + 1, sizeof(*files));
		char **paths = calloc(m.sources.n + 1, sizeof(char *));
		size_t nf = 0;
		char *mf = m.path ? strdup(m.path) : NULL;

		for (size_t i = 0; i < m.sources.n; i++) {
			paths[nf] = sk_path_join(m.dir, m.sources.v[i]);
			files[nf].path = paths[nf];
			files[nf].name = m.sources.v[i];
			nf++;
		}
		if (mf && !sk_strv_contains(&m.sources, "schedkit.json")) {
			paths[nf] = mf;
			mf = NULL;
			files[nf].path = paths[nf];
			files[nf].name = "schedkit.json";
			nf++;
		}
		ret = sk_source_tar_gz(files, nf, &tgz, &err);
		for (size_t i = 0; i < nf; i++)
			free(paths[i]);
		free(paths);
		free(mf);
		if (ret)
			goto fail;
		sk_digest_buf(tgz.data, tgz.len, src_digest);
	}

	for (size_t i = 0; i < o.arches.n; i++) {
		struct sk_strv recorded = {0};
		char obj_path[4200];
		const char *btf_base = o.btf ? strrchr(o.btf, '/') : NULL;
		size_t len;

		snprintf(obj_path, sizeof(obj_path), "%s/%s.bpf.o", tmpdir, o.arches.v[i]);
		if (m.objects.n)
			ret = compile_and_link(&o, &m, vmdir, bpf_dir, o.arches.v[i], tmpdir,
					       obj_path, &recorded, &err);
		else
			ret = compile(&o, &m, m.main, vmdir, bpf_dir, o.arches.v[i], obj_path,
				      &recorded, &err);
		if (!ret)
			ret = sk_read_file(obj_path, OBJ_MAX, &objs[i], &len, &err);
		if (!ret) {
			ret = sk_sched_analyze(objs[i], len, o.ops, &infos[i], &err);
			/* libbpf's refusal to open says little: name a kfunc missing __ksym */
			if (ret)
				sk_verifier_explain_object(objs[i], len, &err);
		}
		if (ret) {
			sk_strv_free(&recorded);
			goto fail;
		}
		configs[i] =
		    make_config(&m, infos[i], o.arches.v[i], compiler, &recorded, btf_digest,
				o.btf ? (btf_base ? btf_base + 1 : o.btf) : SK_SYSFS_BTF,
				o.no_source ? NULL : src_digest);
		if (!ret && m.load) {
			struct json_object *load = NULL;

			/* typed against this platform's object; recorded as checked */
			ret = sk_loadspec_validate(objs[i], len, o.ops, m.load, o.btf, &load, &err);
			if (ret)
				sk_err_prefix(&err, "%s: ", m.path);
			else
				json_object_object_add(configs[i], "load", load);
		}
		if (ret) {
			sk_strv_free(&recorded);
			goto fail;
		}
		annots[i] = make_annotations(&m, infos[i]);
		sk_strv_free(&recorded);
		if (!title && asprintf(&title, "%s.bpf.o", m.name) < 0)
			title = NULL;
		plats[i] = (struct sk_artifact_platform){
		    .os = "linux",
		    .arch = o.arches.v[i],
		    .object = objs[i],
		    .object_len = len,
		    .config = configs[i],
		    .annotations = annots[i],
		    .source_tgz = o.no_source ? NULL : tgz.data,
		    .source_len = o.no_source ? 0 : tgz.len,
		    .object_title = title,
		};
	}

	if (!o.out) {
		if (asprintf(&out_default, "%s.oci", m.name) < 0)
			out_default = NULL;
		o.out = out_default;
	}
	ret = o.out ? sk_layout_create(o.out, &layout, &err)
		    : sk_errf(&err, -ENOMEM, "out of memory");
	if (ret)
		goto fail;
	ret = sk_artifact_write(layout, plats, o.arches.n, NULL,
				o.tag ? o.tag : (m.version ? m.version : "latest"), index_digest,
				&err);
	if (ret)
		goto fail;
	/* parse_args guarantees at least one platform, so infos[0] was filled. */
	// NOLINTBEGIN(clang-analyzer-core.NullDereference)
	if (o.json) {
		j = build_json(&m, infos[0], &o, index_digest);
	} else if (o.quiet) {
		/* with --push, push prints the digest: exactly once */
		if (!o.push_ref)
			printf("%s\n", index_digest);
	} else {
		const struct sk_sched_info *in = infos[0];

		printf("built %s %s (ops '%s', %zu callbacks) for %zu platform(s)\n", m.name,
		       m.version ? m.version : "", in->ops->name, in->ops->callbacks.n, o.arches.n);
		printf("  needs kernel >= %s", in->min_kernel);
		if (in->min_kernel_because.n)
			printf(" (%s)", in->min_kernel_because.v[0]);
		printf("\n  layout %s:%s\n  digest %s\n", o.out, out_tag(&o, &m), index_digest);
	}
	// NOLINTEND(clang-analyzer-core.NullDereference)
	status = SK_EXIT_OK;
	if (o.push_ref) {
		/* The push command itself, so build --push behaves exactly like push. */
		struct json_object *pushed = NULL;
		struct sk_strv pargv = {0};
		char src[4300];

		/* ./ or /: a layout path however the output directory was named */
		snprintf(src, sizeof(src), "oci:%s:%s", o.out, out_tag(&o, &m));
		sk_strv_push(&pargv, "push");
		for (size_t i = 0; i < o.push_args.n; i++)
			sk_strv_push(&pargv, o.push_args.v[i]);
		sk_strv_push(&pargv, src);
		sk_strv_push(&pargv, o.push_ref);
		optind = 0;
		status = skb_push_main((int)pargv.n, pargv.v, o.json ? &pushed : NULL);
		sk_strv_free(&pargv);
		if (j)
			json_object_object_add(j, "push", pushed);
		else
			json_object_put(pushed);
	}
	if (j && status == SK_EXIT_OK)
		sk_cli_print_json(j);
	goto out;
fail:
	sk_die_msg("build: %s", err.msg);
	status = sk_cli_exit_status(ret);
out:
	json_object_put(j);
	sk_layout_close(layout);
	for (size_t i = 0; i < MAX_ARCH; i++) {
		sk_sched_info_free(infos[i]);
		json_object_put(configs[i]);
		json_object_put(annots[i]);
		free(objs[i]);
	}
	if (have_tmp)
		sk_rm_rf(tmpdir);
	free(files);
	free(title);
	free(out_default);
	free(bpf_dir);
	free(compiler);
	sk_buf_free(&tgz);
	manifest_free(&m);
	sk_strv_free(&o.arches);
	sk_strv_free(&o.includes);
	sk_strv_free(&o.cflags);
	sk_strv_free(&o.push_args);
	return status;
}
