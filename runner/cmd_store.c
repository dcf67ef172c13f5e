/* SPDX-License-Identifier: Apache-2.0 */
/* skrun store: look after the local content store. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/common.h"
#include "schedkit/store.h"
#include "schedkit/transfer.h"

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: skrun store ls [--json] [--store DIR]\n"
	       "       skrun store rm REF|DIGEST... [--store DIR]\n"
	       "       skrun store prune [--store DIR]\n"
	       "       skrun store verify [--store DIR]\n"
	       "\n"
	       "ls      every recorded artifact: name, digest, size of what it reaches,\n"
	       "        whether verified signatures are kept for it, and who uses it (the\n"
	       "        leases of running supervisors and pulls in progress). Digests in\n"
	       "        use that no name records any more are listed as <none>.\n"
	       "rm      removes the names (a reference as pulled, or a digest: every name\n"
	       "        of it), then collects what nothing reaches any more, as prune.\n"
	       "prune   removes every blob no name and no lease reaches, and signatures\n"
	       "        kept for digests that are gone. What a running supervisor or its\n"
	       "        fallback uses, and what a pull in progress needs, is never taken.\n"
	       "verify  re-hash every blob in the store and check that every recorded\n"
	       "        reference is complete: its manifests, configs and layers present,\n"
	       "        well-formed and of the size their descriptors give, and each name\n"
	       "        recorded once. Prints a summary and exits 0 when the store is\n"
	       "        consistent; lists each problem and exits 1 otherwise.\n"
	       "\n"
	       "  --store DIR   the content store (default " SK_STORE_DEFAULT ")\n"
	       "  --json        (ls) [{\"name\",\"digest\",\"mediaType\",\"size\",\"signatures\",\n"
	       "                \"verified\",\"present\",\"inUse\":[...]}]\n"
	       "Exit status: 0, 1 on failure, 4 when rm names nothing in the store, 2 on\n"
	       "usage errors.\n");
}

/* Opening must not create an empty store where there was none. */
static int open_existing(const char *dir, const char *cmd, struct sk_store **s)
{
	struct sk_error err = {0};
	char *marker = sk_path_join(dir, "oci-layout");
	int ret = 0;

	if (!marker) {
		sk_die_msg("store %s: out of memory", cmd);
		return -ENOMEM;
	}
	if (!sk_is_file(marker)) {
		sk_die_msg("store %s: %s is not a content store (it has no oci-layout file); "
			   "pass the directory skrun pull --store used",
			   cmd, dir);
		ret = -ENOENT;
	} else if (sk_store_open(dir, s, &err)) {
		sk_die_msg("store %s: %s", cmd, err.msg);
		ret = err.code;
	}
	free(marker);
	return ret;
}

static void human(uint64_t n, char *buf, size_t sz)
{
	if (n >= 10u << 20)
		snprintf(buf, sz, "%llu MiB", (unsigned long long)(n >> 20));
	else if (n >= 10u << 10)
		snprintf(buf, sz, "%llu KiB", (unsigned long long)(n >> 10));
	else
		snprintf(buf, sz, "%llu B", (unsigned long long)n);
}

static int store_ls(const char *dir, bool json)
{
	struct sk_store_entry *e = NULL;
	struct sk_store *s = NULL;
	struct sk_error err = {0};
	size_t n = 0;
	int ret = SK_EXIT_FAILURE;

	if (open_existing(dir, "ls", &s))
		return SK_EXIT_FAILURE;
	if (sk_store_list(s, &e, &n, &err)) {
		sk_die_msg("store ls: %s", err.msg);
		goto out;
	}
	if (json) {
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; arr && i < n; i++) {
			struct json_object *o = json_object_new_object(),
					   *use = json_object_new_array();

			for (size_t j = 0; use && j < e[i].in_use.n; j++)
				json_object_array_add(use,
						      json_object_new_string(e[i].in_use.v[j]));
			json_object_object_add(
			    o, "name", e[i].name ? json_object_new_string(e[i].name) : NULL);
			json_object_object_add(o, "digest", json_object_new_string(e[i].digest));
			json_object_object_add(o, "mediaType",
					       json_object_new_string(e[i].media_type));
			json_object_object_add(o, "size",
					       json_object_new_int64((int64_t)e[i].size));
			json_object_object_add(o, "signatures",
					       json_object_new_boolean(e[i].signatures));
			json_object_object_add(o, "verified",
					       json_object_new_boolean(!e[i].unverified));
			json_object_object_add(o, "present", json_object_new_boolean(e[i].present));
			json_object_object_add(o, "inUse", use);
			json_object_array_add(arr, o);
		}
		if (!arr) {
			sk_die_msg("store ls: out of memory");
			goto out;
		}
		sk_cli_print_json(arr);
		json_object_put(arr);
	} else {
		printf("%-50s %-19s %9s  %-10s %s\n", "NAME", "DIGEST", "SIZE", "TRUST",
		       "IN USE BY");
		for (size_t i = 0; i < n; i++) {
			char size[32], *use = sk_strv_join(&e[i].in_use, ", ");

			human(e[i].size, size, sizeof(size));
			printf("%-50s %-19.19s %9s  %-10s %s\n", e[i].name ? e[i].name : "<none>",
			       e[i].digest, size,
			       e[i].unverified	 ? "UNVERIFIED"
			       : e[i].signatures ? "signed"
						 : "-",
			       use && *use ? use : "-");
			free(use);
		}
	}
	ret = SK_EXIT_OK;
out:
	sk_store_list_free(e, n);
	sk_store_close(s);
	return ret;
}

