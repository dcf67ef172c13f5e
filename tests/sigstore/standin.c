/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A local stand-in for Sigstore's services, for tests only: a Fulcio CA
 * (POST /api/v2/signingCert, certificates with embedded SCTs from a CT log
 * of its own), a Rekor v1 log (POST /api/v1/log/entries, dsse 0.0.1 entries
 * with a signed entry timestamp and an inclusion proof under a signed
 * checkpoint) and an RFC 3161 timestamp authority (POST /api/v1/timestamp),
 * on 127.0.0.1, with keys it makes itself.
 *
 *   standin init DIR              keys and certificates into DIR, and
 *                                 DIR/trusted_root.json that trusts exactly them
 *   standin root DIR OUT [--ca-from DIR2] [--tsa-window START END]
 *                                 a variant of the trusted root (another
 *                                 instance's CA; a TSA window elsewhere)
 *   standin serve DIR PORTFILE [--cert-expired] [--no-set]
 *                                 [--checkpoint-unknown-key]
 *                                 serves until killed; writes its port to PORTFILE
 *
 * Nothing here is a real authority: the OIDC token's signature is not
 * checked (its claims are taken as they are), and every key is made fresh
 * for one test run. Its trusted root lives in the test's directory and is
 * named by the test's policy only; it is never merged into a production root
 * (docs/sigstore.md). The knobs make the refusals the tests need: a
 * certificate that expired before the log's time, a log entry without a SET
 * (so that the TSA's time is the only one), a checkpoint signed by a key the
 * trusted root does not know.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ct.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define FULCIO_OID "1.3.6.1.4.1.57264.1."
#define REQ_MAX	   (1u << 20)
#define MAX_LEAVES 4096

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "standin: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static char *path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		die("out of memory");
	return p;
}

/* ---- keys and certificates ---- */

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k)
		die("cannot make a key");
	return k;
}

static void write_key(const char *dir, const char *name, EVP_PKEY *k)
{
	char *p = path(dir, name);
	FILE *f = fopen(p, "w");

	if (!f || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL))
		die("cannot write %s", p);
	fclose(f);
	free(p);
}

