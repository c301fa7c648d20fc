#!/bin/sh
# Fuzz the parsers: scripts/fuzz.sh SECONDS [target...]
# Targets: job (job files), csv (transaction CSV), wire (the network message
# decoder). Each is built with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz/ and run for SECONDS on a copy of
# its seed corpus (tests/fuzz/corpus/<target>; new inputs stay in build-fuzz/).
# Exits non-zero if a target crashes; skips, saying what to install, if
# clang's fuzzer runtime is missing.
set -u
secs=${1:-60}
shift 2>/dev/null || true
targets=${*:-job csv wire}
out=build-fuzz
CC=${FUZZ_CC:-clang}
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' > "$probe/p.c"
if ! command -v "$CC" >/dev/null 2>&1 || ! "$CC" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	rm -rf "$probe"
	echo "fuzz: skipped: clang with libFuzzer is not available. Install it with:"
	echo "    sudo apt-get install -y clang libclang-rt-dev"
	exit 0
fi
rm -rf "$probe"
mkdir -p "$out"
flags="-std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
srcs="runtime/*.c net/*.c"
libs="-lnanomsg -lssl -lcrypto -linih -lpthread -lm"
status=0
for t in $targets; do
	[ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz: no target '$t'" >&2; status=1; continue; }
	echo "fuzz: building $t"
	# shellcheck disable=SC2086
	if ! $CC $flags tests/fuzz/fuzz_$t.c $srcs $libs -o "$out/fuzz_$t"; then
		status=1
		continue
	fi
	mkdir -p "$out/corpus-$t"
	cp tests/fuzz/corpus/$t/* "$out/corpus-$t/" 2>/dev/null
	echo "fuzz: running $t for $secs s"
	if ! "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/crash-$t-" "$out/corpus-$t" >"$out/fuzz_$t.log" 2>&1; then
		echo "fuzz: $t FOUND A CRASH; see $out/fuzz_$t.log and $out/crash-$t-*" >&2
		tail -n 30 "$out/fuzz_$t.log" >&2
		status=1
	else
		echo "fuzz: $t: $(grep -o 'Done [0-9]* runs' "$out/fuzz_$t.log" | tail -n 1), no crash"
	fi
done
exit $status
