#!/bin/bash
# The README's federated training quality table: AUC and log-loss on a
# held-out test set of
#   - each merchant's local-only model (fed_avg: 20 epochs on its own rows),
#   - federated without DP (mpc-party, fed_train: 10 rounds of 2 epochs),
#   - federated with DP-FedAvg (dp = gaussian, delta 1e-6) at epsilon 1, 4
#     and 8: for each epsilon, every (rounds x epochs, clip) of the grid
#     below is trained through mpc-party once, the one with the best AUC on
#     a validation set is kept and scored on the test set (the grid: rounds
#     x epochs 1x20, 2x10, 5x4, 10x2, the same 20 epochs of local training;
#     clip 0.5, 1.5, 4; clip_steps the default, 16 at d = 41),
#   - the clear model on the union of the merchants' rows (fed_avg
#     --reference: 20 epochs).
# Data: gen_data --merchants 3 --rows 2000 --features 32 --holdout 8000
# --seed 42 (2,000 rows each plus up to 20%; d = 41 model inputs); the
# held-out rows, drawn from the whole network's customers, split
# alternately into 4,000 validation and 4,000 test rows. Everything through
# mpc-party runs as 3 processes with keys over TLS on loopback.
# Not part of `make bench` (about 5 minutes on a 2-core machine; the DP
# runs at epsilon 1 and 10 rounds take 45 s each: sigma is largest there):
#   bash bench/fed_quality.sh [BUILD]
#   KEEP=1 keeps the temporary folder.
set -eu
. "$(dirname "$0")/fed_common.bash"
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
out=$(mktemp -d /tmp/mpc-fed-quality-XXXXXX)
chmod 700 "$out"
cleanup() { rm -rf "$out"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

data=$out/data
"$bin/gen_data" --merchants 3 --rows 2000 --features 32 --holdout 8000 --seed 42 --out "$data" > /dev/null
awk -v v="$out/valid.csv" -v t="$out/test.csv" \
	'NR == 1 { print > v; print > t; next } NR % 2 { print > v; next } { print > t }' "$data/holdout.csv"
fed_keys "$out" "$bin"

# eval MODEL SET: "AUC LOGLOSS" of the model file on SET (valid or test)
eval_model() {
	"$bin/fed_avg" --eval "$1" --holdout "$out/$2.csv" |
		sed -n 's/^.*AUC \([0-9.na]*\), log-loss \([0-9.na]*\),.*$/\1 \2/p'
}
line() { printf '%-44s %-8s %s\n' "$1" "$2" "$3"; }

echo "fed_quality: 3 merchants, $(($(cat "$data"/merchant*.csv | wc -l) - 3)) rows, d = 41; AUC and log-loss on 4,000 test rows"
"$bin/fed_avg" --data "$data" --holdout "$out/test.csv" --rounds 10 --epochs 2 --reference > "$out/fed_avg.txt"
awk '/^merchant   rows/ { on = 1; next } on && n < 3 { printf "local-only merchant %d (%d rows, 20 epochs)|%s|%s\n", $1, $2, $4, $5; n++ }
	/^reference/ { sub(/,/, "", $(NF - 4)); sub(/,/, "", $(NF - 2));
		printf "clear model on the union (20 epochs)|%s|%s\n", $(NF - 4), $(NF - 2) }' "$out/fed_avg.txt" > "$out/fixed.txt"
grep 'local-only' "$out/fixed.txt" | while IFS='|' read -r a b c; do line "$a" "$b" "$c"; done

fed_run nodp "$data" 'rounds = 10\nepochs = 2'
read -r auc ll < <(eval_model "$out/nodp.csv" test)
line "federated, no DP (10 rounds x 2 epochs)" "$auc" "$ll"

for eps in 1 4 8; do
	best= best_auc=0
	for re in 1x20 2x10 5x4 10x2; do
		for clip in 0.5 1.5 4; do
			tag=dp-$eps-$re-$clip
			fed_run "$tag" "$data" "rounds = ${re%x*}\\nepochs = ${re#*x}\\ndp = gaussian\\nepsilon = $eps\\ndelta = 1e-6\\nclip = $clip"
			read -r v_auc v_ll < <(eval_model "$out/$tag.csv" valid)
			echo "  tried: epsilon $eps, $re, clip $clip: validation AUC $v_auc, log-loss $v_ll ($(printf %.1f "$fed_secs") s)"
			if awk "BEGIN { exit !($v_auc > $best_auc) }"; then best=$tag best_auc=$v_auc; fi
		done
	done
	read -r auc ll < <(eval_model "$out/$best.csv" test)
	set -- $(echo "$best" | tr '-' ' ')
	line "federated, DP epsilon $eps (best: $3, clip $4)" "$auc" "$ll"
done
grep 'clear model' "$out/fixed.txt" | while IFS='|' read -r a b c; do line "$a" "$b" "$c"; done
