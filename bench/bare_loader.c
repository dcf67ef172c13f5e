/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bare_loader: the baseline for the attach benchmark, and nothing else.
 * The least a libbpf program must do to run a sched_ext scheduler: open the
 * object, load it, attach its first struct_ops map, say so, and stay until
 * SIGTERM/SIGINT (destroying the link detaches the scheduler). No digest
 * checks, no kernel checks, no supervision: that is the point of comparing.
 *
 *   bare_loader OBJ.bpf.o
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

static struct bpf_map *first_struct_ops(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			return map;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj = NULL;
	struct bpf_link *link = NULL;
	struct bpf_map *map;
	sigset_t set;
	int sig, ret, status = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: bare_loader OBJ.bpf.o\n");
		return 2;
	}
	/* Blocked before attaching, so a SIGTERM sent right after attach is not lost. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		perror("bare_loader: sigprocmask");
		return 1;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "bare_loader: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	ret = bpf_object__load(obj);
	if (ret) {
		fprintf(stderr, "bare_loader: load %s: %s\n", argv[1], strerror(-ret));
		goto out;
	}
	map = first_struct_ops(obj);
	if (!map) {
		fprintf(stderr, "bare_loader: %s has no struct_ops map\n", argv[1]);
		goto out;
	}
	link = bpf_map__attach_struct_ops(map);
	if (!link) {
		fprintf(stderr, "bare_loader: attach %s: %s\n", bpf_map__name(map),
			strerror(errno));
		goto out;
	}
	printf("bare_loader: attached %s\n", bpf_map__name(map));
	fflush(stdout);
	if (sigwait(&set, &sig)) {
		perror("bare_loader: sigwait");
		goto out;
	}
	status = 0;
out:
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return status;
}
