/* Loopback: arithmetic <-> boolean conversions, comparisons, selections,
 * max/min/argmax, exact truncation and the comparisons of bounded width
 * (*_bits) on 2, 3 and 5 real processes, in
 * Z_2^64 and Z_2^128, against a plaintext reference computed here. Bit
 * triples and random bits come from the parties' own OT-based generation
 * (and from the dealer, in the dealer group). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_preproc.h"
#include "protocols/core/mpc_share.h"
#include "protocols/nonlinear/mpc_bool.h"
#include "protocols/nonlinear/mpc_cmp.h"
#include "protocols/nonlinear/mpc_conv.h"
#include "tests/support/cluster.h"
#include "tests/support/mpc_local.h"

enum {
	OP_A2B,
	OP_MSB,
	OP_ISZERO,
	OP_B2A,
	OP_LTZ,
	OP_LT,
	OP_EQ,
	OP_SELECT,
	OP_RELU,
	OP_MAXMIN,
	OP_TRUNC,
	OP_MSBB,   /* mpc_conv_msb_bits */
	OP_LTZB,   /* mpc_cmp_ltz_bits */
	OP_LTB,    /* mpc_cmp_lt_bits */
	OP_MAXMINB /* mpc_cmp_max_bits / min_bits */
};

static const char *backend = "ot";

/* The tasks of one cluster run, made in the parent before fork; each party
 * reads only what it owns: party 0 x, party 1 y, the last party b. The
 * parties run them in order (one cluster for many checks: set-up is the
 * slow part) and emit their outputs one after the other. */
typedef struct {
	int op;
	mpc_ring ring;
	size_t n;      /* elements (OP_MAXMIN: m * len) */
	unsigned bits; /* a2b, and the width of the *_bits ops */
	unsigned f;    /* trunc */
	size_t m, len; /* max/min */
	uint8_t *x, *y, *b;
	uint64_t *planes; /* b2a input (W words) */
	uint8_t *res;     /* the reconstructed output, in the parent */
	void (*verify)(void);
} task;

#define MAX_TASKS 32
static task tasks[MAX_TASKS];
static int ntasks;
static task *cur = &tasks[0];
#define job (*cur) /* the task being made, run or verified */

static size_t eb(void) {
	return mpc_ring_bytes(job.ring);
}
static unsigned kbits(void) {
	return mpc_ring_bits(job.ring);
}

/* ---- ring values as 128-bit integers ---- */

static mpc_i128 get_s(const uint8_t *buf, size_t i) {
	return cluster_get_s(job.ring, buf, i);
}

static mpc_u128 get_u(const uint8_t *buf, size_t i) {
	return cluster_get_u(job.ring, buf, i);
}

