# sitewatch: build, run, check, bench, format. GNU make.
# Honours CC, CFLAGS, CPPFLAGS, LDFLAGS, DESTDIR and PREFIX from the environment.

CC ?= cc
CFLAGS ?= -O2 -g
PREFIX ?= /usr
PKGS := libmodbus libserialport libmicrohttpd librrd jansson inih libcurl libsystemd libxcrypt
PYTHON ?= /usr/bin/python3

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wvla -Wundef -Wwrite-strings -Wpointer-arith -Wcast-qual \
        -Wnull-dereference -Wimplicit-fallthrough
PKG_CONFIG ?= pkg-config
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
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
HDRS := $(wildcard src/*.h src/*.def drivers/*.h drivers/*.def tests/*.h tests/emu/*.h tests/fuzz/*.h)

# Objects the emulator and CLI share with the daemon: pure code, no daemon state.
SHARED_SRC := src/util.c src/log.c drivers/vedirect_proto.c drivers/vedirect_fields.c \
              drivers/vedirect_hex.c \
              drivers/vedirect_products.c
SHARED_SRC += drivers/sunspec_proto.c drivers/sunspec_models.c drivers/sunspec_scan.c
SHARED_SRC += drivers/vebus_proto.c
SHARED_SRC += src/mbmap.c src/json.c

B := build
S := build/san

# The source tree the binaries are built from: without an installed map (and without `map =`),
# the daemon and the CLI read its etc/modbus-map.csv. debian/rules sets it empty.
SOURCE_DIR ?= $(CURDIR)
$(B)/obj/src/mbmap.o $(S)/obj/src/mbmap.o build/fuzz/obj/src/mbmap.o: \
    ALL_CPPFLAGS += -DSITEWATCH_SOURCE_DIR='"$(SOURCE_DIR)"'

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

# ThreadSanitizer builds of a unit test (e.g. `make build/tsan/tests/test_runner`), for the code
# that threads share: the runner's command path, the store. Not part of `make check`.
T := build/tsan
TSAN := -fsanitize=thread -fno-omit-frame-pointer
$(T)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC/TSAN $<"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(TSAN) -c -o $@ $<
$(T)/tests/%: $(T)/obj/tests/%.o $(call obj,$(T),$(HARNESS) $(CORE_SRC) $(DRV_SRC))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(TSAN) $(LDFLAGS) -o $@ $^ $(LIBS)

# The unit tests built like the shipped binaries (optimised, no sanitizers): `make unit` runs them;
# the package build does (dh_auto_test), and a cross build runs them under qemu-user through
# UNIT_RUNNER (e.g. UNIT_RUNNER=qemu-aarch64-static).
UNIT_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
$(B)/tests/%: $(B)/obj/tests/%.o $(call obj,$(B),$(HARNESS) $(CORE_SRC) $(DRV_SRC))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
.PHONY: unit-bins
unit-bins: $(UNIT_BINS)
unit: $(UNIT_BINS)
	@f=0; for t in $(UNIT_BINS); do echo "  UNIT    $$t"; $(UNIT_RUNNER) $$t || f=$$((f + 1)); done; \
	    echo "unit: $$f of $(words $(UNIT_BINS)) test programs failed"; [ $$f -eq 0 ]

run: deps all
	@./tests/demo.sh

# the Modbus integration test drives the server with a libmodbus client
check: $(B)/bench/mb_load
# a short libFuzzer pass of every parser target (tests/fuzz/run.sh, FUZZ_SMOKE_SECONDS each),
# and every input that ever crashed one, replayed (tests/fuzz/regress.sh)
check: fuzz-smoke fuzz-regress
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

# Fuzzing (libFuzzer from Debian's clang): every tests/fuzz/fuzz_*.c is one target, linked with
# the core and drivers built by clang with ASan+UBSan. `make fuzz` runs each for FUZZ_SECONDS
# (default 600) on a corpus under build/fuzz/corpus seeded from ../shared/testdata; `make
# fuzz-smoke` (part of `make check`) runs each for FUZZ_SMOKE_SECONDS.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
build/fuzz/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC/FUZZ $<"
	@$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -w -c -o $@ $<
build/fuzz/%: build/fuzz/obj/tests/fuzz/%.o $(call obj,build/fuzz,$(CORE_SRC) $(DRV_SRC))
	@echo "  LD      $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# `make fuzz-regress` (part of `make check`) replays every input that ever crashed a target,
# kept in tests/fuzz/regressions/<target>/ (tests/fuzz/regress.sh, FUZZ_REGRESS_RUNS times each).
# Full logs: build/fuzz/logs/; a failure prints the sanitizer's report.
.PHONY: fuzz fuzz-smoke fuzz-regress
fuzz: deps $(FUZZ_BINS)
	@./tests/fuzz/run.sh $(FUZZ_SECONDS)
fuzz-smoke: $(FUZZ_BINS)
	@./tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS)
fuzz-regress: $(FUZZ_BINS)
	@./tests/fuzz/regress.sh

# Fault injection (README "Reliability"; slow, not part of `make check`): kill -9 while state is
# written, disk full / read-only state dir through an LD_PRELOAD shim, clock steps (faketime),
# device faults in every driver at once, client floods. `make soak` runs the accelerated demo site.
.PHONY: faults soak
build/faults/libfailfs.so: tests/faults/failfs.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -shared -o $@ $< -ldl
faults: deps $(S)/sitewatchd $(S)/sitewatch-emu $(B)/sitewatchd $(B)/sitewatch-emu build/faults/libfailfs.so
	@$(PYTHON) tests/faults/run_faults.py --build $(S)
soak: deps $(B)/sitewatchd $(B)/sitewatch-emu
	@./tests/soak.sh

# The console's JavaScript (uPlot for charts; playwright-core drives Debian's chromium in the
# console tests) comes from npm, pinned by the committed package-lock.json (`npm ci`); uPlot is
# copied into web/vendor/ (not committed) so the daemon serves it from the web root.
NPM ?= npm
node_modules/.package-lock.json: package.json package-lock.json
	@echo "  NPM     ci"
	@$(NPM) ci --no-audit --no-fund --loglevel=error
web/vendor/uPlot.iife.min.js: node_modules/.package-lock.json
	@mkdir -p web/vendor
	@cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css web/vendor/
.PHONY: console
console: web/vendor/uPlot.iife.min.js
all run check install: console

FORMAT_FILES = $(wildcard src/*.[ch] drivers/*.[ch] tests/*.[ch] tests/emu/*.[ch] tests/bench/*.[ch] tests/fuzz/*.[ch])
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)

install: $(B)/sitewatchd $(B)/sitewatch
	install -D -m 0755 $(B)/sitewatchd $(DESTDIR)$(PREFIX)/sbin/sitewatchd
	install -D -m 0755 $(B)/sitewatch $(DESTDIR)$(PREFIX)/bin/sitewatch
	install -d $(DESTDIR)$(PREFIX)/share/sitewatch/web
	cp -r web/. $(DESTDIR)$(PREFIX)/share/sitewatch/web/
	install -D -m 0644 etc/sitewatch.conf $(DESTDIR)/etc/sitewatch/sitewatch.conf
	install -d $(DESTDIR)/etc/sitewatch/alarms.d
	$(if $(wildcard etc/alarms.d/*),install -m 0644 $(wildcard etc/alarms.d/*) $(DESTDIR)/etc/sitewatch/alarms.d/)
	$(if $(wildcard etc/modbus-map.csv),install -D -m 0644 etc/modbus-map.csv $(DESTDIR)/etc/sitewatch/modbus-map.csv)

# Debian package (README "Install and operate"): build/deb/<arch>/sitewatch_<version>_<arch>.deb,
# built by dpkg-buildpackage in a copy of the tree, then lintian. ARCH=arm64 (or armhf)
# cross-builds and runs the unit tests under qemu-user. `make check-deb` also installs, runs,
# upgrades and purges the package in a throwaway Debian 12 root (slow: not part of `make check`).
ARCH ?= $(shell dpkg --print-architecture)
.PHONY: deb check-deb
deb:
	@./.ci/deb-build $(ARCH)
check-deb: $(B)/sitewatch-emu
	@./.ci/deb-build $(ARCH)
	@$(PYTHON) tests/deb/check_deb.py --arch $(ARCH)

clean:
	rm -rf $(B)
