# Sourced by bench/fed_train.sh and bench/fed_quality.sh: computation =
# fed_train among 3 merchants, each an mpc-party process with its own key,
# over TLS on loopback (preprocessing = ot: the DP noise's material is made
# by the merchants themselves during the run).
#   fed_keys OUT BIN          keys for m0, m1, m2 under OUT
#   fed_run TAG DATA PARAMS   the job OUT/TAG.ini with the [fed_train] lines
#                             PARAMS (printf %b: \n between keys), merchant i
#                             training on DATA/merchant<i>.csv; the model in
#                             OUT/TAG.csv, the logs in OUT/TAG-m<i>.log. Sets
#                             fed_secs (wall clock, start to the last exit)
#                             and fed_bytes (what each merchant handed to its
#                             links, mean of the 3: mpc-party's "bytes sent"
#                             log line; TLS records not counted).
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/free-ports.bash"

fed_keys() {
	fed_out=$1
	fed_bin=$2
	for i in 0 1 2; do
		fed_fp[$i]=$("$fed_bin/mpc-party" keygen --out "$fed_out/keys-m$i" --name "m$i" |
			awk '/^fingerprint:/ {print $2}')
	done
}

fed_run() {
	local tag=$1 data=$2 params=$3 i p failed=0 t0 t1
	local -a fpids=()
	free_ports 3
	{
		printf '[job]\nid = fed-bench-%s-%s\ncomputation = fed_train\ntimeout = 600\n' "$$" "$tag"
		printf 'connect_timeout = 60\ntransport = tls\npreprocessing = ot\n[fed_train]\n%b\n' "$params"
		for i in 0 1 2; do
			printf '[party m%d]\naddress = tcp://127.0.0.1:%d\nfingerprint = %s\n' \
				"$i" $((free_base + i)) "${fed_fp[$i]}"
		done
	} > "$fed_out/$tag.ini"
	t0=$(date +%s.%N)
	for i in 0 1 2; do
		"$fed_bin/mpc-party" run --job "$fed_out/$tag.ini" --party "m$i" --keys "$fed_out/keys-m$i" \
			--input "$data/merchant$i.csv" --output "$fed_out/$tag-m$i.csv" \
			--store "$fed_out/store-$tag-m$i" > "$fed_out/$tag-m$i.log" 2>&1 &
		fpids+=($!)
	done
	for p in "${fpids[@]}"; do wait "$p" || failed=$((failed + 1)); done
	t1=$(date +%s.%N)
	if [ "$failed" != 0 ]; then
		echo "fed_train $tag: $failed merchants failed" >&2
		tail -n 3 "$fed_out/$tag"-m*.log >&2
		return 1
	fi
	cp "$fed_out/$tag-m0.csv" "$fed_out/$tag.csv"
	fed_secs=$(awk "BEGIN {print $t1 - $t0}")
	fed_bytes=$(cat "$fed_out/$tag"-m*.log | awk '/bytes sent to the peers/ {
		for (i = 1; i < NF; i++) if ($(i + 1) == "bytes") { s += $i; n++ } }
		END { if (n == 3) printf "%.0f", s / n; else print "?" }')
	[ "$fed_bytes" != "?" ]
}
