/* Arithmetic circuits: the text format's loader and writer, the builder and
 * the clear evaluator (see mpc_arith.h; the MPC evaluator is in
 * mpc_arith_eval.c). */
#include "circuits/mpc_arith_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_file.h"
#include "runtime/mpc_fixed.h"

#define MAX_NAME 64
#define MAX_DIGITS 1000
#define MAX_WIRES (1u << 24)

/* Operand signature: w a wire, n a positive integer, v a number, t a type. */
static const struct {
	const char *name, *sig, *usage;
} ops[MPC_A_OP_COUNT] = {
    [MPC_A_INPUT] = {"INPUT", "", "input NAME PARTY LEN [int|fix]"},
    [MPC_A_CONST] = {"CONST", "", "const NAME int|fix LEN VALUE..."},
    [MPC_A_ADD] = {"ADD", "ww", "NAME = ADD A B"},
    [MPC_A_SUB] = {"SUB", "ww", "NAME = SUB A B"},
    [MPC_A_NEG] = {"NEG", "w", "NAME = NEG A"},
    [MPC_A_MUL] = {"MUL", "ww", "NAME = MUL A B"},
    [MPC_A_DOT] = {"DOT", "wwn", "NAME = DOT A B L"},
    [MPC_A_SUM] = {"SUM", "wn", "NAME = SUM A L"},
    [MPC_A_CMUL] = {"CMUL", "wv", "NAME = CMUL A CONSTANT"},
    [MPC_A_ADDC] = {"ADDC", "wv", "NAME = ADDC A CONSTANT"},
    [MPC_A_TRUNC] = {"TRUNC", "wn", "NAME = TRUNC A BITS"},
    [MPC_A_TRUNC_EXACT] = {"TRUNC_EXACT", "wn", "NAME = TRUNC_EXACT A BITS"},
    [MPC_A_TOFIX] = {"TOFIX", "w", "NAME = TOFIX A"},
    [MPC_A_AS] = {"AS", "wt", "NAME = AS A int|fix"},
    [MPC_A_LTZ] = {"LTZ", "w", "NAME = LTZ A"},
    [MPC_A_LT] = {"LT", "ww", "NAME = LT A B"},
    [MPC_A_EQ] = {"EQ", "ww", "NAME = EQ A B"},
    [MPC_A_SELECT] = {"SELECT", "www", "NAME = SELECT COND A B"},
    [MPC_A_RELU] = {"RELU", "w", "NAME = RELU A"},
    [MPC_A_MAX] = {"MAX", "wn", "NAME = MAX A L"},
    [MPC_A_MIN] = {"MIN", "wn", "NAME = MIN A L"},
    [MPC_A_ARGMAX] = {"ARGMAX", "wn", "NAME = ARGMAX A L"},
    [MPC_A_ARGMIN] = {"ARGMIN", "wn", "NAME = ARGMIN A L"},
    [MPC_A_RECIP] = {"RECIP", "w", "NAME = RECIP A"},
    [MPC_A_DIV] = {"DIV", "ww", "NAME = DIV A B"},
    [MPC_A_SQRT] = {"SQRT", "w", "NAME = SQRT A"},
    [MPC_A_EXP] = {"EXP", "w", "NAME = EXP A"},
    [MPC_A_SIGMOID] = {"SIGMOID", "w", "NAME = SIGMOID A"},
};

static const char *type_name(int t) { return t == MPC_ARITH_FIX ? "fix" : "int"; }

/* Double the array *p of *cap elements of elem bytes (first: the first
 * capacity). 0, or -1 out of memory with *p untouched. */
static int grow(void **p, size_t *cap, size_t elem, size_t first)
{
	size_t n = *cap ? 2 * *cap : first;
	void *q = realloc(*p, n * elem);
	if (q == NULL)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

const char *mpc_arith_op_name(mpc_arith_op op)
{
	return (unsigned)op < MPC_A_OP_COUNT ? ops[op].name : "?";
}

/* ---------- the circuit object ---------- */

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

int mpc_arith_find_wire(const mpc_arith *c, const char *name)
{
	if (c->hash_cap == 0 || name == NULL)
		return -1;
	for (size_t i = hash_name(name) & (c->hash_cap - 1);; i = (i + 1) & (c->hash_cap - 1)) {
		int32_t id = c->hash[i];
		if (id == 0)
			return -1;
		if (strcmp(c->w[id - 1].name, name) == 0)
			return id - 1;
	}
}

static int hash_insert(mpc_arith *c, int32_t id)
{
	if (2 * (c->n_w + 1) > c->hash_cap) {
		size_t cap = c->hash_cap ? 2 * c->hash_cap : 64;
		int32_t *h = calloc(cap, sizeof(*h));
		if (h == NULL)
			return 0;
		for (size_t k = 0; k < c->hash_cap; k++)
			if (c->hash[k]) {
				size_t i = hash_name(c->w[c->hash[k] - 1].name) & (cap - 1);
				while (h[i])
					i = (i + 1) & (cap - 1);
				h[i] = c->hash[k];
			}
		free(c->hash);
		c->hash = h;
		c->hash_cap = cap;
	}
	size_t i = hash_name(c->w[id].name) & (c->hash_cap - 1);
	while (c->hash[i])
		i = (i + 1) & (c->hash_cap - 1);
	c->hash[i] = id + 1;
	return 1;
}

void mpc_arith_free(mpc_arith *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_w; i++) {
		free(c->w[i].name);
		free(c->w[i].val); /* public constants: nothing secret */
	}
	for (int i = 0; i < MPC_ARITH_MAX_PARTIES; i++)
		free(c->party_name[i]);
	free(c->w);
	free(c->in);
	free(c->out);
	free(c->hash);
	free(c);
}

static mpc_err new_circuit(mpc_arith **out, mpc_ring r, unsigned frac, int parties, char *msg,
			   size_t msz)
{
	*out = NULL;
	if (mpc_ring_check(r) != MPC_OK) {
		snprintf(msg, msz, "ring must be 64 or 128");
		return MPC_EINVAL;
	}
	if (mpc_fixed_check_frac(r, frac) != MPC_OK) {
		snprintf(msg, msz, "frac %u is not allowed in Z_2^%u (0 .. %u)", frac,
			 mpc_ring_bits(r), r == MPC_Z64 ? 60u : 100u);
		return MPC_EINVAL;
	}
	if (parties < 1 || parties > MPC_ARITH_MAX_PARTIES) {
		snprintf(msg, msz, "parties must be 1 .. %d", MPC_ARITH_MAX_PARTIES);
		return MPC_EINVAL;
	}
	mpc_arith *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(msg, msz, "out of memory");
		return MPC_ENOMEM;
	}
	c->ring = r;
	c->frac = frac;
	c->parties = parties;
	*out = c;
	return MPC_OK;
}

mpc_err mpc_arith_new(mpc_arith **out, mpc_ring r, unsigned frac, int parties)
{
	char msg[160];
	mpc_err err = new_circuit(out, r, frac, parties, msg, sizeof(msg));
	return err == MPC_OK ? MPC_OK : mpc_error(err, "mpc_arith_new: %s", msg);
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MAX_NAME)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

static int wire_type(const mpc_arith *c, int32_t id) { return c->w[id].type; }

