# warren — one top-level Makefile.  `make` builds, `make test` installs deps, builds and runs
# every test, `make demo` runs a local network in namespaces, `make bench` measures.
# Quiet unless V=1; SANITIZE=1 builds with ASan + UBSan in build-san/, SANITIZE=thread with
# ThreadSanitizer in build-tsan/ (docs/testing.md).

CC      ?= cc
BUILD   ?= build
PKGS    := libsodium libb2 libevent libmnl libnftnl libcrypto
# The one version of every program (--version) and of the package: debian/changelog's top entry.
# ("warren (0.9.0) unstable; ...": the second word without its parentheses)
VERSION := $(shell awk 'NR == 1 { print substr($$2, 2, length($$2) - 2) }' debian/changelog)
# Every compiler line that builds the programs' sources (here and tests/fuzz/fuzz.mk) has it.
VERSION_DEF := -DWARREN_VERSION='"$(VERSION)"'
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)

WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
           -Wvla -Wwrite-strings -Wimplicit-fallthrough -Werror
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) -I. -MMD -MP $(VERSION_DEF)
LDFLAGS += -pie -Wl,-z,relro,-z,now
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
           -U_FORTIFY_SOURCE
# libubsan linked statically: next to a shared libasan, the shared libubsan ignores log_path
# and always writes to stderr (gcc 12), and the integration tests collect reports by log_path.
LDFLAGS += -fsanitize=address,undefined -static-libubsan
BUILD   := build-san
else ifeq ($(SANITIZE),thread)
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer -U_FORTIFY_SOURCE
LDFLAGS += -fsanitize=thread
BUILD   := build-tsan
else ifneq ($(filter-out 0,$(SANITIZE)),)
$(error SANITIZE=$(SANITIZE): use SANITIZE=1 (ASan + UBSan) or SANITIZE=thread)
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(PKG_CFLAGS)