static void put(uint8_t *buf, size_t i, mpc_i128 v) {
	if (job.ring == MPC_Z64) {
		uint64_t w = (uint64_t)v;
		memcpy(buf + 8 * i, &w, 8);
	} else {
		memcpy(buf + 16 * i, &v, 16);
	}
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* uniform k-bit value */
static mpc_i128 rnd_full(void) {
	if (job.ring == MPC_Z64)
		return (int64_t)rnd();
	return (mpc_i128)(((mpc_u128)rnd() << 64) | rnd());
}

/* uniform in [-2^b, 2^b) (b < k) */
static mpc_i128 rnd_bounded(unsigned b) {
	mpc_i128 v = rnd_full();
	return v >> (kbits() - 1 - b);
}

static mpc_i128 smin(void) {
	return job.ring == MPC_Z64 ? (mpc_i128)INT64_MIN : (mpc_i128)((mpc_u128)1 << 127);
}
static mpc_i128 smax(void) {
	return -(smin() + 1);
}

static void free_task(task *t) {
	free(t->x);
	free(t->y);
	free(t->b);
	free(t->planes);
	free(t->res);
	memset(t, 0, sizeof(*t));
}

/* A new task, current until the next one. */
static void new_job(int op, mpc_ring r, size_t n) {
	assert_true(ntasks < MAX_TASKS);
	cur = &tasks[ntasks++];
	free_task(cur);
	job.op = op;
	job.ring = r;
	job.n = n;
	job.x = calloc(n ? n : 1, 16);
	job.y = calloc(n ? n : 1, 16);
	job.b = calloc(n ? n : 1, 16);
	job.planes = calloc(mpc_conv_words(n) + 1, 8);
	assert_non_null(job.x);
	assert_non_null(job.y);
	assert_non_null(job.b);
	assert_non_null(job.planes);
}

/* ---- the parties ---- */

/* carry-save layers from N numbers down to two */
static unsigned csa_layers(int np) {
	unsigned l = 0;
	for (int cnt = np; cnt > 2; cnt -= cnt / 3)
		l++;
	return l;
}

static unsigned ceil_log2(unsigned v) {
	unsigned l = 0;
	while ((1u << l) < v)
		l++;
	return l;
}

/* Online rounds of ltz/lt (op OP_LT), their bits variants and eq: they
 * must not depend on n. */
static uint64_t want_rounds(int op, int np) {
	unsigned k = kbits();
	if (op == OP_EQ)
		return csa_layers(np) + ceil_log2(k) + 1;
	if (op == OP_LTZB || op == OP_LTB)
		k = job.bits;
	return csa_layers(np) + 1 + ceil_log2(k - 1) + 1;
}

/* A preprocessing wrapper counting the bit-triple words a party consumes
 * (installed around the party's own backend for the whole cluster run). */
static struct {
	mpc_preproc inner;
	size_t words;
} counted;

static mpc_err cnt_triples(void *ctx, struct mpc_party *p, mpc_ring r, size_t n, void *a, void *b,
                           void *c) {
	(void)ctx;
	return counted.inner.ops->triples(counted.inner.ctx, p, r, n, a, b, c);
}
static mpc_err cnt_trunc(void *ctx, struct mpc_party *p, mpc_ring r, unsigned f, size_t n, void *rr,
                         void *r_hi) {
	(void)ctx;
	return counted.inner.ops->trunc_pairs(counted.inner.ctx, p, r, f, n, rr, r_hi);
}
static mpc_err cnt_bits(void *ctx, struct mpc_party *p, mpc_ring r, size_t n, void *out) {
	(void)ctx;
	return counted.inner.ops->bits(counted.inner.ctx, p, r, n, out);
}
static mpc_err cnt_bit_triples(void *ctx, struct mpc_party *p, size_t n_words, uint64_t *a,
                               uint64_t *b, uint64_t *c) {
	(void)ctx;
	counted.words += n_words;
	return counted.inner.ops->bit_triples(counted.inner.ctx, p, n_words, a, b, c);
}
static void cnt_free(void *ctx) {
	(void)ctx;
	if (counted.inner.ops && counted.inner.ops->free)
		counted.inner.ops->free(counted.inner.ctx);
}
static const mpc_preproc_ops cnt_ops = {.name = "counting",
                                        .triples = cnt_triples,
                                        .trunc_pairs = cnt_trunc,
                                        .bits = cnt_bits,
                                        .bit_triples = cnt_bit_triples,
                                        .free = cnt_free};

static mpc_err body_one(mpc_party *p) {
	int me = mpc_party_id(p), last = mpc_party_size(p) - 1;
	size_t n = job.n, W = mpc_conv_words(n), e = eb();
	mpc_vec x = {0}, y = {0}, b = {0}, o = {0};
	uint64_t *bw = calloc(job.bits * W + 2 * W + 1, 8);
	mpc_err err;
	if (bw == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = mpc_vec_init(&x, job.ring, n)) || (err = mpc_vec_init(&y, job.ring, n)) ||
	    (err = mpc_vec_init(&b, job.ring, n)) || (err = mpc_vec_init(&o, job.ring, 5 * n + 5)))
		goto out;
	if ((err = mpc_input(p, 0, job.ring, me == 0 ? job.x : NULL, x.v, n)) ||
	    (err = mpc_input(p, 1, job.ring, me == 1 ? job.y : NULL, y.v, n)) ||
	    (err = mpc_input(p, last, job.ring, me == last ? job.b : NULL, b.v, n)))
		goto out;
	uint64_t r0 = mpc_net_rounds(mpc_party_net(p));
	size_t w0 = counted.words;
	switch (job.op) {
	case OP_A2B:
		if ((err = mpc_conv_a2b(p, job.ring, x.v, n, job.bits, bw)) == MPC_OK)
			err = mpc_local_emit(bw, job.bits * W * 8);
		break;
	case OP_MSB:
		if ((err = mpc_conv_msb(p, job.ring, x.v, n, bw)) == MPC_OK)
			err = mpc_local_emit(bw, W * 8);
		break;
	case OP_ISZERO:
		if ((err = mpc_conv_is_zero(p, job.ring, x.v, n, bw)) == MPC_OK)
			err = mpc_local_emit(bw, W * 8);
		break;
	case OP_B2A:
		if ((err = mpc_bool_input(p, last, me == last ? job.planes : NULL, bw, W)) ==
		        MPC_OK &&
		    (err = mpc_conv_b2a(p, job.ring, bw, n, o.v)) == MPC_OK)
			err = mpc_local_emit(o.v, n * e);
		break;
	case OP_LTZ:
		/* in place: outputs may alias inputs */
		if ((err = mpc_cmp_ltz(p, job.ring, x.v, x.v, n)) == MPC_OK)
			err = mpc_local_emit(x.v, n * e);
		break;
	case OP_LT:
		if ((err = mpc_cmp_lt(p, job.ring, x.v, y.v, o.v, n)) == MPC_OK)
			err = mpc_local_emit(o.v, n * e);
		break;
	case OP_EQ:
		if ((err = mpc_cmp_eq(p, job.ring, x.v, y.v, y.v, n)) == MPC_OK)
			err = mpc_local_emit(y.v, n * e);
		break;
	case OP_SELECT:
		if ((err = mpc_cmp_select(p, job.ring, b.v, x.v, y.v, o.v, n)) == MPC_OK)
			err = mpc_local_emit(o.v, n * e);
		break;
	case OP_RELU:
		if ((err = mpc_cmp_relu(p, job.ring, x.v, x.v, n)) == MPC_OK)
			err = mpc_local_emit(x.v, n * e);
		break;
	case OP_MAXMIN: {
		uint8_t *ov = o.v;
		size_t m = job.m;
		if ((err = mpc_cmp_max(p, job.ring, x.v, m, job.len, ov, ov + m * e)) == MPC_OK &&
		    (err = mpc_cmp_min(p, job.ring, x.v, m, job.len, ov + 2 * m * e,
		                       ov + 3 * m * e)) == MPC_OK &&
		    (err = mpc_cmp_max(p, job.ring, x.v, m, job.len, ov + 4 * m * e, NULL)) ==
		        MPC_OK)
			err = mpc_local_emit(ov, 5 * m * e);
		break;
	}
	case OP_TRUNC:
		if ((err = mpc_trunc_exact(p, job.ring, job.f, x.v, x.v, n)) == MPC_OK)
			err = mpc_local_emit(x.v, n * e);
		break;
	case OP_MSBB:
		if ((err = mpc_conv_msb_bits(p, job.ring, x.v, n, job.bits, bw)) == MPC_OK)
			err = mpc_local_emit(bw, W * 8);
		break;
	case OP_LTZB:
		if ((err = mpc_cmp_ltz_bits(p, job.ring, x.v, job.bits, x.v, n)) == MPC_OK)
			err = mpc_local_emit(x.v, n * e);
		break;
	case OP_LTB:
		if ((err = mpc_cmp_lt_bits(p, job.ring, x.v, y.v, job.bits, o.v, n)) == MPC_OK)
			err = mpc_local_emit(o.v, n * e);
		break;
	case OP_MAXMINB: {
		uint8_t *ov = o.v;
		size_t m = job.m;
		if ((err = mpc_cmp_max_bits(p, job.ring, x.v, m, job.len, job.bits, ov,
		                            ov + m * e)) == MPC_OK &&
		    (err = mpc_cmp_min_bits(p, job.ring, x.v, m, job.len, job.bits, ov + 2 * m * e,
		                            ov + 3 * m * e)) == MPC_OK &&
		    (err = mpc_cmp_max_bits(p, job.ring, x.v, m, job.len, job.bits, ov + 4 * m * e,
		                            NULL)) == MPC_OK)
			err = mpc_local_emit(ov, 5 * m * e);
		break;
	}
	default:
		err = mpc_error(MPC_EINVAL, "bad op");
	}
	/* with the dealer, party 0's rounds are the online ones only (the last
	 * party talks to the dealer) */
	if (err == MPC_OK && me == 0 && strcmp(backend, "dealer") == 0 &&
	    (job.op == OP_LTZ || job.op == OP_LT || job.op == OP_EQ || job.op == OP_LTZB ||
	     job.op == OP_LTB) &&
	    mpc_net_rounds(mpc_party_net(p)) - r0 != want_rounds(job.op, last + 1))
		err = mpc_error(MPC_ECHEAT, "comparison took %llu rounds, want %llu",
		                (unsigned long long)(mpc_net_rounds(mpc_party_net(p)) - r0),
		                (unsigned long long)want_rounds(job.op, last + 1));
	/* the bit triples consumed are the promised count (one fetch) */
	if (err == MPC_OK && (job.op == OP_MSBB || job.op == OP_LTZB || job.op == OP_LTB)) {
		size_t want = mpc_conv_and_count(4, job.ring, last + 1, job.bits) * W;
		if (want == 0 || counted.words - w0 != want)
			err = mpc_error(MPC_ECHEAT,
			                "%u-bit comparison used %zu bit-triple words, "
			                "want %zu",
			                job.bits, counted.words - w0, want);
	}
out:
	free(bw);
	mpc_vec_fini(&x);
	mpc_vec_fini(&y);
	mpc_vec_fini(&b);
	mpc_vec_fini(&o);
	return err;
}

