/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BPF objects handed to the analyzer: sk_sched_analyze reads the ELF with
 * libelf, its BTF with libbpf and opens it with bpf_object__open_mem (no
 * load). Pulled artifacts carry such objects from whoever built them.
 */
#include <bpf/libbpf.h>

#include "fuzz.h"
#include "schedkit/kernel.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* libbpf's warnings about broken objects would flood the fuzzer's output. */
	libbpf_set_print(quiet);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_error err = {0};
	struct sk_sched_info *info = NULL;
	struct json_object *j;
	int ret;

	ret = sk_sched_analyze(data, size, NULL, &info, &err);
	FZ_CHECK_ERROR(ret, &err);
	if (ret) {
		FZ_ASSERT(!info, "failed but returned an analysis");
		return 0;
	}
	j = sk_sched_info_to_json(info);
	FZ_ASSERT(j, "sk_sched_info_to_json failed");
	json_object_put(j);
	sk_sched_info_free(info);
	return 0;
}
