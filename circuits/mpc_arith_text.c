/* Arithmetic circuits: the text format (".arc", see mpc_arith.h), its
 * numbers, the loader and the canonical writer. */
#include "circuits/mpc_arith_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_file.h"

#define MAX_DIGITS 1000

/* ---------- numbers ---------- */

static int is_fix_literal(const char *s) {
	return strpbrk(s, ".eE") != NULL;
}

/* Decimal u128 with overflow check: 1 if ok. */
static int digits_u128(const char *d, size_t n, mpc_u128 *out) {
	mpc_u128 v = 0, lim = ~(mpc_u128)0 / 10;
	for (size_t i = 0; i < n; i++) {
		if (v > lim)
			return 0;
		v *= 10;
		if (v + (mpc_u128)(d[i] - '0') < v)
			return 0;
		v += (mpc_u128)(d[i] - '0');
	}
	*out = v;
	return 1;
}

/* Parse a number into its ring encoding: as a raw integer (fix = 0: must be
 * an integer literal) or as a fixed-point real (rounded exactly). 0 with msg
 * on error. */
static int parse_value(const mpc_arith *c, const char *s, int fix, mpc_u128 *out, char *msg,
                       size_t msz) {
	unsigned k = mpc_ring_bits(c->ring), F = c->frac;
	const char *p = s;
	int neg = 0;
	char dig[MAX_DIGITS + 1];
	size_t nd = 0, nfrac = 0;
	long e10 = 0;
	int seen_digit = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; *p >= '0' && *p <= '9'; p++, seen_digit = 1)
		if (nd < MAX_DIGITS)
			dig[nd++] = *p;
		else
			goto syntax;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, seen_digit = 1, nfrac++)
			if (nd < MAX_DIGITS)
				dig[nd++] = *p;
			else
				goto syntax;
	}
	if (!seen_digit)
		goto syntax;
	if (*p == 'e' || *p == 'E') {
		int eneg = 0, edig = 0;
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		for (; *p >= '0' && *p <= '9'; p++, edig++)
			if ((e10 = e10 * 10 + (*p - '0')) > 400)
				goto range;
		if (!edig)
			goto syntax;
		if (eneg)
			e10 = -e10;
	}
	if (*p != '\0')
		goto syntax;
	if (!fix && is_fix_literal(s)) {
		snprintf(msg, msz, "bad number '%.40s': expected an integer (an int value)", s);
		return 0;
	}
	e10 -= (long)nfrac;
	/* value = dig * 10^e10; integer part digits and fraction digits */
	char ibuf[MAX_DIGITS + 401], fbuf[2 * MAX_DIGITS + 401];
	size_t ni = 0, nf = 0;
	if (e10 >= 0) {
		memcpy(ibuf, dig, nd);
		ni = nd;
		for (long z = 0; z < e10; z++)
			ibuf[ni++] = '0';
	} else {
		long fr = -e10;
		if ((long)nd > fr) {
			ni = nd - (size_t)fr;
			memcpy(ibuf, dig, ni);
		}
		for (long z = (long)nd; z < fr; z++)
			fbuf[nf++] = '0';
		memcpy(fbuf + nf, dig + ni, nd - ni);
		nf += nd - ni;
	}
	size_t skip = 0;
	while (skip < ni && ibuf[skip] == '0')
		skip++;
	mpc_u128 ip;
	if (ni - skip > 39 || !digits_u128(ibuf + skip, ni - skip, &ip))
		goto range;
	mpc_u128 lim = (mpc_u128)1 << (k - 1); /* magnitude bound of the encoding */
	mpc_u128 mag;
	if (!fix) {
		if (ip > lim || (ip == lim && !neg))
			goto range;
		mag = ip;
	} else {
		if (ip >= (lim >> F))
			goto range;
		/* fraction bits: floor(frac * 2^(F+1)) by doubling the decimal digits */
		mpc_u128 fb = 0;
		for (unsigned b = 0; b < F + 1; b++) {
			int carry = 0;
			for (size_t i = nf; i-- > 0;) {
				int d = (fbuf[i] - '0') * 2 + carry;
				carry = d >= 10;
				fbuf[i] = (char)('0' + d % 10);
			}
			fb = (fb << 1) | (mpc_u128)carry;
		}
		mag = (ip << F) + ((fb + 1) >> 1);
		if (mag >= lim)
			goto range;
	}
	*out = neg ? (mpc_u128)0 - mag : mag;
	if (c->ring == MPC_Z64)
		*out = (uint64_t)*out;
	return 1;
