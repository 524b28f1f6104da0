# sitewatch: build, run, check, bench, format. GNU make.
# Honours CC, CFLAGS, CPPFLAGS, LDFLAGS, DESTDIR and PREFIX from the environment.

CC ?= cc
CFLAGS ?= -O2 -g
PREFIX ?= /usr
PYTHON ?= /usr/bin/python3

# Feature switches for the optional dependencies: `make WITH_SYSTEMD=0` builds without libsystemd
# (no sd_notify readiness or watchdog; for boxes without systemd).
WITH_SYSTEMD ?= 1
PKGS := libmodbus libserialport libmicrohttpd librrd jansson inih libcurl libxcrypt
PKGS += $(if $(filter 1,$(WITH_SYSTEMD)),libsystemd)
FEATURES := -DWITH_SYSTEMD=$(WITH_SYSTEMD)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wvla -Wundef -Wwrite-strings -Wpointer-arith -Wcast-qual \
        -Wnull-dereference -Wimplicit-fallthrough
PKG_CONFIG ?= pkg-config
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# Includes name their folder ("core/store.h", "drivers/vedirect_proto.h"); a file's own folder
# is searched first. Nothing outside src/ and drivers/ is on the production include path.
ALL_CPPFLAGS = -std=c11 -D_DEFAULT_SOURCE -Isrc -I. $(FEATURES) $(PKG_CFLAGS) $(CPPFLAGS)
ALL_CFLAGS = $(WARN) $(CFLAGS)
LIBS = $(PKG_LIBS) -lpthread -lm -lutil

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN := -fsanitize=thread -fno-omit-frame-pointer