int mpc_arith_truncates(const mpc_arith *c, const mpc_arith_wire *w)
{
	if (c->frac == 0)
		return 0;
	switch (w->op) {
	case MPC_A_MUL:
	case MPC_A_DOT:
		return wire_type(c, w->a) == MPC_ARITH_FIX && wire_type(c, w->b) == MPC_ARITH_FIX;
	case MPC_A_CMUL:
		return w->cfix && wire_type(c, w->a) == MPC_ARITH_FIX;
	default:
		return 0;
	}
}

int mpc_arith_kind(const mpc_arith *c, const mpc_arith_wire *w)
{
	if (w->pub)
		return MPC_ARITH_K_LOCAL;
	switch (w->op) {
	case MPC_A_INPUT: case MPC_A_CONST: case MPC_A_ADD: case MPC_A_SUB: case MPC_A_NEG:
	case MPC_A_SUM: case MPC_A_ADDC: case MPC_A_TOFIX: case MPC_A_AS:
		return MPC_ARITH_K_LOCAL;
	case MPC_A_CMUL:
		return mpc_arith_truncates(c, w) ? MPC_ARITH_K_TRUNC : MPC_ARITH_K_LOCAL;
	case MPC_A_MUL:
	case MPC_A_DOT:
		if (!c->w[w->a].pub && !c->w[w->b].pub)
			return MPC_ARITH_K_BEAVER;
		return mpc_arith_truncates(c, w) ? MPC_ARITH_K_TRUNC : MPC_ARITH_K_LOCAL;
	case MPC_A_SELECT:
		return !c->w[w->a].pub && !(c->w[w->b].pub && c->w[w->c].pub) ? MPC_ARITH_K_BEAVER
									       : MPC_ARITH_K_LOCAL;
	case MPC_A_TRUNC:
		return MPC_ARITH_K_TRUNC;
	default:
		return MPC_ARITH_K_NL;
	}
}

/* Append a wire after every check; its index, or -1 with msg filled. The
 * operands are valid ids (callers check). val: CONST values or the CMUL/ADDC
 * constant (taken over, freed on failure). */
static int append(mpc_arith *c, const char *name, uint32_t line, mpc_arith_wire w, char *msg,
		  size_t msz)
{
	char auto_name[32];
	if (name == NULL) {
		snprintf(auto_name, sizeof(auto_name), "_%zu", c->n_w);
		for (int k = 1; mpc_arith_find_wire(c, auto_name) >= 0; k++)
			snprintf(auto_name, sizeof(auto_name), "_%zu_%d", c->n_w, k);
		name = auto_name;
	}
	if (!valid_name(name)) {
		snprintf(msg, msz, "bad wire name '%.*s': expected a letter or '_' then letters, "
			 "digits, '_' or '.' (at most %d)", MAX_NAME, name, MAX_NAME);
		goto fail;
	}
	int old = mpc_arith_find_wire(c, name);
	if (old >= 0) {
		if (c->w[old].line)
			snprintf(msg, msz, "wire '%s' is already defined (line %u): expected a new name",
				 name, c->w[old].line);
		else
			snprintf(msg, msz, "wire '%s' is already defined: expected a new name", name);
		goto fail;
	}
	if (c->n_w >= MAX_WIRES) {
		snprintf(msg, msz, "too many wires: expected at most %u", MAX_WIRES);
		goto fail;
	}
	if (c->n_w == c->cap_w && grow((void **)&c->w, &c->cap_w, sizeof(*c->w), 32) != 0)
		goto nomem;
	if ((w.name = strdup(name)) == NULL)
		goto nomem;
	w.line = line;
	/* level: interactive depth */
	uint32_t lv = 0;
	int32_t opnd[3] = {w.a, w.b, w.c};
	for (int k = 0; k < 3; k++)
		if (opnd[k] >= 0 && c->w[opnd[k]].level > lv)
			lv = c->w[opnd[k]].level;
	int32_t id = (int32_t)c->n_w;
	c->w[id] = w;
	c->n_w++;
	if (!hash_insert(c, id)) {
		c->n_w--;
		free(w.name);
		goto nomem;
	}
	if (mpc_arith_kind(c, &c->w[id]) != MPC_ARITH_K_LOCAL)
		lv++;
	c->w[id].level = lv;
	if (lv > c->depth)
		c->depth = lv;
	return id;
nomem:
	snprintf(msg, msz, "out of memory");
fail:
	free(w.val);
	return -1;
}

/* Length of an element-wise result of operands of lengths la, lb (lc):
 * equal, or 1 (broadcast). 0 on mismatch. */
static size_t bcast_len(size_t la, size_t lb)
{
	if (la == lb || lb == 1)
		return la;
	if (la == 1)
		return lb;
	return 0;
}