static EVP_PKEY *read_key(const char *dir, const char *name)
{
	char *p = path(dir, name);
	FILE *f = fopen(p, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (!k)
		die("cannot read %s (run standin init first)", p);
	fclose(f);
	free(p);
	return k;
}

static void write_cert(const char *dir, const char *name, X509 *x)
{
	char *p = path(dir, name);
	FILE *f = fopen(p, "w");

	if (!f || !PEM_write_X509(f, x))
		die("cannot write %s", p);
	fclose(f);
	free(p);
}

static X509 *read_cert(const char *dir, const char *name)
{
	char *p = path(dir, name);
	FILE *f = fopen(p, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (!x)
		die("cannot read %s", p);
	fclose(f);
	free(p);
	return x;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!e || !X509_add_ext(x, e, -1))
		die("cannot add extension %s", value);
	X509_EXTENSION_free(e);
}

static void set_serial(X509 *x)
{
	unsigned char r[16];
	BIGNUM *bn;

	RAND_bytes(r, sizeof(r));
	r[0] &= 0x7f;
	bn = BN_bin2bn(r, sizeof(r), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
}

/* A self-signed CA, or a leaf of issuer; from/to in seconds from now. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long from,
		       long to, bool ca, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_set_version(x, 2);
	set_serial(x);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (unsigned char *)"schedkit test stand-in",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, issuer, NID_key_usage,
		ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (eku)
		add_ext(x, issuer, NID_ext_key_usage, eku);
	X509_NAME_free(n);
	if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
		die("cannot sign a certificate");
	return x;
}

static unsigned char *spki_der(EVP_PKEY *k, int *len)
{
	unsigned char *der = NULL;

	*len = i2d_PUBKEY(k, &der);
	if (*len <= 0)
		die("cannot encode a public key");
	return der;
}

static void sha256(const void *d, size_t n, unsigned char out[32])
{
	EVP_Digest(d, n, out, NULL, EVP_sha256(), NULL);
}

static char *b64(const void *d, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);

	if (!s)
		die("out of memory");
	EVP_EncodeBlock((unsigned char *)s, d, (int)n);
	return s;
}

static unsigned char *unb64(const char *s, size_t *n)
{
	size_t len = strlen(s);
	unsigned char *d = malloc(len / 4 * 3 + 3);
	int got;

	if (!d || len % 4)
		return NULL;
	got = EVP_DecodeBlock(d, (const unsigned char *)s, (int)len);
	if (got < 0) {
		free(d);
		return NULL;
	}
	*n = (size_t)got - (len && s[len - 1] == '=') - (len > 1 && s[len - 2] == '=');
	return d;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static char *sign_b64(EVP_PKEY *k, const void *d, size_t n, unsigned char **raw, size_t *rawlen)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char sig[256];
	size_t len = sizeof(sig);
	char *out;

	if (!c || EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(c, sig, &len, d, n) != 1)
		die("cannot sign");
	EVP_MD_CTX_free(c);
	if (raw) {
		*raw = malloc(len);
		memcpy(*raw, sig, len);
		*rawlen = len;
	}
	out = b64(sig, len);
	return out;
}

static void fmt_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the trusted root ---- */

static struct json_object *tlog_json(const char *url, EVP_PKEY *k, const char *start)
{
	struct json_object *o = json_object_new_object(), *pk = json_object_new_object();
	struct json_object *vf = json_object_new_object(), *id = json_object_new_object();
	unsigned char h[32], *der;
	int len;
	char *s;

	der = spki_der(k, &len);
	sha256(der, (size_t)len, h);
	json_object_object_add(o, "baseUrl", json_object_new_string(url));
	json_object_object_add(o, "hashAlgorithm", json_object_new_string("SHA2_256"));
	s = b64(der, (size_t)len);
	json_object_object_add(pk, "rawBytes", json_object_new_string(s));
	free(s);
	json_object_object_add(pk, "keyDetails", json_object_new_string("PKIX_ECDSA_P256_SHA_256"));
	json_object_object_add(vf, "start", json_object_new_string(start));
	json_object_object_add(pk, "validFor", vf);
	json_object_object_add(o, "publicKey", pk);
	s = b64(h, 32);
	json_object_object_add(id, "keyId", json_object_new_string(s));
	free(s);
	json_object_object_add(o, "logId", id);
	OPENSSL_free(der);
	return o;
}

static struct json_object *ca_json(const char *cn, X509 *const *chain, int n, const char *start,
				   const char *end)
{
	struct json_object *o = json_object_new_object(), *subj = json_object_new_object();
	struct json_object *cc = json_object_new_object(), *certs = json_object_new_array();
	struct json_object *vf = json_object_new_object();

	json_object_object_add(subj, "organization",
			       json_object_new_string("schedkit test stand-in"));
	json_object_object_add(subj, "commonName", json_object_new_string(cn));
	json_object_object_add(o, "subject", subj);
	for (int i = 0; i < n; i++) {
		struct json_object *c = json_object_new_object();
		unsigned char *der = NULL;
		int len = i2d_X509(chain[i], &der);
		char *s = b64(der, (size_t)len);

		json_object_object_add(c, "rawBytes", json_object_new_string(s));
		json_object_array_add(certs, c);
		free(s);
		OPENSSL_free(der);
	}
	json_object_object_add(cc, "certificates", certs);
	json_object_object_add(o, "certChain", cc);
	json_object_object_add(vf, "start", json_object_new_string(start));
	if (end)
		json_object_object_add(vf, "end", json_object_new_string(end));
	json_object_object_add(o, "validFor", vf);
	return o;
}

static void write_root(const char *dir, const char *out, const char *ca_dir, const char *tsa_start,
		       const char *tsa_end)
{
	struct json_object *r = json_object_new_object(), *a;
	EVP_PKEY *rekor = read_key(dir, "rekor.key"), *ct = read_key(dir, "ct.key");
	X509 *ca = read_cert(ca_dir, "fulcio-ca.crt");
	X509 *tsa[2] = {read_cert(dir, "tsa.crt"), read_cert(dir, "tsa-root.crt")};
	char start[32];
	FILE *f;

	fmt_time(time(NULL) - 86400, start);
	json_object_object_add(
	    r, "mediaType",
	    json_object_new_string("application/vnd.dev.sigstore.trustedroot+json;version=0.1"));
	a = json_object_new_array();
	json_object_array_add(a, tlog_json("http://127.0.0.1/rekor", rekor, start));
	json_object_object_add(r, "tlogs", a);
	a = json_object_new_array();
	json_object_array_add(a, ca_json("NOT FOR PRODUCTION Fulcio", &ca, 1, start, NULL));
	json_object_object_add(r, "certificateAuthorities", a);
	a = json_object_new_array();
	json_object_array_add(a, tlog_json("http://127.0.0.1/ct", ct, start));
	json_object_object_add(r, "ctlogs", a);
	a = json_object_new_array();
	json_object_array_add(
	    a, ca_json("NOT FOR PRODUCTION TSA", tsa, 2, tsa_start ? tsa_start : start, tsa_end));
	json_object_object_add(r, "timestampAuthorities", a);
	f = fopen(out, "w");
	if (!f || fputs(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE),
			f) < 0)
		die("cannot write %s", out);
	fclose(f);
	json_object_put(r);
	EVP_PKEY_free(rekor);
	EVP_PKEY_free(ct);
	X509_free(ca);
	X509_free(tsa[0]);
	X509_free(tsa[1]);
}

static void write_new_key(const char *dir, const char *name)
{
	EVP_PKEY *k = new_key();

	write_key(dir, name, k);
	EVP_PKEY_free(k);
}

static int cmd_init(const char *dir)
{
	EVP_PKEY *ca_key = new_key(), *tsa_root_key = new_key(), *tsa_key = new_key();
	X509 *ca, *tsa_root, *tsa;
	char *root;

	mkdir(dir, 0755);
	ca = make_cert("NOT FOR PRODUCTION Fulcio", ca_key, NULL, NULL, -86400, 30 * 86400, true,
		       NULL);
	tsa_root = make_cert("NOT FOR PRODUCTION TSA root", tsa_root_key, NULL, NULL, -86400,
			     30 * 86400, true, NULL);
	tsa = make_cert("NOT FOR PRODUCTION TSA", tsa_key, tsa_root, tsa_root_key, -86400,
			30 * 86400, false, "critical,timeStamping");
	write_key(dir, "fulcio-ca.key", ca_key);
	write_cert(dir, "fulcio-ca.crt", ca);
	write_key(dir, "tsa-root.key", tsa_root_key);
	write_cert(dir, "tsa-root.crt", tsa_root);
	write_key(dir, "tsa.key", tsa_key);
	write_cert(dir, "tsa.crt", tsa);
	write_new_key(dir, "ct.key");
	write_new_key(dir, "rekor.key");
	write_new_key(dir, "other.key");
	root = path(dir, "trusted_root.json");
	write_root(dir, root, dir, NULL, NULL);
	printf("%s\n", root);
	free(root);
	X509_free(ca);
	X509_free(tsa_root);
	X509_free(tsa);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(tsa_root_key);
	EVP_PKEY_free(tsa_key);
	return 0;
}

/* ---- Fulcio ---- */

struct state {
	const char *dir;
	EVP_PKEY *ca_key, *ct_key, *rekor_key, *other_key, *tsa_key;
	X509 *ca, *tsa, *tsa_root;
	bool cert_expired, no_set, checkpoint_unknown_key;
	unsigned char leaves[MAX_LEAVES][32];
	size_t nleaves;
	char logid_hex[65];
};

static int http_answer(int fd, int status, const char *ctype, const void *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, status < 300 ? "OK" : "Error", ctype, len);

	if (write(fd, head, (size_t)n) != n || (len && write(fd, body, len) != (ssize_t)len))
		return -1;
	return 0;
}

