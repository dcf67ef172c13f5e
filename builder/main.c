/* SPDX-License-Identifier: Apache-2.0 */
/* skbuild: build, package, sign and push sched_ext schedulers. */
#include <stdarg.h>

#include "commands.h"
#include "schedkit/cli.h"
#include "schedkit/kernel.h"

static const struct sk_command commands[] = {
    {"build", cmd_build, "compile a scheduler and pack it as an OCI artifact"},
    {"init", cmd_init, "start a new scheduler from a template"},
    {"inspect", cmd_inspect, "show what an artifact contains and requires"},
    {"key", cmd_key, "generate a signing key pair"},
    {"login", cmd_login, "store credentials for a registry"},
    {"logout", cmd_logout, "remove stored credentials for a registry"},
    {"push", cmd_push, "push an artifact from a layout to a registry"},
    {"save", cmd_save, "write an artifact as an oci-archive tarball"},
    {"sign", cmd_sign, "sign an artifact in a registry or a layout (cosign format)"},
    {"vmlinux", cmd_vmlinux, "write vmlinux.h for a kernel's BTF"},
    {"vmtest", cmd_vmtest, "load, attach and run schedulers in the sched_ext test kernel"},
};

void sk_die_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk_cli_verror("skbuild", fmt, ap);
	va_end(ap);
}

int main(int argc, char **argv)
{
	/* libbpf speaks through our log, in order with our own messages */
	sk_kernel_log_init();
	return sk_cli_main("skbuild", commands, sizeof(commands) / sizeof(commands[0]), argc, argv);
}
