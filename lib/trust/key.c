/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "schedkit/oci.h"
#include "schedkit/trust.h"
#include "internal.h"

struct sk_key {
	EVP_PKEY *pkey;
	enum sk_key_type type;
	bool priv;
};

static const char unsupported_hint[] = "use an ECDSA P-256 or Ed25519 key";

static int classify(EVP_PKEY *pkey, const char *what, enum sk_key_type *type, struct sk_error *err)
{
	char group[64] = "";
	size_t glen = 0;

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*type = SK_KEY_ED25519;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), &glen) &&
		    !strcmp(group, "prime256v1")) {
			*type = SK_KEY_ECDSA_P256;
			return 0;
		}
		return sk_errf(err, -ENOTSUP, "%s: unsupported key type ECDSA %s; %s", what,
			       group[0] ? group : "(unknown curve)", unsupported_hint);
	}
	return sk_errf(err, -ENOTSUP, "%s: unsupported key type %s; %s", what,
		       EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "unknown",
		       unsupported_hint);
}

static int wrap(EVP_PKEY *pkey, bool priv, const char *what, struct sk_key **out,
		struct sk_error *err)
{
	struct sk_key *k;
	enum sk_key_type type = SK_KEY_ECDSA_P256;
	int ret;

	ret = classify(pkey, what, &type, err);
	if (ret) {
		EVP_PKEY_free(pkey);
		return ret;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		return sk_errf(err, -ENOMEM, "out of memory");
	}
	k->pkey = pkey;
	k->type = type;
	k->priv = priv;
	*out = k;
	return 0;
}

int sk_key_generate(struct sk_key **out, struct sk_error *err)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");

	if (!pkey) {
		ERR_clear_error();
		return sk_errf(err, -EIO, "cannot generate an ECDSA P-256 key (OpenSSL failed)");
	}
	return wrap(pkey, true, "generated key", out, err);
}

int sk_key_generate_ed25519(struct sk_key **out, struct sk_error *err)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (!pkey) {
		ERR_clear_error();
		return sk_errf(err, -EIO, "cannot generate an Ed25519 key (OpenSSL failed)");
	}
	return wrap(pkey, true, "generated key", out, err);
}

static int bio_to_buf(BIO *bio, struct sk_buf *out, struct sk_error *err)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);

	if (n < 0 || sk_buf_append(out, data, (size_t)n))
		return sk_errf(err, -ENOMEM, "out of memory");
	return 0;
}

/*
 * PEM_write_bio_PKCS8PrivateKey() would use OpenSSL's default of 2048 PBKDF2
 * rounds, cheap to brute-force; a key file that leaks should cost an attacker
 * far more than it costs us to open it once per signing.
 */
#define PBKDF2_ITERATIONS 600000

static int write_encrypted_pkcs8(BIO *bio, EVP_PKEY *pkey, const char *password)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
	X509_SIG *enc = NULL;
	int ok = 0;

	if (p8)
		enc = PKCS8_encrypt_ex(-1, EVP_aes_256_cbc(), password, (int)strlen(password), NULL,
				       0, PBKDF2_ITERATIONS, p8, NULL, NULL);
	if (enc)
		ok = PEM_write_bio_PKCS8(bio, enc);
	X509_SIG_free(enc);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return ok;
}

int sk_key_private_pem(const struct sk_key *k, const char *password, struct sk_buf *out,
		       struct sk_error *err)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	bool encrypt = password && *password;
	int ret = 0, ok;

	if (!k->priv)
		return sk_errf(err, -EINVAL, "a public key has no private PEM");
	if (!bio)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (encrypt)
		ok = write_encrypted_pkcs8(bio, k->pkey, password);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL);
	if (!ok) {
		ERR_clear_error();
		ret = sk_errf(err, -EIO, "cannot encode the private key as PKCS#8 PEM");
		goto out;
	}
	ret = bio_to_buf(bio, out, err);
out:
	BIO_free(bio);
	return ret;
}

int sk_key_public_pem(const struct sk_key *k, struct sk_buf *out, struct sk_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ret;

	if (!bio)
		return sk_errf(err, -ENOMEM, "out of memory");
	if (!PEM_write_bio_PUBKEY(bio, k->pkey)) {
		ERR_clear_error();
		BIO_free(bio);
		return sk_errf(err, -EIO, "cannot encode the public key as PEM");
	}
	ret = bio_to_buf(bio, out, err);
	BIO_free(bio);
	return ret;
}