syntax:
	snprintf(msg, msz, "bad number '%.40s': expected a decimal %s", s,
	         fix ? "number (digits, optional '.' and exponent)" : "integer");
	return 0;
range:
	if (fix)
		snprintf(msg, msz,
		         "value '%.40s' is too large: expected |v| < 2^%u (fixed point "
		         "with %u fractional bits in Z_2^%u)",
		         s, k - 1 - F, F, k);
	else
		snprintf(msg, msz,
		         "value '%.40s' is too large: expected -2^%u <= v < 2^%u in Z_2^%u", s,
		         k - 1, k - 1, k);
	return 0;
}

static void put_u128(FILE *fp, mpc_u128 v) {
	char b[48];
	int n = 0;
	do {
		b[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	while (n)
		fputc(b[--n], fp);
}

/* Print an encoded value: an integer, or the exact decimal of v / 2^F with a '.'. */
static void put_value(FILE *fp, const mpc_arith *c, mpc_u128 v, int fix) {
	mpc_i128 s = mpc_arith_signed(c->ring, v);
	mpc_u128 mag = s < 0 ? (mpc_u128)0 - (mpc_u128)s : (mpc_u128)s;
	if (s < 0)
		fputc('-', fp);
	if (!fix) {
		put_u128(fp, mag);
		return;
	}
	unsigned F = c->frac;
	mpc_u128 mask = F ? (((mpc_u128)1 << F) - 1) : 0, fr = mag & mask;
	put_u128(fp, F ? mag >> F : mag);
	fputc('.', fp);
	if (fr == 0)
		fputc('0', fp);
	while (fr) {
		fr *= 10;
		fputc('0' + (int)(fr >> F), fp);
		fr &= mask;
	}
}

/* ---------- the loader ---------- */

typedef struct {
	const char *name;
	const char *p, *end;
	uint32_t line;
	char *buf;
	size_t buf_cap;
	char **tok;
	size_t ntok, tok_cap;
} lexer;

/* Next line with tokens (comments removed); 0 at the end, -1 out of memory. */
static int next_line(lexer *lx) {
	while (lx->p < lx->end) {
		const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		size_t len = nl ? (size_t)(nl - lx->p) : (size_t)(lx->end - lx->p);
		lx->line++;
		if (len + 1 > lx->buf_cap) {
			char *nb = realloc(lx->buf, len + 1);
			if (nb == NULL)
				return -1;
			lx->buf = nb;
			lx->buf_cap = len + 1;
		}
		memcpy(lx->buf, lx->p, len);
		lx->buf[len] = '\0';
		lx->p = nl ? nl + 1 : lx->end;
		char *hash = memchr(lx->buf, '#', len);
		if (hash)
			*hash = '\0';
		lx->ntok = 0;
		for (char *save = NULL, *t = strtok_r(lx->buf, " \t\r\f\v", &save); t;
		     t = strtok_r(NULL, " \t\r\f\v", &save)) {
			if (lx->ntok == lx->tok_cap &&
			    mpc_arith_grow((void **)&lx->tok, &lx->tok_cap, sizeof(*lx->tok), 16) !=
			        0)
				return -1;
			lx->tok[lx->ntok++] = t;
		}
		if (lx->ntok > 0)
			return 1;
	}
	return 0;
}

static mpc_err bad(const lexer *lx, const char *fmt, ...) MPC_PRINTF(2, 3);
static mpc_err bad(const lexer *lx, const char *fmt, ...) {
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mpc_error(MPC_ECONFIG, "%s:%u: %s", lx->name, lx->line, msg);
}

/* A decimal count 0 .. max; 1 if ok. */
static int parse_count(const char *s, uint64_t max, uint64_t *out) {
	uint64_t v = 0;
	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return 0;
	}
	*out = v;
	return 1;
}

/* A party index or a declared name; -1 if neither. */
static int find_party(const mpc_arith *c, const char *s) {
	uint64_t v;
	if (parse_count(s, 1000, &v))
		return v < (uint64_t)c->parties ? (int)v : -1;
	for (int i = 0; i < c->parties; i++)
		if (c->party_name[i] && strcmp(c->party_name[i], s) == 0)
			return i;
	return -1;
}

static int parse_type(const char *s) {
	if (strcmp(s, "int") == 0)
		return MPC_ARITH_INT;
	if (strcmp(s, "fix") == 0)
		return MPC_ARITH_FIX;
	return -1;
}

static mpc_err bad_party(const lexer *lx, const mpc_arith *c, const char *s) {
	return bad(lx,
	           "bad party '%.40s': expected a party index 0 .. %d or a name declared with "
	           "'party'",
	           s, c->parties - 1);
}

static mpc_err parse_header(lexer *lx, mpc_arith **out) {
	static const char *want = "expected the header 'arith 1 ring 64|128 frac F parties N'";
	uint64_t ver, frac, parties;
	mpc_ring r;
	char msg[160];
	if (lx->ntok != 8 || strcmp(lx->tok[0], "arith") || strcmp(lx->tok[2], "ring") ||
	    strcmp(lx->tok[4], "frac") || strcmp(lx->tok[6], "parties"))
		return bad(lx, "%s", want);
	if (!parse_count(lx->tok[1], 1000, &ver) || ver != MPC_ARITH_VERSION)
		return bad(lx, "format version '%.20s' is not supported: expected 'arith %d'",
		           lx->tok[1], MPC_ARITH_VERSION);
	if (strcmp(lx->tok[3], "64") == 0)
		r = MPC_Z64;
	else if (strcmp(lx->tok[3], "128") == 0)
		r = MPC_Z128;
	else
		return bad(lx, "bad ring '%.20s': expected 64 or 128", lx->tok[3]);
	if (!parse_count(lx->tok[5], 1000, &frac))
		return bad(lx, "bad frac '%.20s': expected a number of fractional bits",
		           lx->tok[5]);
	if (!parse_count(lx->tok[7], 1000, &parties))
		return bad(lx, "bad parties '%.20s': expected 1 .. %d", lx->tok[7],
		           MPC_ARITH_MAX_PARTIES);
	mpc_err err = mpc_arith_new_circuit(out, r, (unsigned)frac, (int)parties, msg, sizeof(msg));
	return err == MPC_OK       ? MPC_OK
	       : err == MPC_ENOMEM ? mpc_error(err, "out of memory")
	                           : bad(lx, "%s", msg);
}

static mpc_err need_tokens(const lexer *lx, size_t want, const char *usage) {
	if (lx->ntok < want)
		return bad(lx, "too few operands: expected '%s'", usage);
	if (lx->ntok > want)
		return bad(lx,
		           "unexpected '%.40s' after the statement: expected '%s' and the end of "
		           "the line",
		           lx->tok[want], usage);
	return MPC_OK;
}

static mpc_err wire_ref(const lexer *lx, const mpc_arith *c, const char *s, int32_t *id) {
	if ((*id = mpc_arith_find_wire(c, s)) < 0)
		return bad(lx,
		           "wire '%.64s' is not defined: expected a wire defined on an earlier "
		           "line",
		           s);
	return MPC_OK;
}

/* party INDEX NAME */
static mpc_err parse_party(lexer *lx, mpc_arith *c) {
	uint64_t n;
	mpc_err err;

	if ((err = need_tokens(lx, 3, "party INDEX NAME")) != MPC_OK)
		return err;
	if (!parse_count(lx->tok[1], 1000, &n) || n >= (uint64_t)c->parties)
		return bad(lx, "bad party index '%.20s': expected 0 .. %d", lx->tok[1],
		           c->parties - 1);
	const char *nm = lx->tok[2];
	if (!mpc_arith_valid_name(nm) || strcmp(nm, "all") == 0)
		return bad(lx, "bad party name '%.40s': expected a name (not 'all')", nm);
	if (c->party_name[n])
		return bad(lx, "party %llu is already named '%s'", (unsigned long long)n,
		           c->party_name[n]);
	if (find_party(c, nm) >= 0)
		return bad(lx, "party name '%s' is taken: expected a new name", nm);
	if ((c->party_name[n] = strdup(nm)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	return MPC_OK;
}

/* input NAME PARTY LEN [int|fix] */
static mpc_err parse_input(lexer *lx, mpc_arith *c) {
	char msg[512];
	int t = MPC_ARITH_INT, party;
	uint64_t n;
	mpc_err err;

	if ((err = need_tokens(lx, lx->ntok >= 5 ? 5 : 4, mpc_arith_ops[MPC_A_INPUT].usage)) !=
	    MPC_OK)
		return err;
	if (lx->ntok == 5 && (t = parse_type(lx->tok[4])) < 0)
		return bad(lx, "bad type '%.20s': expected int or fix", lx->tok[4]);
	if ((party = find_party(c, lx->tok[2])) < 0)
		return bad_party(lx, c, lx->tok[2]);
	if (!parse_count(lx->tok[3], MPC_ARITH_MAX_LEN, &n) || n == 0)
		return bad(lx, "bad length '%.20s': expected 1 .. 2^28", lx->tok[3]);
	if (mpc_arith_make_input(c, lx->tok[1], lx->line, party, (size_t)n, t, msg, sizeof(msg)) <
	    0)
		return bad(lx, "%s", msg);
	return MPC_OK;
}

/* const NAME int|fix LEN VALUE... */
static mpc_err parse_const(lexer *lx, mpc_arith *c) {
	char msg[512];
	int t;
	uint64_t n;

	if (lx->ntok < 5)
		return bad(lx, "too few operands: expected '%s'", mpc_arith_ops[MPC_A_CONST].usage);
	if ((t = parse_type(lx->tok[2])) < 0)
		return bad(lx, "bad type '%.20s': expected int or fix", lx->tok[2]);
	if (!parse_count(lx->tok[3], MPC_ARITH_MAX_LEN, &n) || n == 0)
		return bad(lx, "bad length '%.20s': expected 1 .. 2^28", lx->tok[3]);
	size_t nv = lx->ntok - 4;
	if (nv != 1 && nv != n)
		return bad(lx, "%zu values for a constant of length %llu: expected 1 or %llu", nv,
		           (unsigned long long)n, (unsigned long long)n);
	mpc_u128 *vals = malloc(nv * sizeof(*vals));
	if (vals == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (size_t i = 0; i < nv; i++)
		if (!parse_value(c, lx->tok[4 + i], t == MPC_ARITH_FIX, &vals[i], msg,
		                 sizeof(msg))) {
			free(vals);
			return bad(lx, "%s", msg);
		}
	if (mpc_arith_make_const(c, lx->tok[1], lx->line, t, (size_t)n, vals, nv, msg,
	                         sizeof(msg)) < 0)
		return bad(lx, "%s", msg);
	return MPC_OK;
}

/* output WIRE all|PARTY */
static mpc_err parse_output(lexer *lx, mpc_arith *c) {
	char msg[512];
	int32_t id;
	int party = MPC_ARITH_ALL;
	mpc_err err;

	if ((err = need_tokens(lx, 3, "output WIRE all|PARTY")) != MPC_OK ||
	    (err = wire_ref(lx, c, lx->tok[1], &id)) != MPC_OK)
		return err;
	if (strcmp(lx->tok[2], "all") != 0 && (party = find_party(c, lx->tok[2])) < 0)
		return bad(lx,
		           "bad output party '%.40s': expected all, a party index 0 .. %d "
		           "or a name declared with 'party'",
		           lx->tok[2], c->parties - 1);
	if (mpc_arith_make_output(c, id, party, msg, sizeof(msg)) < 0)
		return bad(lx, "%s", msg);
	return MPC_OK;
}

/* The operation named by tok, or MPC_ECONFIG listing them all. */
static mpc_err parse_op(const lexer *lx, const char *tok, int *op) {
	for (int k = MPC_A_ADD; k < MPC_A_OP_COUNT; k++)
		if (strcmp(tok, mpc_arith_ops[k].name) == 0) {
			*op = k;
			return MPC_OK;
		}
	char list[400] = "";
	for (int k = MPC_A_ADD; k < MPC_A_OP_COUNT; k++) {
		strcat(list, " ");
		strcat(list, mpc_arith_ops[k].name);
	}
	return bad(lx, "unknown operation '%.40s': expected one of%s", tok, list);
}

/* NAME = OP operands, the operands as the operation's signature says. */
static mpc_err parse_gate(lexer *lx, mpc_arith *c) {
	char msg[512];
	int op = -1;
	mpc_err err;

	if ((err = parse_op(lx, lx->tok[2], &op)) != MPC_OK)
		return err;
	const char *sig = mpc_arith_ops[op].sig;
	if ((err = need_tokens(lx, 3 + strlen(sig), mpc_arith_ops[op].usage)) != MPC_OK)
		return err;
	int32_t w[3] = {-1, -1, -1};
	int nw = 0, cfix = 0, as_type = 0;
	uint64_t L = 0;
	mpc_u128 cval = 0;
	for (size_t k = 0; sig[k]; k++) {
		const char *t = lx->tok[3 + k];
		switch (sig[k]) {
		case 'w':
			if ((err = wire_ref(lx, c, t, &w[nw++])) != MPC_OK)
				return err;
			break;
		case 'n':
			if (!parse_count(t, MPC_ARITH_MAX_LEN, &L) || L == 0)
				return bad(
				    lx,
				    "bad number '%.40s': expected a positive integer (at most "
				    "2^28) in '%s'",
				    t, mpc_arith_ops[op].usage);
			break;
		case 't':
			if ((as_type = parse_type(t)) < 0)
				return bad(lx, "bad type '%.20s': expected int or fix", t);
			break;
		case 'v': {
			int fix =
			    op == MPC_A_CMUL ? is_fix_literal(t) : c->w[w[0]].type == MPC_ARITH_FIX;
			if (!parse_value(c, t, fix, &cval, msg, sizeof(msg)))
				return bad(lx, "%s", msg);
			cfix = fix;
			break;
		}
		}
	}
	if (mpc_arith_make_gate(c, lx->tok[0], lx->line, op, w[0], w[1], w[2], L, cfix, cval,
	                        as_type, msg, sizeof(msg)) < 0)
		return bad(lx, "%s", msg);
	return MPC_OK;
}

static mpc_err parse_statement(lexer *lx, mpc_arith *c) {
	const char *kw = lx->tok[0];

	if (strcmp(kw, "party") == 0)
		return parse_party(lx, c);
	if (strcmp(kw, "input") == 0)
		return parse_input(lx, c);
	if (strcmp(kw, "const") == 0)
		return parse_const(lx, c);
	if (strcmp(kw, "output") == 0)
		return parse_output(lx, c);
	if (lx->ntok < 3 || strcmp(lx->tok[1], "=") != 0)
		return bad(lx,
		           "unknown statement '%.40s': expected party, input, const, output or "
		           "'NAME = OP operands'",
		           kw);
	return parse_gate(lx, c);
}

mpc_err mpc_arith_parse(const char *name, const char *text, size_t len, mpc_arith **out) {
	lexer lx;
	mpc_arith *c = NULL;
	mpc_err err = MPC_OK;
	int r;

	*out = NULL;
	memset(&lx, 0, sizeof(lx));
	lx.name = name;
	lx.p = text;
	lx.end = text + len;
	if (memchr(text, '\0', len) != NULL) {
		const char *z = memchr(text, '\0', len);
		for (const char *q = text; q < z; q++)
			lx.line += *q == '\n';
		lx.line++;
		err = bad(&lx, "a NUL byte: expected text");
		goto out;
	}
	if ((r = next_line(&lx)) <= 0) {
		err = r < 0
		          ? mpc_error(MPC_ENOMEM, "out of memory")
		          : bad(&lx, "empty file: expected the header 'arith 1 ring 64|128 frac F "
		                     "parties N'");
		goto out;
	}
	if ((err = parse_header(&lx, &c)) != MPC_OK)
		goto out;
	while ((r = next_line(&lx)) > 0)
		if ((err = parse_statement(&lx, c)) != MPC_OK)
			goto out;
	if (r < 0) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	if (c->n_out == 0) {
		err = bad(&lx, "no output: expected at least one 'output WIRE all|PARTY'");
		goto out;
	}
	*out = c;
	c = NULL;
out:
	free(lx.buf);
	free(lx.tok);
	mpc_arith_free(c);
	return err;
}

mpc_err mpc_arith_load(const char *path, mpc_arith **out) {
	char *text;
	size_t len;

	*out = NULL;
	mpc_err err = mpc_file_read_all(path, SIZE_MAX, &text, &len);
	if (err != MPC_OK)
		return err;
	err = mpc_arith_parse(path, text, len, out);
	free(text);
	return err;
}

/* ---------- the writer ---------- */

static void put_party(FILE *fp, const mpc_arith *c, int p) {
	if (p == MPC_ARITH_ALL)
		fputs("all", fp);
	else if (c->party_name[p])
		fputs(c->party_name[p], fp);
	else
		fprintf(fp, "%d", p);
}

mpc_err mpc_arith_write(const mpc_arith *c, FILE *fp) {
	mpc_err err = mpc_arith_check(c);
	if (err != MPC_OK)
		return err;
	fprintf(fp, "arith %d ring %u frac %u parties %d\n", MPC_ARITH_VERSION,
	        mpc_ring_bits(c->ring), c->frac, c->parties);
	for (int i = 0; i < c->parties; i++)
		if (c->party_name[i])
			fprintf(fp, "party %d %s\n", i, c->party_name[i]);
	for (size_t i = 0; i < c->n_w; i++) {
		const mpc_arith_wire *w = &c->w[i];
		if (w->op == MPC_A_INPUT) {
			fprintf(fp, "input %s ", w->name);
			put_party(fp, c, w->party);
			fprintf(fp, " %zu %s\n", w->len, mpc_arith_type_name(w->type));
			continue;
		}
		if (w->op == MPC_A_CONST) {
			fprintf(fp, "const %s %s %zu", w->name, mpc_arith_type_name(w->type),
			        w->len);
			for (size_t k = 0; k < w->nval; k++) {
				fputc(' ', fp);
				put_value(fp, c, w->val[k], w->type == MPC_ARITH_FIX);
			}
			fputc('\n', fp);
			continue;
		}
		fprintf(fp, "%s = %s", w->name, mpc_arith_ops[w->op].name);
		int32_t opnd[3] = {w->a, w->b, w->c};
		int k = 0;
		for (const char *s = mpc_arith_ops[w->op].sig; *s; s++) {
			fputc(' ', fp);
			if (*s == 'w')
				fputs(c->w[opnd[k++]].name, fp);
			else if (*s == 'n')
				fprintf(fp, "%u", w->L);
			else if (*s == 't')
				fputs(mpc_arith_type_name(w->type), fp);
			else
				put_value(fp, c, w->val[0], w->cfix);
		}
		fputc('\n', fp);
	}
	for (size_t j = 0; j < c->n_out; j++) {
		fprintf(fp, "output %s ", c->w[c->out[j].wire].name);
		put_party(fp, c, c->out[j].party);
		fputc('\n', fp);
	}
	if (ferror(fp))
		return mpc_error(MPC_EIO, "cannot write the circuit");
	return MPC_OK;
}

mpc_err mpc_arith_text(const mpc_arith *c, char **text, size_t *len) {
	char *buf = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&buf, &n);
	mpc_err err;
	*text = NULL;
	if (fp == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	err = mpc_arith_write(c, fp);
	if (fclose(fp) != 0 && err == MPC_OK)
		err = mpc_error(MPC_ENOMEM, "out of memory");
	if (err != MPC_OK) {
		free(buf);
		return err;
	}
	*text = buf;
	if (len)
		*len = n;
	return MPC_OK;
}
