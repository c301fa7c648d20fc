/* Bristol Fashion loader and clear evaluator (see mpc_bristol.h; the
 * evaluator under MPC is circuits/eval/mpc_bool_eval.c). */
#include "circuits/mpc_bristol.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_file.h"

#define MAX_WIRES  (1u << 26)
#define MAX_TOKENS 4096

typedef struct {
	const char *name;
	const char *p, *end;
	int line;
	char *tok[MAX_TOKENS];
	int ntok;
	char buf[65536];
} lexer;

/* Next non-empty line split into tokens; 0 at the end of the text. */
static int next_line(lexer *lx) {
	while (lx->p < lx->end) {
		const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		size_t len = nl ? (size_t)(nl - lx->p) : (size_t)(lx->end - lx->p);
		lx->line++;
		if (len >= sizeof(lx->buf))
			len = sizeof(lx->buf) - 1;
		memcpy(lx->buf, lx->p, len);
		lx->buf[len] = '\0';
		lx->p = nl ? nl + 1 : lx->end;
		lx->ntok = 0;
		for (char *save = NULL, *t = strtok_r(lx->buf, " \t\r", &save);
		     t && lx->ntok < MAX_TOKENS; t = strtok_r(NULL, " \t\r", &save))
			lx->tok[lx->ntok++] = t;
		if (lx->ntok > 0)
			return 1;
	}
	return 0;
}

static mpc_err bad(const lexer *lx, const char *what) {
	return mpc_error(MPC_ECONFIG, "%s:%d: %s", lx->name, lx->line, what);
}

static int number(const char *s, uint32_t max, uint32_t *out) {
	char *e;
	errno = 0;
	unsigned long v = strtoul(s, &e, 10);
	if (*s < '0' || *s > '9' || *e != '\0' || errno || v > max)
		return 0;
	*out = (uint32_t)v;
	return 1;
}

void mpc_bristol_free(mpc_bristol *c) {
	if (c == NULL)
		return;
	free(c->in_width);
	free(c->out_width);
	free(c->gates);
	free(c);
}

