/* SPDX-License-Identifier: Apache-2.0 */
/* lib/transfer internals: signatures as found in a source or the store. */
#ifndef SK_TRANSFER_INTERNAL_H
#define SK_TRANSFER_INTERNAL_H

#include "schedkit/store.h"
#include "schedkit/transfer.h"
#include "schedkit/trust.h"

/* Signature layers read per digest; more are skipped and counted. */
#define SK_SIGS_READ_MAX 64
/* Verified signatures the store keeps per digest. */
#define SK_SIGS_KEEP_MAX 32

/*
 * A Sigstore bundle attached to a digest (cosign v3): the referrer manifest
 * as found (its subject is the digest), its config and its one layer.
 */
struct sk_sigbundle {
	struct sk_buf manifest;
	char manifest_digest[SK_DIGEST_MAX];
	struct sk_buf config;
	char config_digest[SK_DIGEST_MAX];
	struct sk_buf bundle;
	char bundle_digest[SK_DIGEST_MAX];
	bool accepted; /* by the last sk_sigset_judge */
};

/* Signatures of one digest, each payload verified against its layer digest. */
struct sk_sigset {
	struct sk_sig_list list;
	struct sk_buf *payloads; /* one per list entry as read */
	size_t npayloads;	 /* the list may grow past them when added to */
	size_t skipped;		 /* layers not read: malformed, unreadable or surplus */
	bool found;		 /* a signature manifest existed */
	struct sk_sigbundle *bundles;
	size_t nbundles;
	bool bundles_read; /* looked for (an empty set may have none) */
	/* sk_sigset_fetch: where to look for the bundles if the judge needs them
	 * (the session must stay open until then), and for which digest */
	struct sk_fetch *src;
	char digest[SK_DIGEST_MAX];
};

void sk_sigset_free(struct sk_sigset *s);
/*
 * Reads the sha256-<hex>.sig manifest of digest and its payloads from f.
 * Bundles are looked for later, by sk_sigset_judge, only if these do not
 * satisfy the policy: f must stay open until the set is judged.
 */
int sk_sigset_fetch(struct sk_fetch *f, const char *digest, struct sk_sigset *out,
		    struct sk_error *err);
/* Both kinds at once: the legacy signatures and the bundles (referrers API or tag). */
int sk_sigset_fetch_all(struct sk_fetch *f, const char *digest, struct sk_sigset *out,
			struct sk_error *err);
/* The same from the store (signatures kept by earlier pulls: all verified then). */
int sk_sigset_stored(struct sk_store *st, const char *digest, struct sk_sigset *out,
		     struct sk_error *err);
/*
 * Judges a set; accepted (may be NULL) gets one flag per legacy entry, each
 * bundle its accepted field. A set from sk_sigset_fetch that the policy
 * refuses is completed with its bundles and judged again.
 */
int sk_sigset_judge(struct sk_sigset *set, const struct sk_verify_opts *o, const char *identity,
		    const char *digest, struct sk_verify_result *res, bool *accepted,
		    struct sk_error *err);
/*
 * Adds the accepted signatures of fresh to those the store keeps for digest
 * (deduplicated, at most SK_SIGS_KEEP_MAX of each kind) and records the
 * result: legacy ones under sha256-<hex>.sig, bundles (their manifests as
 * found) in the sha256-<hex> index.
 */
int sk_sigset_keep(struct sk_store *st, const char *digest, const struct sk_sigset *fresh,
		   const bool *accepted, struct sk_error *err);
/* Every bundle of set, unverified, for a layout that only carries them (skbuild save). */
int sk_sigset_carry_bundles(struct sk_store *st, const char *digest, const struct sk_sigset *set,
			    struct sk_error *err);

/*
 * The endpoints a registry source is fetched from (registries.conf: mirrors,
 * then the primary location), each with the source and registry options to
 * open it with. Anything else has one endpoint: itself, unchanged.
 */
struct sk_route {
	size_t n;
	struct sk_endpoint *ep;	      /* NULL for a source that is not a registry */
	struct sk_source *via;	      /* n: the source with the endpoint's reference */
	struct sk_registry_opts *reg; /* n: insecure list and credentials per endpoint */
	struct sk_strv *insecure;     /* n: what reg[i].insecure points at */
	struct sk_buf why;	      /* the failures so far, for the final error */
	size_t failed;
};

int sk_route_open(const struct sk_source *src, const struct sk_registry_opts *reg,
		  struct sk_route *r, struct sk_error *err);
/*
 * Endpoint i failed with err: says so on stderr and records why. true when
 * the next endpoint is worth a try (false for the last one, and for failures
 * of this host, such as a full disk, that no other endpoint changes). When
 * it returns false after more than one endpoint was tried, err lists each
 * endpoint and its reason, with the last one's code.
 */
bool sk_route_next(struct sk_route *r, size_t i, struct sk_error *err);
/* After endpoint i served (verbose: which one did). */
void sk_route_served(const struct sk_route *r, size_t i, bool verbose);
void sk_route_free(struct sk_route *r);

#endif