/* Check a gate and fill in its type, visibility and length. */
static int make_gate(mpc_arith *c, const char *name, uint32_t line, int op, int32_t a, int32_t b,
		     int32_t cc, uint64_t L, int cfix, mpc_u128 cval, int as_type, char *msg,
		     size_t msz)
{
	mpc_arith_wire w;
	const char *on = ops[op].name;
	int32_t opnd[3] = {a, b, cc};
	size_t nops = strlen(ops[op].sig) - (strchr(ops[op].sig, 'n') || strchr(ops[op].sig, 'v') ||
					      strchr(ops[op].sig, 't'));
	memset(&w, 0, sizeof(w));
	w.op = (uint8_t)op;
	w.a = a;
	w.b = b;
	w.c = cc;
	w.party = -1;
	for (size_t k = 0; k < nops; k++)
		if (opnd[k] < 0 || (size_t)opnd[k] >= c->n_w) {
			snprintf(msg, msz, "%s: operand %zu is not a wire of this circuit", on, k + 1);
			return -1;
		}
	const mpc_arith_wire *A = &c->w[a], *B = nops > 1 ? &c->w[b] : NULL,
			     *C = nops > 2 ? &c->w[cc] : NULL;
	w.pub = A->pub && (!B || B->pub) && (!C || C->pub);
	w.type = A->type;
	w.len = A->len;
	int fixonly = 0, sametype = 0, group = 0, bits = 0;
	switch (op) {
	case MPC_A_ADD: case MPC_A_SUB: case MPC_A_LT: case MPC_A_EQ:
		sametype = 1;
		/* fall through */
	case MPC_A_MUL:
		if ((w.len = bcast_len(A->len, B->len)) == 0)
			goto mismatch;
		if (op == MPC_A_MUL)
			w.type = A->type == MPC_ARITH_FIX || B->type == MPC_ARITH_FIX ? MPC_ARITH_FIX
										    : MPC_ARITH_INT;
		break;
	case MPC_A_DIV:
		fixonly = 1;
		if ((w.len = bcast_len(A->len, B->len)) == 0)
			goto mismatch;
		break;
	case MPC_A_DOT:
		group = 1;
		if (L == 0 || L > MPC_ARITH_MAX_LEN || A->len % L || B->len % L ||
		    (A->len != B->len && A->len != L && B->len != L)) {
			snprintf(msg, msz, "DOT of '%s' (length %zu) and '%s' (length %zu) in groups "
				 "of %llu: expected lengths m*L for both, or m*L and L",
				 A->name, A->len, B->name, B->len, (unsigned long long)L);
			return -1;
		}
		w.len = (A->len > B->len ? A->len : B->len) / L;
		w.type = A->type == MPC_ARITH_FIX || B->type == MPC_ARITH_FIX ? MPC_ARITH_FIX
									    : MPC_ARITH_INT;
		break;
	case MPC_A_SUM: case MPC_A_MAX: case MPC_A_MIN: case MPC_A_ARGMAX: case MPC_A_ARGMIN:
		group = 1;
		if (L == 0 || L > MPC_ARITH_MAX_LEN || A->len % L) {
			snprintf(msg, msz, "%s of '%s' (length %zu) in groups of %llu: expected a "
				 "group length dividing the length", on, A->name, A->len,
				 (unsigned long long)L);
			return -1;
		}
		w.len = A->len / L;
		if (op == MPC_A_ARGMAX || op == MPC_A_ARGMIN)
			w.type = MPC_ARITH_INT;
		break;
	case MPC_A_SELECT:
		if ((w.len = bcast_len(bcast_len(A->len, B->len), C->len)) == 0 ||
		    bcast_len(A->len, C->len) == 0)
			goto mismatch;
		if (A->type != MPC_ARITH_INT) {
			snprintf(msg, msz, "SELECT: the condition '%s' is fix: expected an int 0/1",
				 A->name);
			return -1;
		}
		if (B->type != C->type) {
			snprintf(msg, msz, "SELECT: '%s' is %s and '%s' is %s: expected one type",
				 B->name, type_name(B->type), C->name, type_name(C->type));
			return -1;
		}
		w.type = B->type;
		break;
	case MPC_A_TRUNC:
		bits = 1;
		if (L < 1 || L > mpc_ring_bits(c->ring) - 41) {
			snprintf(msg, msz, "TRUNC by %llu bits: expected 1 .. %u in Z_2^%u",
				 (unsigned long long)L, mpc_ring_bits(c->ring) - 41, mpc_ring_bits(c->ring));
			return -1;
		}
		break;
	case MPC_A_TRUNC_EXACT:
		bits = 1;
		if (L < 1 || L >= mpc_ring_bits(c->ring) - 2) {
			snprintf(msg, msz, "TRUNC_EXACT by %llu bits: expected 1 .. %u in Z_2^%u",
				 (unsigned long long)L, mpc_ring_bits(c->ring) - 3, mpc_ring_bits(c->ring));
			return -1;
		}
		break;
	case MPC_A_TOFIX:
		if (A->type != MPC_ARITH_INT) {
			snprintf(msg, msz, "TOFIX of '%s', which is fix already: expected an int",
				 A->name);
			return -1;
		}
		w.type = MPC_ARITH_FIX;
		break;
	case MPC_A_AS:
		w.type = (uint8_t)as_type;
		break;
	case MPC_A_CMUL:
		w.cfix = (uint8_t)cfix;
		if (cfix)
			w.type = MPC_ARITH_FIX;
		break;
	case MPC_A_ADDC:
		w.cfix = A->type == MPC_ARITH_FIX;
		break;
	case MPC_A_RECIP: case MPC_A_SQRT: case MPC_A_EXP: case MPC_A_SIGMOID:
		fixonly = 1;
		break;
	case MPC_A_LTZ: case MPC_A_NEG: case MPC_A_RELU:
		break;
	default:
		snprintf(msg, msz, "operation %d is not a gate", op);
		return -1;
	}
	if (sametype && A->type != B->type) {
		snprintf(msg, msz, "%s of '%s' (%s) and '%s' (%s): expected one type (convert with "
			 "TOFIX or AS)", on, A->name, type_name(A->type), B->name, type_name(B->type));
		return -1;
	}
	if (fixonly && (A->type != MPC_ARITH_FIX || (B && B->type != MPC_ARITH_FIX))) {
		snprintf(msg, msz, "%s of an int wire ('%s'): expected fix operands", on,
			 A->type != MPC_ARITH_FIX ? A->name : B->name);
		return -1;
	}
	if (op == MPC_A_LT || op == MPC_A_EQ || op == MPC_A_LTZ)
		w.type = MPC_ARITH_INT;
	if (group || bits)
		w.L = (uint32_t)L;
	if (op == MPC_A_CMUL || op == MPC_A_ADDC) {
		if ((w.val = malloc(sizeof(mpc_u128))) == NULL) {
			snprintf(msg, msz, "out of memory");
			return -1;
		}
		w.val[0] = cval;
		w.nval = 1;
	}
	return append(c, name, line, w, msg, msz);
mismatch:
	snprintf(msg, msz, "length mismatch: %s of '%s' (length %zu) and '%s' (length %zu)%s: "
		 "expected equal lengths or length 1", on, A->name, A->len, B->name, B->len,
		 C ? " and a third operand" : "");
	if (C)
		snprintf(msg, msz, "length mismatch: %s of '%s' (%zu), '%s' (%zu) and '%s' (%zu): "
			 "expected equal lengths or length 1", on, A->name, A->len, B->name, B->len,
			 C->name, C->len);
	return -1;
}

static int make_input(mpc_arith *c, const char *name, uint32_t line, int party, size_t len, int t,
		      char *msg, size_t msz)
{
	mpc_arith_wire w;
	if (party < 0 || party >= c->parties) {
		snprintf(msg, msz, "input party %d: expected 0 .. %d", party, c->parties - 1);
		return -1;
	}
	if (len < 1 || len > MPC_ARITH_MAX_LEN) {
		snprintf(msg, msz, "input length %zu: expected 1 .. 2^28", len);
		return -1;
	}
	if (c->n_in == c->cap_in && grow((void **)&c->in, &c->cap_in, sizeof(*c->in), 8) != 0) {
		snprintf(msg, msz, "out of memory");
		return -1;
	}
	memset(&w, 0, sizeof(w));
	w.op = MPC_A_INPUT;
	w.type = (uint8_t)t;
	w.a = w.b = w.c = -1;
	w.party = party;
	w.len = len;
	int id = append(c, name, line, w, msg, msz);
	if (id >= 0)
		c->in[c->n_in++] = id;
	return id;
}

/* vals: nv encoded values (taken over). */
static int make_const(mpc_arith *c, const char *name, uint32_t line, int t, size_t len,
		      mpc_u128 *vals, size_t nv, char *msg, size_t msz)
{
	mpc_arith_wire w;
	if (len < 1 || len > MPC_ARITH_MAX_LEN || (nv != 1 && nv != len)) {
		snprintf(msg, msz, "constant of length %zu with %zu values: expected a length of "
			 "1 .. 2^28 and 1 value or that many", len, nv);
		free(vals);
		return -1;
	}
	memset(&w, 0, sizeof(w));
	w.op = MPC_A_CONST;
	w.type = (uint8_t)t;
	w.pub = 1;
	w.a = w.b = w.c = -1;
	w.party = -1;
	w.len = len;
	w.nval = nv;
	w.val = vals;
	return append(c, name, line, w, msg, msz);
}

