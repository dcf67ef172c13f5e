# schedkit: skbuild (builder/), skrun (runner/), libschedkit (lib/).
# `make demo` and `make check` install what is missing first (scripts/deps.sh).

BUILD    ?= build
SAN      ?=
PREFIX   ?= /usr/local
DATADIR  ?= $(PREFIX)/share/schedkit
CC       ?= gcc

PKGS     := libbpf libarchive libcurl json-c openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl: the minimal static build of scripts/build-curl.sh (make deps) when it
# is there: HTTP(S), HTTP/2, proxies, Basic/Bearer, and 5 shared libraries at
# start instead of Debian's libcurl4 and its ~40. Else the system's.
CURL_MIN   ?= /var/cache/schedkit/curl-min
ifneq ($(wildcard $(CURL_MIN)/lib/libcurl.a),)
CURL_LIBS  := $(CURL_MIN)/lib/libcurl.a -lnghttp2 -lssl -lcrypto -lz -lpthread
else
CURL_LIBS  := $(shell pkg-config --libs libcurl 2>/dev/null)
endif
PKG_LIBS   := $(CURL_LIBS) $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null) -lelf -lz

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 -Wall -Wextra -Werror -Wno-format-truncation -D_GNU_SOURCE -Ilib/include $(PKG_CFLAGS) \
	    -DSK_SRC_DATADIR=\"$(CURDIR)\"
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif

LIBEXECDIR ?= $(PREFIX)/libexec
# The resident skrun links these and nothing else: no libcurl, libssl or
# libarchive (tests/host/footprint.sh checks ldd). Network and archive code
# lives in NET_SRCS, linked only into skbuild and the fetch helper.
CORE_LIBS  := $(shell pkg-config --libs libbpf json-c libcrypto 2>/dev/null) -lelf -lz
NET_SRCS   := lib/registry/client.c lib/registry/push.c lib/registry/sign.c \
	      lib/registry/sign_bundle.c lib/registry/keyless.c \
	      lib/store/archive.c lib/oci/tar.c
