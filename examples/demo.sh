#!/bin/bash
# make demo: three merchants on loopback, each an `mpc-party` process with
# its own key, talking TLS 1.3 with pinned certificates. They make their
# Beaver triples among themselves by oblivious transfer (no dealer), compute
# joint transaction statistics, and the same figures are computed in the
# clear from the union of the CSV files and compared; the last act runs 12
# shops as input parties to the three merchants (mpc-party submit, fetch).
#   PREPROC=dealer|ot|paillier make demo   picks the preprocessing (default ot)
set -eu
. "$(dirname "$0")/../scripts/free-ports.bash"
build=${1:-build}
preproc=${PREPROC:-ot}
bin=$build/bin
out=$build/demo
case "$preproc" in
dealer) names=(merchant0 merchant1 merchant2 dealer) ;;
ot | paillier) names=(merchant0 merchant1 merchant2) ;;
*) echo "demo: PREPROC must be dealer, ot or paillier" >&2; exit 1 ;;
esac
nn=${#names[@]}
rm -rf "$out" && mkdir -p "$out/data"
"$bin/gen_data" --merchants 3 --rows 2000 --seed 42 --out "$out/data"

echo "== 1. each partner makes its key and certificate (mpc-party keygen)"
declare -A fp
for n in "${names[@]}"; do
	fp[$n]=$("$bin/mpc-party" keygen --out "$out/keys-$n" --name "$n" | awk '/^fingerprint:/ {print $2}')
	printf '   %-10s %s\n' "$n" "${fp[$n]}"
done

# a free block of loopback ports
free_ports "$nn"
base=$free_base

# job FILE ID SECTION-LINES...: a job file for the three merchants
job() {
	local file=$1 id=$2
	shift 2
	{
		echo "[job]"
		echo "id = $id"
		echo "computation = ${COMP:-aggregate_stats}"
		echo "ring = 128"
		echo "frac_bits = 16"
		echo "preprocessing = $preproc"
		echo "timeout = 30"
		echo "connect_timeout = 30"
		echo "transport = tls"
		echo
		echo "[${COMP:-aggregate_stats}]"
		for l in "$@"; do echo "$l"; done
		for i in $(seq 0 $((nn - 1))); do
			n=${names[$i]}
			echo
			[ "$n" = dealer ] && echo "[dealer]" || echo "[party $n]"
			echo "address = tcp://127.0.0.1:$((base + i))"
			echo "fingerprint = ${fp[$n]}"
		done
	} > "$file"
}
stamp="$(date +%s)-$$"

echo "== 2. they agree on one job file ($out/job.ini)"
job "$out/job.ini" "demo-$stamp" "max_amount = 1000000" "max_rows = 1000000"

run() { # subcommand: start the nodes with launch.sh (job file $jobfile, logs in $out/$logdir)
	local dealer=() trust=() jf=${jobfile:-$out/job.ini} ld=${logdir:-$1}
	# a dealer job runs only with each merchant's consent (it learns every input)
	[ "$preproc" = dealer ] &&
		dealer=(--dealer "$bin/mpc-party $1 --job $jf --party dealer --keys $out/keys-dealer") &&
		trust=(--trust-dealer)
	bash scripts/launch.sh --parties 3 --logs "$out/$ld" "${dealer[@]}" -- \
		"$bin/mpc-party" "$1" --job "$jf" --party 'merchant{i}' --keys "$out/keys-merchant{i}" \
		"${trust[@]}" "${@:2}"
}

echo "== 3. pre-flight check at every partner (mpc-party check)"
if ! run check; then echo "demo: the check failed (see above)" >&2; exit 1; fi
sed 's/^/   /' "$out/check/party0.log" | grep -v '^ *20[0-9][0-9]-'

store=()
if [ "$preproc" != dealer ]; then
	echo "== 4. Beaver triples made ahead of time among the merchants (mpc-party preprocess, $preproc)"
	n=$([ "$preproc" = ot ] && echo 50000 || echo 200)
	if ! run preprocess --triples "$n" --store "$out/store-merchant{i}"; then
		echo "demo: preprocessing failed (see above)" >&2
		exit 1
	fi
	grep -v '^20[0-9][0-9]-' "$out/preprocess/party0.log" | tr '\r' '\n' | grep -v '^ *$' | tail -n 3 | sed 's/^/   /'
	store=(--store "$out/store-merchant{i}")
fi

echo "== 5. the joint computation (mpc-party run), TLS 1.3 between every pair, preprocessing: $preproc"
if ! run run --input "$out/data/merchant{i}.csv" --output "$out/result{i}.csv" "${store[@]}"; then
	echo "demo: a party failed (see above)" >&2
	exit 1
fi
grep -v '^20[0-9][0-9]-' "$out/run/party0.log" | sed 's/^/   /'
grep -o 'this job consumes.*' "$out/run/party0.log" | sed 's/^/   /' || true

echo "== 6. the same figures in the clear, from the union of the CSV files"
"$bin/clear_stats" --compare "$out/result0.csv" "$out/data"/merchant*.csv | sed 's/^/   /'
for i in 1 2; do
	cmp -s "$out/result0.csv" "$out/result$i.csv" ||
		{ echo "demo: merchant$i got other results than merchant0" >&2; exit 1; }
done
echo "all three merchants received the same results; logs in $out/{check,run}/"

echo "== 7. richer statistics (the same parties, a new job file $out/job-stats.ini): per category, a histogram, the median, cohorts under K = 50 suppressed inside the computation (nobody sold luxury)"
job "$out/job-stats.ini" "demo-stats-$stamp" "max_amount = 100000" "max_rows = 100000" \
	"statistics = count, sum, mean, stddev, min, max, median, histogram, fraud_rate" \
	"histogram_edges = 10, 50, 100, 500, 1000" \
	"groups = grocery, travel, online, luxury" \
	"min_cohort = 50"
if ! jobfile=$out/job-stats.ini logdir=run-stats run run --input "$out/data/merchant{i}.csv" --output "$out/stats{i}.csv"; then
	echo "demo: a party failed (see above)" >&2
	exit 1
fi
grep -v '^20[0-9][0-9]-' "$out/run-stats/party0.log" | sed 's/^/   /'
echo "   -- beside the same figures in the clear:"
"$bin/clear_stats" --job "$out/job-stats.ini" --compare "$out/stats0.csv" "$out/data"/merchant*.csv | sed 's/^/   /' ||
	{ echo "demo: the MPC statistics differ from the clear ones" >&2; exit 1; }

echo "== 8. the same kind of release with differential privacy: discrete Laplace noise made jointly under MPC (no party knows it), epsilon = 1 split over the released aggregates"
job "$out/job-dp.ini" "demo-dp-$stamp" "max_amount = 100000" "max_rows = 100000" \
	"statistics = count, histogram, fraud_rate" \
	"histogram_edges = 10, 50, 100, 500, 1000" \
	"groups = grocery, travel, online" "min_cohort = 50" \
	"dp = laplace" "epsilon = 1.0"
if ! jobfile=$out/job-dp.ini logdir=run-dp run run --input "$out/data/merchant{i}.csv" --output "$out/dp{i}.csv"; then
	echo "demo: a party failed (see above)" >&2
	exit 1
fi
grep -v '^20[0-9][0-9]-' "$out/run-dp/party0.log" | sed 's/^/   /'
echo "   -- beside the exact figures in the clear:"
"$bin/clear_stats" --job "$out/job-dp.ini" --compare "$out/dp0.csv" "$out/data"/merchant*.csv | sed 's/^/   /' ||
	{ echo "demo: a noisy figure is implausibly far from the clear one" >&2; exit 1; }
for i in 1 2; do
	cmp -s "$out/dp0.csv" "$out/dp$i.csv" ||
		{ echo "demo: merchant$i got other noisy results than merchant0" >&2; exit 1; }
done
echo "   all three merchants received the same noisy figures"

echo "== 9. federated training between the merchants (computation = fed_train, through mpc-party): each trains a fraud model on its own rows; only the sum of their models is opened, round after round"
"$bin/gen_data" --merchants 3 --rows 600 --features 32 --holdout 5000 --seed 42 --out "$out/fed" > /dev/null
COMP=fed_train job "$out/job-fed.ini" "demo-fed-$stamp" "rounds = 10" "epochs = 2" "weighted = yes"
if ! jobfile=$out/job-fed.ini logdir=run-fed run run --input "$out/fed/merchant{i}.csv" --output "$out/fed/model{i}.csv"; then
	echo "demo: a party failed (see above)" >&2
	exit 1
fi
grep -v '^20[0-9][0-9]-' "$out/run-fed/party0.log" | sed 's/^/   /'
for i in 1 2; do
	cmp -s "$out/fed/model0.csv" "$out/fed/model$i.csv" ||
		{ echo "demo: merchant$i trained another model than merchant0" >&2; exit 1; }
done
cp "$out/fed/model0.csv" "$out/fed/model.csv"
echo "   all three merchants hold the same model ($out/fed/model.csv); the same training with differential privacy: clipped updates, discrete Gaussian noise made under MPC (no party knows it), epsilon = 8 over the rounds"
COMP=fed_train job "$out/job-fed-dp.ini" "demo-fed-dp-$stamp" "rounds = 5" "epochs = 2" \
	"dp = gaussian" "epsilon = 8" "delta = 1e-6" "clip = 1"
if ! jobfile=$out/job-fed-dp.ini logdir=run-fed-dp run run --input "$out/fed/merchant{i}.csv" --output "$out/fed/dp-model{i}.csv"; then
	echo "demo: a party failed (see above)" >&2
	exit 1
fi
grep -v '^20[0-9][0-9]-' "$out/run-fed-dp/party0.log" | sed 's/^/   /'
echo "   -- the two models on 5000 held-out transactions from every merchant's customers:"
for m in model dp-model0; do
	"$bin/fed_avg" --eval "$out/fed/$m.csv" --holdout "$out/fed/holdout.csv" | sed 's/^/   /' ||
		{ echo "demo: cannot evaluate $m" >&2; exit 1; }
done
echo "   (with 3 merchants, privacy for each merchant's whole data at epsilon 8 costs much of the model's accuracy: see the README's quality table)"

echo "== 10. joint fraud scoring (computation = fraud_score): merchant0 owns the model just trained (kept secret), merchant1 asks for a batch of its new transactions (kept secret) to be scored; only merchant1 receives scores and flags"
"$bin/gen_data" --merchants 2 --rows 1000 --features 32 --seed 4242 --out "$out/score" > /dev/null
head -n 1001 "$out/score/merchant1.csv" > "$out/score/batch.csv"
COMP=fraud_score job "$out/job-score.ini" "demo-score-$stamp" \
	"model = logreg" "model_owner = merchant0" "asker = merchant1" \
	"features = f0-f31, log_amount, night, categories" "threshold = 0.5" "max_rows = 100000"
if ! jobfile=$out/job-score.ini logdir=run-score run run --model "$out/fed/model.csv" \
	--input "$out/score/batch.csv" --output "$out/scores{i}.csv"; then
	echo "demo: a party failed (see above)" >&2
	exit 1
fi
for i in 0 1 2; do
	grep -v '^20[0-9][0-9]-' "$out/run-score/party$i.log" | grep -v 'ignored' | sed "s/^/   merchant$i: /"
done
for i in 0 2; do
	[ -e "$out/scores$i.csv" ] && { echo "demo: merchant$i wrote scores it must not have" >&2; exit 1; }
done
echo "   -- merchant1's scores beside the clear-text double evaluation (model and transactions together, which no party has):"
"$bin/clear_score" --job "$out/job-score.ini" --model "$out/fed/model.csv" --input "$out/score/batch.csv" \
	--compare "$out/scores1.csv" | sed 's/^/   /' ||
	{ echo "demo: the MPC scores differ from the clear ones" >&2; exit 1; }

echo "== 11. standing nodes (mpc-node): each merchant runs one, with its own policy and privacy budget ledger; a job submitted through one node's local HTTP API runs once every node has approved it"
if [ "$preproc" = dealer ]; then
	echo "   (skipped with PREPROC=dealer: the nodes run dealer-free jobs only)"
	exit 0
fi
nd=$out/nodes
mkdir -p "$nd" && chmod 700 "$nd"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$nd/token" && chmod 600 "$nd/token"
tok=$(cat "$nd/token")
free_ports 6 "$base" # three APIs, three control links
nbase=$free_base
for i in 0 1 2; do
	cat > "$nd/policy$i.ini" <<POLICY
[node]
name = merchant$i
[computations]
allow = aggregate_stats, fraud_score
[peers]
proposers = *
recipients = *
askers = *
[dataset model]
csv = $(cd "$nd" && pwd)/model.csv
max_amount = 1
max_rows = 1
budget_epsilon = 1
[quota fraud_score]
per_minute = 100000
total = 1000000
[dataset txns]
csv = $(cd "$out/data" && pwd)/merchant$i.csv
max_amount = 1000000
max_rows = 1000000
budget_epsilon = 1.5
[dp]
max_epsilon = 1
require = no
POLICY
	{
		printf '[node]\nname = merchant%d\nkeys = %s\npolicy = policy%d.ini\nstate = state%d\n' \
			"$i" "$(cd "$out/keys-merchant$i" && pwd)" "$i" "$i"
		printf 'api = 127.0.0.1:%d\ntoken_file = token\nlisten = 127.0.0.1:%d\n' \
			$((nbase + i)) $((nbase + 3 + i))
		for p in 0 1 2; do
			[ "$p" = "$i" ] && continue
			printf '[peer merchant%d]\naddress = 127.0.0.1:%d\nfingerprint = %s\n' \
				"$p" $((nbase + 3 + p)) "${fp[merchant$p]}"
		done
	} > "$nd/node$i.ini"
done
npids=()
trap 'kill "${npids[@]}" 2>/dev/null' EXIT
for i in 0 1 2; do
	"$bin/mpc-node" --config "$nd/node$i.ini" > "$nd/node$i.log" 2>&1 &
	npids+=($!)
done
api() { # NODE METHOD PATH [BODY-FILE]: curl against node NODE's API
	local data=()
	[ $# -gt 3 ] && data=(--data-binary "@$4")
	curl -sS -X "$2" -H "Authorization: Bearer $tok" "${data[@]}" "http://127.0.0.1:$((nbase + $1))$3"
}
for t in $(seq 1 100); do
	up=0
	for i in 0 1 2; do [ "$(api "$i" GET /health 2>/dev/null | grep -o '"up":true' | wc -l)" = 2 ] && up=$((up + 1)); done
	[ "$up" = 3 ] && break
	sleep 0.2
done
[ "$up" = 3 ] || { echo "demo: the nodes' links did not come up" >&2; tail -n 5 "$nd"/node*.log >&2; exit 1; }
echo "   three nodes up, every control link up (TLS 1.3, pinned certificates):"
echo "   \$ curl -H 'Authorization: Bearer ...' http://127.0.0.1:$nbase/health"
api 0 GET /health | sed 's/^/   /'
echo
# body FILE JOB-FILE: the POST /jobs body for a job file on dataset txns
body() { printf '{"dataset": "txns", "job": "%s"}' "$(sed 's/\\/\\\\/g; s/"/\\"/g' "$2" | awk '{printf "%s\\n", $0}')" > "$1"; }
# wait_job NODE ID: poll until the job is over at NODE; prints its state
wait_job() {
	local st
	for t in $(seq 1 600); do
		st=$(api "$1" GET "/jobs/$2" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p')
		case "$st" in done | failed | refused | cancelled) echo "$st"; return ;; esac
		sleep 0.1
	done
	echo timeout
}
job "$nd/job-stats.ini" "demo-node-$stamp" "max_amount = 1000000" "max_rows = 1000000" \
	"statistics = count, sum, mean, stddev, median, fraud_rate" \
	"groups = grocery, travel, electronics, online" "min_cohort = 50"
body "$nd/body-stats.json" "$nd/job-stats.ini"
echo "   merchant0's systems submit a statistics job (POST /jobs):"
api 0 POST /jobs "$nd/body-stats.json" | sed 's/^/   /'
echo
st=$(wait_job 0 "demo-node-$stamp")
[ "$st" = done ] || { echo "demo: the job ended $st:" >&2; api 0 GET "/jobs/demo-node-$stamp" >&2; exit 1; }
for i in 0 1 2; do
	[ "$(wait_job "$i" "demo-node-$stamp")" = done ] || { echo "demo: merchant$i: job not done" >&2; exit 1; }
	api "$i" GET "/jobs/demo-node-$stamp/result" > "$nd/result$i.csv"
done
echo "   each node's GET /jobs/ID/result against the clear computation over the union:"
"$bin/clear_stats" --job "$nd/job-stats.ini" --compare "$nd/result0.csv" "$out/data"/merchant*.csv | sed 's/^/   /'
for i in 1 2; do
	cmp -s "$nd/result0.csv" "$nd/result$i.csv" || { echo "demo: merchant$i's node got other results" >&2; exit 1; }
done
echo "   a DP job (epsilon 1 of each dataset's budget of 1.5), then the same again:"
for k in 1 2; do
	job "$nd/job-dp$k.ini" "demo-node-dp$k-$stamp" "max_amount = 1000000" "max_rows = 1000000" \
		"statistics = count, sum" "dp = laplace" "epsilon = 1"
	body "$nd/body-dp$k.json" "$nd/job-dp$k.ini"
	printf '   #%d: ' "$k"
	api 0 POST /jobs "$nd/body-dp$k.json"
	echo
	[ "$k" = 1 ] && { st=$(wait_job 0 "demo-node-dp1-$stamp"); echo "       -> $st"; }
done
echo "   a scoring service: merchant0's model (8 weights, kept secret), merchant1 asks, merchant2 computes; one POST /jobs starts it"
printf 'input,weight\nf0,0.8\nf1,-0.6\nf2,1.1\nf3,0.3\nf4,-1.2\nf5,0.5\nf6,0.9\nf7,-0.4\nintercept,-0.7\n' > "$nd/model.csv"
COMP=fraud_score job "$nd/job-score.ini" "demo-node-score-$stamp" "model = logreg" \
	"model_owner = merchant0" "asker = merchant1" "features = f0-f7" "threshold = 0.5" \
	"max_rows = 100000" "max_feature = 16" "max_weight = 4"
body "$nd/body-score.json" "$nd/job-score.ini"
sed -i 's/"dataset": "txns"/"dataset": "model"/' "$nd/body-score.json"
api 1 POST /jobs "$nd/body-score.json" | sed 's/^/   /'
echo
printf '{"service": "demo-node-score-%s", "transactions": [[0.5, -1, 0.2, 0, 1, 0.3, -0.2, 0.1]]}' "$stamp" > "$nd/one.json"
for t in $(seq 1 300); do
	api 1 POST /score "$nd/one.json" > "$nd/first.json" 2>/dev/null || true
	grep -q scores "$nd/first.json" && break
	sleep 0.1
done
echo "   one transaction scored through merchant1's API (POST /score): $(cat "$nd/first.json")"
echo "   a burst: 600 requests at 200 per second, one transaction each (bench/load_score):"
"$bin/load_score" --url "http://127.0.0.1:$((nbase + 1))" --token-file "$nd/token" \
	--service "demo-node-score-$stamp" --features "$out/data/merchant1.csv" --columns f0-f7 \
	--rate 200 --duration 3 --connections 16 --pid "${npids[1]}" | sed 's/^/   /' ||
	{ echo "demo: the scoring burst failed" >&2; exit 1; }
echo "   merchant1's metrics (GET /metrics, Prometheus text), in part:"
api 1 GET /metrics | grep -E '^mpc_node_(link_up|jobs\{state="(done|refused|running)"|budget_epsilon|score_requests_total)|^mpc_api_request_seconds_(count|sum)' | sed 's/^/   /'
for i in 0 1 2; do kill -TERM "${npids[$i]}"; done
for i in 0 1 2; do
	wait "${npids[$i]}" || { echo "demo: node merchant$i did not stop cleanly" >&2; exit 1; }
done
trap - EXIT
echo "   SIGTERM: every node stopped cleanly (exit 0); logs in $nd/"
echo "== 12. many merchants, few compute parties: 12 shops are input parties ([input NAME]: mpc-party submit connects out, shares each shop's local aggregates with the three compute parties, gets a receipt from each and leaves; no shop opens a port); the three merchants compute; shop07 fetches the results later (mpc-party fetch)"
ip=$out/inputs
mkdir -p "$ip"
"$bin/gen_data" --merchants 12 --rows 1500 --seed 77 --out "$ip/data" > /dev/null
for s in $(seq 0 11); do
	fp[shop$s]=$("$bin/mpc-party" keygen --out "$ip/keys-shop$s" --name "shop$s" | awk '/^fingerprint:/ {print $2}')
done
free_ports 6 # the compute parties' links and submit addresses
ibase=$free_base
{
	printf '[job]\nid = demo-inputs-%s\ncomputation = aggregate_stats\ntimeout = 30\nconnect_timeout = 30\n' "$stamp"
	printf 'input_deadline = 60\nmin_inputs = 10\nrecipients = merchant0, shop07\nhold = 120\n'
	printf '[aggregate_stats]\nmax_amount = 100000\nmax_rows = 100000\n'
	printf 'statistics = count, sum, mean, stddev, min, max, histogram, fraud_rate\n'
	printf 'histogram_edges = 10, 50, 100, 500, 1000\ngroups = grocery, travel, online\nmin_cohort = 50\n'
	for i in 0 1 2; do
		printf '[party merchant%d]\naddress = tcp://127.0.0.1:%d\nsubmit = 127.0.0.1:%d\nfingerprint = %s\n' \
			"$i" $((ibase + i)) $((ibase + 3 + i)) "${fp[merchant$i]}"
	done
	for s in $(seq 0 11); do
		printf '[input shop%02d]\nfingerprint = %s\n' "$s" "${fp[shop$s]}"
	done
} > "$ip/job.ini"
ipids=()
for i in 0 1 2; do
	extra=()
	[ "$i" = 0 ] && extra=(--output "$ip/result0.csv")
	"$bin/mpc-party" run --job "$ip/job.ini" --party "merchant$i" --keys "$out/keys-merchant$i" \
		"${extra[@]}" > "$ip/merchant$i.log" 2>&1 &
	ipids+=($!)
done
spids=()
for s in $(seq 0 11); do
	"$bin/mpc-party" submit --job "$ip/job.ini" --party "$(printf 'shop%02d' "$s")" \
		--keys "$ip/keys-shop$s" --input "$ip/data/merchant$s.csv" > "$ip/shop$s.log" 2>&1 &
	spids+=($!)
done
for p in "${spids[@]}"; do
	wait "$p" || { echo "demo: a shop's submission failed:" >&2; tail -n 3 "$ip"/shop*.log >&2; exit 1; }
done
echo "   every shop exited 0: each compute party committed its contribution; shop00's receipts:"
grep '^receipt' "$ip/shop0.log" | sed 's/^/   /'
for t in $(seq 1 300); do [ -s "$ip/result0.csv" ] && break; sleep 0.1; done
grep -h 'input parties contributed' "$ip/merchant0.log" | sed 's/^/   merchant0: /'
"$bin/mpc-party" fetch --job "$ip/job.ini" --party shop07 --keys "$ip/keys-shop7" \
	--output "$ip/shop07.csv" | sed 's/^/   shop07: /'
for p in "${ipids[@]}"; do
	wait "$p" || { echo "demo: a compute party failed:" >&2; tail -n 3 "$ip"/merchant*.log >&2; exit 1; }
done
cmp -s "$ip/result0.csv" "$ip/shop07.csv" ||
	{ echo "demo: shop07 fetched other results than merchant0 wrote" >&2; exit 1; }
grep -h 'not among its recipients' "$ip/merchant1.log" | sed 's/^/   merchant1: /' || true
echo "   -- beside the same figures in the clear, from the union of the 12 shops' files:"
if ! "$bin/clear_stats" --job "$ip/job.ini" --compare "$ip/result0.csv" "$ip/data"/merchant*.csv > "$ip/clear.txt"; then
	cat "$ip/clear.txt" >&2
	echo "demo: the statistics from input parties differ from the clear ones" >&2
	exit 1
fi
tail -n 1 "$ip/clear.txt" | sed 's/^/   /'

