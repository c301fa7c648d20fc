# Sourced by the demo and the benchmark scripts (bash: $RANDOM, /dev/tcp).
# free_ports N [NOT]: sets free_base to the first of N consecutive loopback
# ports that nothing listens on, a block at 20000 + 10k (below the ephemeral
# range, 32768-), other than NOT; after 50 tries, the last block tried.
free_ports() {
	local n=$1 not=${2:-} try p busy
	for try in $(seq 1 50); do
		free_base=$((20000 + (RANDOM % 1200) * 10))
		busy=0
		for p in $(seq "$free_base" $((free_base + n - 1))); do
			(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy=1
		done
		[ "$busy" = 0 ] && [ "$free_base" != "$not" ] && return 0
	done
	return 0
}
