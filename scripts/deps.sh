#!/bin/sh
# Make sure the libraries the build needs are installed. As root, install the
# missing Debian packages; otherwise print the exact command and fail.
#   sh scripts/deps.sh          the build's libraries
#   sh scripts/deps.sh format   clang-format, for make format and format-check
set -u
missing=""
optional=""
if [ "${1:-}" = format ]; then
	command -v clang-format >/dev/null 2>&1 || missing=" clang-format"
else
need() { # header package [compiler flags]
	# cmocka.h needs these before it; harmless for the others
	# shellcheck disable=SC2086
	if ! printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <%s>\nint main(void){return 0;}\n' "$1" |
		${CC:-cc} ${3:-} -x c - -o /dev/null >/dev/null 2>&1; then
		missing="$missing $2"
	fi
}
need openssl/evp.h libssl-dev
need gmp.h libgmp-dev
need nanomsg/nn.h libnanomsg-dev
need cmocka.h libcmocka-dev
# libpq (jobs/mpc_pg.c): Debian's libpq-dev puts its header in a folder of
# its own (the Makefile's PQ_INC)
need libpq-fe.h libpq-dev "${PQ_INC:--I/usr/include/postgresql}"
# the node's local API (node/): an HTTP server and a JSON library
need microhttpd.h libmicrohttpd-dev
need jansson.h libjansson-dev
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
# the node tests talk to its API with a real HTTP client
command -v curl >/dev/null 2>&1 || missing="$missing curl"
# The PostgreSQL server, for tests/loopback/test_pg only (initdb and pg_ctl
# in /usr/lib/postgresql/*/bin): installed as root after the rest, and its
# failure does not fail the build; without root the test skips, naming the
# command.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || optional=" postgresql"
fi
[ -z "$missing$optional" ] && exit 0
cmd="apt-get install -y$missing"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing$missing$optional"
	export DEBIAN_FRONTEND=noninteractive
	# The package lists may be absent on a fresh machine; refresh once.
	apt-get update -qq >/dev/null 2>&1 || true
	if [ -n "$missing" ] && ! apt-get install -y -qq $missing >/dev/null; then
		echo "deps: '$cmd' failed; run it by hand to see why" >&2
		exit 1
	fi
	if [ -n "$optional" ] && ! apt-get install -y -qq $optional >/dev/null; then
		echo "deps: 'apt-get install -y$optional' failed: test_pg will skip" >&2
	fi
	exit 0
fi
[ -z "$missing" ] && exit 0
echo "deps: missing$missing. Install them with:" >&2
echo "    sudo apt-get update && sudo $cmd" >&2
exit 1
