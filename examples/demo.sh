#!/bin/bash
# make demo: three merchants on loopback, each an `mpc-party` process with
# its own key, talking TLS 1.3 with pinned certificates. They make their
# Beaver triples among themselves by oblivious transfer (no dealer), compute
# joint transaction statistics, and the same figures are computed in the
# clear from the union of the CSV files and compared.
#   PREPROC=dealer|ot|paillier make demo   picks the preprocessing (default ot)
set -eu
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
for try in $(seq 1 50); do
	base=$((20000 + (RANDOM % 4000) * 10))
	busy=0
	for p in $(seq "$base" $((base + nn - 1))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy=1
	done
	[ "$busy" = 0 ] && break
done

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

echo "== 9. federated training (fed_avg): each merchant trains a fraud model on its own rows; the models are averaged by secure aggregation, round after round"
"$bin/gen_data" --merchants 3 --rows 600 --features 32 --holdout 5000 --seed 42 --out "$out/fed" > /dev/null
"$bin/fed_avg" --data "$out/fed" --rounds 10 --epochs 2 --tls --reference --model "$out/fed/model.csv" > "$out/fed/report.txt" ||
	{ echo "demo: federated averaging failed" >&2; cat "$out/fed/report.txt"; exit 1; }
sed 's/^/   /' "$out/fed/report.txt"

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
