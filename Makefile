# MPC runtime: plain Makefile. See README.md for the commands.
CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
WERROR  ?=
SAN     ?=
OPT     ?= -O2
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral $(WERROR) $(SAN) -I. $(PQ_INC) -MMD -MP
# libpq's header: Debian's libpq-dev puts it here (pg_config may be absent).
PQ_INC  ?= -I/usr/include/postgresql
override CFLAGS := $(CFLAGS_BASE) $(CFLAGS)
LIBS    = -lnanomsg -lssl -lcrypto -lgmp -lpq -lmicrohttpd -ljansson -lpthread -lm
TLIBS   = -lcmocka

# The library: every layer of ../shared/DESIGN.md section 1 below the programs.
LIB_DIRS  = runtime net protocols/core protocols/preproc protocols/nonlinear protocols/apps \
	circuits circuits/eval jobs node
LIB_SRC   = $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB       = $(BUILD)/libmpc.a
# The test library: tests/support (fork harness, MITM, forger, node helpers)
# and the library files that carry test hooks (fault injection, the open tap,
# fuzz entries), compiled again with MPC_TEST_HOOKS. libmpc.a holds no hook;
# a test binary links libmpctest.a first, so the hooked objects win.
HOOK_SRC  = $(shell grep -l MPC_TEST_HOOKS $(LIB_SRC))
HOOK_OBJ  = $(HOOK_SRC:%.c=$(BUILD)/obj-hooks/%.o)
THELP_SRC = $(wildcard tests/support/*.c)
THELP_OBJ = $(THELP_SRC:%.c=$(BUILD)/obj/%.o)
TLIB      = $(BUILD)/libmpctest.a
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LOOP_SRC  = $(wildcard tests/loopback/test_*.c tests/faults/test_*.c)
LOOP_BIN  = $(patsubst tests/%.c,$(BUILD)/tests/%,$(LOOP_SRC))
# Programs: a .c file with main() in tools/, examples/ or bench/; the other
# .c files of that folder are its modules, in lib<folder>.a.
PROG_DIRS = tools examples bench
PROG_MAIN = $(shell grep -l '^int main' $(foreach d,$(PROG_DIRS),$(wildcard $(d)/*.c)))
PROG_BIN  = $(patsubst %.c,$(BUILD)/bin/%,$(notdir $(PROG_MAIN)))
PMOD_SRC  = $(filter-out $(PROG_MAIN),$(foreach d,$(PROG_DIRS),$(wildcard $(d)/*.c)))
PMOD_OBJ  = $(PMOD_SRC:%.c=$(BUILD)/obj/%.o)
TESTS     = $(UNIT_BIN) $(LOOP_BIN)
# Programs that run their parties with the fork harness of the test library:
# they link its object alone, never the hooked library objects (a benchmark
# measures, and an example ships, the library as installed).
HARNESS_PROGS = $(BUILD)/bin/bench_mpc $(BUILD)/bin/fed_avg
HARNESS_OBJ   = $(BUILD)/obj/tests/support/mpc_local.o

.PHONY: all deps lib test check fuzz bench demo examples install clean format format-check layers
# keep objects make would otherwise delete as intermediates
.SECONDARY:
all: deps $(LIB) $(TLIB) $(PROG_BIN) $(TESTS)

deps:
	@CC="$(CC)" PQ_INC="$(PQ_INC)" sh scripts/deps.sh

lib: $(LIB)
$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(TLIB): $(THELP_OBJ) $(HOOK_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj-hooks/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DMPC_TEST_HOOKS -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(TLIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(TLIB) $(LIB) $(TLIBS) $(LIBS) -o $@
$(BUILD)/tests/loopback/%: tests/loopback/%.c $(TLIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(TLIB) $(LIB) $(TLIBS) $(LIBS) -o $@
$(BUILD)/tests/faults/%: tests/faults/%.c $(TLIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(TLIB) $(LIB) $(TLIBS) $(LIBS) -o $@

$(BUILD)/lib%-mods.a: $(PMOD_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $(filter $(BUILD)/obj/$*/%,$^) $(BUILD)/obj/.empty.o

$(BUILD)/obj/.empty.o:
	@mkdir -p $(@D)
	echo 'typedef int mpc_empty_unit;' | $(CC) -x c -c - -o $@

# A program links its folder's modules, the library, and (HARNESS_PROGS) the
# fork harness.
define prog_rule
$(BUILD)/bin/%: $(1)/%.c $(BUILD)/lib$(1)-mods.a $(LIB) $(HARNESS_OBJ)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$< $(BUILD)/lib$(1)-mods.a $$(if $$(filter $$@,$$(HARNESS_PROGS)),$(HARNESS_OBJ)) \
		$$(LIB) $$(LIBS) -o $$@
