/* SPDX-License-Identifier: Apache-2.0 */
/* Reading an artifact for a look (inspect, check): never loaded, so never verified. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedkit/store.h"
#include "schedkit/transfer.h"

int sk_artifact_open_any(const char *arg, const struct sk_pull_opts *opts, const char *arch,
			 struct sk_artifact **out, struct sk_error *err)
{
	const char *base = getenv("TMPDIR");
	struct sk_pull_opts po = {0};
	struct sk_layout *l = NULL;
	struct sk_store *store = NULL;
	struct sk_source src;
	char tmp[4096], digest[SK_DIGEST_MAX];
	int ret;

	*out = NULL;
	ret = sk_source_parse(arg, &src, err);
	if (ret)
		return ret;
	if (src.kind == SK_SOURCE_LAYOUT) {
		ret = sk_layout_open(src.path, &l, err);
		if (!ret)
			ret = sk_artifact_read(l, src.tag, arch, out, err);
		sk_layout_close(l);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s/schedkit-view.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmp)) {
		ret = sk_errf(err, -errno, "cannot create a temporary directory: %s",
			      strerror(errno));
		goto out;
	}
	if (opts)
		po = *opts;
	po.verify = NULL;
	po.copy_signatures = false;
	po.arch = arch;
	ret = sk_store_open(tmp, &store, err);
	if (!ret)
		ret = sk_pull(store, arg, &po, digest, NULL, err);
	if (!ret)
		ret = sk_artifact_read(sk_store_layout(store), digest, arch, out, err);
	sk_store_close(store);
	sk_rm_rf(tmp);
out:
	sk_source_free(&src);
	return ret;
}