static mpc_err body(mpc_party *p, void *arg) {
	mpc_err err = MPC_OK;
	mpc_preproc *pre = mpc_party_preproc(p);
	(void)arg;
	counted.inner = *pre;
	counted.words = 0;
	*pre = (mpc_preproc){&cnt_ops, NULL};
	for (int i = 0; i < ntasks && err == MPC_OK; i++) {
		cur = &tasks[i];
		err = body_one(p);
	}
	*pre = counted.inner;
	return err;
}

/* Bytes a party emits for task t, and whether they are XOR shares. */
static size_t out_bytes(const task *t, int *boolean) {
	size_t W = mpc_conv_words(t->n), e = mpc_ring_bytes(t->ring);
	*boolean = t->op == OP_A2B || t->op == OP_MSB || t->op == OP_ISZERO || t->op == OP_MSBB;
	if (t->op == OP_A2B)
		return t->bits * W * 8;
	if (*boolean)
		return W * 8;
	if (t->op == OP_MAXMIN || t->op == OP_MAXMINB)
		return 5 * t->m * e;
	return t->n * e;
}

/* Run the tasks made so far on one cluster; every node must succeed. Each
 * task gets the parties' outputs added up (arithmetic) or XORed (boolean)
 * in res and is verified against the plaintext reference. */