static int make_output(mpc_arith *c, int32_t wire, int party, char *msg, size_t msz)
{
	if (wire < 0 || (size_t)wire >= c->n_w) {
		snprintf(msg, msz, "output of a wire that does not exist");
		return -1;
	}
	if (party != MPC_ARITH_ALL && (party < 0 || party >= c->parties)) {
		snprintf(msg, msz, "output to party %d: expected all or 0 .. %d", party,
			 c->parties - 1);
		return -1;
	}
	if (c->n_out == c->cap_out &&
	    grow((void **)&c->out, &c->cap_out, sizeof(*c->out), 8) != 0) {
		snprintf(msg, msz, "out of memory");
		return -1;
	}
	c->out[c->n_out].wire = wire;
	c->out[c->n_out].party = party;
	c->n_out++;
	return 0;
}

/* ---------- numbers ---------- */

static int is_fix_literal(const char *s) { return strpbrk(s, ".eE") != NULL; }

/* Decimal u128 with overflow check: 1 if ok. */
static int digits_u128(const char *d, size_t n, mpc_u128 *out)
{
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
		       size_t msz)
{
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
		snprintf(msg, msz, "value '%.40s' is too large: expected |v| < 2^%u (fixed point "
			 "with %u fractional bits in Z_2^%u)", s, k - 1 - F, F, k);
	else
		snprintf(msg, msz, "value '%.40s' is too large: expected -2^%u <= v < 2^%u in Z_2^%u",
			 s, k - 1, k - 1, k);
	return 0;
}

static void put_u128(FILE *fp, mpc_u128 v)
{
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
static void put_value(FILE *fp, const mpc_arith *c, mpc_u128 v, int fix)
{
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
static int next_line(lexer *lx)
{
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
			    grow((void **)&lx->tok, &lx->tok_cap, sizeof(*lx->tok), 16) != 0)
				return -1;
			lx->tok[lx->ntok++] = t;
		}
		if (lx->ntok > 0)
			return 1;
	}
	return 0;
}

static mpc_err bad(const lexer *lx, const char *fmt, ...) MPC_PRINTF(2, 3);
static mpc_err bad(const lexer *lx, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mpc_error(MPC_ECONFIG, "%s:%u: %s", lx->name, lx->line, msg);
}

