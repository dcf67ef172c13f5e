/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild login/logout: Docker-style credentials in config.json (0600, written atomically). */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "schedkit/registry.h"
#include "schedkit/transfer.h"

#define PASSWORD_MAX 8192

static void usage_login(FILE *f)
{
	fprintf(f,
		"usage: skbuild login REGISTRY -u USER --password-stdin [options]\n"
		"\n"
		"Checks the credentials against REGISTRY (host[:port]) and stores them in\n"
		"Docker's config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json),\n"
		"or $REGISTRY_AUTH_FILE when set. The password is read from standard input.\n"
		"\n"
		"  -u, --username USER  user name (--username below)\n"
		"%s%s",
		SK_REGISTRY_CLI_HELP, SK_REGISTRY_CLI_HELP_VERBOSE);
}

static void usage_logout(FILE *f)
{
	fprintf(f, "usage: skbuild logout REGISTRY [--authfile FILE]\n"
		   "\n"
		   "Removes the stored credentials for REGISTRY.\n"
		   "\n"
		   "  --authfile FILE     remove them from FILE (default: where login stores)\n");
}

/* REGISTRY as host[:port]; URLs and trailing slashes are tolerated. */
static int parse_registry(const char *arg, struct sk_ref *ref, struct sk_error *err)
{
	char buf[SK_REF_REGISTRY_MAX + 8], host[SK_REF_REGISTRY_MAX];
	size_t n;

	if (!strncmp(arg, "https://", 8))
		arg += 8;
	else if (!strncmp(arg, "http://", 7))
		arg += 7;
	n = strcspn(arg, "/");
	if (!n || n >= sizeof(host))
		return sk_errf(err, -EINVAL, "'%s' is not a registry host name", arg);
	snprintf(host, sizeof(host), "%.*s", (int)n, arg);
	snprintf(buf, sizeof(buf), "%s/x", host);
	if (sk_ref_parse(buf, ref, err))
		return sk_errf(err, -EINVAL, "'%s' is not a registry host name", host);
	if (strcmp(ref->registry, host) && strcmp(ref->registry, SK_DOCKER_HUB))
		return sk_errf(err, -EINVAL,
			       "'%s' is not a registry host name (give host[:port], e.g. "
			       "registry.example.com or localhost:5000)",
			       host);
	if (strcmp(ref->registry, host) && strcmp(host, "index.docker.io") &&
	    strcmp(host, "docker.io"))
		return sk_errf(err, -EINVAL, "'%s' is not a registry host name", host);
	ref->repo[0] = '\0';
	return 0;
}

static char *read_password(void)
{
	struct sk_buf b = {0};
	char chunk[512];
	ssize_t n;

	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > PASSWORD_MAX || sk_buf_append(&b, chunk, (size_t)n)) {
			OPENSSL_cleanse(chunk, sizeof(chunk));
			if (b.data)
				OPENSSL_cleanse(b.data, b.len);
			sk_buf_free(&b);
			return NULL;
		}
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if (!b.data && sk_buf_append(&b, "", 0))
		return NULL;
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	return (char *)b.data;
}

int cmd_login(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    SK_REGISTRY_CLI_LONGOPTS, /* --username and --password-stdin among them */
	    SK_REGISTRY_CLI_LONGOPT_VERBOSE,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_registry_cli reg = {0};
	struct sk_registry *r = NULL;
	struct sk_error err = {0};
	struct sk_ref ref;
	const char *user = NULL;
	char *password = NULL, *path = NULL;
	bool from_stdin = false;
	int c, ret = 1;

	while ((c = sk_cli_getopt(argc, argv, "u:vh", long_opts)) != -1) {
		if (sk_registry_cli_opt(&reg, c == 'u' ? SK_REGISTRY_OPT_USERNAME : c, optarg))
			continue;
		switch (c) {
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage_login, c == 'h');
		}
	}
	/* login reads and checks the password itself, and stores it */
	user = reg.opts.username;
	from_stdin = reg.password_stdin;
	reg.opts.username = NULL;
	reg.password_stdin = false;
	if (argc - optind != 1 || !user || !from_stdin) {
		if (argc - optind == 1 && (!user || !from_stdin))
			sk_die_msg("login: give -u USER and --password-stdin (passwords are not "
				   "taken from the command line)");
		return sk_cli_usage(usage_login, false);
	}
	if (parse_registry(argv[optind], &ref, &err)) {
		sk_die_msg("login: %s", err.msg);
		return 2;
	}
	password = read_password();
	if (!password || !*password) {
		sk_die_msg("login: no password on standard input");
		goto out;
	}
	/* REGISTRY is a host, not a reference: its host joins the list here */
	if ((reg.insecure_ref && sk_strv_push(&reg.insecure, ref.host)) ||
	    sk_registry_cli_finish(&reg, NULL))
		goto out;
	reg.opts.username = user;
	reg.opts.password = password;
	if (sk_registry_open(&ref, &reg.opts, &r, &err) || sk_registry_ping(r, &err)) {
		sk_die_msg("login: %s", err.msg);
		goto out;
	}
	path = sk_cred_store_path(reg.opts.auth_file);
	if (!path || sk_cred_store(path, ref.registry, user, password, &err)) {
		sk_die_msg("login: %s", path ? err.msg : "out of memory");
		goto out;
	}
	fprintf(stderr, "Login succeeded; credentials for %s stored in %s\n", ref.registry, path);
	ret = 0;
out:
	sk_registry_close(r);
	if (password) {
		OPENSSL_cleanse(password, strlen(password));
		free(password);
	}
	free(path);
	sk_registry_cli_free(&reg);
	return ret;
}

int cmd_logout(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"authfile", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sk_error err = {0};
	struct sk_ref ref;
	const char *auth_file = NULL;
	char *path;
	int c, ret;

	while ((c = sk_cli_getopt(argc, argv, "h", long_opts)) != -1) {
		switch (c) {
		case 'a':
			auth_file = optarg;
			break;
		default: /* -h/--help, or a usage error */
			return sk_cli_usage(usage_logout, c == 'h');
		}
	}
	if (argc - optind != 1)
		return sk_cli_usage(usage_logout, false);
	if (parse_registry(argv[optind], &ref, &err)) {
		sk_die_msg("logout: %s", err.msg);
		return 2;
	}
	path = sk_cred_store_path(auth_file);
	if (!path) {
		sk_die_msg("logout: out of memory");
		return 1;
	}
	ret = sk_cred_remove(path, ref.registry, &err);
	if (ret < 0)
		sk_die_msg("logout: %s", err.msg);
	else if (ret == 0)
		fprintf(stderr, "Not logged in to %s (nothing in %s)\n", ref.registry, path);
	else
		fprintf(stderr, "Removed the credentials for %s from %s\n", ref.registry, path);
	free(path);
	return ret < 0 ? 1 : 0;
}