static void run_tasks(int parties) {
	int dealer = strcmp(backend, "dealer") == 0;
	mpc_local_config cfg = {.n_parties = parties,
	                        .with_dealer = dealer,
	                        .gen = dealer ? NULL : backend,
	                        .timeout_ms = 30000,
	                        .watchdog_s = 120};
	mpc_local_result res[17];
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	cluster_expect_ok(res, parties + dealer);
	size_t off = 0;
	for (int k = 0; k < ntasks; k++) {
		task *t = &tasks[k];
		int boolean;
		size_t bytes = out_bytes(t, &boolean), e = mpc_ring_bytes(t->ring);
		t->res = calloc(bytes ? bytes : 1, 1);
		assert_non_null(t->res);
		for (int i = 0; i < parties; i++) {
			assert_true(res[i].out_len >= off + bytes);
			const uint8_t *o = res[i].out + off;
			if (boolean) {
				for (size_t j = 0; j < bytes; j++)
					t->res[j] ^= o[j];
				continue;
			}
			for (size_t j = 0; j < bytes / e; j++) {
				if (t->ring == MPC_Z64) {
					uint64_t a, b;
					memcpy(&a, t->res + 8 * j, 8);
					memcpy(&b, o + 8 * j, 8);
					a += b;
					memcpy(t->res + 8 * j, &a, 8);
				} else {
					mpc_u128 a, b;
					memcpy(&a, t->res + 16 * j, 16);
					memcpy(&b, o + 16 * j, 16);
					a += b;
					memcpy(t->res + 16 * j, &a, 16);
				}
			}
		}
		off += bytes;
	}
	for (int i = 0; i < parties; i++)
		assert_int_equal(res[i].out_len, off);
	mpc_local_results_fini(res, parties + dealer);
	for (int k = 0; k < ntasks; k++) {
		cur = &tasks[k];
		cur->verify();
		free_task(cur);
	}
	ntasks = 0;
	cur = &tasks[0];
}

static int plane_bit(const uint8_t *planes, size_t plane, size_t i) {
	uint64_t w;
	memcpy(&w, planes + 8 * (plane * mpc_conv_words(job.n) + i / 64), 8);
	return (int)(w >> (i % 64) & 1);
}

/* the tail of every plane must be zero */
static void check_tails(const uint8_t *planes, size_t nplanes) {
	size_t W = mpc_conv_words(job.n);
	for (size_t l = 0; l < nplanes; l++)
		for (size_t i = job.n; i < W * 64; i++)
			assert_int_equal(plane_bit(planes, l, i), 0);
}

/* x: special values first, then random ones (full range, small, bounded) */
static void fill_x(uint8_t *buf, size_t n, int bounded) {
	mpc_i128 sp[] = {0, -1, 1, smin(), smin() + 1, smax(), smax() - 1, 2, -2};
	size_t nsp = sizeof(sp) / sizeof(sp[0]);
	for (size_t i = 0; i < n; i++) {
		mpc_i128 v;
		if (!bounded && i < nsp)
			v = sp[i];
		else if (i % 4 == 1)
			v = rnd_bounded(10);
		else
			v = bounded ? rnd_bounded(kbits() - 2) : rnd_full();
		put(buf, i, v);
	}
}

/* ---- conversions ---- */

static void verify_a2b(void) {
	const uint8_t *o = job.res;
	size_t n = job.n;
	unsigned bits = job.bits;
	for (size_t i = 0; i < n; i++) {
		mpc_u128 v = get_u(job.x, i);
		for (unsigned l = 0; l < bits; l++)
			assert_int_equal(plane_bit(o, l, i), (int)(v >> l & 1));
	}
	check_tails(o, bits);
}

static void check_a2b(mpc_ring r, size_t n, unsigned bits) {
	new_job(OP_A2B, r, n);
	job.bits = bits;
	fill_x(job.x, n, 0);
	job.verify = verify_a2b;
}