/* The new key's directory entry must survive a crash too; best effort, as before. */
static void fsync_parent(const char *path)
{
	char *copy = strdup(path);

	if (copy)
		sk_fsync_dir(dirname(copy), NULL);
	free(copy);
}

/*
 * Atomic like sk_write_file_atomic, but link() instead of rename() so that an
 * existing file is never replaced, not even one created while we wrote.
 */
static int write_new_file(const char *path, const void *data, size_t len, mode_t mode,
			  struct sk_error *err)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	const uint8_t *p = data;
	int fd, ret = 0;

	if (!tmp)
		return sk_errf(err, -ENOMEM, "out of memory");
	snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
	/* mkostemp creates the file 0600, so a private key is never readable by others. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = sk_errf(err, -errno, "%s: cannot create a file next to it: %s", path,
			      strerror(errno));
		free(tmp);
		return ret;
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = sk_errf(err, -errno, "%s: write failed: %s", path, strerror(errno));
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) || fsync(fd)) {
		ret = sk_errf(err, -errno, "%s: cannot sync: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (link(tmp, path)) {
		if (errno == EEXIST)
			ret = sk_errf(err, -EEXIST,
				      "%s already exists; refusing to overwrite it (remove it or "
				      "choose another -o PREFIX)",
				      path);
		else
			ret = sk_errf(err, -errno, "%s: cannot create: %s", path, strerror(errno));
		goto fail;
	}
	unlink(tmp);
	free(tmp);
	fsync_parent(path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return ret;
}

int sk_key_write_pair(const struct sk_key *k, const char *prefix, const char *password,
		      struct sk_error *err)
{
	struct sk_buf priv = {0}, pub = {0};
	char *kpath = NULL, *ppath = NULL;
	int ret;

	if (asprintf(&kpath, "%s.key", prefix) < 0) {
		kpath = NULL;
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (asprintf(&ppath, "%s.pub", prefix) < 0) {
		ppath = NULL;
		ret = sk_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Check both first so that a refused .pub does not leave a lone .key behind. */
	if (!access(kpath, F_OK) || !access(ppath, F_OK)) {
		ret = sk_errf(err, -EEXIST,
			      "%s already exists; refusing to overwrite it (remove it or choose "
			      "another -o PREFIX)",
			      access(kpath, F_OK) ? ppath : kpath);
		goto out;
	}
	ret = sk_key_private_pem(k, password, &priv, err);
	if (!ret)
		ret = sk_key_public_pem(k, &pub, err);
	if (!ret)
		ret = write_new_file(kpath, priv.data, priv.len, 0600, err);
	if (ret)
		goto out;
	ret = write_new_file(ppath, pub.data, pub.len, 0644, err);
	if (ret)
		unlink(kpath);
out:
	sk_buf_free_secret(&priv);
	sk_buf_free(&pub);
	free(kpath);
	free(ppath);
	return ret;
}

/* The label of the first PEM block that is not "EC PARAMETERS", or "" if none. */
static void pem_label(const void *pem, size_t len, char *label, size_t size)
{
	const char *p = pem, *end = p + len;
	static const char begin[] = "-----BEGIN ";

	label[0] = '\0';
	while (p < end) {
		const char *b = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1);
		const char *e;

		if (!b)
			return;
		b += sizeof(begin) - 1;
		e = memmem(b, (size_t)(end - b), "-----", 5);
		if (!e)
			return;
		p = e + 5;
		if ((size_t)(e - b) == 13 && !memcmp(b, "EC PARAMETERS", 13))
			continue;
		snprintf(label, size, "%.*s", (int)(e - b) < 100 ? (int)(e - b) : 100, b);
		return;
	}
}

bool sk_key_pem_is_encrypted(const void *pem, size_t len)
{
	char label[128];

	pem_label(pem, len, label, sizeof(label));
	return !strcmp(label, "ENCRYPTED PRIVATE KEY") ||
	       memmem(pem, len, "Proc-Type: 4,ENCRYPTED", 22);
}

/* Never lets OpenSSL fall back to its own terminal prompt. */
static int password_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t n;

	(void)rwflag;
	if (!pw)
		return -1;
	n = strlen(pw);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

