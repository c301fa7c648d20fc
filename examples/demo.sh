#!/bin/bash
# make demo: three merchants and a dealer on loopback compute joint
# transaction statistics; then the same figures in the clear, compared.
set -eu
build=${1:-build}
bin=$build/bin
out=$build/demo
data=$out/data
mkdir -p "$data"
rm -f "$out"/*.log "$out"/result*.csv
"$bin/gen_data" --merchants 3 --rows 2000 --seed 42 --out "$data"

# a free block of 4 loopback ports, and a fresh session for this run
for try in $(seq 1 50); do
	base=$((20000 + (RANDOM % 4000) * 10))
	busy=0
	for p in $(seq "$base" $((base + 3))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy=1
	done
	[ "$busy" = 0 ] && break
done
nodes="tcp://127.0.0.1:$base,tcp://127.0.0.1:$((base + 1)),tcp://127.0.0.1:$((base + 2)),tcp://127.0.0.1:$((base + 3))"
session="demo-$(date +%s)-$$-$RANDOM"

echo "== 3 merchants + dealer on $nodes (logs in $out)"
common="--nodes $nodes --dealer --session $session --timeout 30 --insecure-plaintext"
if ! bash scripts/launch.sh --parties 3 --logs "$out" \
	--dealer "$bin/mpc-dealer $common" -- \
	"$bin/aggregate_stats" --party '{i}' $common --input "$data/merchant{i}.csv" \
	--output "$out/result{i}.csv"; then
	echo "demo: a process failed (see above)" >&2
	exit 1
fi
cat "$out/party0.log" | grep -v '^$' | sed 's/^/  /' | tail -n 9
echo
echo "== the same figures in the clear, from the union of the CSV files"
"$bin/clear_stats" --compare "$out/result0.csv" "$data"/merchant*.csv
for i in 1 2; do
	cmp -s "$out/result0.csv" "$out/result$i.csv" ||
		{ echo "demo: party $i got other results than party 0" >&2; exit 1; }
done
echo "all three merchants received the same results."