# common/: the logger and the escapers every program links (libcommon.a).
LIBCOMMON_SRC := $(wildcard common/*.c)
LIBKEYS_SRC  := $(wildcard keys/lib/*.c)
KEYS_SRC     := $(wildcard keys/*.c)
# tunneld/wg/: the WireGuard protocol alone (noise, cookies, replay, timers, keypairs, allowed
# IPs), libwg.a: no libevent, no sockets, no logger, no files; the daemon's I/O is in tunneld/.
LIBWG_SRC    := $(wildcard tunneld/wg/*.c)
LIBTUNNELD_SRC := $(filter-out tunneld/main.c,$(wildcard tunneld/*.c))
TUNNELD_SRC  := tunneld/main.c
LIBBASTION_SRC := $(filter-out bastion/main.c,$(wildcard bastion/*.c))
BASTION_SRC  := bastion/main.c
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

LIBCOMMON    := $(BUILD)/libcommon.a
LIBKEYS      := $(BUILD)/libkeys.a
LIBWG        := $(BUILD)/libwg.a
LIBTUNNELD   := $(BUILD)/libtunneld.a
LIBBASTION   := $(BUILD)/libbastion.a
BINS         := $(BUILD)/tunneld $(BUILD)/keys $(BUILD)/bastion
# Tools the integration tests run (tests/support/NAME.c, a main each, no library).
TOOL_BINS    := $(BUILD)/tests/udp_impair $(BUILD)/tests/gossip_flood

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
# The protocol's libraries (libwg.a's only dependencies).
WG_LIBS = $(shell pkg-config --libs libsodium libb2 libcrypto 2>/dev/null)
# The unit tests that include nothing of the project but tunneld/wg/ (and tests/support): they
# link against libwg.a and its crypto libraries alone, the proof that it needs nothing else.
WG_UNIT_SRC  := $(shell grep -L '^\#include "\(common\|keys\|bastion\|tunneld/[a-z_0-9]*\.h\)' $(UNIT_SRC))
WG_UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(WG_UNIT_SRC))
# Test objects are not intermediates to delete after linking.
.SECONDARY: $(call obj,$(UNIT_SRC))

.PHONY: all deps test unit unit-bins integration integration-bins integration-all san-selftest demo bench soak clean install version
all: $(BINS) $(TOOL_BINS) $(BUILD)/libwg.checked

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(LIBCOMMON_SRC))
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBKEYS): $(call obj,$(LIBKEYS_SRC))
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBWG): $(call obj,$(LIBWG_SRC))
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# libwg.a must not call the network, files, libevent or the daemon's logger: the build fails
# if any of its undefined symbols is one of those (the sanitizers' own symbols aside).
WG_FORBIDDEN := socket bind connect listen accept accept4 send sendto sendmsg sendmmsg recv recvfrom \
                recvmsg recvmmsg read readv pread pread64 write writev pwrite pwrite64 open open64 \
                openat fopen fdopen ioctl poll 'epoll_.*' 'event_.*' 'evbuffer_.*' 'bufferevent_.*' \
                'evutil_.*' 'log_.*' __read_chk __pread_chk __open_2 __openat_2 __recv_chk \
                __recvfrom_chk
$(BUILD)/libwg.checked: $(LIBWG)
	@$(if $(Q),echo "  CHECK   $< (no I/O)")
	$(Q)bad=$$(nm -u $< | awk '{ print $$2 }' | \
		grep -Ex $(foreach f,$(WG_FORBIDDEN),-e $(f)'(@.*)?') | sort -u); \
	if [ -n "$$bad" ]; then echo "$<: calls what the protocol must not:" $$bad >&2; exit 1; fi; \
	touch $@

$(LIBTUNNELD): $(call obj,$(LIBTUNNELD_SRC))
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBBASTION): $(call obj,$(LIBBASTION_SRC))
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tunneld: $(call obj,$(TUNNELD_SRC)) $(LIBTUNNELD) $(LIBWG) $(LIBKEYS) $(LIBCOMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/keys: $(call obj,$(KEYS_SRC)) $(LIBKEYS) $(LIBCOMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bastion: $(call obj,$(BASTION_SRC)) $(LIBBASTION) $(LIBKEYS) $(LIBCOMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs libssh libseccomp)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBTUNNELD) $(LIBWG) $(LIBBASTION) $(LIBKEYS) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs libssh libseccomp) -lcmocka

# The protocol's own tests: libwg.a, its crypto and cmocka, nothing else (no libevent).
$(WG_UNIT_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBWG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@ (libwg)")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(WG_LIBS) -lcmocka

# keys/ is a program, not a library: the unit tests of its status reader and of its helper
# runner link that one file each (before the libraries, which it uses).
$(BUILD)/tests/test_fleet_view: $(BUILD)/obj/tests/unit/test_fleet_view.o \
    $(call obj,keys/fleet_view.c) $(LIBTUNNELD) $(LIBWG) $(LIBBASTION) $(LIBKEYS) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs libssh libseccomp) -lcmocka
$(BUILD)/tests/test_proc: $(BUILD)/obj/tests/unit/test_proc.o \
    $(call obj,keys/proc.c) $(LIBTUNNELD) $(LIBWG) $(LIBBASTION) $(LIBKEYS) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs libssh libseccomp) -lcmocka

# The forged-handshake flooder of the flood test and benchmark (tests/bench/flood.c).
$(BUILD)/flood: tests/bench/flood.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)

# Handshakes per second on one core, in process (tests/bench/bench_handshake.c): libwg.a alone.
$(BUILD)/bench_handshake: $(BUILD)/obj/tests/bench/bench_handshake.o $(LIBWG)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(WG_LIBS)

# Installs every package the build, the tests, the demo and the benchmarks need.  Idempotent:
# apt-get runs only when something is missing.  tinc, nebula, openvpn and gnuplot-nox are for
# `make bench` only (the peers it compares and its chart; about 93 MiB installed on Debian 12,
# two thirds of it the image codecs gnuplot's libgd pulls in).  bash-builtins gives the test
# scripts a sleep that does not fork (tests/integration/lib_sleep.sh).
DEPS := build-essential pkg-config libsodium-dev libb2-dev libevent-dev libmnl-dev libnftnl-dev \
        libssh-dev libssl-dev libseccomp-dev libcmocka-dev iproute2 iputils-ping iperf3 wireguard-go wireguard-tools \
        openssh-client openssh-server procps psmisc coreutils netcat-openbsd clang time gdb strace \
        systemd systemd-container libcap2-bin util-linux nftables rsync curl python3-asyncssh prometheus \
        bash-builtins tinc nebula openvpn gnuplot-nox
deps:
	$(Q)missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  DEPS    installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Sanitizer options for the unit tests (the integration tests set theirs in
# tests/integration/lib_sanitizer.sh): every report fails the test; yours come last and win.
SAN_ENV := UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:$$UBSAN_OPTIONS" \
           ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:$$ASAN_OPTIONS" \
           TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp:$$TSAN_OPTIONS"

# JOBS=2 runs two test programs (or, below, two integration tests) at a time.
JOBS  ?= 1
unit-bins: $(UNIT_BINS)
# Under ThreadSanitizer only the unit tests that start threads run (they name pthread_create,
# the resolver's pool or the roster persister): the others run one thread, where TSan can find
# nothing, and cost two minutes under it (docs/testing.md).
TSAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,\
                  $(shell grep -l 'pthread_create\|resolver_new\|roster_sync_start\|crypt_pool_new' $(UNIT_SRC)))
UNIT_RUN := $(if $(filter thread,$(SANITIZE)),$(TSAN_UNIT_BINS),$(UNIT_BINS))
unit: $(UNIT_RUN)
	$(Q)$(SAN_ENV) JOBS=$(JOBS) tests/run-unit.sh $(UNIT_RUN)

$(TOOL_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/support/%.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# Which integration tests run: all of them (TESTS=, the default) or the named ones.  The
# ThreadSanitizer build runs the tests of the threaded paths: the resolver's lookups, the
# crypto workers, and the roster persister through the roster tests that publish most;
# docs/testing.md says why.
TSAN_TESTS := test_roster_names test_reresolve test_endpoint_names test_sighup_dns test_crypt_workers \
              test_roster_basic test_roster_apply test_roster_rotate test_roster_converge \
              test_roster_hostile
TESTS ?= $(if $(filter thread,$(SANITIZE)),$(sort $(TSAN_TESTS)))
integration: $(BINS) $(TOOL_BINS) $(BUILD)/flood
	$(Q)BUILD=$(BUILD) JOBS=$(JOBS) tests/integration/run-all.sh $(TESTS)
integration-bins: $(BINS) $(TOOL_BINS) $(BUILD)/flood

# make test's integration step: the three builds' runs in one pool of JOBS (run-all.sh), so
# that the waits of one build's tests (handshakes, timeouts, outages) overlap the work of the
# others'.  build-san/: every test but the no-sanitizer ones.  build/: the tests that run the
# daemons as shipped (no-sanitizer: packages, units, docs), the timing-sensitive ones (alone)
# and the core paths (plain).  build-tsan/: TSAN_TESTS, TUN offloads off and one crypto worker
# in every tunneld (the threads' hand-offs are what TSan checks).  In that order: the plain
# ones start with the package and playbook tests (the longest), the TSan ones mostly wait, so
# the CPU-bound ASan runs fill the rest of the pool and its end.  docs/testing.md, "Time
# budget", says why.
PLAIN_TESTS := $(basename $(notdir $(shell grep -l '^\# run-all: \(no-sanitizer\|alone\|plain\)' \
               tests/integration/test_*.sh)))
integration-all:
	$(Q)$(MAKE) --no-print-directory -j2 SANITIZE=0 integration-bins
	$(Q)$(MAKE) --no-print-directory -j2 SANITIZE=1 integration-bins
	$(Q)$(MAKE) --no-print-directory -j2 SANITIZE=thread integration-bins
	$(Q)ENV_build_tsan="WARREN_TEST_OFFLOAD=off TUNNELD_CRYPTO_WORKERS=1" \
		JOBS=$(JOBS) tests/integration/run-all.sh \
		$(addprefix build:,$(PLAIN_TESTS)) $(addprefix build-tsan:,$(sort $(TSAN_TESTS))) build-san:

# Proves that a sanitizer report from any process of an integration test fails the test.
$(BUILD)/san_fault: tests/sanitizer/san_fault.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread
san-selftest:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 build-san/san_fault
	$(Q)$(MAKE) --no-print-directory SANITIZE=thread build-tsan/san_fault
	$(Q)tests/sanitizer/selftest.sh build-san/san_fault build-tsan/san_fault

# CI (.ci/run): every part, each timed.  Budget and the reasons for each part: docs/testing.md.
TEST_JOBS ?= 2
# Integration tests mostly wait (handshakes, timeouts, outages): five at a time on 2 cores;
# the few that load the CPU on purpose run alone ("# run-all: alone").
INTEGRATION_JOBS ?= 5
define test_step
	$(Q)s=$$(date +%s); $(MAKE) --no-print-directory $(2) || { \
		echo "make test: $(1) FAILED after $$(($$(date +%s) - s))s"; exit 1; }; \
		echo "make test: $(1) took $$(($$(date +%s) - s))s (load $$(cut -d' ' -f1 /proc/loadavg))"
endef
# The unit tests run once, in the ASan+UBSan build (-O2 as the plain one: a report fails them);
# the plain build's binaries are what the integration tests run as shipped.  `make unit` runs
# them on the plain build.
test: deps
	$(call test_step,build,-j2 all)
	$(call test_step,ASan+UBSan build,SANITIZE=1 -j2 all unit-bins)
	$(call test_step,ASan+UBSan unit,SANITIZE=1 JOBS=$(TEST_JOBS) unit)
	$(call test_step,fuzz-smoke,-j2 fuzz-smoke)
	$(call test_step,sanitizer self-test,san-selftest)
	$(call test_step,TSan build,SANITIZE=thread -j2 all)
	$(call test_step,TSan unit,SANITIZE=thread JOBS=$(TEST_JOBS) unit)
	$(call test_step,integration (plain; ASan+UBSan; TSan with offloads off),JOBS=$(INTEGRATION_JOBS) integration-all)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tests/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/flood $(BUILD)/bench_handshake
	$(Q)BUILD=$(BUILD) tests/bench/bench.sh

# The long rotation soak (20 nodes, 10 minutes); not part of `make test`.
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tests/bench/soak_rotate.sh

# Where `make install` puts things.  PREFIX=/usr for a system-wide install (the Debian package:
# debian/rules); DESTDIR= stages the tree elsewhere (a package build) and then creates no user.
# The units and man pages name the installed paths: their literal /usr/local/sbin and
# /usr/local/bin are replaced with SBINDIR and BINDIR as they are installed.  /etc/warren and
# /var/lib/warren are fixed (the programs' defaults).
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/warren
# What install puts and uninstall removes, one KIND:SOURCE:DESTINATION each (KIND bin: 0755 as
# built; text: 0644 with the paths replaced).  Every unit and drop-in in dist/systemd
# (NAME.service, NAME.service.d/FILE.conf), every man page in docs/ (NAME.SECTION), README.md
# and the guides (docs/*.md, into DOCDIR) are installed; a new kind of file joins this list, so that uninstall and
# the package (debian/rules runs make install) get it too.
MAN_PAGES     := $(wildcard docs/*.[1-8])
UNIT_FILES    := $(wildcard dist/systemd/*.service dist/systemd/*.service.d/*.conf)
# The pages name the guides by their installed path (bastion(8): DOCDIR/bastion.md).
DOC_FILES     := README.md $(wildcard docs/*.md)
INSTALL_FILES := bin:$(BUILD)/tunneld:$(SBINDIR)/tunneld bin:$(BUILD)/bastion:$(SBINDIR)/bastion \
                 bin:$(BUILD)/keys:$(BINDIR)/keys \
                 $(foreach m,$(MAN_PAGES),text:$(m):$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
                 $(foreach u,$(UNIT_FILES),text:$(u):$(UNITDIR)/$(u:dist/systemd/%=%)) \
                 $(foreach d,$(DOC_FILES),text:$(d):$(DOCDIR)/$(notdir $(d)))
INSTALL_SUBST := s|/usr/local/share/doc/warren|$(DOCDIR)|g; s|/usr/local/sbin|$(SBINDIR)|g; \
                 s|/usr/local/bin|$(BINDIR)|g
.PHONY: uninstall
install: all
	$(Q)set -e; for f in $(INSTALL_FILES); do \
		kind=$${f%%:*}; f=$${f#*:}; src=$${f%%:*}; dst=$(DESTDIR)$${f#*:}; \
		echo "  INSTALL $$dst"; \
		if [ "$$kind" = bin ]; then install -D -m 0755 "$$src" "$$dst"; \
		else install -d -m 0755 "$${dst%/*}"; \
			sed '$(INSTALL_SUBST)' "$$src" >"$$dst.tmp"; \
			chmod 0644 "$$dst.tmp"; mv -f "$$dst.tmp" "$$dst"; fi; \
	done
	install -d -m 0700 $(DESTDIR)/etc/warren
# On the host itself (no DESTDIR; a package does this in its maintainer scripts): the units'
# system users (tunneld; bastion, the User of the bastion's network process), /etc/warren
# readable by tunneld's group, the state directory (0751: the bastion's User re-reads the
# roster there, its root watches it through group tunneld).  Idempotent.
ifeq ($(DESTDIR),)
	getent passwd tunneld >/dev/null || useradd --system --user-group --no-create-home \
		--home-dir /var/lib/warren --shell /usr/sbin/nologin tunneld
	getent passwd bastion >/dev/null || useradd --system --user-group --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin bastion
	chgrp tunneld /etc/warren && chmod 0750 /etc/warren
	install -d -m 0751 /var/lib/warren
endif

# Removes exactly the files install put (same PREFIX, DESTDIR, ...); never /etc/warren,
# /var/lib/warren (keys, rosters, configs) or the system users.
uninstall:
	$(Q)set -e; for f in $(INSTALL_FILES); do \
		dst=$(DESTDIR)$${f#*:*:}; \
		if [ -e "$$dst" ] || [ -L "$$dst" ]; then echo "  RM      $$dst"; rm -f "$$dst"; fi; \
	done

# The one version (debian/changelog's), for scripts and tests.
version:
	@echo $(VERSION)

clean:
	rm -rf build build-san build-tsan

include tests/fuzz/fuzz.mk
include dist/packaging.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
