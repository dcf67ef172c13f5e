# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) against lib/ compiled
# with the same sanitizers, in a private directory so the main build and its
# objects are never touched. Driven by scripts/fuzz.sh and tests/host/fuzz.sh:
#   make -f tests/fuzz/fuzz.mk FUZZ_BUILD=build-fuzz -j2
# The library objects are instrumented for coverage (fuzzer-no-link) so the
# fuzzer steers into the parsers themselves, not only into the harness.

FUZZ_BUILD ?= build-fuzz
FUZZ_CC    ?= clang-16

PKGS       := libbpf libarchive libcurl json-c openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz

SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE \
	       -Ilib/include -Ilib $(PKG_CFLAGS) -DSK_SRC_DATADIR=\"$(CURDIR)\" $(SAN)

LIB_SRCS   := $(sort $(shell find lib -name '*.c'))
HEADERS    := $(shell find lib -name '*.h')
LIB_OBJS   := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

all: $(FUZZ_BINS)

$(FUZZ_BUILD)/lib/%.o: lib/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libschedkit.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libschedkit.a $(HEADERS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libschedkit.a $(PKG_LIBS)

.PHONY: all
