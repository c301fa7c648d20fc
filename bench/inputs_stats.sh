#!/bin/bash
# Statistics with input parties, end to end: 3 compute parties (mpc-party
# run) and INPUTS input parties (mpc-party submit, each its own process and
# key) of ROWS transactions each, all on loopback over TLS. Timed from the
# start of the compute parties until the last of them has exited, so it
# covers every submission (read the CSV, local aggregates, shares, receipts,
# commits), the agreement on the contributors and the MPC itself. Keys and
# data are made before the clock starts.
#   bash bench/inputs_stats.sh [BUILD] [INPUTS] [ROWS]     (default build 100 10000)
#   KEEP=1 keeps the temporary folder.
# Prints one line and appends a row to BUILD/bench.json when it exists.
set -eu
. "$(dirname "$0")/../scripts/free-ports.bash"
build=${1:-build}
inputs=${2:-100}
rows=${3:-10000}
bin=$(cd "$build/bin" && pwd)
out=$(mktemp -d /tmp/mpc-inputs-bench-XXXXXX)
chmod 700 "$out"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$out"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

# the data: gen_data writes at most 64 files a call
made=0
while [ "$made" -lt "$inputs" ]; do
	n=$((inputs - made > 50 ? 50 : inputs - made))
	"$bin/gen_data" --merchants "$n" --rows "$rows" --seed $((made + 1)) --out "$out/d$made" > /dev/null
	for i in $(seq 0 $((n - 1))); do mv "$out/d$made/merchant$i.csv" "$out/m$((made + i)).csv"; done
	made=$((made + n))
done
declare -A fp
for i in $(seq 0 2) ; do
	fp[c$i]=$("$bin/mpc-party" keygen --out "$out/keys-c$i" --name "c$i" | awk '/^fingerprint:/ {print $2}')
done
for i in $(seq 0 $((inputs - 1))); do
	fp[i$i]=$("$bin/mpc-party" keygen --out "$out/keys-i$i" --name "i$i" | awk '/^fingerprint:/ {print $2}')
done
free_ports 6 # the job's links and submit listeners
base=$free_base
{
	printf '[job]\nid = inputs-bench-%s\ncomputation = aggregate_stats\ntimeout = 60\nconnect_timeout = 60\n' "$$"
	printf 'input_deadline = 120\nrecipients = c0\n'
	printf '[aggregate_stats]\nstatistics = count, sum, mean, variance, stddev, min, max, histogram, fraud_rate\n'
	printf 'histogram_edges = 10, 50, 100, 500, 1000\ngroups = grocery, travel, online, fuel\nmin_cohort = 10\n'
	printf 'max_rows = %d\nmax_amount = 100000\n' "$((2 * rows))"
	for i in 0 1 2; do
		printf '[party c%d]\naddress = tcp://127.0.0.1:%d\nsubmit = 127.0.0.1:%d\nfingerprint = %s\n' \
			"$i" $((base + i)) $((base + 3 + i)) "${fp[c$i]}"
	done
	for i in $(seq 0 $((inputs - 1))); do
		printf '[input i%d]\nfingerprint = %s\n' "$i" "${fp[i$i]}"
	done
} > "$out/job.ini"

t0=$(date +%s.%N)
for i in 0 1 2; do
	"$bin/mpc-party" run --job "$out/job.ini" --party "c$i" --keys "$out/keys-c$i" \
		--output "$out/out-c$i.csv" > "$out/log-c$i" 2>&1 &
	pids+=($!)
done
spids=()
for i in $(seq 0 $((inputs - 1))); do
	"$bin/mpc-party" submit --job "$out/job.ini" --party "i$i" --keys "$out/keys-i$i" \
		--input "$out/m$i.csv" > "$out/log-i$i" 2>&1 &
	spids+=($!)
done
failed=0
for p in "${spids[@]}"; do wait "$p" || failed=$((failed + 1)); done
t_sub=$(date +%s.%N)
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
pids=()
t1=$(date +%s.%N)
if [ "$failed" != 0 ] || ! grep -q "$inputs of $inputs input parties contributed" "$out/log-c0"; then
	echo "inputs_stats: $failed processes failed" >&2
	tail -n 3 "$out"/log-c* >&2
	exit 1
fi
secs=$(awk "BEGIN {print $t1 - $t0}")
sub=$(awk "BEGIN {print $t_sub - $t0}")
printf 'stats_inputs: %d input parties x %d rows, 3 compute parties: %.2f s end to end (submissions done at %.2f s)\n' \
	"$inputs" "$rows" "$secs" "$sub"
grep -h "this run took" "$out/log-c0" | sed 's/^.*INFO: /c0: /' || true
if [ -f "$build/bench.json" ]; then
	printf '{"op":"stats_inputs","parties":3,"inputs":%d,"rows":%d,"seconds":%.3f,"submitted_s":%.3f}\n' \
		"$inputs" $((inputs * rows)) "$secs" "$sub" >> "$build/bench.json"
fi