endef
$(BUILD)/libtools-mods.a $(BUILD)/libexamples-mods.a $(BUILD)/libbench-mods.a: $(BUILD)/obj/.empty.o
$(foreach d,$(PROG_DIRS),$(eval $(call prog_rule,$(d))))

examples: deps $(PROG_BIN)

# The layer check (and its own test) first, then every test binary; the
# summary line counts binaries.
test: all
	@sh scripts/layers-selftest.sh >/dev/null || sh scripts/layers-selftest.sh
	@sh scripts/layers.sh
	@if nm --defined-only $(LIB) $(PROG_BIN) 2>/dev/null | \
		grep -E ' (mpc_fault_|mpc_net_set_fault|mpc_net_fuzz_|mpc_share_set_open_tap)'; then \
		echo "test hooks (above) are in libmpc.a or a program: they belong to libmpctest.a only"; \
		exit 1; fi
	@BUILD=$(BUILD) sh scripts/run-tests.sh $(TESTS)

layers:
	@sh scripts/layers.sh

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer.
check: deps
	$(MAKE) BUILD=build-san OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test
	sh scripts/fuzz.sh 10

# libFuzzer on the job-file, CSV and wire decoders (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 60
fuzz: deps
	sh scripts/fuzz.sh $(FUZZ_SECONDS)

bench: all
	@sh bench/run.sh $(BUILD)

demo: all
	@bash examples/demo.sh $(BUILD)

# The public headers: what a program built on libmpc includes, by layer.
# Not installed: internals (*_internal.h, net/mpc_wire.h), the test hooks
# (net/mpc_net_fault.h, protocols/core/mpc_share_tap.h) and the fork harness
# (tests/support). scripts/layers.sh checks that each listed header exists.
INSTALL_HEADERS = \
	runtime/mpc_bytes.h runtime/mpc_err.h runtime/mpc_file.h runtime/mpc_fixed.h \
	runtime/mpc_log.h runtime/mpc_prg.h runtime/mpc_ring.h runtime/mpc_wipe.h \
	net/mpc_frame.h net/mpc_keys.h net/mpc_net.h net/mpc_nodes.h net/mpc_peer.h net/mpc_tls.h \
	protocols/core/mpc_beaver.h protocols/core/mpc_party.h protocols/core/mpc_preproc.h \
	protocols/core/mpc_share.h \
	protocols/preproc/mpc_cross.h protocols/preproc/mpc_dealer.h protocols/preproc/mpc_gen.h \
	protocols/preproc/mpc_ot.h protocols/preproc/mpc_paillier.h protocols/preproc/mpc_plan.h \
	protocols/preproc/mpc_pool.h protocols/preproc/mpc_store.h \
	protocols/preproc/mpc_store_backend.h \
	protocols/nonlinear/mpc_bool.h protocols/nonlinear/mpc_cmp.h protocols/nonlinear/mpc_conv.h \
	protocols/nonlinear/mpc_math.h \
	protocols/apps/mpc_agg.h protocols/apps/mpc_dp.h protocols/apps/mpc_fedavg.h \
	protocols/apps/mpc_fedavg_dp.h \
	protocols/apps/mpc_score.h protocols/apps/mpc_stats.h \
	circuits/mpc_arith.h circuits/mpc_bristol.h \
	circuits/eval/mpc_arith_eval.h circuits/eval/mpc_bool_eval.h \
	jobs/kind_score.h jobs/kind_stats.h jobs/mpc_agg_io.h jobs/mpc_csv.h jobs/mpc_fedavg_data.h \
	jobs/mpc_ini.h jobs/mpc_job.h jobs/mpc_kind.h jobs/mpc_pg.h jobs/mpc_synth.h

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/mpc $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	for h in $(INSTALL_HEADERS); do install -d $(DESTDIR)$(PREFIX)/include/mpc/$$(dirname $$h); \
		install -m 644 $$h $(DESTDIR)$(PREFIX)/include/mpc/$$h; done
	install -m 755 $(filter-out $(BUILD)/bin/bench_%,$(PROG_BIN)) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' scripts/mpc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mpc.pc

clean:
	rm -rf build build-san build-fuzz

FORMAT_SRC = $(shell find runtime net protocols circuits jobs node tools examples bench tests \
	-path tests/fuzz/corpus -prune -o \( -name '*.c' -o -name '*.h' \) -print 2>/dev/null | sort)
# One style, .clang-format, for every C file; CI runs format-check.
format:
	@sh scripts/deps.sh format
	clang-format -i $(FORMAT_SRC)
format-check:
	@sh scripts/deps.sh format
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: $(words $(FORMAT_SRC)) files as .clang-format says"

-include $(LIB_OBJ:.o=.d) $(HOOK_OBJ:.o=.d) $(THELP_OBJ:.o=.d) $(PMOD_OBJ:.o=.d) $(PROG_BIN:=.d) $(TESTS:=.d)