static void test_a2b(void **s) {
	(void)s;
	check_a2b(MPC_Z64, 1000, 64);
	check_a2b(MPC_Z128, 300, 128);
	check_a2b(MPC_Z64, 100, 17); /* x mod 2^17 */
	check_a2b(MPC_Z64, 1, 64);
	run_tasks(3);
	check_a2b(MPC_Z64, 130, 64);
	check_a2b(MPC_Z128, 65, 1);
	run_tasks(2);
	check_a2b(MPC_Z64, 200, 64);
	check_a2b(MPC_Z128, 70, 128);
	run_tasks(5);
}

static void verify_msb(void) {
	const uint8_t *o = job.res;
	size_t n = job.n;
	int op = job.op;
	for (size_t i = 0; i < n; i++) {
		mpc_i128 v = get_s(job.x, i);
		assert_int_equal(plane_bit(o, 0, i), op == OP_MSB ? v < 0 : v == 0);
	}
	check_tails(o, 1);
}

static void check_msb(mpc_ring r, size_t n, int op) {
	new_job(op, r, n);
	fill_x(job.x, n, 0);
	if (op == OP_ISZERO)
		for (size_t i = 9; i < n; i += 3)
			put(job.x, i, 0);
	job.verify = verify_msb;
}

static void test_msb(void **s) {
	(void)s;
	check_msb(MPC_Z64, 1000, OP_MSB);
	check_msb(MPC_Z64, 1000, OP_ISZERO);
	run_tasks(2);
	check_msb(MPC_Z64, 999, OP_MSB);
	check_msb(MPC_Z128, 500, OP_MSB);
	check_msb(MPC_Z64, 777, OP_ISZERO);
	check_msb(MPC_Z128, 300, OP_ISZERO);
	run_tasks(3);
	check_msb(MPC_Z128, 100, OP_MSB);
	check_msb(MPC_Z64, 100, OP_ISZERO);
	run_tasks(5);
}

static void verify_b2a(void) {
	const uint8_t *o = job.res;
	size_t n = job.n;
	for (size_t i = 0; i < n; i++)
		assert_true(get_u(o, i) == (mpc_u128)(job.planes[i / 64] >> (i % 64) & 1));
}

static void check_b2a(mpc_ring r, size_t n) {
	new_job(OP_B2A, r, n);
	for (size_t i = 0; i < n; i++)
		if (rnd() & 1)
			job.planes[i / 64] |= 1ull << (i % 64);
	job.verify = verify_b2a;
}

static void test_b2a(void **s) {
	(void)s;
	check_b2a(MPC_Z64, 1000);
	run_tasks(2);
	check_b2a(MPC_Z64, 1001);
	check_b2a(MPC_Z128, 500);
	run_tasks(3);
	check_b2a(MPC_Z128, 63);
	run_tasks(5);
}

/* ---- comparisons ---- */

/* x, y in range of lt (x - y does not wrap), with bound pairs and ties */
static void fill_xy(size_t n) {
	mpc_i128 lo = smin(), hi = smax();
	mpc_i128 sp[][2] = {{0, 0},           {0, -1},          {-1, 0},      {lo / 2, hi / 2},
	                    {hi / 2, lo / 2}, {lo + 1, 0},      {0, lo + 1},  {hi, 0},
	                    {0, hi},          {lo, 0},          {-1, hi},     {hi, hi},
	                    {lo, lo},         {lo + 1, lo + 2}, {hi - 1, hi}, {5, 5}};
	size_t nsp = sizeof(sp) / sizeof(sp[0]);
	for (size_t i = 0; i < n; i++) {
		mpc_i128 a, b;
		if (i < nsp) {
			a = sp[i][0];
			b = sp[i][1];
		} else {
			a = i % 3 ? rnd_bounded(kbits() - 2) : rnd_bounded(8);
			b = i % 5 == 0 ? a : i % 3 ? rnd_bounded(kbits() - 2) : rnd_bounded(8);
		}
		put(job.x, i, a);
		put(job.y, i, b);
	}
}

static void verify_ltz(void) {
	const uint8_t *o = job.res;
	size_t n = job.n;
	for (size_t i = 0; i < n; i++)
		assert_true(get_u(o, i) == (mpc_u128)(get_s(job.x, i) < 0));
}

static void check_ltz(mpc_ring r, size_t n) {
	new_job(OP_LTZ, r, n);
	fill_x(job.x, n, 0);
	job.verify = verify_ltz;
}

static void verify_cmp(void) {
	const uint8_t *o = job.res;
	size_t n = job.n;
	int op = job.op;
	for (size_t i = 0; i < n; i++) {
		mpc_i128 x = get_s(job.x, i), y = get_s(job.y, i), want = 0;
		switch (op) {
		case OP_LT:
			want = x < y;
			break;
		case OP_EQ:
			want = x == y;
			break;
		case OP_SELECT:
			want = get_s(job.b, i) ? x : y;
			break;
		case OP_RELU:
			want = x > 0 ? x : 0;
			break;
		}
		assert_true(get_s(o, i) == want);
	}
}

