#!/bin/bash
# The scoring API under load: three mpc-node processes on loopback (TLS
# control links, pinned keys), a fraud_score service (bravo's logistic model
# of 8 features, alpha asks, charlie the third party), and bench/load_score
# driving alpha's POST /score at a fixed rate, one transaction a request.
#   bash bench/node_load.sh [BUILD] [SECONDS] [RATE]     (default build 10 200)
#   STOCK=N: the service's score_stock (default 2500 rows' worth). Each
#   single-transaction request uses one evaluation's material (1,376
#   bit-triple words), which the OT engine makes at about 80 a second here:
#   a run of R requests/s for S s is "stock present" when STOCK >= R * S
#   (the README's 60 s run: STOCK=12500 ... 60 200; the fill takes minutes).
#   WINDOW=N: its score_window, the part of the stock held in memory
#   (default 0: all of it); the rest is moved from the store while serving.
#   KEEP=1 keeps the temporary folder.
# Prints throughput, latency percentiles and alpha's resident memory at the
# start and the end, and appends a row to BUILD/bench.json when it exists.
set -eu
. "$(dirname "$0")/../scripts/free-ports.bash"
build=${1:-build}
secs=${2:-10}
rate=${3:-200}
bin=$(cd "$build/bin" && pwd)
out=$(mktemp -d /tmp/mpc-node-load-XXXXXX)
chmod 700 "$out"
names=(alpha bravo charlie)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$out"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

"$bin/gen_data" --merchants 1 --rows 4000 --seed 7 --out "$out/data" > /dev/null
printf 'input,weight\nf0,0.8\nf1,-0.6\nf2,1.1\nf3,0.3\nf4,-1.2\nf5,0.5\nf6,0.9\nf7,-0.4\nintercept,-0.7\n' > "$out/model.csv"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$out/token" && chmod 600 "$out/token"
declare -A fp
for n in "${names[@]}"; do
	fp[$n]=$("$bin/mpc-party" keygen --out "$out/keys-$n" --name "$n" | awk '/^fingerprint:/ {print $2}')
done
free_ports 9 # APIs, control links, the job's own
base=$free_base
for i in 0 1 2; do
	n=${names[$i]}
	printf '[node]\nname = %s\n[computations]\nallow = fraud_score\n[peers]\nproposers = *\nrecipients = *\naskers = *\n[dataset model]\ncsv = %s/model.csv\nmax_amount = 1\nmax_rows = 1\nbudget_epsilon = 1\n' \
		"$n" "$out" > "$out/policy-$n.ini"
	{
		printf '[node]\nname = %s\nkeys = keys-%s\npolicy = policy-%s.ini\nstate = state-%s\n' "$n" "$n" "$n" "$n"
		printf 'api = 127.0.0.1:%d\ntoken_file = token\nlisten = 127.0.0.1:%d\nscore_stock = %d\nscore_window = %d\n' \
			$((base + i)) $((base + 3 + i)) "${STOCK:-2500}" "${WINDOW:-0}"
		for p in 0 1 2; do
			[ "$p" = "$i" ] && continue
			printf '[peer %s]\naddress = 127.0.0.1:%d\nfingerprint = %s\n' \
				"${names[$p]}" $((base + 3 + p)) "${fp[${names[$p]}]}"
		done
	} > "$out/node-$n.ini"
	"$bin/mpc-node" --config "$out/node-$n.ini" > "$out/log-$n" 2>&1 &
	pids+=($!)
done
tok=$(cat "$out/token")
api() { curl -sS -H "Authorization: Bearer $tok" "$@"; }
for t in $(seq 1 100); do
	[ "$(api "http://127.0.0.1:$base/health" 2>/dev/null | grep -o '"up":true' | wc -l)" = 2 ] && break
	sleep 0.2
done
id="load-$(date +%s)-$$"
{
	printf '[job]\nid = %s\ncomputation = fraud_score\nring = 128\nfrac_bits = 16\npreprocessing = ot\ntimeout = 30\nconnect_timeout = 30\n' "$id"
	printf '[fraud_score]\nmodel = logreg\nmodel_owner = bravo\nasker = alpha\nfeatures = f0-f7\nthreshold = 0.5\nmax_rows = 100000\nmax_feature = 16\nmax_weight = 4\n'
	for i in 0 1 2; do
		printf '[party %s]\naddress = tcp://127.0.0.1:%d\nfingerprint = %s\n' "${names[$i]}" $((base + 6 + i)) "${fp[${names[$i]}]}"
	done
} > "$out/job.ini"
printf '{"dataset": "model", "job": "%s"}' "$(awk '{printf "%s\\n", $0}' "$out/job.ini")" > "$out/body.json"
api --data-binary "@$out/body.json" "http://127.0.0.1:$base/jobs" > /dev/null
# the service is up once a first request is answered (its stock made)
up=0
printf '{"service": "%s", "transactions": [[0,0,0,0,0,0,0,0]]}' "$id" > "$out/one.json"
for t in $(seq 1 300); do
	api --data-binary "@$out/one.json" "http://127.0.0.1:$base/score" > "$out/first" 2>&1 || true
	grep -q scores "$out/first" && up=1 && break
	sleep 0.1
done
if [ "$up" = 0 ]; then
	echo "node_load: the scoring service did not answer: $(cat "$out/first")" >&2
	tail -n 3 "$out"/log-* "$out"/state-*/jobs/*/log >&2 || true
	exit 1
fi
echo "scoring service $id up; load: $rate requests/s for $secs s, one transaction each"
"$bin/load_score" --url "http://127.0.0.1:$base" --token-file "$out/token" --service "$id" \
	--features "$out/data/merchant0.csv" --columns f0-f7 --rate "$rate" --duration "$secs" \
	--connections 16 --pid "${pids[0]}" --json "$out/load.json"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || echo "node_load: a node did not stop cleanly" >&2; done
pids=()
# the asker's process says how many rounds a batch took, when it ends
grep -ho 'scoring service: .*rounds a batch' "$out"/state-alpha/jobs/*/log | sed 's/^/alpha: /' || true
if [ -f "$build/bench.json" ]; then
	printf '%s\n' "$(tr -d '\n' < "$out/load.json" | sed 's/^{/{"op":"node_score_api","parties":3,"rate":'"$rate"',/')" >> "$build/bench.json"
fi