static int collect(struct sk_store *s, const char *cmd)
{
	struct sk_store_gc_report r;
	struct sk_error err = {0};
	char freed[32];

	if (sk_store_gc(s, &r, &err)) {
		sk_die_msg("store %s: %s", cmd, err.msg);
		return SK_EXIT_FAILURE;
	}
	human(r.freed, freed, sizeof(freed));
	printf("removed %u blob(s) (%s); kept %u, %u of them only because they are in use\n",
	       r.removed, freed, r.kept, r.leased);
	if (r.sig_entries)
		printf("removed the signatures of %u digest(s) no name records any more\n",
		       r.sig_entries);
	if (r.stale_leases)
		printf("removed %u lease(s) whose holder was gone\n", r.stale_leases);
	for (size_t i = 0; i < r.holders.n; i++)
		printf("in use: %s\n", r.holders.v[i]);
	sk_store_gc_report_free(&r);
	return SK_EXIT_OK;
}

static int store_prune(const char *dir)
{
	struct sk_store *s = NULL;
	int ret;

	if (open_existing(dir, "prune", &s))
		return SK_EXIT_FAILURE;
	ret = collect(s, "prune");
	sk_store_close(s);
	return ret;
}

/* The names a reference may be recorded under: as given, and as a pull spells it. */
static int rm_keys(const char *arg, struct sk_strv *keys)
{
	struct sk_source src;
	char name[SK_REF_STRING_MAX];

	if (sk_strv_push(keys, arg))
		return -ENOMEM;
	if (sk_digest_valid(arg) || sk_source_parse(arg, &src, NULL))
		return 0;
	if (src.kind == SK_SOURCE_REGISTRY) {
		sk_ref_string(&src.ref, name, sizeof(name));
		if (!src.ref.tag[0] && !src.ref.digest[0])
			snprintf(name + strlen(name), sizeof(name) - strlen(name), ":latest");
		if (strcmp(name, arg) && sk_strv_push(keys, name)) {
			sk_source_free(&src);
			return -ENOMEM;
		}
	}
	sk_source_free(&src);
	return 0;
}

static int store_rm(const char *dir, char **names, int n)
{
	struct sk_store *s = NULL;
	struct sk_error err = {0};
	int ret = SK_EXIT_OK;

	if (open_existing(dir, "rm", &s))
		return SK_EXIT_FAILURE;
	for (int i = 0; i < n && ret == SK_EXIT_OK; i++) {
		struct sk_strv keys = {0};
		size_t removed = 0;

		if (rm_keys(names[i], &keys) ||
		    sk_store_remove(s, (const char *const *)keys.v, keys.n, &removed, &err)) {
			sk_die_msg("store rm: %s", err.msg[0] ? err.msg : "out of memory");
			ret = SK_EXIT_FAILURE;
		} else if (!removed) {
			sk_die_msg(
			    "store rm: no name or digest %s in %s (skrun store ls lists them)",
			    names[i], dir);
			ret = SK_EXIT_NOT_FOUND;
		} else {
			printf("removed %s (%zu name(s))\n", names[i], removed);
		}
		sk_strv_free(&keys);
	}
	if (ret == SK_EXIT_OK)
		ret = collect(s, "rm");
	sk_store_close(s);
	return ret;
}

static int store_verify(const char *dir)
{
	struct sk_store_report r;
	struct sk_error err = {0};
	struct sk_store *s = NULL;
	char *marker = sk_path_join(dir, "oci-layout");
	int ret = 1;

	if (!marker) {
		sk_die_msg("store verify: out of memory");
		return 1;
	}
	/* checking must not create an empty store where there was none */
	if (!sk_is_file(marker)) {
		sk_die_msg("store verify: %s is not a content store (it has no oci-layout file); "
			   "pass the directory skrun pull --store used",
			   dir);
		goto out;
	}
	if (sk_store_open(dir, &s, &err)) {
		sk_die_msg("store verify: %s", err.msg);
		goto out;
	}
	if (sk_store_verify(s, &r, &err)) {
		sk_die_msg("store verify: %s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < r.problems.n; i++)
		sk_die_msg("store verify: %s: %s", dir, r.problems.v[i]);
	printf("store %s: %u blobs (%llu bytes) re-hashed, %u references, %u manifests checked, "
	       "%u unreferenced blobs: ",
	       dir, r.blobs, (unsigned long long)r.bytes, r.refs, r.manifests, r.unreferenced);
	if (r.problems.n) {
		printf("%zu problem(s)\n", r.problems.n);
		sk_die_msg("store verify: %s is NOT consistent (%zu problem(s) above); pull the "
			   "affected references again",
			   dir, r.problems.n);
	} else {
		printf("consistent\n");
		ret = 0;
	}
	sk_store_report_free(&r);
out:
	sk_store_close(s);
	free(marker);
	return ret;
}

int cmd_store(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"store", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = SK_STORE_DEFAULT, *sub;
	bool json = false;
	int c;

	if (argc < 2)
		return sk_cli_usage(usage, false);
	sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help"))
		return sk_cli_usage(usage, true);
	argc--;
	argv++;
	while ((c = sk_cli_getopt(argc, argv, "h", long_opts)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (!strcmp(sub, "rm"))
		return optind < argc ? store_rm(dir, argv + optind, argc - optind)
				     : sk_cli_usage(usage, false);
	if (optind != argc || (json && strcmp(sub, "ls")))
		return sk_cli_usage(usage, false);
	if (!strcmp(sub, "ls"))
		return store_ls(dir, json);
	if (!strcmp(sub, "prune"))
		return store_prune(dir);
	if (!strcmp(sub, "verify"))
		return store_verify(dir);
	sk_die_msg("store: '%s' is not a store command; see 'skrun store --help'", sub);
	return 2;
}