# Sources come from the folders, never from a hand-kept list: every subsystem folder of src/ and
# every file of drivers/ go into one archive, libsitewatch.a. The daemon, the CLI, the emulator,
# the tests and the benches link against it, and the linker takes only what each one calls, so
# the CLI and the emulator get the drivers' pure protocol code without the daemon's state.
LIB_SRC := $(wildcard src/*/*.c drivers/*.c)
EMU_SRC := $(wildcard tests/emu/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c)
HARNESS := tests/unit/harness.c
BENCH_SRC := $(wildcard tests/bench/*.c)

B := build
S := build/san
T := build/tsan
F := build/fuzz

# The variants of one build: $(B) optimised (shipped, benches), $(S) ASan+UBSan (`make check`),
# $(T) ThreadSanitizer (e.g. `make build/tsan/tests/test_runner`, for the code threads share),
# $(F) clang + libFuzzer instrumentation. The flags follow the output folder.
$(S)/%: VARIANT_FLAGS = $(SAN)
$(T)/%: VARIANT_FLAGS = $(TSAN)
$(F)/%: CC = $(FUZZ_CC)
$(F)/%: ALL_CFLAGS = $(FUZZ_FLAGS) -w
$(F)/obj/%: VARIANT_FLAGS = -fsanitize=fuzzer-no-link
$(F)/%: VARIANT_FLAGS = -fsanitize=fuzzer

# The source tree the binaries are built from: without an installed map (and without `map =`),
# the daemon and the CLI read its etc/modbus-map.csv. debian/rules sets it empty.
SOURCE_DIR ?= $(CURDIR)
$(foreach v,$(B) $(S) $(T) $(F),$(v)/obj/src/modbus/mbmap.o): \
    FEATURES += -DSITEWATCH_SOURCE_DIR='"$(SOURCE_DIR)"'

obj = $(patsubst %.c,$(1)/obj/%.o,$(2))

# One compile rule and one link rule for every variant. Header dependencies are found by the
# compiler (-MMD -MP), so an object is rebuilt when a header or a .def table it includes changes.
COMPILE = @mkdir -p $(dir $@); echo "  CC      $@"; \
          $(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(VARIANT_FLAGS) -MMD -MP -c -o $@ $<
LINK = @mkdir -p $(dir $@); echo "  LD      $@"; \
       $(CC) $(ALL_CFLAGS) $(VARIANT_FLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LIBS)
ARCHIVE = @mkdir -p $(dir $@); echo "  AR      $@"; rm -f $@; $(AR) rcs $@ $^

define variant_rules
$(1)/obj/%.o: %.c
	$$(COMPILE)
$(1)/libsitewatch.a: $$(call obj,$(1),$$(LIB_SRC))
	$$(ARCHIVE)
$(1)/sitewatchd: $$(call obj,$(1),src/main.c) $(1)/libsitewatch.a
	$$(LINK)
$(1)/sitewatch: $$(call obj,$(1),src/cli.c) $(1)/libsitewatch.a
	$$(LINK)
$(1)/sitewatch-emu: $$(call obj,$(1),$$(EMU_SRC)) $(1)/libsitewatch.a
	$$(LINK)
$(1)/tests/%: $(1)/obj/tests/unit/%.o $$(call obj,$(1),$$(HARNESS)) $(1)/libsitewatch.a
	$$(LINK)
$(1)/bench/%: $(1)/obj/tests/bench/%.o $(1)/libsitewatch.a
	$$(LINK)
$(1)/fuzz_%: $(1)/obj/tests/fuzz/fuzz_%.o $(1)/libsitewatch.a
	$$(LINK)
endef
$(foreach v,$(B) $(S) $(T) $(F),$(eval $(call variant_rules,$(v))))
-include $(shell find build -name '*.d' 2>/dev/null)

# Keep intermediate objects: test binaries share them.
.SECONDARY:

.PHONY: all deps run check unit integration bench format format-check clean install
all: $(B)/sitewatchd $(B)/sitewatch $(B)/sitewatch-emu

# Installs what is missing (Debian packages from debian/control, the console's npm packages).
deps:
	@./.ci/install-deps
	@$(MAKE) --no-print-directory console

TEST_BINS := $(patsubst tests/unit/%.c,$(S)/tests/%,$(TEST_SRC))

# The unit tests built like the shipped binaries (optimised, no sanitizers): `make unit` runs them;
# the package build does (dh_auto_test), and a cross build runs them under qemu-user through
# UNIT_RUNNER (e.g. UNIT_RUNNER=qemu-aarch64-static).
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(TEST_SRC))
.PHONY: unit-bins
unit-bins: $(UNIT_BINS)
unit: $(UNIT_BINS)
	@f=0; for t in $(UNIT_BINS); do echo "  UNIT    $$t"; $(UNIT_RUNNER) $$t || f=$$((f + 1)); done; \
	    echo "unit: $$f of $(words $(UNIT_BINS)) test programs failed"; [ $$f -eq 0 ]

run: deps all
	@./tests/tools/demo.sh

# The layout holds: no include circle, no subsystem that includes another's header
# (tests/tools/check_includes.py, which first proves on a small tree that it catches both).
.PHONY: check-includes
check-includes:
	@$(PYTHON) tests/tools/check_includes.py --self-test
	@$(PYTHON) tests/tools/check_includes.py .

# the Modbus integration test drives the server with a libmodbus client
check: $(B)/bench/mb_load
# a short libFuzzer pass of every parser target (tests/fuzz/run.sh, FUZZ_SMOKE_SECONDS each),
# and every input that ever crashed one, replayed (tests/fuzz/regress.sh)
check: fuzz-smoke fuzz-regress
check: deps format-check check-includes all $(S)/sitewatchd $(S)/sitewatch $(S)/sitewatch-emu $(TEST_BINS)
	@$(PYTHON) tests/integration/run_tests.py --build $(S) --units $(TEST_BINS)

# Bench binaries are optimised and not sanitized: they measure.
BENCH_BINS := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))

bench: deps all $(BENCH_BINS)
	@./tests/bench/run.sh

# Fuzzing (libFuzzer from Debian's clang): every tests/fuzz/fuzz_*.c is one target, linked with
# the core and drivers built by clang with ASan+UBSan. `make fuzz` runs each for FUZZ_SECONDS
# (default 600) on a corpus under build/fuzz/corpus seeded from ../shared/testdata; `make
# fuzz-smoke` (part of `make check`) runs each for FUZZ_SMOKE_SECONDS.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(F)/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all

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
	@./tests/tools/soak.sh

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
# A plain `make` needs no npm once web/vendor/ exists (order-only: its age does not matter); the
# first fetch is part of `make deps`.
all run check install: | web/vendor/uPlot.iife.min.js

FORMAT_FILES = $(wildcard src/*.[ch] src/*/*.[ch] drivers/*.[ch] tests/*/*.[ch])
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
