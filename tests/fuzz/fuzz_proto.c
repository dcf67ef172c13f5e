/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frames from the fetch helper (lib/transfer/proto.c): the helper is the less
 * trusted side of skrun, so whatever bytes it sends must decode to one JSON
 * object within the limits, or be refused with a message.
 */
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
	json_object_put(msg);
	return 0;
}
