/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild init: a new scheduler directory from one of templates/scheds. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "schedkit/common.h"

#define NAME_MAX_LEN 24 /* the ops name and every NAME_callback must stay readable */
#define FILE_MAX     (1u << 20)

static void usage(FILE *f)
{
	fprintf(f, "usage: skbuild init NAME [--template TEMPLATE] [-o DIR]\n"
		   "\n"
		   "Writes a new scheduler directory (default ./NAME) from a template:\n"
		   "NAME.bpf.c, schedkit.json and README.md, with NAME as the scheduler's\n"
		   "name, ops and callback prefix. It builds as written (skbuild build DIR)\n"
		   "and can be tried at once in the test kernel (skbuild vmtest DIR).\n"
		   "NAME: a lowercase C identifier, at most 24 characters.\n"
		   "\n"
		   "  --template T      fifo (default) or vtime; --list shows them\n"
		   "  -o, --output DIR  the directory to create (must not exist or be empty)\n"
		   "  --list            list the templates and exit\n");
}

static bool valid_name(const char *n)
{
	size_t len = strlen(n);

	if (!len || len > NAME_MAX_LEN || n[0] < 'a' || n[0] > 'z')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
			return false;
	return true;
}

static int list_templates(const char *dir)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	if (n < 0) {
		sk_die_msg("init: cannot list the templates in %s: %s", dir, strerror(errno));
		return SK_EXIT_NOT_FOUND;
	}
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.')
			printf("%s\n", ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return SK_EXIT_OK;
}

/* The template file with every @NAME@ replaced by name. */
static int render(const char *path, const char *name, struct sk_buf *out, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret = sk_read_file(path, FILE_MAX, &data, &len, err);
	char *s, *at;

	if (ret)
		return ret;
	s = (char *)data;
	while ((at = memmem(s, len - (size_t)(s - (char *)data), "@NAME@", 6))) {
		if (sk_buf_append(out, s, (size_t)(at - s)) ||
		    sk_buf_append(out, name, strlen(name)))
			goto oom;
		s = at + 6;
	}
	if (sk_buf_append(out, s, len - (size_t)(s - (char *)data)))
		goto oom;
	free(data);
	return 0;
oom:
	free(data);
	return sk_errf(err, -ENOMEM, "out of memory");
}

static int write_one(const char *tdir, const char *tname, const char *odir, const char *oname,
		     const char *name, struct sk_error *err)
{
	struct sk_buf b = {0};
	char *src = sk_path_join(tdir, tname), *dst = sk_path_join(odir, oname);
	int ret = src && dst ? render(src, name, &b, err) : sk_errf(err, -ENOMEM, "out of memory");

	if (!ret)
		ret = sk_write_file_atomic(dst, b.data ? (void *)b.data : "", b.len, 0644, err);
	sk_buf_free(&b);
	free(src);
	free(dst);
	return ret;
}

int cmd_init(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"template", required_argument, NULL, 't'},
	    {"output", required_argument, NULL, 'o'},
	    {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *tmpl = "fifo", *out = NULL, *name;
	char *tdir = NULL, *tbase = NULL, main_src[64];
	struct sk_error err = {0};
	bool list = false;
	int c, ret = SK_EXIT_FAILURE;

	while ((c = sk_cli_getopt(argc, argv, "o:h", long_opts)) != -1) {
		switch (c) {
		case 't':
			tmpl = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'l':
			list = true;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	tbase = skb_data_path("templates", "templates/scheds");
	if (!tbase) {
		sk_die_msg("init: out of memory");
		return SK_EXIT_FAILURE;
	}
	if (list) {
		ret = list_templates(tbase);
		goto out;
	}
	if (argc - optind != 1) {
		ret = sk_cli_usage(usage, false);
		goto out;
	}
	name = argv[optind];
	if (!valid_name(name)) {
		sk_die_msg(
		    "init: '%s' is not a usable scheduler name: use a lowercase C identifier "
		    "(a-z, 0-9, _; starting with a letter) of at most %d characters",
		    name, NAME_MAX_LEN);
		ret = SK_EXIT_USAGE;
		goto out;
	}
	tdir = strchr(tmpl, '/') ? NULL : sk_path_join(tbase, tmpl);
	if (!tdir || !sk_is_dir(tdir)) {
		sk_die_msg("init: no template '%s' in %s; `skbuild init --list` names them", tmpl,
			   tbase);
		ret = SK_EXIT_NOT_FOUND;
		goto out;
	}
	if (!out)
		out = name;
	if (mkdir(out, 0755) && errno != EEXIST) {
		sk_die_msg("init: cannot create %s: %s", out, strerror(errno));
		goto out;
	}
	{
		DIR *d = opendir(out);
		struct dirent *e;
		bool empty = true;

		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = false;
		if (d)
			closedir(d);
		if (!d || !empty) {
			sk_die_msg("init: %s %s; choose a new directory with -o DIR", out,
				   d ? "exists and is not empty (nothing was written)"
				     : "is not a directory");
			goto out;
		}
	}
	snprintf(main_src, sizeof(main_src), "%s.bpf.c", name);
	if (write_one(tdir, "sched.bpf.c", out, main_src, name, &err) ||
	    write_one(tdir, "schedkit.json", out, "schedkit.json", name, &err) ||
	    write_one(tdir, "README.md", out, "README.md", name, &err)) {
		sk_die_msg("init: %s", err.msg);
		goto out;
	}
	printf("created %s/ from the %s template: %s, schedkit.json, README.md\n"
	       "next: skbuild build %s --btf /var/cache/schedkit/kernel/vmlinux, or try it in "
	       "the test kernel: skbuild vmtest %s\n",
	       out, tmpl, main_src, out, out);
	ret = SK_EXIT_OK;
out:
	free(tdir);
	free(tbase);
	return ret;
}
