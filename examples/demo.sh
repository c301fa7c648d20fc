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

echo "== 2. they agree on one job file ($out/job.ini)"
{
	echo "[job]"
	echo "id = demo-$(date +%s)-$$"
	echo "computation = aggregate_stats"
	echo "ring = 128"
	echo "frac_bits = 16"
	echo "preprocessing = $preproc"
	echo "timeout = 30"
	echo "connect_timeout = 30"
	echo "transport = tls"
	echo
	echo "[aggregate_stats]"
	echo "max_amount = 1000000"
	echo "max_rows = 1000000"
	for i in $(seq 0 $((nn - 1))); do
		n=${names[$i]}
		echo
		[ "$n" = dealer ] && echo "[dealer]" || echo "[party $n]"
		echo "address = tcp://127.0.0.1:$((base + i))"
		echo "fingerprint = ${fp[$n]}"
	done
} > "$out/job.ini"

run() { # subcommand: start the nodes with launch.sh
	local dealer=()
	[ "$preproc" = dealer ] &&
		dealer=(--dealer "$bin/mpc-party $1 --job $out/job.ini --party dealer --keys $out/keys-dealer")
	bash scripts/launch.sh --parties 3 --logs "$out/$1" "${dealer[@]}" -- \
		"$bin/mpc-party" "$1" --job "$out/job.ini" --party 'merchant{i}' --keys "$out/keys-merchant{i}" \
		"${@:2}"
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