/* A decimal count 0 .. max; 1 if ok. */
static int parse_count(const char *s, uint64_t max, uint64_t *out)
{
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
static int find_party(const mpc_arith *c, const char *s)
{
	uint64_t v;
	if (parse_count(s, 1000, &v))
		return v < (uint64_t)c->parties ? (int)v : -1;
	for (int i = 0; i < c->parties; i++)
		if (c->party_name[i] && strcmp(c->party_name[i], s) == 0)
			return i;
	return -1;
}

static int parse_type(const char *s)
{
	if (strcmp(s, "int") == 0)
		return MPC_ARITH_INT;
	if (strcmp(s, "fix") == 0)
		return MPC_ARITH_FIX;
	return -1;
}

static mpc_err bad_party(const lexer *lx, const mpc_arith *c, const char *s)
{
	return bad(lx, "bad party '%.40s': expected a party index 0 .. %d or a name declared with "
		   "'party'", s, c->parties - 1);
}

static mpc_err parse_header(lexer *lx, mpc_arith **out)
{
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
		return bad(lx, "bad frac '%.20s': expected a number of fractional bits", lx->tok[5]);
	if (!parse_count(lx->tok[7], 1000, &parties))
		return bad(lx, "bad parties '%.20s': expected 1 .. %d", lx->tok[7],
			   MPC_ARITH_MAX_PARTIES);
	mpc_err err = new_circuit(out, r, (unsigned)frac, (int)parties, msg, sizeof(msg));
	return err == MPC_OK ? MPC_OK : err == MPC_ENOMEM ? mpc_error(err, "out of memory")
							  : bad(lx, "%s", msg);
}

static mpc_err need_tokens(const lexer *lx, size_t want, const char *usage)
{
	if (lx->ntok < want)
		return bad(lx, "too few operands: expected '%s'", usage);
	if (lx->ntok > want)
		return bad(lx, "unexpected '%.40s' after the statement: expected '%s' and the end of "
			   "the line", lx->tok[want], usage);
	return MPC_OK;
}

static mpc_err wire_ref(const lexer *lx, const mpc_arith *c, const char *s, int32_t *id)
{
	if ((*id = mpc_arith_find_wire(c, s)) < 0)
		return bad(lx, "wire '%.64s' is not defined: expected a wire defined on an earlier "
			   "line", s);
	return MPC_OK;
}

static mpc_err parse_statement(lexer *lx, mpc_arith *c)
{
	char msg[512];
	const char *kw = lx->tok[0];
	uint64_t n;
	mpc_err err;

	if (strcmp(kw, "party") == 0) {
		if ((err = need_tokens(lx, 3, "party INDEX NAME")) != MPC_OK)
			return err;
		if (!parse_count(lx->tok[1], 1000, &n) || n >= (uint64_t)c->parties)
			return bad(lx, "bad party index '%.20s': expected 0 .. %d", lx->tok[1],
				   c->parties - 1);
		const char *nm = lx->tok[2];
		if (!valid_name(nm) || strcmp(nm, "all") == 0)
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
	if (strcmp(kw, "input") == 0) {
		int t = MPC_ARITH_INT, party;
		if ((err = need_tokens(lx, lx->ntok >= 5 ? 5 : 4, ops[MPC_A_INPUT].usage)) != MPC_OK)
			return err;
		if (lx->ntok == 5 && (t = parse_type(lx->tok[4])) < 0)
			return bad(lx, "bad type '%.20s': expected int or fix", lx->tok[4]);
		if ((party = find_party(c, lx->tok[2])) < 0)
			return bad_party(lx, c, lx->tok[2]);
		if (!parse_count(lx->tok[3], MPC_ARITH_MAX_LEN, &n) || n == 0)
			return bad(lx, "bad length '%.20s': expected 1 .. 2^28", lx->tok[3]);
		if (make_input(c, lx->tok[1], lx->line, party, (size_t)n, t, msg, sizeof(msg)) < 0)
			return bad(lx, "%s", msg);
		return MPC_OK;
	}
	if (strcmp(kw, "const") == 0) {
		int t;
		if (lx->ntok < 5)
			return bad(lx, "too few operands: expected '%s'", ops[MPC_A_CONST].usage);
		if ((t = parse_type(lx->tok[2])) < 0)
			return bad(lx, "bad type '%.20s': expected int or fix", lx->tok[2]);
		if (!parse_count(lx->tok[3], MPC_ARITH_MAX_LEN, &n) || n == 0)
			return bad(lx, "bad length '%.20s': expected 1 .. 2^28", lx->tok[3]);
		size_t nv = lx->ntok - 4;
		if (nv != 1 && nv != n)
			return bad(lx, "%zu values for a constant of length %llu: expected 1 or %llu",
				   nv, (unsigned long long)n, (unsigned long long)n);
		mpc_u128 *vals = malloc(nv * sizeof(*vals));
		if (vals == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
		for (size_t i = 0; i < nv; i++)
			if (!parse_value(c, lx->tok[4 + i], t == MPC_ARITH_FIX, &vals[i], msg,
					 sizeof(msg))) {
				free(vals);
				return bad(lx, "%s", msg);
			}
		if (make_const(c, lx->tok[1], lx->line, t, (size_t)n, vals, nv, msg, sizeof(msg)) < 0)
			return bad(lx, "%s", msg);
		return MPC_OK;
	}
	if (strcmp(kw, "output") == 0) {
		int32_t id;
		int party = MPC_ARITH_ALL;
		if ((err = need_tokens(lx, 3, "output WIRE all|PARTY")) != MPC_OK ||
		    (err = wire_ref(lx, c, lx->tok[1], &id)) != MPC_OK)
			return err;
		if (strcmp(lx->tok[2], "all") != 0 && (party = find_party(c, lx->tok[2])) < 0)
			return bad(lx, "bad output party '%.40s': expected all, a party index 0 .. %d "
				   "or a name declared with 'party'", lx->tok[2], c->parties - 1);
		if (make_output(c, id, party, msg, sizeof(msg)) < 0)
			return bad(lx, "%s", msg);
		return MPC_OK;
	}
	if (lx->ntok < 3 || strcmp(lx->tok[1], "=") != 0)
		return bad(lx, "unknown statement '%.40s': expected party, input, const, output or "
			   "'NAME = OP operands'", kw);
	int op = -1;
	for (int k = MPC_A_ADD; k < MPC_A_OP_COUNT; k++)
		if (strcmp(lx->tok[2], ops[k].name) == 0)
			op = k;
	if (op < 0) {
		char list[400] = "";
		for (int k = MPC_A_ADD; k < MPC_A_OP_COUNT; k++) {
			strcat(list, " ");
			strcat(list, ops[k].name);
		}
		return bad(lx, "unknown operation '%.40s': expected one of%s", lx->tok[2], list);
	}
	const char *sig = ops[op].sig;
	if ((err = need_tokens(lx, 3 + strlen(sig), ops[op].usage)) != MPC_OK)
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
				return bad(lx, "bad number '%.40s': expected a positive integer (at most "
					   "2^28) in '%s'", t, ops[op].usage);
			break;
		case 't':
			if ((as_type = parse_type(t)) < 0)
				return bad(lx, "bad type '%.20s': expected int or fix", t);
			break;
		case 'v': {
			int fix = op == MPC_A_CMUL ? is_fix_literal(t)
						   : c->w[w[0]].type == MPC_ARITH_FIX;
			if (!parse_value(c, t, fix, &cval, msg, sizeof(msg)))
				return bad(lx, "%s", msg);
			cfix = fix;
			break;
		}
		}
	}
	if (make_gate(c, lx->tok[0], lx->line, op, w[0], w[1], w[2], L, cfix, cval, as_type, msg,
		      sizeof(msg)) < 0)
		return bad(lx, "%s", msg);
	return MPC_OK;
}

mpc_err mpc_arith_parse(const char *name, const char *text, size_t len, mpc_arith **out)
{
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
		err = r < 0 ? mpc_error(MPC_ENOMEM, "out of memory")
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

mpc_err mpc_arith_load(const char *path, mpc_arith **out)
{
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

static void put_party(FILE *fp, const mpc_arith *c, int p)
{
	if (p == MPC_ARITH_ALL)
		fputs("all", fp);
	else if (c->party_name[p])
		fputs(c->party_name[p], fp);
	else
		fprintf(fp, "%d", p);
}

mpc_err mpc_arith_write(const mpc_arith *c, FILE *fp)
{
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
			fprintf(fp, " %zu %s\n", w->len, type_name(w->type));
			continue;
		}
		if (w->op == MPC_A_CONST) {
			fprintf(fp, "const %s %s %zu", w->name, type_name(w->type), w->len);
			for (size_t k = 0; k < w->nval; k++) {
				fputc(' ', fp);
				put_value(fp, c, w->val[k], w->type == MPC_ARITH_FIX);
			}
			fputc('\n', fp);
			continue;
		}
		fprintf(fp, "%s = %s", w->name, ops[w->op].name);
		int32_t opnd[3] = {w->a, w->b, w->c};
		int k = 0;
		for (const char *s = ops[w->op].sig; *s; s++) {
			fputc(' ', fp);
			if (*s == 'w')
				fputs(c->w[opnd[k++]].name, fp);
			else if (*s == 'n')
				fprintf(fp, "%u", w->L);
			else if (*s == 't')
				fputs(type_name(w->type), fp);
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

mpc_err mpc_arith_text(const mpc_arith *c, char **text, size_t *len)
{
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

/* ---------- the builder ---------- */

mpc_err mpc_arith_check(const mpc_arith *c)
{
	if (c == NULL)
		return mpc_error(MPC_EINVAL, "no circuit");
	if (c->err != MPC_OK)
		return mpc_error(c->err, "arith builder: %s", c->err_text);
	return MPC_OK;
}

static int built(mpc_arith *c, int id, const char *msg)
{
	if (id < 0 && c->err == MPC_OK) {
		c->err = strcmp(msg, "out of memory") == 0 ? MPC_ENOMEM : MPC_EINVAL;
		snprintf(c->err_text, sizeof(c->err_text), "%s", msg);
		mpc_error(c->err, "arith builder: %s", c->err_text);
	}
	return id;
}

static int gate(mpc_arith *c, const char *name, int op, int a, int b, int cc, uint64_t L,
		int cfix, mpc_u128 cval, int as_type)
{
	char msg[256];
	int nops = (int)strlen(ops[op].sig) - (strpbrk(ops[op].sig, "nvt") != NULL);
	if (c->err != MPC_OK)
		return -1;
	if (a < 0 || (nops > 1 && b < 0) || (nops > 2 && cc < 0))
		return built(c, -1, "an operand is not a wire (an earlier call failed?)");
	return built(c, make_gate(c, name, 0, op, a, nops > 1 ? b : -1, nops > 2 ? cc : -1, L,
				  cfix, cval, as_type, msg, sizeof(msg)), msg);
}

mpc_err mpc_arith_name_party(mpc_arith *c, int party, const char *name)
{
	if (party < 0 || party >= c->parties || !valid_name(name) || strcmp(name, "all") == 0)
		return mpc_error(MPC_EINVAL, "arith builder: bad party %d or name", party);
	for (int i = 0; i < c->parties; i++)
		if (i != party && c->party_name[i] && strcmp(c->party_name[i], name) == 0)
			return mpc_error(MPC_EINVAL, "arith builder: party name '%s' is taken", name);
	char *d = strdup(name);
	if (d == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	free(c->party_name[party]);
	c->party_name[party] = d;
	return MPC_OK;
}

int mpc_arith_input(mpc_arith *c, const char *name, int party, size_t len, mpc_arith_type t)
{
	char msg[256];
	if (c->err != MPC_OK)
		return -1;
	return built(c, make_input(c, name, 0, party, len, t == MPC_ARITH_FIX, msg, sizeof(msg)),
		     msg);
}

static int encode_fix(const mpc_arith *c, double v, mpc_u128 *out)
{
	double lim = mpc_fixed_limit(c->ring, c->frac);
	if (!isfinite(v) || fabs(v) >= lim)
		return 0;
	*out = (mpc_u128)(mpc_i128)nearbyint(ldexp(v, (int)c->frac));
	if (c->ring == MPC_Z64)
		*out = (uint64_t)*out;
	return 1;
}

int mpc_arith_const_int(mpc_arith *c, const char *name, size_t len, const int64_t *v, size_t nv)
{
	char msg[256];
	if (c->err != MPC_OK)
		return -1;
	mpc_u128 *vals = malloc((nv ? nv : 1) * sizeof(*vals));
	if (vals == NULL)
		return built(c, -1, "out of memory");
	for (size_t i = 0; i < nv; i++)
		vals[i] = (mpc_u128)(mpc_i128)v[i];
	if (c->ring == MPC_Z64)
		for (size_t i = 0; i < nv; i++)
			vals[i] = (uint64_t)vals[i];
	return built(c, make_const(c, name, 0, MPC_ARITH_INT, len, vals, nv, msg, sizeof(msg)),
		     msg);
}

int mpc_arith_const_fix(mpc_arith *c, const char *name, size_t len, const double *v, size_t nv)
{
	char msg[256];
	if (c->err != MPC_OK)
		return -1;
	mpc_u128 *vals = malloc((nv ? nv : 1) * sizeof(*vals));
	if (vals == NULL)
		return built(c, -1, "out of memory");
	for (size_t i = 0; i < nv; i++)
		if (!encode_fix(c, v[i], &vals[i])) {
			free(vals);
			snprintf(msg, sizeof(msg), "constant value %zu is not finite or out of the "
				 "fixed-point range", i);
			return built(c, -1, msg);
		}
	return built(c, make_const(c, name, 0, MPC_ARITH_FIX, len, vals, nv, msg, sizeof(msg)),
		     msg);
}

int mpc_arith_add(mpc_arith *c, const char *n, int a, int b) { return gate(c, n, MPC_A_ADD, a, b, -1, 0, 0, 0, 0); }
int mpc_arith_sub(mpc_arith *c, const char *n, int a, int b) { return gate(c, n, MPC_A_SUB, a, b, -1, 0, 0, 0, 0); }
int mpc_arith_neg(mpc_arith *c, const char *n, int a) { return gate(c, n, MPC_A_NEG, a, -1, -1, 0, 0, 0, 0); }
int mpc_arith_mul(mpc_arith *c, const char *n, int a, int b) { return gate(c, n, MPC_A_MUL, a, b, -1, 0, 0, 0, 0); }
int mpc_arith_dot(mpc_arith *c, const char *n, int a, int b, size_t L) { return gate(c, n, MPC_A_DOT, a, b, -1, L, 0, 0, 0); }
int mpc_arith_sum(mpc_arith *c, const char *n, int a, size_t L) { return gate(c, n, MPC_A_SUM, a, -1, -1, L, 0, 0, 0); }
int mpc_arith_trunc(mpc_arith *c, const char *n, int a, unsigned bits) { return gate(c, n, MPC_A_TRUNC, a, -1, -1, bits, 0, 0, 0); }
int mpc_arith_trunc_exact(mpc_arith *c, const char *n, int a, unsigned bits) { return gate(c, n, MPC_A_TRUNC_EXACT, a, -1, -1, bits, 0, 0, 0); }
int mpc_arith_tofix(mpc_arith *c, const char *n, int a) { return gate(c, n, MPC_A_TOFIX, a, -1, -1, 0, 0, 0, 0); }
int mpc_arith_as(mpc_arith *c, const char *n, int a, mpc_arith_type t) { return gate(c, n, MPC_A_AS, a, -1, -1, 0, 0, 0, t == MPC_ARITH_FIX); }
int mpc_arith_ltz(mpc_arith *c, const char *n, int a) { return gate(c, n, MPC_A_LTZ, a, -1, -1, 0, 0, 0, 0); }
int mpc_arith_lt(mpc_arith *c, const char *n, int a, int b) { return gate(c, n, MPC_A_LT, a, b, -1, 0, 0, 0, 0); }
int mpc_arith_eq(mpc_arith *c, const char *n, int a, int b) { return gate(c, n, MPC_A_EQ, a, b, -1, 0, 0, 0, 0); }
int mpc_arith_select(mpc_arith *c, const char *n, int cond, int a, int b) { return gate(c, n, MPC_A_SELECT, cond, a, b, 0, 0, 0, 0); }
int mpc_arith_relu(mpc_arith *c, const char *n, int a) { return gate(c, n, MPC_A_RELU, a, -1, -1, 0, 0, 0, 0); }
int mpc_arith_max(mpc_arith *c, const char *n, int a, size_t L) { return gate(c, n, MPC_A_MAX, a, -1, -1, L, 0, 0, 0); }
int mpc_arith_min(mpc_arith *c, const char *n, int a, size_t L) { return gate(c, n, MPC_A_MIN, a, -1, -1, L, 0, 0, 0); }
int mpc_arith_argmax(mpc_arith *c, const char *n, int a, size_t L) { return gate(c, n, MPC_A_ARGMAX, a, -1, -1, L, 0, 0, 0); }
int mpc_arith_argmin(mpc_arith *c, const char *n, int a, size_t L) { return gate(c, n, MPC_A_ARGMIN, a, -1, -1, L, 0, 0, 0); }
int mpc_arith_recip(mpc_arith *c, const char *n, int a) { return gate(c, n, MPC_A_RECIP, a, -1, -1, 0, 0, 0, 0); }
int mpc_arith_div(mpc_arith *c, const char *n, int a, int b) { return gate(c, n, MPC_A_DIV, a, b, -1, 0, 0, 0, 0); }
int mpc_arith_sqrt(mpc_arith *c, const char *n, int a) { return gate(c, n, MPC_A_SQRT, a, -1, -1, 0, 0, 0, 0); }
int mpc_arith_exp(mpc_arith *c, const char *n, int a) { return gate(c, n, MPC_A_EXP, a, -1, -1, 0, 0, 0, 0); }
int mpc_arith_sigmoid(mpc_arith *c, const char *n, int a) { return gate(c, n, MPC_A_SIGMOID, a, -1, -1, 0, 0, 0, 0); }

int mpc_arith_cmul_int(mpc_arith *c, const char *n, int a, int64_t k)
{
	mpc_u128 v = (mpc_u128)(mpc_i128)k;
	return gate(c, n, MPC_A_CMUL, a, -1, -1, 0, 0, c->ring == MPC_Z64 ? (uint64_t)v : v, 0);
}

int mpc_arith_cmul_fix(mpc_arith *c, const char *n, int a, double k)
{
	mpc_u128 v = 0;
	if (c->err == MPC_OK && !encode_fix(c, k, &v))
		return built(c, -1, "CMUL: the constant is not finite or out of the fixed-point range");
	return gate(c, n, MPC_A_CMUL, a, -1, -1, 0, 1, v, 0);
}

int mpc_arith_addc_int(mpc_arith *c, const char *n, int a, int64_t k)
{
	if (c->err == MPC_OK && a >= 0 && (size_t)a < c->n_w && c->w[a].type == MPC_ARITH_FIX)
		return built(c, -1, "ADDC of an integer constant to a fix wire: use "
				    "mpc_arith_addc_fix");
	mpc_u128 v = (mpc_u128)(mpc_i128)k;
	return gate(c, n, MPC_A_ADDC, a, -1, -1, 0, 0, c->ring == MPC_Z64 ? (uint64_t)v : v, 0);
}

int mpc_arith_addc_fix(mpc_arith *c, const char *n, int a, double k)
{
	mpc_u128 v = 0;
	if (c->err != MPC_OK)
		return -1;
	if (a >= 0 && (size_t)a < c->n_w && c->w[a].type != MPC_ARITH_FIX)
		return built(c, -1, "ADDC of a fixed-point constant to an int wire: expected a fix "
				    "wire");
	if (!encode_fix(c, k, &v))
		return built(c, -1, "ADDC: the constant is not finite or out of the fixed-point range");
	return gate(c, n, MPC_A_ADDC, a, -1, -1, 0, 1, v, 0);
}

mpc_err mpc_arith_output(mpc_arith *c, int wire, int party)
{
	char msg[256];
	if (c->err != MPC_OK)
		return mpc_arith_check(c);
	if (make_output(c, wire, party, msg, sizeof(msg)) < 0) {
		built(c, -1, msg);
		return mpc_arith_check(c);
	}
	return MPC_OK;
}

/* ---------- what a circuit has ---------- */

mpc_ring mpc_arith_ring(const mpc_arith *c) { return c->ring; }
unsigned mpc_arith_frac(const mpc_arith *c) { return c->frac; }
int mpc_arith_parties(const mpc_arith *c) { return c->parties; }
size_t mpc_arith_n_inputs(const mpc_arith *c) { return c->n_in; }
size_t mpc_arith_n_outputs(const mpc_arith *c) { return c->n_out; }

mpc_arith_port mpc_arith_input_at(const mpc_arith *c, size_t i)
{
	if (i >= c->n_in)
		abort();
	const mpc_arith_wire *w = &c->w[c->in[i]];
	mpc_arith_port p = {w->name, w->party, w->len, (mpc_arith_type)w->type, c->in[i]};
	return p;
}

mpc_arith_port mpc_arith_output_at(const mpc_arith *c, size_t i)
{
	if (i >= c->n_out)
		abort();
	const mpc_arith_wire *w = &c->w[c->out[i].wire];
	mpc_arith_port p = {w->name, c->out[i].party, w->len, (mpc_arith_type)w->type,
			    c->out[i].wire};
	return p;
}

int mpc_arith_find_input(const mpc_arith *c, const char *name)
{
	for (size_t i = 0; i < c->n_in; i++)
		if (strcmp(c->w[c->in[i]].name, name) == 0)
			return (int)i;
	return -1;
}

int mpc_arith_find_output(const mpc_arith *c, const char *name)
{
	for (size_t i = 0; i < c->n_out; i++)
		if (strcmp(c->w[c->out[i].wire].name, name) == 0)
			return (int)i;
	return -1;
}

void mpc_arith_get_info(const mpc_arith *c, mpc_arith_info *info)
{
	memset(info, 0, sizeof(*info));
	info->wires = (uint32_t)c->n_w;
	info->depth = c->depth;
	uint8_t *bl = calloc(c->depth + 1, 1), *tl = calloc(c->depth + 1, 1);
	struct {
		uint32_t level, L;
		int fam;
	} *keys = NULL;
	size_t nk = 0, kcap = 0;
	/* nonlinear calls: distinct (layer, kind, parameter) */
	for (size_t i = 0; i < c->n_w; i++) {
		const mpc_arith_wire *w = &c->w[i];
		if (w->op != MPC_A_INPUT && w->op != MPC_A_CONST)
			info->gates++;
		info->elements += w->len;
		int k = mpc_arith_kind(c, w);
		size_t n_prod = w->op == MPC_A_DOT ? w->len * w->L : w->len;
		if (k == MPC_ARITH_K_BEAVER) {
			info->products += n_prod;
			if (bl)
				bl[w->level] = 1;
		}
		if ((k == MPC_ARITH_K_BEAVER && mpc_arith_truncates(c, w)) || k == MPC_ARITH_K_TRUNC) {
			info->truncations += w->len;
			if (tl)
				tl[w->level] = 1;
		}
		if (k == MPC_ARITH_K_NL) {
			/* one call per (layer, family, parameter): MAX with ARGMAX, MIN with ARGMIN */
			int fam = w->op == MPC_A_ARGMAX ? MPC_A_MAX : w->op == MPC_A_ARGMIN ? MPC_A_MIN
											  : w->op;
			uint32_t L = fam == MPC_A_MAX || fam == MPC_A_MIN || fam == MPC_A_TRUNC_EXACT
					 ? w->L : 0;
			size_t q = 0;
			while (q < nk && (keys[q].level != w->level || keys[q].fam != fam ||
					  keys[q].L != L))
				q++;
			if (q == nk) {
				if (nk == kcap) {
					void *nkeys = realloc(keys, (kcap = kcap ? 2 * kcap : 16) *
									sizeof(*keys));
					if (nkeys == NULL)
						continue; /* a count only: stop counting new kinds */
					keys = nkeys;
				}
				keys[nk].level = w->level;
				keys[nk].fam = fam;
				keys[nk++].L = L;
				info->nonlinear_calls++;
			}
		}
	}
	for (uint32_t l = 0; l <= c->depth && bl && tl; l++) {
		info->beaver_layers += bl[l];
		info->trunc_layers += tl[l];
	}
	free(bl);
	free(tl);
	free(keys);
	for (size_t j = 0; j < c->n_out; j++)
		if (!c->w[c->out[j].wire].pub)
			info->output_rounds = 1;
	info->rounds = info->beaver_layers + info->trunc_layers + info->output_rounds;
}

/* ---------- clear evaluation ---------- */

static mpc_u128 at(mpc_ring r, const mpc_vec *v, size_t i)
{
	return mpc_arith_get(r, v->v, v->n == 1 ? 0 : i);
}

static mpc_u128 sar(mpc_ring r, mpc_u128 v, unsigned bits)
{
	return (mpc_u128)(mpc_arith_signed(r, v) >> bits);
}

static double to_double(const mpc_arith *c, mpc_u128 v)
{
	return ldexp((double)mpc_arith_signed(c->ring, v), -(int)c->frac);
}

/* One gate on clear values (or, for the linear gates, on shares: the MPC
 * evaluator calls this for its local gates). A, B, C: operand values (NULL
 * if unused). notrunc: leave a fix product untruncated (the MPC evaluator
 * truncates). */
mpc_err mpc_arith_clear_gate(const mpc_arith *c, const mpc_arith_wire *w, const mpc_vec *A,
			     const mpc_vec *B, const mpc_vec *C, mpc_vec *out, int notrunc)
{
	mpc_ring r = c->ring;
	size_t n = w->len, L = w->L;
	unsigned F = c->frac;
	int trunc = !notrunc && mpc_arith_truncates(c, w);
	void *o = out->v;
	mpc_err err = MPC_OK;

	switch (w->op) {
	case MPC_A_CONST:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, w->val[w->nval == 1 ? 0 : i]);
		break;
	case MPC_A_ADD:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i) + at(r, B, i));
		break;
	case MPC_A_SUB:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i) - at(r, B, i));
		break;
	case MPC_A_NEG:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, (mpc_u128)0 - at(r, A, i));
		break;
	case MPC_A_MUL:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 p = at(r, A, i) * at(r, B, i);
			mpc_arith_put(r, o, i, trunc ? sar(r, p, F) : p);
		}
		break;
	case MPC_A_DOT:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 s = 0;
			for (size_t k = 0; k < L; k++)
				s += mpc_arith_get(r, A->v, A->n == L ? k : i * L + k) *
				     mpc_arith_get(r, B->v, B->n == L ? k : i * L + k);
			mpc_arith_put(r, o, i, trunc ? sar(r, s, F) : s);
		}
		break;
	case MPC_A_SUM:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 s = 0;
			for (size_t k = 0; k < L; k++)
				s += mpc_arith_get(r, A->v, i * L + k);
			mpc_arith_put(r, o, i, s);
		}
		break;
	case MPC_A_CMUL:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 p = at(r, A, i) * w->val[0];
			mpc_arith_put(r, o, i, trunc ? sar(r, p, F) : p);
		}
		break;
	case MPC_A_ADDC:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i) + w->val[0]);
		break;
	case MPC_A_TRUNC:
	case MPC_A_TRUNC_EXACT:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, sar(r, at(r, A, i), w->L));
		break;
	case MPC_A_TOFIX:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i) << F);
		break;
	case MPC_A_AS:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, at(r, A, i));
		break;
	case MPC_A_LTZ:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, mpc_arith_signed(r, at(r, A, i)) < 0);
		break;
	case MPC_A_LT:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, mpc_arith_signed(r, at(r, A, i)) <
						   mpc_arith_signed(r, at(r, B, i)));
		break;
	case MPC_A_EQ:
		for (size_t i = 0; i < n; i++)
			mpc_arith_put(r, o, i, mpc_arith_signed(r, at(r, A, i)) ==
						   mpc_arith_signed(r, at(r, B, i)));
		break;
	case MPC_A_SELECT:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 x = at(r, B, i), y = at(r, C, i);
			mpc_arith_put(r, o, i, y + at(r, A, i) * (x - y));
		}
		break;
	case MPC_A_RELU:
		for (size_t i = 0; i < n; i++) {
			mpc_u128 x = at(r, A, i);
			mpc_arith_put(r, o, i, mpc_arith_signed(r, x) < 0 ? 0 : x);
		}
		break;
	case MPC_A_MAX: case MPC_A_MIN: case MPC_A_ARGMAX: case MPC_A_ARGMIN: {
		int want_max = w->op == MPC_A_MAX || w->op == MPC_A_ARGMAX;
		int arg = w->op == MPC_A_ARGMAX || w->op == MPC_A_ARGMIN;
		for (size_t i = 0; i < n; i++) {
			size_t best = 0;
			mpc_i128 bv = mpc_arith_signed(r, mpc_arith_get(r, A->v, i * L));
			for (size_t k = 1; k < L; k++) {
				mpc_i128 v = mpc_arith_signed(r, mpc_arith_get(r, A->v, i * L + k));
				if (want_max ? v > bv : v < bv)
					bv = v, best = k;
			}
			mpc_arith_put(r, o, i, arg ? (mpc_u128)best : (mpc_u128)bv);
		}
		break;
	}
	case MPC_A_RECIP: case MPC_A_DIV: case MPC_A_SQRT: case MPC_A_EXP: case MPC_A_SIGMOID: {
		for (size_t i = 0; i < n && err == MPC_OK; i++) {
			double x = to_double(c, at(r, A, i)), y = 0, v = 0;
			const char *why = NULL;
			if (w->op == MPC_A_DIV)
				y = to_double(c, at(r, B, i));
			switch (w->op) {
			case MPC_A_RECIP:
				if (x == 0)
					why = "reciprocal of 0";
				v = 1 / x;
				break;
			case MPC_A_DIV:
				if (y == 0)
					why = "division by 0";
				v = x / y;
				break;
			case MPC_A_SQRT:
				if (x < 0)
					why = "square root of a negative number";
				v = sqrt(x);
				break;
			case MPC_A_EXP:
				v = exp(x);
				break;
			default:
				v = 1 / (1 + exp(-x));
				break;
			}
			mpc_u128 e = 0;
			if (why == NULL && !encode_fix(c, v, &e))
				why = "result out of the fixed-point range";
			if (why)
				err = mpc_error(MPC_ERANGE, "%s '%s'%s%.0u: %s at element %zu",
						ops[w->op].name, w->name, w->line ? " on line " : "",
						w->line, why, i);
			else
				mpc_arith_put(r, o, i, e);
		}
		break;
	}
	default:
		err = mpc_error(MPC_EINVAL, "arith: wire '%s' is not a gate", w->name);
	}
	return err;
}

