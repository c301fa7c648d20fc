#!/bin/bash
# Federated training (computation = fed_train) through mpc-party: 3 merchants,
# each its own process and key, over TLS on loopback, 2,000 rows each (gen_data
# --rows 2000, plus up to 20%), 2 local epochs a round, d = 40 and d = 1,000
# model inputs (gen_data --features 31 and 991), without and with DP
# (dp = gaussian, epsilon 8, delta 1e-6, clip 1, clip_steps the default
# max(16, 2 ceil(sqrt(d)))).
#
# Per round, per merchant: a run's fixed cost (process start, reading the
# CSV, TLS handshakes, the job's agreement) is taken out. Without DP, the
# figures are the difference of an R-round (R = 200 and 20) and a 1-round
# run over R - 1;
# that gives the fixed cost too (the 1-round run less one round). With DP,
# (the run - the fixed cost) / R: the OT set-up for the noise's material
# stays in it, spread over the R rounds. Seconds are wall clock (the
# merchants run in lockstep, 3 processes on this machine's cores); bytes are
# what a merchant handed to its links (mpc-party's "bytes sent" line: headers
# included, TLS records not), the mean of the 3. DP's cost is the noise made
# under MPC, which grows with sigma in grid units (printed): fewer rounds
# give a smaller sigma for the same epsilon. d = 1,000 with DP runs 2 rounds
# only (about 30 s a round here).
#   bash bench/fed_train.sh [BUILD]
#   KEEP=1 keeps the temporary folder.
# One line per row; appends rows to BUILD/bench.json when it exists.
set -eu
. "$(dirname "$0")/fed_common.bash"
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
json=$(cd "$build" && pwd)/bench.json
out=$(mktemp -d /tmp/mpc-fed-bench-XXXXXX)
chmod 700 "$out"
cleanup() { rm -rf "$out"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

fed_keys "$out" "$bin"
dp_keys='dp = gaussian\nepsilon = 8\ndelta = 1e-6\nclip = 1'

# size BYTES: in kB or MB (10^3, 10^6)
size() { awk -v b="$1" 'BEGIN { if (b >= 1e6) printf "%.1f MB", b / 1e6; else printf "%.2f kB", b / 1e3 }'; }

# row NAME D DP ROUNDS SECS_PER_ROUND BYTES_PER_ROUND TOTAL_SECS [NOTE]
row() {
	printf 'fed_train_%s: 3 merchants, d = %d, %s: %.3f s and %s per round per merchant (%d rounds in %.2f s%s)\n' \
		"$1" "$2" "$3" "$5" "$(size "$6")" "$4" "$7" "${8:-}"
	if [ -f "$json" ]; then
		printf '{"op":"fed_train_%s","parties":3,"d":%d,"dp":"%s","rounds":%d,"seconds_per_round":%.4f,"bytes_per_round":%.0f,"seconds":%.3f}\n' \
			"$1" "$2" "${3%%,*}" "$4" "$5" "$6" "$7" >> "$json"
	fi
}

# bench F ROUNDS DP_ROUNDS: d = 9 + F
bench() {
	local F=$1 R=$2 RD=$3 d=$(($1 + 9))
	local s1 b1 sR bR s_round b_round s_fix b_fix sigma
	"$bin/gen_data" --merchants 3 --rows 2000 --features "$F" --seed 5 --out "$out/d$d" > /dev/null 2>&1
	fed_run "d$d-1" "$out/d$d" 'rounds = 1' && s1=$fed_secs b1=$fed_bytes
	fed_run "d$d-R" "$out/d$d" "rounds = $R" && sR=$fed_secs bR=$fed_bytes
	s_round=$(awk "BEGIN {print ($sR - $s1) / ($R - 1)}")
	b_round=$(awk "BEGIN {print ($bR - $b1) / ($R - 1)}")
	s_fix=$(awk "BEGIN {print $s1 - $s_round}")
	b_fix=$(awk "BEGIN {print $b1 - $b_round}")
	row "d$d" "$d" "no DP" "$R" "$s_round" "$b_round" "$sR" \
		"; fixed cost $(printf %.2f "$s_fix") s, $(size "$b_fix")"
	fed_run "d$d-dp" "$out/d$d" "rounds = $RD\\n$dp_keys"
	sigma=$(grep -ho 'sigma [0-9.e+]* steps' "$out/d$d-dp-m0.log" | head -n 1)
	row "d${d}_dp" "$d" "DP epsilon 8, delta 1e-6, clip 1, $sigma" "$RD" \
		"$(awk "BEGIN {print ($fed_secs - $s_fix) / $RD}")" \
		"$(awk "BEGIN {print ($fed_bytes - $b_fix) / $RD}")" "$fed_secs"
}

bench 31 200 10
bench 991 20 2