/* "n w_1 ... w_n" into *count and *widths (a fresh array). */
static mpc_err widths(lexer *lx, const char *what, uint32_t *count, uint32_t **w, uint32_t *sum) {
	char msg[160];
	if (!next_line(lx) || !number(lx->tok[0], MAX_TOKENS - 1, count) || *count < 1 ||
	    lx->ntok != (int)*count + 1) {
		snprintf(msg, sizeof(msg),
		         "expected the number of %s values and their widths "
		         "(n w_1 ... w_n)",
		         what);
		return bad(lx, msg);
	}
	if ((*w = calloc(*count, sizeof(**w))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	*sum = 0;
	for (uint32_t i = 0; i < *count; i++) {
		if (!number(lx->tok[i + 1], MAX_WIRES, &(*w)[i]) || (*w)[i] == 0) {
			snprintf(msg, sizeof(msg),
			         "width %u of the %s values is not a positive "
			         "number",
			         i + 1, what);
			return bad(lx, msg);
		}
		*sum += (*w)[i];
	}
	return MPC_OK;
}

/* The loader's state: the circuit being built, each wire's AND depth and
 * whether it is written yet, the gate array's capacity. */
typedef struct {
	lexer *lx;
	mpc_bristol *c;
	uint32_t *level;
	uint8_t *set;
	uint32_t cap;
} loader;

/* One gate line "nin nout in... out... OP" into its operation, its counts
 * and its wires w (nin + nout), each wire in range and every input already
 * written; MAND: *pairs ANDs. */
static mpc_err read_gate(loader *L, uint8_t *g, uint32_t *nin, uint32_t *nout, uint32_t *w,
                         uint32_t *pairs) {
	lexer *lx = L->lx;
	const char *op = lx->tok[lx->ntok - 1];
	char msg[128];

	if (lx->ntok < 4 || !number(lx->tok[0], MAX_TOKENS, nin) ||
	    !number(lx->tok[1], MAX_TOKENS, nout) || (int)(*nin + *nout + 3) != lx->ntok)
		return bad(lx, "expected 'nin nout in... out... OP'");
	int is_eq = strcmp(op, "EQ") == 0;
	for (uint32_t i = 0; i < *nin + *nout; i++) {
		if (!number(lx->tok[2 + i], MAX_WIRES, &w[i]) ||
		    (!(is_eq && i == 0) && w[i] >= L->c->n_wires))
			return bad(lx, "a wire number out of range");
		if (i < *nin && !(is_eq && i == 0) && !L->set[w[i]]) {
			snprintf(msg, sizeof(msg), "wire %u is read before it is written", w[i]);
			return bad(lx, msg);
		}
	}
	*pairs = 1;
	if (strcmp(op, "XOR") == 0 && *nin == 2 && *nout == 1)
		*g = MPC_G_XOR;
	else if (strcmp(op, "AND") == 0 && *nin == 2 && *nout == 1)
		*g = MPC_G_AND;
	else if (strcmp(op, "INV") == 0 && *nin == 1 && *nout == 1)
		*g = MPC_G_INV;
	else if (strcmp(op, "EQW") == 0 && *nin == 1 && *nout == 1)
		*g = MPC_G_EQW;
	else if (is_eq && *nin == 1 && *nout == 1 && w[0] <= 1)
		*g = MPC_G_EQ;
	else if (strcmp(op, "MAND") == 0 && *nin == 2 * *nout && *nout >= 1)
		*g = MPC_G_AND, *pairs = *nout;
	else {
		snprintf(msg, sizeof(msg), "unknown gate '%.20s' with %u inputs and %u outputs", op,
		         *nin, *nout);
		return bad(lx, msg);
	}
	return MPC_OK;
}

/* Append gate gt after checking its output is written once; its AND depth
 * from its inputs'. */
static mpc_err add_gate(loader *L, mpc_gate gt) {
	mpc_bristol *c = L->c;
	uint8_t g = gt.op;

	if (L->set[gt.out]) {
		char msg[96];
		snprintf(msg, sizeof(msg), "wire %u is written twice", gt.out);
		return bad(L->lx, msg);
	}
	uint32_t la = g == MPC_G_EQ ? 0 : L->level[gt.a];
	uint32_t lb = g == MPC_G_XOR || g == MPC_G_AND ? L->level[gt.b] : 0;
	gt.level = (la > lb ? la : lb) + (g == MPC_G_AND);
	L->level[gt.out] = gt.level;
	L->set[gt.out] = 1;
	if (g == MPC_G_AND)
		c->n_and++;
	if (gt.level > c->depth)
		c->depth = gt.level;
	if (c->n_gates == L->cap) {
		mpc_gate *ng = realloc(c->gates, 2 * (size_t)L->cap * sizeof(*ng));
		if (ng == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
		c->gates = ng;
		L->cap *= 2;
	}
	c->gates[c->n_gates++] = gt;
	return MPC_OK;
}

/* One gate line, a MAND expanded into its ANDs. */
static mpc_err parse_gate_line(loader *L) {
	uint32_t nin, nout, pairs, w[MAX_TOKENS];
	uint8_t g;
	mpc_err err;

	if ((err = read_gate(L, &g, &nin, &nout, w, &pairs)) != MPC_OK)
		return err;
	for (uint32_t k = 0; k < pairs && err == MPC_OK; k++) {
		mpc_gate gt = {.op = g};
		if (pairs > 1) { /* MAND: inputs a_1..a_n, b_1..b_n, outputs o_1..o_n */
			gt.a = w[k];
			gt.b = w[nout + k];
			gt.out = w[nin + k];
		} else {
			gt.a = w[0];
			gt.b = nin == 2 ? w[1] : 0;
			gt.out = w[nin];
		}
		err = add_gate(L, gt);
	}
	return err;
}

/* "ngates nwires", then the input and output widths. */
static mpc_err parse_header(lexer *lx, mpc_bristol *c, uint32_t *ngates, uint32_t *n_in_wires,
                            uint32_t *n_out_wires) {
	mpc_err err;

	if (!next_line(lx) || lx->ntok != 2 || !number(lx->tok[0], MAX_WIRES, ngates) ||
	    !number(lx->tok[1], MAX_WIRES, &c->n_wires) || c->n_wires == 0)
		return bad(lx, "expected 'ngates nwires'");
	if ((err = widths(lx, "input", &c->n_in, &c->in_width, n_in_wires)) != MPC_OK ||
	    (err = widths(lx, "output", &c->n_out, &c->out_width, n_out_wires)) != MPC_OK)
		return err;
	if (*n_in_wires > c->n_wires || *n_out_wires > c->n_wires)
		return bad(lx, "the inputs or outputs need more wires than the circuit has");
	return MPC_OK;
}

/* After the last line: the gate count the header announced, every output
 * wire written. */
static mpc_err check_complete(const loader *L, uint32_t ngates, uint32_t lines,
                              uint32_t n_out_wires) {
	const mpc_bristol *c = L->c;
	char msg[96];

	if (lines != ngates) {
		snprintf(msg, sizeof(msg), "the header says %u gates, the file has %u", ngates,
		         lines);
		return bad(L->lx, msg);
	}
	for (uint32_t wv = c->n_wires - n_out_wires; wv < c->n_wires; wv++)
		if (!L->set[wv]) {
			snprintf(msg, sizeof(msg), "output wire %u is never written", wv);
			return bad(L->lx, msg);
		}
	return MPC_OK;
}

mpc_err mpc_bristol_parse(const char *name, const char *text, size_t len, mpc_bristol **out) {
	loader L = {.lx = calloc(1, sizeof(*L.lx)), .c = calloc(1, sizeof(*L.c))};
	uint32_t ngates, n_in_wires, n_out_wires, lines = 0;
	mpc_bristol *c = L.c;
	mpc_err err = MPC_OK;

	*out = NULL;
	if (L.lx == NULL || c == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	L.lx->name = name;
	L.lx->p = text;
	L.lx->end = text + len;
	if ((err = parse_header(L.lx, c, &ngates, &n_in_wires, &n_out_wires)) != MPC_OK)
		goto out;
	L.level = calloc(c->n_wires, sizeof(*L.level));
	L.set = calloc(c->n_wires, 1);
	L.cap = ngates + 16;
	c->gates = malloc(L.cap * sizeof(*c->gates));
	if (!L.level || !L.set || !c->gates) {
		err = mpc_error(MPC_ENOMEM, "out of memory for %u wires", c->n_wires);
		goto out;
	}
	memset(L.set, 1, n_in_wires);
	while (next_line(L.lx)) {
		lines++;
		if ((err = parse_gate_line(&L)) != MPC_OK)
			goto out;
	}
	if ((err = check_complete(&L, ngates, lines, n_out_wires)) != MPC_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	free(L.level);
	free(L.set);
	free(L.lx);
	mpc_bristol_free(c);
	return err;
}

mpc_err mpc_bristol_load(const char *path, mpc_bristol **out) {
	char *text;
	size_t len;

	*out = NULL;
	mpc_err err = mpc_file_read_all(path, SIZE_MAX, &text, &len);
	if (err != MPC_OK)
		return err;
	err = mpc_bristol_parse(path, text, len, out);
	free(text);
	return err;
}

uint32_t mpc_bristol_in_wire(const mpc_bristol *c, uint32_t v) {
	uint32_t w = 0;
	for (uint32_t i = 0; i < v && i < c->n_in; i++)
		w += c->in_width[i];
	return w;
}

uint32_t mpc_bristol_out_wire(const mpc_bristol *c, uint32_t v) {
	uint32_t total = 0, w = 0;
	for (uint32_t i = 0; i < c->n_out; i++)
		total += c->out_width[i];
	for (uint32_t i = 0; i < v && i < c->n_out; i++)
		w += c->out_width[i];
	return c->n_wires - total + w;
}

mpc_err mpc_bristol_eval_clear(const mpc_bristol *c, const uint8_t *in, uint8_t *out) {
	uint8_t *w = calloc(c->n_wires, 1);
	uint32_t n_in = mpc_bristol_in_wire(c, c->n_in), first_out = mpc_bristol_out_wire(c, 0);
	if (w == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	memcpy(w, in, n_in);
	for (uint32_t i = 0; i < c->n_gates; i++) {
		const mpc_gate *g = &c->gates[i];
		switch (g->op) {
		case MPC_G_XOR:
			w[g->out] = w[g->a] ^ w[g->b];
			break;
		case MPC_G_AND:
			w[g->out] = w[g->a] & w[g->b];
			break;
		case MPC_G_INV:
			w[g->out] = w[g->a] ^ 1;
			break;
		case MPC_G_EQW:
			w[g->out] = w[g->a];
			break;
		case MPC_G_EQ:
			w[g->out] = (uint8_t)g->a;
			break;
		}
	}
	memcpy(out, w + first_out, c->n_wires - first_out);
	free(w);
	return MPC_OK;
}
