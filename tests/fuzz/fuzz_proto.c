/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frames from the fetch helper (lib/transfer/proto.c): the helper is the less
 * trusted side of skrun, so whatever bytes it sends must decode to one JSON
 * object within the limits, or be refused with a message. The "blobs" batch
 * the helper reads (protocol v2) is checked the same way: accepted items are
 * digests with sizes within bounds, never more than SK_PROTO_BATCH_MAX, never
 * one twice.
 */
#include <string.h>

#include "fuzz.h"
#include "schedkit/transfer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *msg = NULL;
	struct sk_error err = {0};
	int ret;

	if (size > SK_PROTO_MSG_MAX + 4)
		return 0;
	ret = sk_proto_decode(data, size, &msg, &err);
	FZ_CHECK_ERROR(ret, &err);
	FZ_ASSERT(ret != 0 || json_object_is_type(msg, json_type_object),
		  "a decoded frame that is not an object");
	FZ_ASSERT(ret == 0 || !msg, "a refused frame left a message behind");
	/* a "blobs" batch: whatever the frame says, what is accepted is within bounds */
	if (!ret) {
		static struct sk_proto_blob items[SK_PROTO_BATCH_MAX];
		struct sk_error e = {0};
		size_t n = SK_PROTO_BATCH_MAX + 1;

		ret = sk_proto_blobs_parse(msg, items, SK_PROTO_BATCH_MAX, &n, &e);
		FZ_CHECK_ERROR(ret, &e);
		FZ_ASSERT(ret == 0 || n == 0, "a refused batch reported items");
		FZ_ASSERT(n <= SK_PROTO_BATCH_MAX, "a batch over SK_PROTO_BATCH_MAX items");
		for (size_t i = 0; i < n; i++) {
			FZ_ASSERT(sk_digest_valid(items[i].digest),
				  "an accepted item is no digest");
			FZ_ASSERT(items[i].size >= 0 && (uint64_t)items[i].size <= SK_BLOB_MAX,
				  "an accepted item's size is out of bounds");
			for (size_t k = 0; k < i; k++)
				FZ_ASSERT(strcmp(items[k].digest, items[i].digest),
					  "a digest accepted twice");
		}
	}
	json_object_put(msg);
	return 0;
}
