# hotpath - GNU Makefile.  Every library comes from pkg-config.
#
#   make            build build/hotpath
#   make run        install missing packages, build, serve with demo data
#   make test       every test: unit (plain and sanitized), golden, e2e, browser
#   make bench      benchmarks; figures go to docs/PERFORMANCE.md
#   make fuzz       build the libFuzzer targets and run each briefly
#   make check-style
#
# SANITIZER=address,undefined builds into build-san/ instead of build/.
# WERROR=1 (set by CI) turns warnings into errors.

CC ?= cc
PKG_CONFIG ?= pkg-config
JSON_PKG := yajl
PKGS := libmicrohttpd sqlite3 libprotobuf-c zlib libzstd libcurl $(JSON_PKG) libsodium

# FUZZ=1 instruments the library for libFuzzer's coverage (see `make fuzz`).
ifdef FUZZ
SANFLAGS_FUZZ := -fsanitize=fuzzer-no-link
endif

ifdef SANITIZER
BUILD := build-san
SANFLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all $(SANFLAGS_FUZZ)
OPT := -O1
else
BUILD := build
OPT := -O2
endif

# -Wno-missing-field-initializers: a route table row may leave out its last
# fields (struct route's access defaults to "by method"), so new routes are
# protected without naming it.
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Wvla -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN += -Werror
endif

GEN := $(BUILD)/gen
CFLAGS ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(SANFLAGS) $(CFLAGS) \
	-Isrc -I$(GEN) -include src/core/banned.h $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
GEN_CFLAGS := -std=c11 -D_GNU_SOURCE $(SANFLAGS) $(CFLAGS) -I$(GEN) -w \
	$(shell $(PKG_CONFIG) --cflags libprotobuf-c 2>/dev/null)
# libcurl is opened on first use (src/core/curl_lazy.c), not linked: its
# headers only.
LINK_PKGS := $(filter-out libcurl,$(PKGS))
LDLIBS := $(shell $(PKG_CONFIG) --libs $(LINK_PKGS) 2>/dev/null) -lm -pthread
LDFLAGS += $(SANFLAGS)

# Protobuf: every .proto under proto/ becomes generated C in $(GEN).
PROTOS := $(shell find proto -name '*.proto' 2>/dev/null | sort)
PROTO_C := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
PROTO_O := $(PROTO_C:.c=.o)

# Web assets embedded into the binary, and the recommendation pages
# (served as /docs/recommendations/NAME.md) with the page they link to.
WEB_FILES := $(shell find web -type f ! -name '*.md' 2>/dev/null | sort)
DOC_FILES := docs/DETECTORS.md $(sort $(wildcard docs/recommendations/*.md))
WEB_C := $(GEN)/web_assets.c

SRCS := $(shell find src -name '*.c' ! -name main.c | sort)
OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRCS)) $(PROTO_O) $(WEB_C:.c=.o)
LIB := $(BUILD)/libhotpath.a
BIN := $(BUILD)/hotpath

# tests/unit/ mirrors src/ (tests/unit/core/test_utf8.c tests src/core/utf8.c);
# the programs are built side by side in $(BUILD)/tests/.
TEST_SRCS := $(sort $(shell find tests/unit -name 'test_*.c'))
TEST_BINS := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(TEST_SRCS))))
vpath test_%.c $(sort $(dir $(TEST_SRCS)))
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.PHONY: all deps run test test-unit test-san test-golden test-e2e test-browser bench fuzz \
	check-style format clean
.DEFAULT_GOAL := all
# Generated sources are kept, not treated as intermediates.
.SECONDARY:

all: $(BIN)

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(BIN) serve --demo --data data

$(BIN): $(BUILD)/obj/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

# Sources see generated headers, so generate first.
$(BUILD)/obj/%.o: %.c $(PROTO_H) | $(GEN)/.dir
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto | $(GEN)/.dir
	protoc-c --c_out=$(GEN) -Iproto $<

$(GEN)/%.pb-c.o: $(GEN)/%.pb-c.c $(PROTO_H)
	$(CC) $(GEN_CFLAGS) -c -o $@ $<

$(BUILD)/embed: scripts/embed.c | $(GEN)/.dir
	$(CC) -std=c11 -O2 -o $@ $<

$(WEB_C): $(WEB_FILES) $(DOC_FILES) $(BUILD)/embed
	$(BUILD)/embed web $(WEB_FILES) $(DOC_FILES) > $@.tmp && mv $@.tmp $@

$(WEB_C:.c=.o): $(WEB_C)
	$(CC) $(GEN_CFLAGS) -Isrc -c -o $@ $<

$(GEN)/.dir:
	@mkdir -p $(GEN) && touch $@

$(BUILD)/tests/test_%: test_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# --- tests --------------------------------------------------------------
# tests/run.sh runs TAP programs and scripts and ends with "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory all $(TEST_BINS)
	@$(MAKE) --no-print-directory SANITIZER=address,undefined test-bins-san
	@tests/run.sh --build $(BUILD) --san build-san

test-unit: all $(TEST_BINS)
	@tests/run.sh --build $(BUILD) --only unit

test-bins-san: $(TEST_BINS)

test-e2e: all
	@tests/run.sh --build $(BUILD) --only e2e

test-browser: all
	@tests/run.sh --build $(BUILD) --only browser

bench: all $(BENCH_BINS)
	@bench/run.sh $(BUILD)

# --- fuzzing: clang + libFuzzer, one binary per fuzz/fuzz_*.c ------------
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
fuzz:
	@$(MAKE) --no-print-directory CC=clang SANITIZER=address,undefined FUZZ=1 BUILD=build-fuzz \
		$(patsubst fuzz/%.c,build-fuzz/fuzz/%,$(FUZZ_SRCS))
	@fuzz/run.sh build-fuzz/fuzz $${FUZZ_SECONDS:-20}

build-fuzz/fuzz/%: fuzz/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

check-style:
	@clang-format --dry-run --Werror $(shell find src tests bench fuzz -name '*.[ch]')
	@scripts/check-layers.sh

format:
	clang-format -i $(shell find src tests bench fuzz -name '*.[ch]')

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