static int check_label(const char *label, bool want_private, const char *what, struct sk_error *err)
{
	if (!label[0])
		return sk_errf(err, -EBADMSG, "%s: not a PEM key (no -----BEGIN line)", what);
	if (strstr(label, "COSIGN PRIVATE KEY") || strstr(label, "SIGSTORE PRIVATE KEY"))
		return sk_errf(err, -ENOTSUP,
			       "%s: this is cosign's own encrypted key format, which schedkit "
			       "cannot read; use the PEM key it was imported from, or a key made "
			       "by `skbuild key generate`",
			       what);
	if (!strcmp(label, "OPENSSH PRIVATE KEY"))
		return sk_errf(err, -ENOTSUP,
			       "%s: OpenSSH key format is not supported; convert it with "
			       "`ssh-keygen -p -m PKCS8 -f %s`",
			       what, what);
	if (want_private && !strcmp(label, "PUBLIC KEY"))
		return sk_errf(err, -EINVAL,
			       "%s: holds a public key; signing needs the private key (.key)",
			       what);
	if (!want_private && strstr(label, "PRIVATE KEY"))
		return sk_errf(err, -EINVAL,
			       "%s: holds a private key; give the public key (.pub) instead, e.g. "
			       "from `skbuild key public %s`",
			       what, what);
	if (!want_private && strcmp(label, "PUBLIC KEY"))
		return sk_errf(err, -EBADMSG, "%s: a \"%s\" PEM block is not a public key", what,
			       label);
	return 0;
}

static bool key_pair_matches(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	bool ok = ctx && EVP_PKEY_pairwise_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

int sk_key_load_private(const void *pem, size_t len, const char *password, const char *what,
			struct sk_key **out, struct sk_error *err)
{
	bool encrypted = sk_key_pem_is_encrypted(pem, len);
	char label[128];
	EVP_PKEY *pkey;
	BIO *bio;
	int ret;

	pem_label(pem, len, label, sizeof(label));
	ret = check_label(label, true, what, err);
	if (ret)
		return ret;
	if (encrypted && !(password && *password))
		return sk_errf(err, -EACCES,
			       "%s: the key is encrypted; set %s or run on a terminal to be asked "
			       "for its password",
			       what, SK_KEY_PASSWORD_ENV);
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return sk_errf(err, -ENOMEM, "out of memory");
	pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, password_cb,
					  encrypted ? (void *)password : NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey) {
		if (encrypted)
			return sk_errf(err, -EACCES,
				       "%s: cannot decrypt the key: wrong password (or a damaged "
				       "file)",
				       what);
		return sk_errf(err, -EBADMSG, "%s: cannot parse the \"%s\" PEM block", what, label);
	}
	/*
	 * A SEC1 or PKCS#8 file may carry a public key that is not the private
	 * key's: OpenSSL keeps it as is, and we would sign with one key while
	 * publishing (and fingerprinting) another.
	 */
	if (!key_pair_matches(pkey)) {
		EVP_PKEY_free(pkey);
		return sk_errf(err, -EBADMSG,
			       "%s: the public key stored in the file does not belong to its "
			       "private key; the file is damaged: regenerate the key pair",
			       what);
	}
	return wrap(pkey, true, what, out, err);
}

int sk_key_load_private_file(const char *path, const char *password, struct sk_key **out,
			     struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	ret = sk_read_file(path, SK_KEY_FILE_MAX, &data, &len, err);
	if (ret)
		return ret;
	ret = sk_key_load_private(data, len, password, path, out, err);
	OPENSSL_cleanse(data, len);
	free(data);
	return ret;
}

/*
 * A key named env://VAR is the PEM in that variable (a CI secret), "-" is read
 * from standard input; anything else is a file.
 */
static int read_key_source(const char *path, uint8_t **data, size_t *len, struct sk_error *err)
{
	if (!strncmp(path, "env://", 6)) {
		const char *v = getenv(path + 6);

		if (!path[6] || !v || !*v)
			return sk_errf(err, -ENOENT,
				       "%s: the environment variable %s is %s; put the PEM key "
				       "in it (e.g. from a CI secret)",
				       path, path[6] ? path + 6 : "(none)",
				       v ? "empty" : "not set");
		*len = strlen(v);
		*data = (uint8_t *)strdup(v);
		return *data ? 0 : sk_errf(err, -ENOMEM, "out of memory");
	}
	if (!strcmp(path, "-"))
		return sk_read_file("/dev/stdin", SK_KEY_FILE_MAX, data, len, err);
	return sk_read_file(path, SK_KEY_FILE_MAX, data, len, err);
}

