#!/bin/sh
# Make sure the libraries the build needs are installed. As root, install the
# missing Debian packages; otherwise print the exact command and fail.
#   sh scripts/deps.sh          the build's libraries
#   sh scripts/deps.sh format   clang-format, for make format and format-check
set -u
missing=""
if [ "${1:-}" = format ]; then
	command -v clang-format >/dev/null 2>&1 || missing=" clang-format"
else
need() { # header package
	# cmocka.h needs these before it; harmless for the others
	if ! printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <%s>\nint main(void){return 0;}\n' "$1" |
		${CC:-cc} -x c - -o /dev/null >/dev/null 2>&1; then
		missing="$missing $2"
	fi
}
need openssl/evp.h libssl-dev
need gmp.h libgmp-dev
need nanomsg/nn.h libnanomsg-dev
need cmocka.h libcmocka-dev
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
fi
[ -z "$missing" ] && exit 0
cmd="apt-get install -y$missing"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# The package lists may be absent on a fresh machine; refresh once.
	apt-get update -qq >/dev/null 2>&1 || true
	if apt-get install -y -qq $missing >/dev/null; then
		exit 0
	fi
	echo "deps: '$cmd' failed; run it by hand to see why" >&2
	exit 1
fi
echo "deps: missing$missing. Install them with:" >&2
echo "    sudo apt-get update && sudo $cmd" >&2
exit 1
