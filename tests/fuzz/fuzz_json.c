/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Untrusted JSON documents: manifests, indexes, configs and token responses
 * all go through sk_json_parse, and every descriptor in them through
 * sk_descriptor_from_json. An accepted document must serialize and parse back
 * to the same bytes (the digest of a manifest is computed from that dump).
 * Regression: crash-descriptor-null-err (a failure reported as success when
 * the caller passed no struct sk_error).
 */
#include "fuzz.h"
#include "schedkit/oci.h"

static void descriptor(struct json_object *o)
{
	struct sk_error err = {0};
	struct sk_descriptor d;
	struct json_object *back;
	int ret;

	ret = sk_descriptor_from_json(o, &d, &err);
	FZ_CHECK_ERROR(ret, &err);
	/* err may be NULL (common.h): the verdict must not depend on it. */
	FZ_ASSERT(!sk_descriptor_from_json(o, &d, NULL) == !ret,
		  "with err NULL the result differs from %d", ret);
	if (ret)
		return;
	FZ_ASSERT(sk_digest_valid(d.digest), "accepted digest %s", d.digest);
	FZ_ASSERT(d.size >= 0, "accepted size %lld", (long long)d.size);
	/* What we read we can write, and reading that gives the same descriptor. */
	back = sk_descriptor_to_json(&d, NULL);
	FZ_ASSERT(back, "sk_descriptor_to_json failed");
	{
		struct sk_descriptor d2;

		ret = sk_descriptor_from_json(back, &d2, &err);
		FZ_ASSERT(!ret, "re-reading a written descriptor: %s", err.msg);
		FZ_ASSERT(!memcmp(&d, &d2, sizeof(d)), "descriptor changed in a round trip");
	}
	json_object_put(back);
}

static void descriptors(struct json_object *doc, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(doc, key, &v))
		return;
	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v) && i < 64; i++)
			descriptor(json_object_array_get_idx(v, i));
	} else {
		descriptor(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	struct json_object *doc = NULL, *again = NULL;
	char *dump, *dump2;
	size_t len, len2;
	int ret;

	ret = sk_json_parse(data, size, "fuzz input", &doc, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (ret) {
		FZ_ASSERT(!doc, "failed but returned a document");
		return 0;
	}
	FZ_ASSERT(json_object_is_type(doc, json_type_object), "accepted a non-object");

	/* An index, a manifest and its config, and the token response fields. */
	descriptors(doc, "manifests");
	descriptors(doc, "layers");
	descriptors(doc, "config");
	descriptors(doc, "subject");
	(void)sk_json_str(doc, "mediaType");
	(void)sk_json_int(doc, "schemaVersion");
	(void)sk_json_str(doc, "token");
	(void)sk_json_str(doc, "access_token");
	(void)sk_json_int(doc, "expires_in");

	dump = sk_json_dump(doc, &len);
	FZ_ASSERT(dump, "sk_json_dump failed");
	ret = sk_json_parse(dump, len, "dump", &again, &err);
	FZ_ASSERT(!ret, "our own dump does not parse: %s", err.msg);
	dump2 = sk_json_dump(again, &len2);
	FZ_ASSERT(dump2 && len == len2 && !memcmp(dump, dump2, len),
		  "dump is not stable across a parse");
	free(dump2);
	free(dump);
	json_object_put(again);
	json_object_put(doc);
	return 0;
}
