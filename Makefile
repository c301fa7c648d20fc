# MPC runtime: plain Makefile. See README.md for the commands.
CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
WERROR  ?=
SAN     ?=
OPT     ?= -O2
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral $(WERROR) $(SAN) -I. -MMD -MP
override CFLAGS := $(CFLAGS_BASE) $(CFLAGS)
LIBS    = -lnanomsg -lssl -lcrypto -lgmp -lpthread -lm
TLIBS   = -lcmocka

LIB_SRC   = $(wildcard runtime/*.c net/*.c protocols/*.c circuits/*.c)
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB       = $(BUILD)/libmpc.a
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LOOP_SRC  = $(wildcard tests/loopback/test_*.c tests/faults/test_*.c)
LOOP_BIN  = $(patsubst tests/%.c,$(BUILD)/tests/%,$(LOOP_SRC))
THELP_SRC = $(wildcard tests/support/*.c)
THELP_OBJ = $(THELP_SRC:%.c=$(BUILD)/obj/%.o)
PROG_SRC  = $(wildcard examples/*.c tools/*.c bench/*.c)
PROG_BIN  = $(patsubst %.c,$(BUILD)/bin/%,$(notdir $(PROG_SRC)))
TESTS     = $(UNIT_BIN) $(LOOP_BIN)

.PHONY: all deps lib test check fuzz bench demo examples install clean format
# keep objects make would otherwise delete as intermediates
.SECONDARY:
all: deps $(LIB) $(PROG_BIN) $(TESTS)

deps:
	@CC="$(CC)" sh scripts/deps.sh

lib: $(LIB)
$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(THELP_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(THELP_OBJ) $(LIB) $(TLIBS) $(LIBS) -o $@
$(BUILD)/tests/loopback/%: tests/loopback/%.c $(THELP_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(THELP_OBJ) $(LIB) $(TLIBS) $(LIBS) -o $@
$(BUILD)/tests/faults/%: tests/faults/%.c $(THELP_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(THELP_OBJ) $(LIB) $(TLIBS) $(LIBS) -o $@

$(BUILD)/bin/%: examples/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(LIB) $(LIBS) -o $@
$(BUILD)/bin/%: tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(LIB) $(LIBS) -o $@
$(BUILD)/bin/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(LIB) $(LIBS) -o $@

examples: deps $(PROG_BIN)

# Every test binary runs; the summary line counts binaries.
test: all
	@BUILD=$(BUILD) sh scripts/run-tests.sh $(TESTS)

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

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/mpc $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	for d in runtime net protocols circuits; do install -d $(DESTDIR)$(PREFIX)/include/mpc/$$d; \
		install -m 644 $$d/*.h $(DESTDIR)$(PREFIX)/include/mpc/$$d/; done
	install -m 755 $(filter-out $(BUILD)/bin/bench_%,$(PROG_BIN)) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' scripts/mpc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mpc.pc

clean:
	rm -rf build build-san build-fuzz

format:
	clang-format -i $(wildcard */*.c */*.h tests/*/*.c tests/*/*.h)

-include $(LIB_OBJ:.o=.d) $(THELP_OBJ:.o=.d) $(PROG_BIN:=.d) $(TESTS:=.d)