static int http_error(int fd, int status, const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", status, msg);

	fprintf(stderr, "standin: refusing: %s\n", msg);
	return http_answer(fd, status, "application/json", body, (size_t)n);
}

/* The claims of a JWT, unverified (a stand-in takes the token's word). */
static struct json_object *jwt_claims(const char *token)
{
	const char *a = strchr(token, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	char *s;
	unsigned char *raw;
	size_t m = 0, n;
	struct json_object *j;

	if (!a || !b)
		return NULL;
	s = malloc((size_t)(b - a) + 4);
	for (const char *p = a + 1; p < b; p++)
		s[m++] = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	while (m % 4)
		s[m++] = '=';
	s[m] = '\0';
	raw = unb64(s, &n);
	free(s);
	if (!raw)
		return NULL;
	j = json_tokener_parse((char *)raw);
	free(raw);
	return j;
}

static const char *claim(struct json_object *c, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(c, k, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

static void add_raw_ext(X509 *x, int arc, const char *value, bool der)
{
	char oid[64];
	ASN1_OBJECT *o;
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;

	if (!value)
		return;
	snprintf(oid, sizeof(oid), FULCIO_OID "%d", arc);
	o = OBJ_txt2obj(oid, 1);
	if (der) {
		ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
		unsigned char *d = NULL;
		int n;

		ASN1_STRING_set(u, value, -1);
		n = i2d_ASN1_UTF8STRING(u, &d);
		ASN1_OCTET_STRING_set(os, d, n);
		OPENSSL_free(d);
		ASN1_UTF8STRING_free(u);
	} else {
		ASN1_OCTET_STRING_set(os, (const unsigned char *)value, (int)strlen(value));
	}
	e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
	if (!e || !X509_add_ext(x, e, -1))
		die("cannot add a Fulcio extension");
	X509_EXTENSION_free(e);
	ASN1_OBJECT_free(o);
	ASN1_OCTET_STRING_free(os);
}

/* An SCT over the certificate as it is (no SCT list yet: what a precertificate's TBS is). */
static SCT *make_sct(struct state *s, X509 *x)
{
	unsigned char *tbs = NULL, *der, logid[32], ikh[32], *sig = NULL, *buf, *p;
	int tbslen = i2d_re_X509_tbs(x, &tbs), len;
	size_t siglen = 0, n;
	uint64_t ts = (uint64_t)time(NULL) * 1000;
	SCT *sct = SCT_new();

	der = spki_der(s->ct_key, &len);
	sha256(der, (size_t)len, logid);
	OPENSSL_free(der);
	der = spki_der(s->ca_key, &len);
	sha256(der, (size_t)len, ikh);
	OPENSSL_free(der);
	/* RFC 6962 3.2: what the log signs for a precertificate entry */
	n = 1 + 1 + 8 + 2 + 32 + 3 + (size_t)tbslen + 2;
	buf = p = malloc(n);
	*p++ = 0; /* v1 */
	*p++ = 0; /* certificate_timestamp */
	for (int i = 7; i >= 0; i--)
		*p++ = (unsigned char)(ts >> (8 * i));
	*p++ = 0;
	*p++ = 1; /* precert_entry */
	memcpy(p, ikh, 32);
	p += 32;
	*p++ = (unsigned char)(tbslen >> 16);
	*p++ = (unsigned char)(tbslen >> 8);
	*p++ = (unsigned char)tbslen;
	memcpy(p, tbs, (size_t)tbslen);
	p += tbslen;
	*p++ = 0;
	*p++ = 0;
	free(sign_b64(s->ct_key, buf, n, &sig, &siglen));
	free(buf);
	OPENSSL_free(tbs);
	if (!sct || !SCT_set_version(sct, SCT_VERSION_V1) ||
	    !SCT_set_log_entry_type(sct, CT_LOG_ENTRY_TYPE_PRECERT) ||
	    !SCT_set1_log_id(sct, logid, 32))
		die("cannot make an SCT");
	SCT_set_timestamp(sct, ts);
	if (!SCT_set_signature_nid(sct, NID_ecdsa_with_SHA256) ||
	    !SCT_set1_signature(sct, sig, siglen))
		die("cannot sign an SCT");
	free(sig);
	return sct;
}

static int fulcio(struct state *s, int fd, const char *body)
{
	struct json_object *req = json_tokener_parse(body), *v, *claims = NULL, *ans, *chain,
			   *certs;
	const char *token = NULL, *pem = NULL, *pop = NULL, *iss, *sub, *email, *jwr;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *mc = NULL;
	BIO *bio;
	X509 *x = NULL;
	STACK_OF(SCT) *scts = NULL;
	char san[1024], *leaf = NULL, *capem = NULL;
	long len;
	int ret;

	if (req && json_object_object_get_ex(req, "credentials", &v))
		token = claim(v, "oidcIdentityToken");
	if (req && json_object_object_get_ex(req, "publicKeyRequest", &v)) {
		struct json_object *k;

		pop = claim(v, "proofOfPossession");
		if (json_object_object_get_ex(v, "publicKey", &k))
			pem = claim(k, "content");
	}
	if (!token || !pem || !pop || !(claims = jwt_claims(token))) {
		ret = http_error(fd, 400,
				 "a token, a public key and a proof of possession are needed");
		goto out;
	}
	iss = claim(claims, "iss");
	sub = claim(claims, "sub");
	email = claim(claims, "email");
	jwr = claim(claims, "job_workflow_ref");
	bio = BIO_new_mem_buf(pem, -1);
	pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	sig = unb64(pop, &siglen);
	mc = EVP_MD_CTX_new();
	if (!iss || !(email || sub) || !pk || !sig ||
	    EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestVerify(mc, sig, siglen, (const unsigned char *)(email ? email : sub),
			     strlen(email ? email : sub)) != 1) {
		ret = http_error(fd, 401, "the proof of possession does not verify");
		goto out;
	}
	/* what Fulcio makes of the claims: a GitHub workflow, an email, else the subject */
	if (jwr)
		snprintf(san, sizeof(san), "URI:https://github.com/%s", jwr);
	else if (email)
		snprintf(san, sizeof(san), "email:%s", email);
	else
		snprintf(san, sizeof(san), "URI:%s", sub);
	x = X509_new();
	X509_set_version(x, 2);
	set_serial(x);
	X509_set_issuer_name(x, X509_get_subject_name(s->ca));
	{
		X509_NAME *empty =
		    X509_NAME_new(); /* Fulcio's certificates have an empty subject */

		X509_set_subject_name(x, empty);
		X509_NAME_free(empty);
	}
	X509_gmtime_adj(X509_getm_notBefore(x), s->cert_expired ? -7200 : -30);
	X509_gmtime_adj(X509_getm_notAfter(x), s->cert_expired ? -3600 : 600);
	X509_set_pubkey(x, pk);
	add_ext(x, s->ca, NID_key_usage, "critical,digitalSignature");
	add_ext(x, s->ca, NID_ext_key_usage, "codeSigning");
	add_ext(x, s->ca, NID_subject_key_identifier, "hash");
	add_ext(x, s->ca, NID_authority_key_identifier, "keyid:always");
	add_ext(x, s->ca, NID_subject_alt_name, san);
	add_raw_ext(x, 1, iss, false);
	add_raw_ext(x, 2, claim(claims, "event_name"), false);
	add_raw_ext(x, 3, claim(claims, "sha"), false);
	add_raw_ext(x, 4, claim(claims, "workflow"), false);
	add_raw_ext(x, 5, claim(claims, "repository"), false);
	add_raw_ext(x, 6, claim(claims, "ref"), false);
	add_raw_ext(x, 8, iss, true);
	if (!X509_sign(x, s->ca_key, EVP_sha256()))
		die("cannot sign a certificate");
	scts = sk_SCT_new_null();
	sk_SCT_push(scts, make_sct(s, x));
	if (!X509_add1_ext_i2d(x, NID_ct_precert_scts, scts, 0, 0) ||
	    !X509_sign(x, s->ca_key, EVP_sha256()))
		die("cannot embed the SCT");
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(bio, x);
	len = BIO_get_mem_data(bio, &leaf);
	leaf = strndup(leaf, (size_t)len);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(bio, s->ca);
	len = BIO_get_mem_data(bio, &capem);
	capem = strndup(capem, (size_t)len);
	BIO_free(bio);
	ans = json_object_new_object();
	v = json_object_new_object();
	chain = json_object_new_object();
	certs = json_object_new_array();
	json_object_array_add(certs, json_object_new_string(leaf));
	json_object_array_add(certs, json_object_new_string(capem));
	json_object_object_add(chain, "certificates", certs);
	json_object_object_add(v, "chain", chain);
	json_object_object_add(ans, "signedCertificateEmbeddedSct", v);
	{
		const char *text = json_object_to_json_string_ext(ans, JSON_C_TO_STRING_PLAIN);

		ret = http_answer(fd, 201, "application/json", text, strlen(text));
	}
	fprintf(stderr, "standin: fulcio: certificate for %s (issuer %s)\n", san, iss);
	json_object_put(ans);
out:
	SCT_LIST_free(scts);
	X509_free(x);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);
	free(sig);
	free(leaf);
	free(capem);
	json_object_put(claims);
	json_object_put(req);
	return ret;
}

/* ---- Rekor v1 ---- */

static void node(const unsigned char l[32], const unsigned char r[32], unsigned char out[32])
{
	unsigned char buf[65];

	buf[0] = 1;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	sha256(buf, sizeof(buf), out);
}

static size_t split(size_t n)
{
	size_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* RFC 6962 2.1: the root of leaves [lo, hi). */
static void mth(struct state *s, size_t lo, size_t hi, unsigned char out[32])
{
	unsigned char l[32], r[32];
	size_t k;

	if (hi - lo == 1) {
		memcpy(out, s->leaves[lo], 32);
		return;
	}
	k = split(hi - lo);
	mth(s, lo, lo + k, l);
	mth(s, lo + k, hi, r);
	node(l, r, out);
}

/* RFC 6962 2.1.1: the audit path of leaf m in [lo, hi), leaf side first. */
static void path_of(struct state *s, size_t m, size_t lo, size_t hi, struct json_object *out)
{
	unsigned char h[32];
	char x[65];
	size_t k;

	if (hi - lo <= 1)
		return;
	k = split(hi - lo);
	if (m < k) {
		path_of(s, m, lo, lo + k, out);
		mth(s, lo + k, hi, h);
	} else {
		path_of(s, m - k, lo + k, hi, out);
		mth(s, lo, lo + k, h);
	}
	hex(h, 32, x);
	json_object_array_add(out, json_object_new_string(x));
}

static char *checkpoint(struct state *s, size_t size, const unsigned char root[32])
{
	EVP_PKEY *k = s->checkpoint_unknown_key ? s->other_key : s->rekor_key;
	unsigned char *der, id[32], *sig = NULL, *blob;
	char text[512], *r64, *sig64, *note;
	size_t siglen = 0;
	int len;

	der = spki_der(k, &len);
	sha256(der, (size_t)len, id);
	OPENSSL_free(der);
	r64 = b64(root, 32);
	snprintf(text, sizeof(text), "127.0.0.1\n%zu\n%s\n", size, r64);
	free(sign_b64(k, text, strlen(text), &sig, &siglen));
	blob = malloc(4 + siglen);
	memcpy(blob, id, 4); /* the key hint: the key ID's first four bytes */
	memcpy(blob + 4, sig, siglen);
	sig64 = b64(blob, 4 + siglen);
	if (asprintf(&note, "%s\n\xe2\x80\x94 127.0.0.1 %s\n", text, sig64) < 0)
		die("out of memory");
	free(r64);
	free(sig);
	free(blob);
	free(sig64);
	return note;
}

static int rekor(struct state *s, int fd, const char *body)
{
	struct json_object *req = json_tokener_parse(body), *spec, *pc, *vs, *env = NULL, *sigs;
	struct json_object *b = NULL, *ans = NULL, *e, *ver, *proof, *hashes, *o;
	const char *envelope, *verifier, *payload64, *type, *sig64;
	unsigned char *payload = NULL, *sig = NULL, *pem = NULL, h[32], root[32], leaf[1 + 65536];
	size_t plen = 0, siglen = 0, pemlen = 0, idx;
	char ph[65], eh[65], rh[65], *pae = NULL, *body64 = NULL, *set = NULL, *note = NULL;
	char uuid[65];
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *mc = NULL;
	X509 *x = NULL;
	BIO *bio;
	int64_t now = (int64_t)time(NULL);
	int ret, n;

	if (!req || !json_object_object_get_ex(req, "spec", &spec) ||
	    !json_object_object_get_ex(spec, "proposedContent", &pc) ||
	    !(envelope = claim(pc, "envelope")) ||
	    !json_object_object_get_ex(pc, "verifiers", &vs) || json_object_array_length(vs) != 1 ||
	    !(verifier = json_object_get_string(json_object_array_get_idx(vs, 0))) ||
	    !(env = json_tokener_parse(envelope)) || !(payload64 = claim(env, "payload")) ||
	    !(type = claim(env, "payloadType")) ||
	    !json_object_object_get_ex(env, "signatures", &sigs) ||
	    json_object_array_length(sigs) != 1 ||
	    !(sig64 = claim(json_object_array_get_idx(sigs, 0), "sig"))) {
		ret = http_error(fd, 400, "not a dsse 0.0.1 proposed entry");
		goto out;
	}
	payload = unb64(payload64, &plen);
	sig = unb64(sig64, &siglen);
	pem = unb64(verifier, &pemlen);
	if (payload && pem) {
		bio = BIO_new_mem_buf(pem, (int)pemlen);
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		pk = x ? X509_get_pubkey(x) : NULL;
	}
	/* like Rekor: only what verifies is logged */
	if (pk && asprintf(&pae, "DSSEv1 %zu %s %zu ", strlen(type), type, plen) >= 0) {
		size_t pl = strlen(pae);

		pae = realloc(pae, pl + plen);
		memcpy(pae + pl, payload, plen);
		mc = EVP_MD_CTX_new();
		if (EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk) != 1 ||
		    EVP_DigestVerify(mc, sig, siglen, (unsigned char *)pae, pl + plen) != 1) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	if (!pk || s->nleaves >= MAX_LEAVES) {
		ret = http_error(fd, 400, "the envelope's signature does not verify");
		goto out;
	}
	/* the canonical body: sorted keys, as Rekor writes it */
	sha256(payload, plen, h);
	hex(h, 32, ph);
	sha256(envelope, strlen(envelope), h);
	hex(h, 32, eh);
	b = json_object_new_object();
	json_object_object_add(b, "apiVersion", json_object_new_string("0.0.1"));
	json_object_object_add(b, "kind", json_object_new_string("dsse"));
	o = json_object_new_object();
	e = json_object_new_object();
	json_object_object_add(e, "algorithm", json_object_new_string("sha256"));
	json_object_object_add(e, "value", json_object_new_string(eh));
	json_object_object_add(o, "envelopeHash", e);
	e = json_object_new_object();
	json_object_object_add(e, "algorithm", json_object_new_string("sha256"));
	json_object_object_add(e, "value", json_object_new_string(ph));
	json_object_object_add(o, "payloadHash", e);
	e = json_object_new_array();
	{
		struct json_object *one = json_object_new_object();

		json_object_object_add(one, "signature", json_object_new_string(sig64));
		json_object_object_add(one, "verifier", json_object_new_string(verifier));
		json_object_array_add(e, one);
	}
	json_object_object_add(o, "signatures", e);
	json_object_object_add(b, "spec", o);
	{
		const char *text = json_object_to_json_string_ext(
		    b, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		size_t tl = strlen(text);

		if (tl >= sizeof(leaf) - 1) {
			ret = http_error(fd, 400, "entry too large");
			goto out;
		}
		leaf[0] = 0;
		memcpy(leaf + 1, text, tl);
		sha256(leaf, tl + 1, s->leaves[s->nleaves]);
		body64 = b64(text, tl);
	}
	idx = s->nleaves++;
	mth(s, 0, s->nleaves, root);
	hex(root, 32, rh);
	note = checkpoint(s, s->nleaves, root);
	{
		char canon[8192];

		n = snprintf(
		    canon, sizeof(canon),
		    "{\"body\":\"%s\",\"integratedTime\":%lld,\"logID\":\"%s\",\"logIndex\":%zu}",
		    body64, (long long)now, s->logid_hex, idx);
		if (n < 0 || (size_t)n >= sizeof(canon)) {
			ret = http_error(fd, 400, "entry too large");
			goto out;
		}
		set = sign_b64(s->rekor_key, canon, (size_t)n, NULL, NULL);
	}
	ans = json_object_new_object();
	e = json_object_new_object();
	json_object_object_add(e, "body", json_object_new_string(body64));
	json_object_object_add(e, "integratedTime", json_object_new_int64(now));
	json_object_object_add(e, "logID", json_object_new_string(s->logid_hex));
	json_object_object_add(e, "logIndex", json_object_new_int64((int64_t)idx));
	ver = json_object_new_object();
	proof = json_object_new_object();
	hashes = json_object_new_array();
	path_of(s, idx, 0, s->nleaves, hashes);
	json_object_object_add(proof, "checkpoint", json_object_new_string(note));
	json_object_object_add(proof, "hashes", hashes);
	json_object_object_add(proof, "logIndex", json_object_new_int64((int64_t)idx));
	json_object_object_add(proof, "rootHash", json_object_new_string(rh));
	json_object_object_add(proof, "treeSize", json_object_new_int64((int64_t)s->nleaves));
	json_object_object_add(ver, "inclusionProof", proof);
	if (!s->no_set)
		json_object_object_add(ver, "signedEntryTimestamp", json_object_new_string(set));
	json_object_object_add(e, "verification", ver);
	hex(s->leaves[idx], 32, uuid);
	json_object_object_add(ans, uuid, e);
	{
		const char *text = json_object_to_json_string_ext(
		    ans, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

		ret = http_answer(fd, 201, "application/json", text, strlen(text));
	}
	fprintf(stderr, "standin: rekor: entry %zu%s\n", idx, s->no_set ? " (no SET)" : "");
out:
	json_object_put(ans);
	json_object_put(b);
	json_object_put(env);
	json_object_put(req);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_free(pk);
	X509_free(x);
	free(payload);
	free(sig);
	free(pem);
	free(pae);
	free(body64);
	free(set);
	free(note);
	return ret;
}

/* ---- the timestamp authority ---- */

static ASN1_INTEGER *serial_cb(TS_RESP_CTX *ctx, void *data)
{
	ASN1_INTEGER *i = ASN1_INTEGER_new();

	(void)ctx;
	(void)data;
	ASN1_INTEGER_set(i, (long)time(NULL));
	return i;
}

static int tsa(struct state *s, int fd, const void *body, size_t len)
{
	TS_RESP_CTX *ctx = TS_RESP_CTX_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	BIO *in = BIO_new_mem_buf(body, (int)len);
	ASN1_OBJECT *policy = OBJ_txt2obj("1.3.6.1.4.1.57264.2", 1);
	TS_RESP *resp = NULL;
	unsigned char *der = NULL;
	int n, ret;

	sk_X509_push(chain, s->tsa_root);
	if (!ctx || !TS_RESP_CTX_set_signer_cert(ctx, s->tsa) ||
	    !TS_RESP_CTX_set_signer_key(ctx, s->tsa_key) ||
	    !TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256()) ||
	    !TS_RESP_CTX_set_def_policy(ctx, policy) || !TS_RESP_CTX_add_md(ctx, EVP_sha256()) ||
	    !TS_RESP_CTX_set_certs(ctx, chain))
		die("cannot set up the TSA");
	TS_RESP_CTX_set_serial_cb(ctx, serial_cb, NULL);
	resp = TS_RESP_create_response(ctx, in);
	n = resp ? i2d_TS_RESP(resp, &der) : -1;
	if (n <= 0)
		ret = http_error(fd, 400, "not a timestamp request");
	else
		ret = http_answer(fd, 200, "application/timestamp-reply", der, (size_t)n);
	fprintf(stderr, "standin: tsa: timestamp\n");
	OPENSSL_free(der);
	TS_RESP_free(resp);
	TS_RESP_CTX_free(ctx);
	sk_X509_free(chain);
	BIO_free(in);
	ASN1_OBJECT_free(policy);
	return ret;
}

/* ---- serving ---- */

static void serve_one(struct state *s, int fd)
{
	char *buf = malloc(REQ_MAX + 1), *end, method[16], target[512];
	size_t got = 0, need = 0, clen = 0;

	for (;;) {
		ssize_t n = read(fd, buf + got, REQ_MAX - got);

		if (n <= 0)
			goto out;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end && !need) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");

			clen = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
			need = (size_t)(end + 4 - buf) + clen;
			if (need > REQ_MAX)
				goto out;
		}
		if (need && got >= need)
			break;
		if (got == REQ_MAX)
			goto out;
	}
	if (sscanf(buf, "%15s %511s", method, target) != 2 || strcmp(method, "POST")) {
		http_error(fd, 405, "POST only");
		goto out;
	}
	end = strstr(buf, "\r\n\r\n") + 4;
	if (!strcmp(target, "/api/v2/signingCert")) {
		end[clen] = '\0';
		fulcio(s, fd, end);
	} else if (!strcmp(target, "/api/v1/log/entries")) {
		end[clen] = '\0';
		rekor(s, fd, end);
	} else if (!strcmp(target, "/api/v1/timestamp")) {
		tsa(s, fd, end, clen);
	} else {
		http_error(fd, 404, "no such endpoint");
	}
out:
	free(buf);
	close(fd);
}

static int cmd_serve(const char *dir, const char *port_file, int argc, char **argv)
{
	struct state *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	unsigned char *der, id[32];
	int fd, len;
	FILE *f;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--cert-expired"))
			s->cert_expired = true;
		else if (!strcmp(argv[i], "--no-set"))
			s->no_set = true;
		else if (!strcmp(argv[i], "--checkpoint-unknown-key"))
			s->checkpoint_unknown_key = true;
		else
			die("unknown option %s", argv[i]);
	}
	s->dir = dir;
	s->ca_key = read_key(dir, "fulcio-ca.key");
	s->ca = read_cert(dir, "fulcio-ca.crt");
	s->ct_key = read_key(dir, "ct.key");
	s->rekor_key = read_key(dir, "rekor.key");
	s->other_key = read_key(dir, "other.key");
	s->tsa_key = read_key(dir, "tsa.key");
	s->tsa = read_cert(dir, "tsa.crt");
	s->tsa_root = read_cert(dir, "tsa-root.crt");
	der = spki_der(s->rekor_key, &len);
	sha256(der, (size_t)len, id);
	OPENSSL_free(der);
	hex(id, 32, s->logid_hex);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &al))
		die("cannot listen on 127.0.0.1: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	f = fopen(port_file, "w");
	if (!f)
		die("cannot write %s", port_file);
	fprintf(f, "%d\n", ntohs(a.sin_port));
	fclose(f);
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c >= 0)
			serve_one(s, c);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "init"))
		return cmd_init(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "serve"))
		return cmd_serve(argv[2], argv[3], argc - 4, argv + 4);
	if (argc >= 4 && !strcmp(argv[1], "root")) {
		const char *ca_dir = argv[2], *start = NULL, *end = NULL;

		for (int i = 4; i < argc; i++) {
			if (!strcmp(argv[i], "--ca-from") && i + 1 < argc)
				ca_dir = argv[++i];
			else if (!strcmp(argv[i], "--tsa-window") && i + 2 < argc) {
				start = argv[++i];
				end = argv[++i];
			} else
				die("unknown option %s", argv[i]);
		}
		write_root(argv[2], argv[3], ca_dir, start, end);
		return 0;
	}
	fprintf(stderr, "usage: standin init DIR | root DIR OUT [--ca-from DIR2] [--tsa-window "
			"START END] | serve DIR PORTFILE [--cert-expired] [--no-set] "
			"[--checkpoint-unknown-key]\n");
	return 2;
}
