#!/bin/sh
# Fuzz the parsers: scripts/fuzz.sh SECONDS [target...]
#
# Targets are tests/fuzz/fuzz_<target>.c (default: all of them): job (job
# files), csv (transaction CSV), wire (the network message decoder), arith
# (arithmetic circuit files), bristol (Bristol Fashion circuits), policy
# (node policy files), api (the node's local API JSON bodies). Each is built with clang's libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer from runtime/*.c and net/*.c
# with the test hooks (MPC_TEST_HOOKS: the wire target's entry point), and
# what extra_sources names for it, into build-fuzz/, and run for SECONDS on a copy
# of its seed corpus tests/fuzz/corpus/<target>: what the fuzzer finds goes to
# build-fuzz/corpus-<target>, never into the repository. Exits 1 if a target
# crashes (the input is kept as build-fuzz/crash-<target>-*; replay it with
# build-fuzz/fuzz_<target> FILE), 2 for bad usage; skips with exit 0, saying
# what to install, if clang or its fuzzer runtime is missing.
set -u
cd "$(dirname "$0")/.." || exit 2

usage() {
	echo "usage: scripts/fuzz.sh SECONDS [target...]   (targets: $(ls tests/fuzz/fuzz_*.c |
		sed 's|tests/fuzz/fuzz_||; s|\.c$||' | tr '\n' ' '))" >&2
	exit 2
}
[ $# -ge 1 ] || usage
secs=$1
shift
case $secs in '' | *[!0-9]* | 0) usage ;; esac
targets=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|tests/fuzz/fuzz_||; s|\.c$||')}

out=build-fuzz
CC=${FUZZ_CC:-clang}
# libpq's header lives in its own directory on Debian (the Makefile's PQ_INC)
flags="-std=c11 -D_GNU_SOURCE -DMPC_TEST_HOOKS -I. ${PQ_INC:--I/usr/include/postgresql} -g -O1
	-fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
libs="-lnanomsg -lssl -lcrypto -lgmp -lpq -lmicrohttpd -ljansson -lpthread -lm"

# What to install: the compiler-rt package of this clang (Debian names it
# libclang-rt-N-dev; libclang-rt-dev follows the default clang).
install_hint() {
	v=$("$CC" --version 2>/dev/null | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -n 1)
	if [ -n "$v" ] && command -v apt-cache >/dev/null 2>&1 &&
		apt-cache show "libclang-rt-$v-dev" >/dev/null 2>&1; then
		echo "apt-get install clang-$v libclang-rt-$v-dev"
	else
		echo "apt-get install clang libclang-rt-dev"
	fi
}

mkdir -p "$out"
probe="$out/probe.c"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}' \
	>"$probe"
# shellcheck disable=SC2086
if ! command -v "$CC" >/dev/null 2>&1 ||
	! "$CC" $flags "$probe" -o "$out/probe" >"$out/probe.log" 2>&1; then
	echo "fuzz: skipped: $CC with libFuzzer and the sanitizers is not available."
	echo "fuzz: install it with: sudo $(install_hint)"
	exit 0
fi

# The library sources once, then one link per target.
status=0
objs=""
for src in runtime/*.c net/*.c; do
	obj="$out/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
	mkdir -p "$out/obj"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find runtime net -name '*.h' -newer "$obj")" ]; then
		# shellcheck disable=SC2086
		$CC $flags -c "$src" -o "$obj" || { echo "fuzz: cannot compile $src" >&2; exit 1; }
	fi
	objs="$objs $obj"
done

# Sources a target needs beyond runtime/ and net/ (compiled for it alone).
extra_sources() {
	case $1 in
	arith) echo "circuits/mpc_arith.c circuits/mpc_arith_text.c circuits/mpc_arith_build.c circuits/mpc_arith_clear.c" ;;
	bristol) echo "circuits/mpc_bristol.c" ;;
	csv) echo "jobs/mpc_csv.c" ;;
	# the job reader takes its computation names from the kind registry,
	# which links every kind: the whole library above net/
	job) echo jobs/*.c protocols/*/*.c circuits/*.c circuits/eval/*.c ;;
	# the policy names computations of the registry too
	policy) echo node/mpc_policy.c jobs/*.c protocols/*/*.c circuits/*.c circuits/eval/*.c ;;
	# the API body reader checks dataset names with jobs/mpc_job.c, which
	# links the registry like the job target
	api) echo node/mpc_api.c jobs/*.c protocols/*/*.c circuits/*.c circuits/eval/*.c ;;
	esac
}

for t in $targets; do
	extra=""
	for src in $(extra_sources "$t"); do
		obj="$out/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
		if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
			[ -n "$(find runtime circuits protocols jobs node -name '*.h' -newer "$obj")" ]; then
			# shellcheck disable=SC2086
			$CC $flags -c "$src" -o "$obj" || { echo "fuzz: cannot compile $src" >&2; exit 1; }
		fi
		extra="$extra $obj"
	done
	if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then
		echo "fuzz: no target '$t' (tests/fuzz/fuzz_$t.c)" >&2
		status=1
		continue
	fi
	echo "fuzz: building $t"
	# shellcheck disable=SC2086
	if ! $CC $flags "tests/fuzz/fuzz_$t.c" $extra $objs $libs -o "$out/fuzz_$t"; then
		status=1
		continue
	fi
	mkdir -p "$out/corpus-$t"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp tests/fuzz/corpus/"$t"/* "$out/corpus-$t/" 2>/dev/null
	fi
	echo "fuzz: running $t for $secs s"
	if ! "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/crash-$t-" "$out/corpus-$t" \
		>"$out/fuzz_$t.log" 2>&1; then
		echo "fuzz: $t FOUND A CRASH; see $out/fuzz_$t.log and $out/crash-$t-*" >&2
		tail -n 40 "$out/fuzz_$t.log" >&2
		status=1
	else
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz_$t.log" | tail -n 1)
		cov=$(grep -o 'cov: [0-9]*' "$out/fuzz_$t.log" | tail -n 1)
		echo "fuzz: $t: ${runs:-?} runs, ${cov:-cov: ?}, no crash"
	fi
done
exit $status
