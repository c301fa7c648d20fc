#!/bin/sh
# The layer check (make test runs it; ../shared/DESIGN.md sections 1 and 5):
#   sh scripts/layers.sh [ROOT]     (ROOT: the tree to check; default this one)
# Fails, naming file and line, when
#  - an include points up the order of the rooms below (or is not written
#    root-relative: #include "protocols/core/mpc_party.h");
#  - circuits/ outside eval/ includes anything but runtime/ and circuits/;
#  - nanomsg, GMP, OpenSSL or libpq is included outside the rooms that may;
#  - a header holds a function body that is not static inline;
#  - outside tests/, a file is longer than FILE_MAX lines or a function longer
#    than FUNC_MAX lines,
# unless the case is listed with its reason in the exceptions below.
set -u
cd "${1:-$(dirname "$0")/..}" || exit 2

FILE_MAX=1000
FUNC_MAX=120

# Exceptions, one per line: KIND WHAT REASON.
#   file  PATH          a file over FILE_MAX lines
#   func  PATH:NAME     a function over FUNC_MAX lines
#   inc   PATH>TARGET   an include against the order
exceptions() {
	cat <<'EOF'
inc bench/*>tests/support/mpc_local.h the benchmarks run their parties as forked processes with the test library's harness
inc examples/fed_avg.c>tests/support/mpc_local.h single-machine example: forks its parties with the harness (federated training between machines is fed_train, issue 15)
EOF
}

# The rooms of DESIGN.md section 1, lowest first. A file may include files
# of its own room or of a lower one. Programs (tools, examples, bench) are
# three rooms of the same height that may not include one another; tests may
# include anything but programs.
room() {
	case $1 in
	runtime/*) echo 0 ;;
	net/*) echo 1 ;;
	protocols/core/*) echo 2 ;;
	protocols/preproc/*) echo 3 ;;
	protocols/nonlinear/*) echo 4 ;;
	protocols/apps/*) echo 5 ;;
	circuits/eval/*) echo 7 ;;
	circuits/*) echo 6 ;;
	jobs/*) echo 8 ;;
	node/*) echo 9 ;;
	tools/* | examples/* | bench/*) echo 10 ;;
	tests/*) echo 11 ;;
	*) echo 99 ;;
	esac
}

files=$(find runtime net protocols circuits jobs node tools examples bench tests \
	-path tests/fuzz/corpus -prune -o \( -name '*.c' -o -name '*.h' \) -print 2>/dev/null | sort)
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
exceptions | awk '{print $1 " " $2}' >"$tmp/exc"
: >"$tmp/bad"

excepted() { # KIND WHAT
	while read -r k w; do
		[ "$k" = "$1" ] || continue
		# shellcheck disable=SC2254
		case $2 in $w) return 0 ;; esac
	done <"$tmp/exc"
	return 1
}

bad() { echo "$*" >>"$tmp/bad"; }

# Includes.
for f in $files; do
	fr=$(room "$f")
	grep -n '^[[:space:]]*#[[:space:]]*include' "$f" >"$tmp/inc" || continue
	while IFS= read -r line; do
		ln=${line%%:*}
		case $line in
		*'"'*)
			t=$(echo "$line" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
			if [ ! -f "$t" ]; then
				bad "$f:$ln: #include \"$t\" is not a root-relative path of this tree (write it as from the repository root)"
				continue
			fi
			tr=$(room "$t")
			up=0
			if [ "$tr" -gt "$fr" ]; then up=1; fi
			case $fr:$f:$t in
			6:*:runtime/* | 6:*:circuits/*) ;;
			6:*) up=1 ;;
			esac
			case $t in circuits/eval/*) [ "$fr" -lt 7 ] && up=1 ;; esac
			if [ "$fr" = 10 ] && [ "$tr" = 10 ] && [ "${f%%/*}" != "${t%%/*}" ]; then up=1; fi
			if [ "$fr" = 11 ] && [ "$tr" = 10 ]; then up=1; fi
			if [ $up = 1 ] && ! excepted inc "$f>$t"; then
				bad "$f:$ln: #include \"$t\" points against the layer order (${f%/*}/ may include its own room and those below it; see ../shared/DESIGN.md section 1)"
			fi
			;;
		*'<nanomsg/'*)
			case $f in net/* | tests/*) ;; *) bad "$f:$ln: nanomsg outside net/ (a protocol asks the party for a round)" ;; esac
			;;
		*'<gmp.h>'*)
			case $f in protocols/preproc/mpc_paillier* | protocols/preproc/mpc_cross_paillier* | tests/*) ;;
			*) bad "$f:$ln: gmp.h outside the Paillier engine" ;;
			esac
			;;
		*'libpq-fe.h>'*)
			case $f in jobs/mpc_pg*.c | tests/*) ;;
			*) bad "$f:$ln: libpq outside jobs/mpc_pg*.c (the database reader; its header keeps libpq out of sight)" ;;
			esac
			;;
		*'<openssl/'*)
			case $f in
			net/* | runtime/* | protocols/preproc/mpc_ot* | protocols/preproc/mpc_store* | \
				protocols/preproc/mpc_paillier* | protocols/preproc/mpc_cross_* | jobs/mpc_job*.c | node/* | \
				tools/* | examples/* | bench/* | tests/*) ;;
			*) bad "$f:$ln: OpenSSL outside net/, node/, the PRG, hashing, OT, Paillier and the store" ;;
			esac
			;;
		esac
	done <"$tmp/inc"
done

# The installed headers (Makefile INSTALL_HEADERS): each exists and includes
# only installed headers, so that a program built on libmpc compiles.
if [ -f Makefile ]; then
	inst=$(sed -n '/^INSTALL_HEADERS = /,/[^\\]$/p' Makefile | sed 's/INSTALL_HEADERS = //; s/\\//g')
	for h in $inst; do
		if [ ! -f "$h" ]; then
			bad "Makefile: INSTALL_HEADERS names $h, which does not exist"
			continue
		fi
		for t in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$h"); do
			case " $(echo $inst) " in *" $t "*) ;;
			*) bad "$h: includes $t, which make install does not install (Makefile INSTALL_HEADERS)" ;;
			esac
		done
	done
fi

# Function bodies (headers: only static inline), file and function lengths.
# The parser reads clang-formatted C: comments, strings and character
# constants are blanked, a function starts at depth 0 on a line that has a
# '(' and reaches '{' before ';' or '=', and ends where the depth returns to 0.
for f in $files; do
	awk -v f="$f" -v fmax=$FILE_MAX -v gmax=$FUNC_MAX '
	function strip(s,   out, i, c, d) {
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1); d = substr(s, i, 2)
			if (incom) { if (d == "*/") { incom = 0; i++ } ; continue }
			if (d == "/*") { incom = 1; i++; continue }
			if (d == "//") break
			if (c == "\"" || c == "\x27") {
				q = c; out = out q; i++
				while (i <= length(s) && substr(s, i, 1) != q) { if (substr(s, i, 1) == "\\") i++; i++ }
				out = out q; continue
			}
			out = out c
		}
		return out
	}
	BEGIN { depth = 0; sig = ""; start = 0; infn = 0; incom = 0; cont = 0 }
	{
		raw = $0
		if (cont) { cont = (raw ~ /\\$/); next }
		if (!incom && raw ~ /^[ \t]*#/) { cont = (raw ~ /\\$/); next }
		s = strip(raw)
		if (depth == 0 && !infn) {
			if (sig == "" && s ~ /^[A-Za-z_]/ && s !~ /^(typedef|struct|enum|union|extern)[ \t]/) {
				sig = s; start = NR
			} else if (sig != "")
				sig = sig " " s
			if (sig != "") {
				pb = index(sig, "{"); ps = index(sig, ";"); pe = index(sig, "=")
				if (ps && (!pb || ps < pb)) sig = ""
				else if (pe && (!pb || pe < pb)) sig = ""
				else if (pb) {
					if (index(sig, "(") && index(sig, "(") < pb) {
						infn = 1; fstart = start; fsig = sig
						nm = sig
						gsub(/MPC_[A-Z_]+\([^)]*\)|__attribute__\(\([^)]*\)\)/, "", nm)
						name = substr(nm, 1, index(nm, "(") - 1)
						sub(/.*[ \t*]/, "", name)
					}
					sig = ""
				}
			}
		}
		n = gsub(/{/, "{", s); m = gsub(/}/, "}", s)
		depth += n - m
		if (infn && depth == 0) {
			len = NR - fstart + 1
			if (f ~ /\.h$/ && fsig !~ /static[ \t]+(inline|__inline)/)
				print "body " f ":" fstart " " name
			if (f !~ /^tests\// && len > gmax)
				print "func " f ":" fstart " " name " " len
			infn = 0
		}
	}
	END { if (f !~ /^tests\// && NR > fmax) print "file " f " " NR }
	' "$f"
done >"$tmp/shape"

while read -r kind where what n; do
	path=${where%%:*}
	case $kind in
	body) bad "$where: function $what has a body in a header (only static inline helpers belong in headers; move it to a .c file)" ;;
	func) excepted func "$path:$what" ||
		bad "$where: function $what is $n lines (limit $FUNC_MAX): split it where a reader would, or list it in scripts/layers.sh with the reason" ;;
	file) excepted file "$where" ||
		bad "$where: $what lines (limit $FILE_MAX): split it by responsibility, or list it in scripts/layers.sh with the reason" ;;
	esac
done <"$tmp/shape"

if [ -s "$tmp/bad" ]; then
	cat "$tmp/bad" >&2
	echo "layers: $(wc -l <"$tmp/bad") problem(s); the rules are in scripts/layers.sh and ../shared/DESIGN.md sections 1 and 5" >&2
	exit 1
fi
echo "layers: $(echo "$files" | wc -w) files: includes follow the layer order, headers hold no function bodies, no file over $FILE_MAX lines and no function over $FUNC_MAX outside tests/ (listed exceptions: $(wc -l <"$tmp/exc"))"