LIB_SRCS     := $(sort $(shell find lib -name '*.c'))
CORE_SRCS    := $(filter-out $(NET_SRCS),$(LIB_SRCS))
BUILDER_SRCS := $(sort $(wildcard builder/*.c))
RUNNER_SRCS  := $(sort $(wildcard runner/*.c))
FETCHER_SRCS := $(sort $(wildcard fetcher/*.c))
UNIT_SRCS    := $(sort $(wildcard tests/unit/test_*.c))
HEADERS      := $(shell find lib fetcher -name '*.h')

CORE_OBJS    := $(CORE_SRCS:%.c=$(BUILD)/%.o)
NET_OBJS     := $(NET_SRCS:%.c=$(BUILD)/%.o)
BUILDER_OBJS := $(BUILDER_SRCS:%.c=$(BUILD)/%.o)
RUNNER_OBJS  := $(RUNNER_SRCS:%.c=$(BUILD)/%.o)
FETCHER_OBJS := $(FETCHER_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS    := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

CFLAGS   += -DSK_LIBEXECDIR=\"$(LIBEXECDIR)\"

.PHONY: all tests deps kernel check demo asan lint fuzz format format-check install clean

all: $(BUILD)/skbuild $(BUILD)/skrun $(BUILD)/skrun-fetch $(BUILD)/completions/skbuild $(BUILD)/completions/skrun

# bash completions, generated from the commands' own option tables
$(BUILD)/completions/%: $(BUILD)/% scripts/gen-completions.sh
	@mkdir -p $(dir $@)
	sh scripts/gen-completions.sh $* $< >$@.tmp && mv $@.tmp $@

# Unit tests need cmocka and the test kernel's BTF (make kernel) for their BPF objects.
tests: $(UNIT_BINS) $(BUILD)/tests/sigstore/verify-bundle $(BUILD)/tests/sigstore/standin

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilib -c $< -o $@

$(BUILD)/libschedkit.a: $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libschedkit-net.a: $(NET_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/skbuild: $(BUILDER_OBJS) $(BUILD)/libschedkit-net.a $(BUILD)/libschedkit.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# -Wl,--as-needed would hide a stray dependency; the short list makes one a link error.
$(BUILD)/skrun: $(RUNNER_OBJS) $(BUILD)/libschedkit.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(BUILD)/skrun-fetch: $(FETCHER_OBJS) $(BUILD)/libschedkit-net.a $(BUILD)/libschedkit.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(shell pkg-config --libs libarchive json-c libcrypto 2>/dev/null)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libschedkit-net.a $(BUILD)/libschedkit.a $(HEADERS) | $(BUILD)/skrun-fetch
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ $< $(BUILD)/libschedkit-net.a $(BUILD)/libschedkit.a $(PKG_LIBS) -lcmocka

# Small BPF objects the unit tests analyse; vmlinux.h from the test kernel
# (bpftool for now, our own generator later).
BPF_TEST_SRCS := $(sort $(wildcard tests/unit/bpf/*.bpf.c))
BPF_TEST_OBJS := $(BPF_TEST_SRCS:tests/unit/bpf/%.bpf.c=$(BUILD)/tests/bpf/%.bpf.o)

KERNEL_CACHE ?= /var/cache/schedkit/kernel

# The test objects are built against the header our own generator writes.
$(BUILD)/vmlinux/vmlinux.h: $(KERNEL_CACHE)/vmlinux $(BUILD)/skbuild
	SCHEDKIT_CACHE=$(BUILD)/cache $(BUILD)/skbuild vmlinux --btf $< -o $(dir $@) >/dev/null

$(KERNEL_CACHE)/vmlinux:
	@echo "missing $@ (the test kernel's BTF): run make kernel" >&2; exit 1

$(BUILD)/tests/bpf/%.bpf.o: tests/unit/bpf/%.bpf.c $(wildcard tests/unit/bpf/*.h) $(BUILD)/vmlinux/vmlinux.h
	@mkdir -p $(dir $@)
	clang-16 -target bpf -mcpu=v3 -O2 -g -fms-extensions -Wno-microsoft-anon-tag -D__TARGET_ARCH_x86 -I$(BUILD)/vmlinux -Ibpf -c $< -o $@

$(UNIT_BINS): $(BPF_TEST_OBJS)
$(BUILD)/lib/kernel/requirements.o: lib/kernel/releases.def

deps:
	sh scripts/deps.sh

# KERNELS="sid 6.16 7.1 7.3": also those, into $(KERNEL_CACHE)/NAME/ (the kernel matrix)
kernel:
	sh tests/vm/fetch-kernel.sh
	$(if $(KERNELS),sh tests/vm/fetch-kernel.sh $(KERNELS))

asan:
	$(MAKE) BUILD=build-asan SAN=1 all tests

# the builds before the tests use every core (CI has two)
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

check:
	sh scripts/deps.sh
	sh tests/vm/fetch-kernel.sh >/dev/null
	sh tests/vm/fetch-scx.sh >/dev/null
	sh tests/vm/fetch-clang.sh >/dev/null
	$(MAKE) -j$(CHECK_JOBS) all tests
	$(MAKE) -j$(CHECK_JOBS) asan
	sh tests/run.sh

demo:
	sh scripts/deps.sh
	sh tests/vm/fetch-kernel.sh >/dev/null
	$(MAKE) all
	sh scripts/demo.sh

# Benchmarks against the peers (oras, cosign, bare libbpf, bare clang):
# bench/results.md and bench/results.json. Phony: bench/ is a directory.
.PHONY: bench
bench:
	sh scripts/deps.sh
	sh tests/vm/fetch-kernel.sh >/dev/null
	$(MAKE) all
	sh scripts/bench.sh

lint:
	sh scripts/lint.sh

# libFuzzer harnesses (tests/fuzz/), each run for FUZZ_SECONDS; make check runs a short version.
FUZZ_SECONDS ?= 60
fuzz:
	sh scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	clang-format -i $(LIB_SRCS) $(HEADERS) $(BUILDER_SRCS) $(RUNNER_SRCS) $(FETCHER_SRCS) $(UNIT_SRCS)

format-check:
	clang-format --dry-run --Werror $(LIB_SRCS) $(HEADERS) $(BUILDER_SRCS) $(RUNNER_SRCS) $(FETCHER_SRCS) $(UNIT_SRCS)

install: all
	install -D -m 0755 $(BUILD)/skbuild $(DESTDIR)$(PREFIX)/bin/skbuild
	install -D -m 0755 $(BUILD)/skrun $(DESTDIR)$(PREFIX)/bin/skrun
	install -D -m 0755 $(BUILD)/skrun-fetch $(DESTDIR)$(LIBEXECDIR)/schedkit/skrun-fetch
	mkdir -p $(DESTDIR)$(DATADIR)/bpf
	cp -r bpf/. $(DESTDIR)$(DATADIR)/bpf/
	install -D -m 0644 templates/systemd/skrun.service $(DESTDIR)$(PREFIX)/lib/systemd/system/skrun.service
	install -D -m 0644 docs/man/skbuild.1 $(DESTDIR)$(PREFIX)/share/man/man1/skbuild.1
	install -D -m 0644 docs/man/skrun.1 $(DESTDIR)$(PREFIX)/share/man/man1/skrun.1
	install -D -m 0644 $(BUILD)/completions/skbuild $(DESTDIR)$(PREFIX)/share/bash-completion/completions/skbuild
	install -D -m 0644 $(BUILD)/completions/skrun $(DESTDIR)$(PREFIX)/share/bash-completion/completions/skrun
	mkdir -p $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DATADIR)/vm
	cp -r templates/scheds/. $(DESTDIR)$(DATADIR)/templates/
	install -m 0644 scripts/vm.sh scripts/vmtest.sh $(DESTDIR)$(DATADIR)/vm/

clean:
	rm -rf build build-asan

# The sigstore-conformance entry point (tests/sigstore/, cli_protocol.md's verify-bundle).
$(BUILD)/tests/sigstore/verify-bundle: tests/sigstore/verify-bundle.c $(BUILD)/libschedkit.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilib $(LDFLAGS) -o $@ $< $(BUILD)/libschedkit.a $(PKG_LIBS)

# A local Fulcio, Rekor and TSA stand-in for the keyless tests (tests/host/sigstore_keyless.sh).
$(BUILD)/tests/sigstore/standin: tests/sigstore/standin.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)