static void check_cmp(int op, mpc_ring r, size_t n) {
	new_job(op, r, n);
	fill_xy(n);
	for (size_t i = 0; i < n; i++)
		put(job.b, i, (mpc_i128)(rnd() & 1));
	job.verify = verify_cmp;
}

/* the required size: 10^5 comparisons (ltz and lt) at three parties */
static void test_cmp_1e5(void **s) {
	(void)s;
	check_ltz(MPC_Z64, 100000);
	check_cmp(OP_LT, MPC_Z64, 100000);
	run_tasks(3);
}

static void test_cmp_small(void **s) {
	(void)s;
	int ps[] = {2, 3, 5};
	for (int k = 0; k < 3; k++) {
		int np = ps[k];
		size_t n = np == 5 ? 100 : 300;
		check_ltz(MPC_Z128, n);
		check_cmp(OP_LT, MPC_Z64, n);
		check_cmp(OP_LT, MPC_Z128, n);
		check_cmp(OP_EQ, MPC_Z64, n);
		check_cmp(OP_EQ, MPC_Z128, n);
		check_cmp(OP_SELECT, np == 3 ? MPC_Z128 : MPC_Z64, n);
		check_cmp(OP_RELU, MPC_Z64, n);
		check_cmp(OP_RELU, MPC_Z128, n);
		run_tasks(np);
	}
}

static void verify_maxmin(void) {
	const uint8_t *o = job.res;
	size_t m = job.m;
	size_t len = job.len;
	for (size_t i = 0; i < m; i++) {
		size_t amax = 0, amin = 0;
		for (size_t j = 1; j < len; j++) {
			if (get_s(job.x, i * len + j) > get_s(job.x, i * len + amax))
				amax = j;
			if (get_s(job.x, i * len + j) < get_s(job.x, i * len + amin))
				amin = j;
		}
		assert_true(get_s(o, i) == get_s(job.x, i * len + amax));
		assert_true(get_u(o, m + i) == amax);
		assert_true(get_s(o, 2 * m + i) == get_s(job.x, i * len + amin));
		assert_true(get_u(o, 3 * m + i) == amin);
		assert_true(get_s(o, 4 * m + i) == get_s(job.x, i * len + amax));
	}
}

static void check_maxmin(mpc_ring r, size_t m, size_t len, int ties) {
	new_job(OP_MAXMIN, r, m * len);
	job.m = m;
	job.len = len;
	mpc_i128 lo = smin() / 2, hi = smax() / 2; /* differences must not wrap */
	for (size_t i = 0; i < m * len; i++) {
		mpc_i128 v = ties ? (mpc_i128)(rnd() % 5) - 2 : rnd_bounded(kbits() - 2);
		if (i == 0)
			v = lo;
		if (i == 1 && len > 1)
			v = hi;
		put(job.x, i, v);
	}
	job.verify = verify_maxmin;
}

static void test_maxmin(void **s) {
	(void)s;
	check_maxmin(MPC_Z64, 40, 13, 1);
	check_maxmin(MPC_Z64, 30, 8, 0);
	check_maxmin(MPC_Z128, 20, 7, 1);
	check_maxmin(MPC_Z64, 7, 1, 0); /* len 1 */
	run_tasks(3);
	check_maxmin(MPC_Z64, 25, 5, 1);
	check_maxmin(MPC_Z128, 10, 2, 0);
	run_tasks(2);
	check_maxmin(MPC_Z64, 10, 6, 1);
	check_maxmin(MPC_Z128, 1, 9, 1);
	run_tasks(5);
}

/* ---- exact truncation ---- */

static void verify_trunc(void) {
	const uint8_t *o = job.res;
	size_t n = job.n;
	unsigned f = job.f;
	for (size_t i = 0; i < n; i++) {
		mpc_i128 v = get_s(job.x, i), want = v >> f; /* floor */
		if (get_s(o, i) != want)
			fail_msg("trunc_exact f=%u Z_2^%u: element %zu wrong", f, kbits(), i);
	}
}

static void check_trunc(mpc_ring r, size_t n, unsigned f) {
	new_job(OP_TRUNC, r, n);
	job.f = f;
	mpc_i128 b = ((mpc_i128)1 << (kbits() - 2)) - 1;
	mpc_i128 sp[] = {b,
	                 -b,
	                 0,
	                 -1,
	                 1,
	                 smin(),
	                 smax(),
	                 ((mpc_i128)1 << f) - 1,
	                 -((mpc_i128)1 << f),
	                 ((mpc_i128)1 << f),
	                 -((mpc_i128)1 << f) - 1,
	                 b - 1,
	                 -b + 1};
	size_t nsp = sizeof(sp) / sizeof(sp[0]);
	for (size_t i = 0; i < n; i++) {
		mpc_i128 v = i < nsp ? sp[i] : i % 3 == 0 ? rnd_full() : rnd_bounded(kbits() - 2);
		put(job.x, i, v);
	}
	job.verify = verify_trunc;
}

