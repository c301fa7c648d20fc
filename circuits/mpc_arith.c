/* Arithmetic circuits: the circuit object, the checks every definition
 * passes (shared by the loader and the builder), the accessors and the
 * static counts (see mpc_arith.h). The text format is read and written in
 * mpc_arith_text.c, the builder calls are in mpc_arith_build.c, the clear
 * evaluator in mpc_arith_clear.c; the MPC evaluator is circuits/eval/. */
#include "circuits/mpc_arith_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_fixed.h"

#define MAX_NAME  64
#define MAX_WIRES (1u << 24)

/* Operand signature: w a wire, n a positive integer, v a number, t a type. */
const mpc_arith_op_desc mpc_arith_ops[MPC_A_OP_COUNT] = {
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

/* Double the array *p of *cap elements of elem bytes (first: the first
 * capacity). 0, or -1 out of memory with *p untouched. */
int mpc_arith_grow(void **p, size_t *cap, size_t elem, size_t first) {
	size_t n = *cap ? 2 * *cap : first;
	void *q = realloc(*p, n * elem);
	if (q == NULL)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

const char *mpc_arith_op_name(mpc_arith_op op) {
	return (unsigned)op < MPC_A_OP_COUNT ? mpc_arith_ops[op].name : "?";
}

/* ---------- the circuit object ---------- */

static uint64_t hash_name(const char *s) {
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

int mpc_arith_find_wire(const mpc_arith *c, const char *name) {
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

static int hash_insert(mpc_arith *c, int32_t id) {
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

void mpc_arith_free(mpc_arith *c) {
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

mpc_err mpc_arith_new_circuit(mpc_arith **out, mpc_ring r, unsigned frac, int parties, char *msg,
                              size_t msz) {
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

mpc_err mpc_arith_new(mpc_arith **out, mpc_ring r, unsigned frac, int parties) {
	char msg[160];
	mpc_err err = mpc_arith_new_circuit(out, r, frac, parties, msg, sizeof(msg));
	return err == MPC_OK ? MPC_OK : mpc_error(err, "mpc_arith_new: %s", msg);
}

int mpc_arith_valid_name(const char *s) {
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

static int wire_type(const mpc_arith *c, int32_t id) {
	return c->w[id].type;
}

int mpc_arith_truncates(const mpc_arith *c, const mpc_arith_wire *w) {
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

int mpc_arith_kind(const mpc_arith *c, const mpc_arith_wire *w) {
	if (w->pub)
		return MPC_ARITH_K_LOCAL;
	switch (w->op) {
	case MPC_A_INPUT:
	case MPC_A_CONST:
	case MPC_A_ADD:
	case MPC_A_SUB:
	case MPC_A_NEG:
	case MPC_A_SUM:
	case MPC_A_ADDC:
	case MPC_A_TOFIX:
	case MPC_A_AS:
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
                  size_t msz) {
	char auto_name[32];
	if (name == NULL) {
		snprintf(auto_name, sizeof(auto_name), "_%zu", c->n_w);
		for (int k = 1; mpc_arith_find_wire(c, auto_name) >= 0; k++)
			snprintf(auto_name, sizeof(auto_name), "_%zu_%d", c->n_w, k);
		name = auto_name;
	}
	if (!mpc_arith_valid_name(name)) {
		snprintf(msg, msz,
		         "bad wire name '%.*s': expected a letter or '_' then letters, "
		         "digits, '_' or '.' (at most %d)",
		         MAX_NAME, name, MAX_NAME);
		goto fail;
	}
	int old = mpc_arith_find_wire(c, name);
	if (old >= 0) {
		if (c->w[old].line)
			snprintf(msg, msz,
			         "wire '%s' is already defined (line %u): expected a new name",
			         name, c->w[old].line);
		else
			snprintf(msg, msz, "wire '%s' is already defined: expected a new name",
			         name);
		goto fail;
	}
	if (c->n_w >= MAX_WIRES) {
		snprintf(msg, msz, "too many wires: expected at most %u", MAX_WIRES);
		goto fail;
	}
	if (c->n_w == c->cap_w && mpc_arith_grow((void **)&c->w, &c->cap_w, sizeof(*c->w), 32) != 0)
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
static size_t bcast_len(size_t la, size_t lb) {
	if (la == lb || lb == 1)
		return la;
	if (la == 1)
		return lb;
	return 0;
}

/* ADD, SUB, MUL, LT, EQ, DIV and SELECT: operands of one length or length 1
 * (broadcast); the result's length, and its type for MUL and SELECT. */
static int shape_elementwise(int op, const mpc_arith_wire *A, const mpc_arith_wire *B,
                             const mpc_arith_wire *C, mpc_arith_wire *w, char *msg, size_t msz) {
	const char *on = mpc_arith_ops[op].name;

	if (op == MPC_A_SELECT) {
		if ((w->len = bcast_len(bcast_len(A->len, B->len), C->len)) == 0 ||
		    bcast_len(A->len, C->len) == 0)
			goto mismatch;
		if (A->type != MPC_ARITH_INT) {
			snprintf(msg, msz, "SELECT: the condition '%s' is fix: expected an int 0/1",
			         A->name);
			return -1;
		}
		if (B->type != C->type) {
			snprintf(msg, msz, "SELECT: '%s' is %s and '%s' is %s: expected one type",
			         B->name, mpc_arith_type_name(B->type), C->name,
			         mpc_arith_type_name(C->type));
			return -1;
		}
		w->type = B->type;
		return 0;
	}
	if ((w->len = bcast_len(A->len, B->len)) == 0)
		goto mismatch;
	if (op == MPC_A_MUL)
		w->type = A->type == MPC_ARITH_FIX || B->type == MPC_ARITH_FIX ? MPC_ARITH_FIX
		                                                               : MPC_ARITH_INT;
	return 0;
mismatch:
	snprintf(msg, msz,
	         "length mismatch: %s of '%s' (length %zu) and '%s' (length %zu)%s: "
	         "expected equal lengths or length 1",
	         on, A->name, A->len, B->name, B->len, C ? " and a third operand" : "");
	if (C)
		snprintf(msg, msz,
		         "length mismatch: %s of '%s' (%zu), '%s' (%zu) and '%s' (%zu): "
		         "expected equal lengths or length 1",
		         on, A->name, A->len, B->name, B->len, C->name, C->len);
	return -1;
}

/* DOT, SUM, MAX, MIN, ARGMAX and ARGMIN: groups of L elements; the result's
 * length (one per group) and type. */
static int shape_grouped(int op, const mpc_arith_wire *A, const mpc_arith_wire *B, uint64_t L,
                         mpc_arith_wire *w, char *msg, size_t msz) {
	if (op == MPC_A_DOT) {
		if (L == 0 || L > MPC_ARITH_MAX_LEN || A->len % L || B->len % L ||
		    (A->len != B->len && A->len != L && B->len != L)) {
			snprintf(msg, msz,
			         "DOT of '%s' (length %zu) and '%s' (length %zu) in groups "
			         "of %llu: expected lengths m*L for both, or m*L and L",
			         A->name, A->len, B->name, B->len, (unsigned long long)L);
			return -1;
		}
		w->len = (A->len > B->len ? A->len : B->len) / L;
		w->type = A->type == MPC_ARITH_FIX || B->type == MPC_ARITH_FIX ? MPC_ARITH_FIX
		                                                               : MPC_ARITH_INT;
		return 0;
	}
	if (L == 0 || L > MPC_ARITH_MAX_LEN || A->len % L) {
		snprintf(msg, msz,
		         "%s of '%s' (length %zu) in groups of %llu: expected a "
		         "group length dividing the length",
		         mpc_arith_ops[op].name, A->name, A->len, (unsigned long long)L);
		return -1;
	}
	w->len = A->len / L;
	if (op == MPC_A_ARGMAX || op == MPC_A_ARGMIN)
		w->type = MPC_ARITH_INT;
	return 0;
}

/* The gates of one operand A (and a parameter): the result has A's length;
 * its type, and the range of TRUNC's and TRUNC_EXACT's bits. */
static int shape_unary(const mpc_arith *c, int op, const mpc_arith_wire *A, uint64_t L, int cfix,
                       int as_type, mpc_arith_wire *w, char *msg, size_t msz) {
	unsigned k = mpc_ring_bits(c->ring);

	switch (op) {
	case MPC_A_TRUNC:
		if (L < 1 || L > k - 41) {
			snprintf(msg, msz, "TRUNC by %llu bits: expected 1 .. %u in Z_2^%u",
			         (unsigned long long)L, k - 41, k);
			return -1;
		}
		break;
	case MPC_A_TRUNC_EXACT:
		if (L < 1 || L >= k - 2) {
			snprintf(msg, msz, "TRUNC_EXACT by %llu bits: expected 1 .. %u in Z_2^%u",
			         (unsigned long long)L, k - 3, k);
			return -1;
		}
		break;
	case MPC_A_TOFIX:
		if (A->type != MPC_ARITH_INT) {
			snprintf(msg, msz, "TOFIX of '%s', which is fix already: expected an int",
			         A->name);
			return -1;
		}
		w->type = MPC_ARITH_FIX;
		break;
	case MPC_A_AS:
		w->type = (uint8_t)as_type;
		break;
	case MPC_A_CMUL:
		w->cfix = (uint8_t)cfix;
		if (cfix)
			w->type = MPC_ARITH_FIX;
		break;
	case MPC_A_ADDC:
		w->cfix = A->type == MPC_ARITH_FIX;
		break;
	case MPC_A_RECIP:
	case MPC_A_SQRT:
	case MPC_A_EXP:
	case MPC_A_SIGMOID:
	case MPC_A_LTZ:
	case MPC_A_NEG:
	case MPC_A_RELU:
		break;
	default:
		snprintf(msg, msz, "operation %d is not a gate", op);
		return -1;
	}
	return 0;
}

/* The operand types an operation needs, after the shapes are checked: one
 * type for ADD, SUB, LT and EQ, fix for the real functions. */
static int check_operand_types(int op, const mpc_arith_wire *A, const mpc_arith_wire *B, char *msg,
                               size_t msz) {
	const char *on = mpc_arith_ops[op].name;
	int sametype = op == MPC_A_ADD || op == MPC_A_SUB || op == MPC_A_LT || op == MPC_A_EQ;
	int fixonly = op == MPC_A_DIV || op == MPC_A_RECIP || op == MPC_A_SQRT || op == MPC_A_EXP ||
	              op == MPC_A_SIGMOID;

	if (sametype && A->type != B->type) {
		snprintf(msg, msz,
		         "%s of '%s' (%s) and '%s' (%s): expected one type (convert with "
		         "TOFIX or AS)",
		         on, A->name, mpc_arith_type_name(A->type), B->name,
		         mpc_arith_type_name(B->type));
		return -1;
	}
	if (fixonly && (A->type != MPC_ARITH_FIX || (B && B->type != MPC_ARITH_FIX))) {
		snprintf(msg, msz, "%s of an int wire ('%s'): expected fix operands", on,
		         A->type != MPC_ARITH_FIX ? A->name : B->name);
		return -1;
	}
	return 0;
}

/* Check a gate and fill in its type, visibility and length. */
int mpc_arith_make_gate(mpc_arith *c, const char *name, uint32_t line, int op, int32_t a, int32_t b,
                        int32_t cc, uint64_t L, int cfix, mpc_u128 cval, int as_type, char *msg,
                        size_t msz) {
	mpc_arith_wire w;
	const char *sig = mpc_arith_ops[op].sig;
	int32_t opnd[3] = {a, b, cc};
	size_t nops = strlen(sig) - (strchr(sig, 'n') || strchr(sig, 'v') || strchr(sig, 't'));
	int r;

	memset(&w, 0, sizeof(w));
	w.op = (uint8_t)op;
	w.a = a;
	w.b = b;
	w.c = cc;
	w.party = -1;
	for (size_t k = 0; k < nops; k++)
		if (opnd[k] < 0 || (size_t)opnd[k] >= c->n_w) {
			snprintf(msg, msz, "%s: operand %zu is not a wire of this circuit",
			         mpc_arith_ops[op].name, k + 1);
			return -1;
		}
	const mpc_arith_wire *A = &c->w[a], *B = nops > 1 ? &c->w[b] : NULL,
	                     *C = nops > 2 ? &c->w[cc] : NULL;
	w.pub = A->pub && (!B || B->pub) && (!C || C->pub);
	w.type = A->type;
	w.len = A->len;
	switch (op) {
	case MPC_A_ADD:
	case MPC_A_SUB:
	case MPC_A_LT:
	case MPC_A_EQ:
	case MPC_A_MUL:
	case MPC_A_DIV:
	case MPC_A_SELECT:
		r = shape_elementwise(op, A, B, C, &w, msg, msz);
		break;
	case MPC_A_DOT:
	case MPC_A_SUM:
	case MPC_A_MAX:
	case MPC_A_MIN:
	case MPC_A_ARGMAX:
	case MPC_A_ARGMIN:
		r = shape_grouped(op, A, B, L, &w, msg, msz);
		break;
	default:
		r = shape_unary(c, op, A, L, cfix, as_type, &w, msg, msz);
		break;
	}
	if (r < 0 || check_operand_types(op, A, B, msg, msz) < 0)
		return -1;
	if (op == MPC_A_LT || op == MPC_A_EQ || op == MPC_A_LTZ)
		w.type = MPC_ARITH_INT;
	if (strchr(sig, 'n')) /* group length or bits */
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
}

int mpc_arith_make_input(mpc_arith *c, const char *name, uint32_t line, int party, size_t len,
                         int t, char *msg, size_t msz) {
	mpc_arith_wire w;
	if (party < 0 || party >= c->parties) {
		snprintf(msg, msz, "input party %d: expected 0 .. %d", party, c->parties - 1);
		return -1;
	}
	if (len < 1 || len > MPC_ARITH_MAX_LEN) {
		snprintf(msg, msz, "input length %zu: expected 1 .. 2^28", len);
		return -1;
	}
	if (c->n_in == c->cap_in &&
	    mpc_arith_grow((void **)&c->in, &c->cap_in, sizeof(*c->in), 8) != 0) {
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
int mpc_arith_make_const(mpc_arith *c, const char *name, uint32_t line, int t, size_t len,
                         mpc_u128 *vals, size_t nv, char *msg, size_t msz) {
	mpc_arith_wire w;
	if (len < 1 || len > MPC_ARITH_MAX_LEN || (nv != 1 && nv != len)) {
		snprintf(msg, msz,
		         "constant of length %zu with %zu values: expected a length of "
		         "1 .. 2^28 and 1 value or that many",
		         len, nv);
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

int mpc_arith_make_output(mpc_arith *c, int32_t wire, int party, char *msg, size_t msz) {
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
	    mpc_arith_grow((void **)&c->out, &c->cap_out, sizeof(*c->out), 8) != 0) {
		snprintf(msg, msz, "out of memory");
		return -1;
	}
	c->out[c->n_out].wire = wire;
	c->out[c->n_out].party = party;
	c->n_out++;
	return 0;
}

/* ---------- fixed-point constants ----------*/

int mpc_arith_encode_fix(const mpc_arith *c, double v, mpc_u128 *out) {
	double lim = mpc_fixed_limit(c->ring, c->frac);
	if (!isfinite(v) || fabs(v) >= lim)
		return 0;
	*out = (mpc_u128)(mpc_i128)nearbyint(ldexp(v, (int)c->frac));
	if (c->ring == MPC_Z64)
		*out = (uint64_t)*out;
	return 1;
}

/* ---------- what a circuit has ---------- */

mpc_ring mpc_arith_ring(const mpc_arith *c) {
	return c->ring;
}
unsigned mpc_arith_frac(const mpc_arith *c) {
	return c->frac;
}
int mpc_arith_parties(const mpc_arith *c) {
	return c->parties;
}
size_t mpc_arith_n_inputs(const mpc_arith *c) {
	return c->n_in;
}
size_t mpc_arith_n_outputs(const mpc_arith *c) {
	return c->n_out;
}

mpc_arith_port mpc_arith_input_at(const mpc_arith *c, size_t i) {
	if (i >= c->n_in)
		abort();
	const mpc_arith_wire *w = &c->w[c->in[i]];
	mpc_arith_port p = {w->name, w->party, w->len, (mpc_arith_type)w->type, c->in[i]};
	return p;
}

mpc_arith_port mpc_arith_output_at(const mpc_arith *c, size_t i) {
	if (i >= c->n_out)
		abort();
	const mpc_arith_wire *w = &c->w[c->out[i].wire];
	mpc_arith_port p = {w->name, c->out[i].party, w->len, (mpc_arith_type)w->type,
	                    c->out[i].wire};
	return p;
}

int mpc_arith_find_input(const mpc_arith *c, const char *name) {
	for (size_t i = 0; i < c->n_in; i++)
		if (strcmp(c->w[c->in[i]].name, name) == 0)
			return (int)i;
	return -1;
}

int mpc_arith_find_output(const mpc_arith *c, const char *name) {
	for (size_t i = 0; i < c->n_out; i++)
		if (strcmp(c->w[c->out[i].wire].name, name) == 0)
			return (int)i;
	return -1;
}

void mpc_arith_get_info(const mpc_arith *c, mpc_arith_info *info) {
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
		if ((k == MPC_ARITH_K_BEAVER && mpc_arith_truncates(c, w)) ||
		    k == MPC_ARITH_K_TRUNC) {
			info->truncations += w->len;
			if (tl)
				tl[w->level] = 1;
		}
		if (k == MPC_ARITH_K_NL) {
			/* one call per (layer, family, parameter): MAX with ARGMAX, MIN with ARGMIN
			 */
			int fam = w->op == MPC_A_ARGMAX   ? MPC_A_MAX
			          : w->op == MPC_A_ARGMIN ? MPC_A_MIN
			                                  : w->op;
			uint32_t L =
			    fam == MPC_A_MAX || fam == MPC_A_MIN || fam == MPC_A_TRUNC_EXACT ? w->L
			                                                                     : 0;
			size_t q = 0;
			while (q < nk &&
			       (keys[q].level != w->level || keys[q].fam != fam || keys[q].L != L))
				q++;
			if (q == nk) {
				if (nk == kcap) {
					void *nkeys = realloc(keys, (kcap = kcap ? 2 * kcap : 16) *
					                                sizeof(*keys));
					if (nkeys == NULL)
						continue; /* a count only: stop counting new kinds
						           */
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
