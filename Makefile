# sitewatch: build, run, check, bench, format. GNU make.
# Honours CC, CFLAGS, CPPFLAGS, LDFLAGS, DESTDIR and PREFIX from the environment.

CC ?= cc
CFLAGS ?= -O2 -g
PREFIX ?= /usr
PKGS := libmodbus libserialport libmicrohttpd librrd jansson inih libcurl
PYTHON ?= /usr/bin/python3

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wvla -Wundef -Wwrite-strings -Wpointer-arith -Wcast-qual \
        -Wnull-dereference -Wimplicit-fallthrough
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CPPFLAGS = -std=c11 -D_DEFAULT_SOURCE -Isrc -Idrivers -Itests $(PKG_CFLAGS) $(CPPFLAGS)
ALL_CFLAGS = $(WARN) $(CFLAGS)
LIBS = $(PKG_LIBS) -lpthread -lm -lutil

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

CORE_SRC := $(filter-out src/main.c src/cli.c,$(wildcard src/*.c))
DRV_SRC := $(wildcard drivers/*.c)
EMU_SRC := $(wildcard tests/emu/*.c)
TEST_SRC := $(wildcard tests/test_*.c)
HARNESS := tests/harness.c
BENCH_SRC := $(wildcard tests/bench/*.c)
HDRS := $(wildcard src/*.h drivers/*.h drivers/*.def tests/*.h tests/emu/*.h)

# Objects the emulator and CLI share with the daemon: pure code, no daemon state.
SHARED_SRC := src/util.c src/log.c drivers/vedirect_proto.c drivers/vedirect_fields.c \
              drivers/vedirect_hex.c \
              drivers/vedirect_products.c

B := build
S := build/san

obj = $(patsubst %.c,$(1)/obj/%.o,$(2))

# Keep intermediate objects: test binaries share them.
.SECONDARY:

.PHONY: all deps run check unit integration bench format format-check clean install
all: $(B)/sitewatchd $(B)/sitewatch $(B)/sitewatch-emu

deps:
	@./.ci/install-deps

$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(S)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC/SAN  $<"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(SAN) -c -o $@ $<

$(B)/sitewatchd: $(call obj,$(B),src/main.c $(CORE_SRC) $(DRV_SRC))
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/sitewatch: $(call obj,$(B),src/cli.c $(SHARED_SRC))
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/sitewatch-emu: $(call obj,$(B),$(EMU_SRC) $(SHARED_SRC))
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# Sanitized builds used by `make check`.
$(S)/sitewatchd: $(call obj,$(S),src/main.c $(CORE_SRC) $(DRV_SRC))
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(S)/sitewatch: $(call obj,$(S),src/cli.c $(SHARED_SRC))
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(S)/sitewatch-emu: $(call obj,$(S),$(EMU_SRC) $(SHARED_SRC))
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(S)/tests/%: $(S)/obj/tests/%.o $(call obj,$(S),$(HARNESS) $(CORE_SRC) $(DRV_SRC))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)

TEST_BINS := $(patsubst tests/%.c,$(S)/tests/%,$(TEST_SRC))

run: deps all
	@./tests/demo.sh

check: deps format-check all $(S)/sitewatchd $(S)/sitewatch $(S)/sitewatch-emu $(TEST_BINS)
	@$(PYTHON) tests/run_tests.py --build $(S) --units $(TEST_BINS)

# Bench binaries are optimised and not sanitized: they measure.
$(B)/bench/%: $(B)/obj/tests/bench/%.o $(call obj,$(B),$(CORE_SRC) $(DRV_SRC))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
BENCH_BINS := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))

bench: deps all $(BENCH_BINS)
	@./tests/bench/run.sh

FORMAT_FILES = $(wildcard src/*.[ch] drivers/*.[ch] tests/*.[ch] tests/emu/*.[ch] tests/bench/*.[ch] tests/fuzz/*.[ch])
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)

install: all
	install -D -m 0755 $(B)/sitewatchd $(DESTDIR)$(PREFIX)/sbin/sitewatchd
	install -D -m 0755 $(B)/sitewatch $(DESTDIR)$(PREFIX)/bin/sitewatch
	install -d $(DESTDIR)$(PREFIX)/share/sitewatch/web
	cp -r web/. $(DESTDIR)$(PREFIX)/share/sitewatch/web/
	install -D -m 0644 etc/sitewatch.conf $(DESTDIR)/etc/sitewatch/sitewatch.conf

clean:
	rm -rf $(B)