static void test_trunc_exact(void **s) {
	(void)s;
	check_trunc(MPC_Z64, 2000, 16);
	check_trunc(MPC_Z128, 1000, 16);
	check_trunc(MPC_Z64, 200, 63); /* the extremes of f */
	check_trunc(MPC_Z128, 200, 1);
	run_tasks(3);
	check_trunc(MPC_Z64, 500, 5);
	check_trunc(MPC_Z128, 300, 40);
	run_tasks(2);
	check_trunc(MPC_Z64, 200, 16);
	run_tasks(5);
}

/* ---- comparisons of bounded width ---- */

/* uniform in [-2^(b-1), 2^(b-1)) for 1 <= b <= k */
static mpc_i128 rnd_width(unsigned b) {
	return rnd_full() >> (kbits() - b);
}

/* bit b-1 of x mod 2^b, for any x */
static void verify_msbb(void) {
	const uint8_t *o = job.res;
	for (size_t i = 0; i < job.n; i++)
		if (plane_bit(o, 0, i) != (int)(get_u(job.x, i) >> (job.bits - 1) & 1))
			fail_msg("msb_bits %u Z_2^%u: element %zu wrong", job.bits, kbits(), i);
	check_tails(o, 1);
}

/* x in [-2^(bits-1), 2^(bits-1)): both ends, 0, -1, then random */
static void verify_ltzb(void) {
	for (size_t i = 0; i < job.n; i++)
		if (get_u(job.res, i) != (mpc_u128)(get_s(job.x, i) < 0))
			fail_msg("ltz_bits %u Z_2^%u: element %zu wrong", job.bits, kbits(), i);
}

static void verify_ltb(void) {
	for (size_t i = 0; i < job.n; i++)
		if (get_u(job.res, i) != (mpc_u128)(get_s(job.x, i) < get_s(job.y, i)))
			fail_msg("lt_bits %u Z_2^%u: element %zu wrong", job.bits, kbits(), i);
}

static void check_bits(int op, mpc_ring r, size_t n, unsigned bits) {
	new_job(op, r, n);
	job.bits = bits;
	mpc_i128 lo = (mpc_i128)(-((mpc_u128)1 << (bits - 1))),
	         hi = (mpc_i128)(((mpc_u128)1 << (bits - 1)) - 1);
	mpc_i128 sp[] = {lo, hi, 0, -1, lo + 1, hi - 1, 1};
	size_t nsp = sizeof(sp) / sizeof(sp[0]);
	for (size_t i = 0; i < n; i++) {
		mpc_i128 d = i < nsp      ? sp[i]
		             : i % 4 == 3 ? rnd_width(bits < 6 ? bits : 6)
		                          : rnd_width(bits);
		if (op == OP_MSBB) {
			/* any value: the low bits are what counts */
			put(job.x, i, i % 2 ? rnd_full() : d);
			continue;
		}
		put(job.x, i, d);
		if (op == OP_LTB) {
			/* x - y = d with x and y in the ring's signed range (so the
			 * ring difference is the integer difference) */
			mpc_i128 y = i % 3 == 0 ? d : rnd_bounded(kbits() - 2);
			if ((d > 0 && y > smax() - d) || (d < 0 && y < smin() - d))
				y = 0;
			put(job.x, i, y + d);
			put(job.y, i, y);
		}
	}
	job.verify = op == OP_MSBB ? verify_msbb : op == OP_LTZB ? verify_ltzb : verify_ltb;
}

/* max/min of values in [-2^(bits-2), 2^(bits-2)) (any two differ by less
 * than 2^(bits-1)), with both ends and ties */
static void check_maxminb(mpc_ring r, size_t m, size_t len, unsigned bits) {
	new_job(OP_MAXMINB, r, m * len);
	job.m = m;
	job.len = len;
	job.bits = bits;
	for (size_t i = 0; i < m * len; i++) {
		mpc_i128 v = i % 5 == 4 ? (mpc_i128)(rnd() % 2) : rnd_width(bits - 1);
		if (i % len == 0)
			v = -((mpc_i128)1 << (bits - 2));
		if (i % len == 1)
			v = ((mpc_i128)1 << (bits - 2)) - 1;
		put(job.x, i, v);
	}
	job.verify = verify_maxmin;
}

