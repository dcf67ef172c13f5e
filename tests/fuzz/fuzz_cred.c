/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker config.json and containers auth.json contents: sk_cred_parse, for a
 * registry with a port, Docker Hub (whose entries have several spellings) and
 * a repository-scoped lookup.
 */
#include "fuzz.h"
#include "schedkit/registry.h"

static void one(const char *json, size_t len, const char *registry, const char *repo)
{
	struct sk_error err = {0};
	struct sk_cred c = {0};
	char *helper = NULL;
	int ret;

	ret = sk_cred_parse(json, len, "fuzz/auth.json", registry, repo, &c, &helper, &err);
	FZ_CHECK_ERROR(ret, &err);
	FZ_ASSERT(ret <= 1, "returned %d", ret);
	if (ret == 1)
		FZ_ASSERT(c.username || helper,
			  "matched but gave neither credentials nor a helper");
	if (ret < 0)
		FZ_ASSERT(!c.username && !c.password, "failed but left credentials behind");
	free(helper);
	sk_cred_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_strndup(data, size);

	one(s, size, "127.0.0.1:5000", "team/sched");
	one(s, size, "docker.io", "library/fifo");
	one(s, size, "registry.example.com", "a/b/c");
	free(s);
	return 0;
}
