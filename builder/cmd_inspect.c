/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild inspect: what an artifact is, what it needs from a kernel, what it lets you tune. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "schedkit/oci.h"
#include "schedkit/registry.h"
#include "schedkit/transfer.h"
#include "schedkit/store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skbuild inspect LAYOUT[:TAG]|REF [--json] [--arch ARCH]\n"
		"\n"
		"Shows a scheduler artifact: identity, digests, kernel requirements,\n"
		"callbacks, tunables and build information. REF is a registry reference;\n"
		"its content is fetched (digest-verified) into a temporary store.\n"
		"\n"
		"  --json              machine-readable output (manifest, config, digests)\n"
		"  --arch ARCH         platform to show (default: this machine's)\n"
		"%s",
		SK_REGISTRY_CLI_HELP);
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	return o;
}

static void print_list(const char *label, struct json_object *arr)
{
	size_t n =
	    arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;

	printf("  %-18s", label);
	if (!n)
		printf("-");
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "",
		       json_object_get_string(json_object_array_get_idx(arr, i)));
	printf("\n");
}

static const char *str(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v ? json_object_get_string(v) : "-";
}

static void print_human(const struct sk_artifact *a)
{
	struct json_object *c = a->config, *tun = get(c, "tunables");

	printf("%s %s  (%s/%s)\n", str(c, "name"), str(c, "version"), a->os, a->arch);
	if (get(c, "description"))
		printf("  %s\n", str(c, "description"));
	if (a->index_digest[0])
		printf("  %-18s%s\n", "index digest", a->index_digest);
	printf("  %-18s%s\n", "manifest digest", a->manifest_digest);
	printf("  %-18s%s (map %s)\n", "ops name", str(c, "ops.name"), str(c, "ops.map"));
	printf("  %-18s%s\n", "license", str(c, "license"));
	printf("requirements:\n");
	printf("  %-18s%s", "min kernel", str(c, "requirements.minKernel"));
	if (get(c, "requirements.minKernelBecause") &&
	    json_object_array_length(get(c, "requirements.minKernelBecause")))
		printf(" (%s)", json_object_get_string(json_object_array_get_idx(
				    get(c, "requirements.minKernelBecause"), 0)));
	printf("\n");
	print_list("required kfuncs", get(c, "requirements.kfuncs.required"));
	print_list("optional kfuncs", get(c, "requirements.kfuncs.optional"));
	print_list("callbacks", get(c, "requirements.callbacks"));
	printf("  %-18s0x%llx\n", "ops flags",
	       (unsigned long long)json_object_get_int64(get(c, "requirements.opsFlags")));
	printf("  %-18s%s\n", "timeout_ms", str(c, "requirements.timeoutMs"));
	print_list("sleepable", get(c, "requirements.sleepable"));
	print_list("unknown release", get(c, "requirements.unknown"));
	printf("tunables:\n");
	if (!tun || !json_object_array_length(tun))
		printf("  -\n");
	for (size_t i = 0; tun && i < json_object_array_length(tun); i++) {
		struct json_object *t = json_object_array_get_idx(tun, i);

		printf("  %-18s%-10s default %s\n", str(t, "name"), str(t, "type"),
		       str(t, "default"));
	}
	printf("build:\n");
	printf("  %-18s%s\n", "compiler", str(c, "build.compiler"));
	printf("  %-18s%s\n", "libbpf", str(c, "build.libbpf"));
	printf("  %-18s%s (%s)\n", "kernel BTF", str(c, "build.btf.digest"),
	       str(c, "build.btf.source"));
	printf("  %-18s%s\n", "sources", str(c, "build.sourceDigest"));
	printf("  %-18s%zu bytes\n", "object", a->object_len);
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"arch", required_argument, NULL, 'a'},
	    SK_REGISTRY_CLI_LONGOPTS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_error err = {0};
	struct sk_layout *l = NULL;
	struct sk_artifact *a = NULL;
	const char *arch = NULL;
	struct sk_pull_opts po = {0};
	struct sk_registry_cli reg = {0};
	bool json = false;
	int c, status = 1;

	while ((c = sk_cli_getopt(argc, argv, "h", longopts)) != -1) {
		if (sk_registry_cli_opt(&reg, c, optarg))
			continue;
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'a':
			arch = optarg;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage, c == 'h');
		}
	}
	if (optind != argc - 1)
		return sk_cli_usage(usage, false);
	/* the one source parser decides (a layout has no registry host to trust) */
	if (sk_registry_cli_finish(&reg, argv[optind])) {
		sk_die_msg("inspect: out of memory");
		goto out;
	}
	po.reg = reg.opts;
	if (sk_artifact_open_any(argv[optind], &po, arch, &a, &err))
		goto fail;
	if (json) {
		struct json_object *o = json_object_new_object();
		if (a->index_digest[0])
			json_object_object_add(o, "indexDigest",
					       json_object_new_string(a->index_digest));
		json_object_object_add(o, "manifestDigest",
				       json_object_new_string(a->manifest_digest));
		json_object_object_add(o, "platform",
				       json_object_new_string(strcmp(a->arch, "") ? a->arch : "-"));
		json_object_object_add(o, "manifest", json_object_get(a->manifest));
		json_object_object_add(o, "config", json_object_get(a->config));
		sk_cli_print_json(o);
		json_object_put(o);
	} else {
		print_human(a);
	}
	status = 0;
	goto out;
fail:
	sk_die_msg("inspect: %s", err.msg);
	status = sk_cli_exit_status(err.code);
out:
	sk_registry_cli_free(&reg);
	sk_artifact_free(a);
	sk_layout_close(l);
	return status;
}