/* The AND counts: a bits-wide comparison pays for bits, not for k. */
static void test_and_count(void **s) {
	(void)s;
	mpc_ring rings[] = {MPC_Z64, MPC_Z128};
	for (int ri = 0; ri < 2; ri++) {
		mpc_ring r = rings[ri];
		unsigned k = mpc_ring_bits(r);
		for (int np = 2; np <= 5; np++) {
			size_t full = mpc_conv_and_count(1, r, np, 0);
			assert_int_equal(mpc_conv_and_count(4, r, np, k), full);
			for (unsigned b = 2; b <= k; b++) {
				size_t c = mpc_conv_and_count(4, r, np, b);
				size_t want =
				    (size_t)(np - 2) * (b - 1) + 3 * b - 5 - ceil_log2(b - 1);
				assert_int_equal(c, want);
				assert_true(c <= full && (b == k || c < full));
				/* within a few ANDs of b/k of the full count */
				assert_true(c * k <= full * b + 6 * k);
			}
			assert_int_equal(mpc_conv_and_count(4, r, np, 1), 0);
			assert_int_equal(mpc_conv_and_count(4, r, np, k + 1), 0);
		}
		print_message("ANDs per element at 3 parties in Z_2^%u: bits 24: %zu, 32: %zu, "
		              "41: %zu, %u (ltz): %zu\n",
		              k, mpc_conv_and_count(4, r, 3, 24), mpc_conv_and_count(4, r, 3, 32),
		              mpc_conv_and_count(4, r, 3, 41), k, mpc_conv_and_count(1, r, 3, 0));
	}
}

static void test_cmp_bits(void **s) {
	(void)s;
	static const unsigned w64[] = {2, 17, 33, 64}, w128[] = {2, 17, 33, 64, 100, 128};
	for (int np = 2; np <= 3; np++) {
		size_t n = 150;
		for (size_t i = 0; i < sizeof(w64) / sizeof(w64[0]); i++) {
			check_bits(OP_LTZB, MPC_Z64, n, w64[i]);
			check_bits(OP_LTB, MPC_Z64, n, w64[i]);
		}
		for (size_t i = 0; i < sizeof(w128) / sizeof(w128[0]); i++) {
			check_bits(OP_LTZB, MPC_Z128, n, w128[i]);
			check_bits(OP_LTB, MPC_Z128, n, w128[i]);
		}
		check_bits(OP_MSBB, MPC_Z64, 100, np == 2 ? 5 : 40);
		check_bits(OP_MSBB, MPC_Z128, 100, np == 2 ? 90 : 3);
		check_maxminb(MPC_Z64, 10, 7, np == 2 ? 20 : 3);
		check_maxminb(MPC_Z128, 8, 5, np == 2 ? 70 : 33);
		run_tasks(np);
	}
	/* five parties: three carry-save layers of bits - 1 ANDs each */
	check_bits(OP_LTZB, MPC_Z64, 70, 17);
	check_bits(OP_LTB, MPC_Z128, 70, 100);
	check_bits(OP_LTB, MPC_Z64, 70, 2);
	check_maxminb(MPC_Z64, 6, 4, 41);
	run_tasks(5);
}

/* A failed test leaves its tasks behind: start every test afresh. */
static int reset_tasks(void **s) {
	(void)s;
	for (int i = 0; i < MAX_TASKS; i++)
		free_task(&tasks[i]);
	ntasks = 0;
	cur = &tasks[0];
	return 0;
}

/* Backends: the arguments, or MPC_TEST_BACKENDS, or "ot dealer".
 * MPC_TEST_FILTER: a cmocka test name pattern. */
int main(int argc, char **argv) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_a2b, reset_tasks),
	    cmocka_unit_test_setup(test_msb, reset_tasks),
	    cmocka_unit_test_setup(test_b2a, reset_tasks),
	    cmocka_unit_test_setup(test_cmp_1e5, reset_tasks),
	    cmocka_unit_test_setup(test_cmp_small, reset_tasks),
	    cmocka_unit_test_setup(test_maxmin, reset_tasks),
	    cmocka_unit_test_setup(test_trunc_exact, reset_tasks),
	    cmocka_unit_test_setup(test_and_count, reset_tasks),
	    cmocka_unit_test_setup(test_cmp_bits, reset_tasks),
	};
	char list[256];
	const char *env = getenv("MPC_TEST_BACKENDS");
	int failed = 0;
	if (getenv("MPC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MPC_TEST_FILTER"));
	snprintf(list, sizeof(list), "%s", env ? env : "ot dealer");
	for (int i = 1; i < argc; i++)
		snprintf(list + (i == 1 ? 0 : strlen(list)),
		         sizeof(list) - (i == 1 ? 0 : strlen(list)), "%s%s", i == 1 ? "" : " ",
		         argv[i]);
	for (char *save = NULL, *b = strtok_r(list, " ", &save); b;
	     b = strtok_r(NULL, " ", &save)) {
		backend = b;
		print_message("=== preprocessing backend: %s\n", backend);
		failed += cmocka_run_group_tests_name(backend, tests, NULL, NULL);
	}
	for (int i = 0; i < MAX_TASKS; i++)
		free_task(&tasks[i]);
	return failed ? 1 : 0;
}