int sk_key_load_signing_key(const char *path, struct sk_key **out, struct sk_error *err)
{
	uint8_t *data = NULL;
	char *pw = NULL;
	char prompt[600];
	size_t len = 0;
	int ret;

	ret = read_key_source(path, &data, &len, err);
	if (ret)
		return ret;
	if (sk_key_pem_is_encrypted(data, len)) {
		snprintf(prompt, sizeof(prompt), "Password for %s: ", path);
		ret = sk_key_password(prompt, false, &pw, err);
		if (ret)
			goto out;
	}
	ret = sk_key_load_private(data, len, pw, path, out, err);
out:
	sk_password_free(pw);
	OPENSSL_cleanse(data, len);
	free(data);
	return ret;
}

int sk_key_load_public(const void *pem, size_t len, const char *what, struct sk_key **out,
		       struct sk_error *err)
{
	char label[128];
	EVP_PKEY *pkey;
	BIO *bio;
	int ret;

	pem_label(pem, len, label, sizeof(label));
	ret = check_label(label, false, what, err);
	if (ret)
		return ret;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return sk_errf(err, -ENOMEM, "out of memory");
	pkey = PEM_read_bio_PUBKEY_ex(bio, NULL, password_cb, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey)
		return sk_errf(err, -EBADMSG, "%s: cannot parse the PUBLIC KEY PEM block", what);
	return wrap(pkey, false, what, out, err);
}

int sk_key_load_public_file(const char *path, struct sk_key **out, struct sk_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	ret = sk_read_file(path, SK_KEY_FILE_MAX, &data, &len, err);
	if (ret)
		return ret;
	ret = sk_key_load_public(data, len, path, out, err);
	free(data);
	return ret;
}

enum sk_key_type sk_key_type(const struct sk_key *k)
{
	return k->type;
}

bool sk_key_is_private(const struct sk_key *k)
{
	return k->priv;
}

const char *sk_key_type_name(const struct sk_key *k)
{
	return k->type == SK_KEY_ED25519 ? "ed25519" : "ecdsa-p256";
}

int sk_key_fingerprint(const struct sk_key *k, char out[80], struct sk_error *err)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k->pkey, &der);

	if (n <= 0) {
		ERR_clear_error();
		return sk_errf(err, -EIO, "cannot encode the public key");
	}
	sk_digest_buf(der, (size_t)n, out);
	OPENSSL_free(der);
	return 0;
}

bool sk_key_same_public(const struct sk_key *a, const struct sk_key *b)
{
	return EVP_PKEY_eq(a->pkey, b->pkey) == 1;
}

void sk_key_free(struct sk_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

EVP_PKEY *sk_trust_key_pkey(const struct sk_key *k)
{
	return k->pkey;
}

static int read_password_tty(const char *prompt, char **out, struct sk_error *err)
{
	struct termios old, noecho;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool restore;

	/*
	 * Echo goes off before the prompt appears, and without flushing input, so
	 * that an answer typed as soon as the prompt shows is neither echoed nor lost.
	 */
	restore = !tcgetattr(STDIN_FILENO, &old);
	if (restore) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &noecho);
	}
	fputs(prompt, stderr);
	fflush(stderr);
	n = getline(&line, &cap, stdin);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
	fputc('\n', stderr);
	if (n < 0) {
		free(line);
		return sk_errf(err, -EIO, "no password read from the terminal");
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	*out = line;
	return 0;
}

int sk_key_password(const char *prompt, bool confirm, char **out, struct sk_error *err)
{
	const char *env = getenv(SK_KEY_PASSWORD_ENV);
	char *a = NULL, *b = NULL;
	int ret;

	*out = NULL;
	if (env) {
		if (*env && !(*out = strdup(env)))
			return sk_errf(err, -ENOMEM, "out of memory");
		return 0;
	}
	if (!isatty(STDIN_FILENO))
		return 0;
	ret = read_password_tty(prompt, &a, err);
	if (ret)
		return ret;
	if (confirm && *a) {
		ret = read_password_tty("Again: ", &b, err);
		if (ret)
			goto out;
		if (strcmp(a, b)) {
			ret = sk_errf(err, -EINVAL, "the two passwords differ; nothing written");
			goto out;
		}
	}
	if (*a) {
		*out = a;
		a = NULL;
	}
out:
	sk_password_free(a);
	sk_password_free(b);
	return ret;
}

void sk_password_free(char *pw)
{
	if (!pw)
		return;
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
}

void sk_buf_free_secret(struct sk_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	sk_buf_free(b);
}