mpc_err mpc_arith_eval_clear(const mpc_arith *c, const void *const *in, void *const *out)
{
	mpc_vec *val = NULL;
	size_t *last = NULL, eb = mpc_ring_bytes(c->ring);
	mpc_err err;

	if ((err = mpc_arith_check(c)) != MPC_OK)
		return err;
	val = calloc(c->n_w ? c->n_w : 1, sizeof(*val));
	last = calloc(c->n_w ? c->n_w : 1, sizeof(*last));
	if (val == NULL || last == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	/* last reader of each wire, so a batch's intermediate vectors go early */
	for (size_t i = 0; i < c->n_w; i++) {
		const mpc_arith_wire *w = &c->w[i];
		int32_t o[3] = {w->a, w->b, w->c};
		for (int k = 0; k < 3; k++)
			if (o[k] >= 0)
				last[o[k]] = i;
	}
	for (size_t j = 0; j < c->n_out; j++)
		last[c->out[j].wire] = SIZE_MAX;
	size_t next_in = 0;
	for (size_t i = 0; i < c->n_w; i++) {
		const mpc_arith_wire *w = &c->w[i];
		if ((err = mpc_vec_init(&val[i], c->ring, w->len)) != MPC_OK)
			goto out;
		if (w->op == MPC_A_INPUT) {
			if (in == NULL || in[next_in] == NULL) {
				err = mpc_error(MPC_EINVAL, "arith: no values for input '%s'", w->name);
				goto out;
			}
			memcpy(val[i].v, in[next_in++], w->len * eb);
		} else {
			err = mpc_arith_clear_gate(c, w, w->a >= 0 ? &val[w->a] : NULL,
						   w->b >= 0 ? &val[w->b] : NULL,
						   w->c >= 0 ? &val[w->c] : NULL, &val[i], 0);
			if (err != MPC_OK)
				goto out;
		}
		int32_t o[3] = {w->a, w->b, w->c};
		for (int k = 0; k < 3; k++)
			if (o[k] >= 0 && last[o[k]] == i)
				mpc_vec_fini(&val[o[k]]);
		if (last[i] == 0 && i > 0)
			mpc_vec_fini(&val[i]); /* never read */
	}
	for (size_t j = 0; j < c->n_out; j++) {
		const mpc_arith_wire *w = &c->w[c->out[j].wire];
		if (out == NULL || out[j] == NULL) {
			err = mpc_error(MPC_EINVAL, "arith: no room for output %zu '%s'", j, w->name);
			goto out;
		}
		memcpy(out[j], val[c->out[j].wire].v, w->len * eb);
	}
out:
	if (val)
		for (size_t i = 0; i < c->n_w; i++)
			mpc_vec_fini(&val[i]);
	free(val);
	free(last);
	return err;
}
