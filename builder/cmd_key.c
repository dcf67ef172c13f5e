/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild key: make and inspect signing keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/trust.h"
#include "schedkit/transfer.h"
#include "commands.h"

#define DEFAULT_PREFIX "schedkit"

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: skbuild key generate [-o PREFIX] [--type ecdsa-p256|ed25519]\n"
	       "       skbuild key public KEY\n"
	       "\n"
	       "generate  make an ECDSA P-256 signing key pair: PREFIX.key (PKCS#8 PEM, mode\n"
	       "          0600) and PREFIX.pub (PUBLIC KEY PEM, what hosts put in their trust\n"
	       "          policy). Existing files are never replaced. PREFIX defaults to\n"
	       "          '" DEFAULT_PREFIX "'. The private key is encrypted (AES-256-CBC) when a\n"
	       "          password is given: $" SK_KEY_PASSWORD_ENV " (empty: no password), or\n"
	       "          asked for when stdin is a terminal. --type ed25519 makes an Ed25519\n"
	       "          pair instead (cosign 2.5 as packaged imports Ed25519 PEM keys but\n"
	       "          refuses ECDSA ones).\n"
	       "public    print the public key of a private KEY: a file, env://VAR or - for\n"
	       "          standard input (asks for its password if it is encrypted).\n"
	       "\n"
	       "  -o, --output PREFIX  generate: write PREFIX.key and PREFIX.pub\n"
	       "  --type TYPE          generate: ecdsa-p256 (default) or ed25519\n"
	       "\n"
	       "Keys from elsewhere work too: EC (SEC1 or PKCS#8, P-256) and Ed25519 PEM keys,\n"
	       "encrypted or not. The same PEM key can be imported into cosign with\n"
	       "`cosign import-key-pair --key PREFIX.key` (unencrypted PEM).\n");
}

static int key_generate(int argc, char **argv)
{
	const char *prefix = DEFAULT_PREFIX;
	bool ed25519 = false;
	struct sk_error err = {0};
	struct sk_key *k = NULL;
	char *pw = NULL;
	char fp[80];
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
			prefix = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "--type") && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "ed25519") && strcmp(argv[i], "ecdsa-p256")) {
				sk_die_msg("key generate: --type %s: use ecdsa-p256 or ed25519",
					   argv[i]);
				return 2;
			}
			ed25519 = !strcmp(argv[i], "ed25519");
			continue;
		}
		sk_die_msg("key generate: unexpected argument '%s'; see 'skbuild key --help'",
			   argv[i]);
		return 2;
	}
	if (!*prefix) {
		sk_die_msg("key generate: -o needs a non-empty PREFIX");
		return 2;
	}
	ret =
	    sk_key_password("Password for the new private key (empty for none): ", true, &pw, &err);
	if (!ret)
		ret = ed25519 ? sk_key_generate_ed25519(&k, &err) : sk_key_generate(&k, &err);
	if (!ret)
		ret = sk_key_write_pair(k, prefix, pw, &err);
	if (!ret)
		ret = sk_key_fingerprint(k, fp, &err);
	if (ret) {
		sk_die_msg("key generate: %s", err.msg);
		goto out;
	}
	printf("wrote %s.key (%s) and %s.pub\n", prefix,
	       pw ? "encrypted" : "NOT encrypted: anyone who reads it can sign", prefix);
	printf("public key %s\n", fp);
out:
	sk_password_free(pw);
	sk_key_free(k);
	return ret ? 1 : 0;
}

static int key_public(int argc, char **argv)
{
	struct sk_error err = {0};
	struct sk_buf pem = {0};
	struct sk_key *k = NULL;
	int ret;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2) {
		sk_die_msg("key public: give one private key file; see 'skbuild key --help'");
		return 2;
	}
	ret = sk_key_load_signing_key(argv[1], &k, &err);
	if (!ret)
		ret = sk_key_public_pem(k, &pem, &err);
	if (ret)
		sk_die_msg("key public: %s", err.msg);
	else
		fwrite(pem.data, 1, pem.len, stdout);
	sk_buf_free(&pem);
	sk_key_free(k);
	return ret ? 1 : 0;
}

int cmd_key(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	/* what sk_cli_getopt lists for the other commands (completions, man page test) */
	if (!strcmp(argv[1], "--list-options") && argc == 2) {
		printf("--output=\n--type=\n--help\n-o\n-h\n");
		return 0;
	}
	if (!strcmp(argv[1], "generate"))
		return key_generate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "public"))
		return key_public(argc - 1, argv + 1);
	sk_die_msg("key: '%s' is not a key command (generate, public); see 'skbuild key --help'",
		   argv[1]);
	return 2;
}
