/* OT engine and dealer-free preprocessing:
 * - base OT and IKNP extension against their definitions (one process);
 * - the transpose against a bit-by-bit reference;
 * - cross products, triples, random bits, truncation pairs and bit triples
 *   made by 2, 3 and 5 real processes, opened at the parent and checked:
 *   c = a*b, bits in {0, 1}, r_hi = r >> f, c = a AND b. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "protocols/core/mpc_party.h"
#include "protocols/preproc/mpc_cross.h"
#include "protocols/preproc/mpc_gen.h"
#include "protocols/preproc/mpc_ot.h"
#include "tests/support/mpc_local.h"

static const char *engine = "ot";
/* Paillier is slow (big-number exponentiations): it gets fewer elements */
static size_t scale(size_t n) {
	return strcmp(engine, "ot") == 0 ? n : (n + 19) / 20;
}

static void rnd(void *buf, size_t n) {
	assert_int_equal(RAND_bytes(buf, (int)n), 1);
}

static int bit_of(const uint8_t *v, size_t j) {
	return (v[j / 8] >> (j % 8)) & 1;
}

/* ------------------------------------------------------------ one process */

static void base_ot(uint8_t choice[16], uint8_t k0[128][16], uint8_t k1[128][16],
                    uint8_t k[128][16]) {
	uint8_t A[MPC_OT_POINT_BYTES], tag[16] = {1, 2, 3};
	uint8_t *B = malloc(128 * MPC_OT_POINT_BYTES);
	mpc_baseot_sender *s;
	assert_non_null(B);
	rnd(choice, 16);
	assert_int_equal(mpc_baseot_sender_new(&s, A), MPC_OK);
	assert_int_equal(mpc_baseot_receive(A, choice, tag, B, k), MPC_OK);
	assert_int_equal(mpc_baseot_sender_keys(s, B, tag, k0, k1), MPC_OK);
	mpc_baseot_sender_free(s);
	free(B);
}

static void test_base_ot(void **st) {
	uint8_t choice[16], k0[128][16], k1[128][16], k[128][16];
	(void)st;
	base_ot(choice, k0, k1, k);
	for (int l = 0; l < 128; l++) {
		/* the receiver gets exactly the chosen key, and the keys differ */
		assert_memory_equal(k[l], bit_of(choice, l) ? k1[l] : k0[l], 16);
		assert_memory_not_equal(k0[l], k1[l], 16);
	}
	/* a point that is not on the curve is refused */
	uint8_t A[MPC_OT_POINT_BYTES], *B = calloc(128, MPC_OT_POINT_BYTES);
	mpc_baseot_sender *s;
	assert_int_equal(mpc_baseot_sender_new(&s, A), MPC_OK);
	memset(B, 0xff, 128 * MPC_OT_POINT_BYTES);
	assert_int_equal(mpc_baseot_sender_keys(s, B, choice, k0, k1), MPC_EPROTO);
	mpc_baseot_sender_free(s);
	free(B);
}

static void test_transpose(void **st) {
	size_t m = 384, stride = m / 8 + 5;
	uint8_t *cols = malloc(128 * stride), *rows = malloc(16 * m);
	(void)st;
	rnd(cols, 128 * stride);
	mpc_ot_transpose(cols, stride, m, rows);
	for (size_t l = 0; l < 128; l++)
		for (size_t j = 0; j < m; j++)
			assert_int_equal(bit_of(rows + 16 * j, l), bit_of(cols + l * stride, j));
	free(cols);
	free(rows);
}

static void test_iknp(void **st) {
	uint8_t delta[16], k0[128][16], k1[128][16], k[128][16];
	mpc_iknp_receiver rx;
	mpc_iknp_sender tx;
	mpc_ot_hash *h;
	uint8_t key[16] = {9};
	size_t m = 1024;
	(void)st;
	/* the extension sender is the base receiver, choosing with delta */
	base_ot(delta, k0, k1, k);
	assert_int_equal(mpc_iknp_sender_init(&tx, delta, k), MPC_OK);
	assert_int_equal(mpc_iknp_receiver_init(&rx, k0, k1), MPC_OK);
	assert_int_equal(mpc_ot_hash_new(&h, key), MPC_OK);
	uint8_t *r = malloc(m / 8), *u = malloc(16 * m), *cols = malloc(MPC_OT_SCRATCH(m)),
	        *t = malloc(16 * m), *q = malloc(16 * m), *h0 = malloc(16 * m),
	        *h1 = malloc(16 * m), *ht = malloc(16 * m);
	for (int round = 0; round < 3; round++) { /* the streams continue across calls */
		rnd(r, m / 8);
		assert_int_equal(mpc_iknp_receiver_extend(&rx, m, r, u, cols, t), MPC_OK);
		assert_int_equal(mpc_iknp_sender_extend(&tx, m, u, cols, q), MPC_OK);
		assert_int_equal(mpc_ot_hash_pairs(h, q, tx.delta, h0, h1, m), MPC_OK);
		assert_int_equal(mpc_ot_hash_blocks(h, t, ht, m), MPC_OK);
		for (size_t j = 0; j < m; j++) {
			/* q_j = t_j ^ r_j Delta, and the receiver's pad is the chosen one */
			for (int b = 0; b < 16; b++)
				assert_int_equal(q[16 * j + b] ^ t[16 * j + b],
				                 bit_of(r, j) ? delta[b] : 0);
			assert_memory_equal(ht + 16 * j, bit_of(r, j) ? h1 + 16 * j : h0 + 16 * j,
			                    16);
			assert_memory_not_equal(h0 + 16 * j, h1 + 16 * j, 16);
		}
	}
	free(r), free(u), free(cols), free(t), free(q), free(h0), free(h1), free(ht);
	mpc_ot_hash_free(h);
	mpc_iknp_receiver_fini(&rx);
	mpc_iknp_sender_fini(&tx);
}

/* ------------------------------------------------------------ processes */

/* Inputs are derived from (party, index) so the parent can recompute them. */
static uint64_t input_of(int party, size_t i, int which) {
	uint64_t z = (uint64_t)party * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull +
	             (uint64_t)which * 0x94d049bb133111ebull + 1;
	z ^= z >> 31;
	z *= 0xd6e9f8cc2a4f5a3full;
	return z ^ (z >> 29);
}

static struct {
	mpc_ring r;
	unsigned xbits;
	size_t n;
	uint64_t recv_mask, send_mask;
	unsigned f;
} job;

static void make_input(mpc_ring r, unsigned xbits, int party, int which, size_t n, void *out) {
	for (size_t i = 0; i < n; i++) {
		mpc_u128 v =
		    (mpc_u128)input_of(party, i, which) << 64 | input_of(party, i, which + 7);
		if (xbits < 128)
			v &= ((mpc_u128)1 << xbits) - 1;
		if (r == MPC_Z64)
			((uint64_t *)out)[i] = (uint64_t)v;
		else
			((mpc_u128 *)out)[i] = v;
	}
}

static mpc_err body_cross(mpc_party *p, void *arg) {
	size_t eb = mpc_ring_bytes(job.r);
	int me = mpc_party_id(p);
	mpc_vec x, y, o;
	mpc_err err;
	mpc_cross *c = arg;
	(void)c;
	if ((err = mpc_vec_init(&x, job.r, job.n)) || (err = mpc_vec_init(&y, job.r, job.n)) ||
	    (err = mpc_vec_init(&o, job.r, job.n)))
		return err;
	make_input(job.r, job.xbits, me, 0, job.n, x.v);
	make_input(job.r, mpc_ring_bits(job.r), me, 1, job.n, y.v);
	mpc_cross eng;
	if ((err = strcmp(engine, "ot") == 0 ? mpc_cross_ot_new(&eng, p)
	                                     : mpc_cross_paillier_new(&eng, p, 2048)) != MPC_OK)
		return err;
	err = eng.ops->cross(
	    eng.ctx, p, job.r, job.xbits, job.n, (job.recv_mask >> me & 1) ? x.v : NULL,
	    (job.send_mask >> me & 1) ? y.v : NULL, o.v, job.recv_mask, job.send_mask);
	if (err == MPC_OK)
		err = mpc_local_emit(o.v, job.n * eb);
	mpc_cross_free(&eng);
	mpc_vec_fini(&x);
	mpc_vec_fini(&y);
	mpc_vec_fini(&o);
	return err;
}

static mpc_local_result *run(int parties, mpc_local_fn fn, const char *gen) {
	mpc_local_result *res = calloc((size_t)parties, sizeof(*res));
	mpc_local_config cfg = {.n_parties = parties, .use_tcp = 1, .gen = gen, .watchdog_s = 120};
	assert_int_equal(mpc_local_run(&cfg, fn, NULL, res), MPC_OK);
	for (int i = 0; i < parties; i++) {
		if (res[i].err != MPC_OK)
			fail_msg("party %d: %s", i, res[i].detail);
		assert_int_equal(res[i].exit_code, 0);
	}
	return res;
}

static void check_cross(int parties, mpc_ring r, unsigned xbits, size_t n, uint64_t rm,
                        uint64_t sm) {
	size_t eb = mpc_ring_bytes(r);
	job.r = r, job.xbits = xbits, job.n = n, job.recv_mask = rm, job.send_mask = sm;
	mpc_local_result *res = run(parties, body_cross, NULL);
	mpc_vec got, want, x, y;
	assert_int_equal(mpc_vec_init(&got, r, n), MPC_OK);
	assert_int_equal(mpc_vec_init(&want, r, n), MPC_OK);
	assert_int_equal(mpc_vec_init(&x, r, n), MPC_OK);
	assert_int_equal(mpc_vec_init(&y, r, n), MPC_OK);
	assert_int_equal(mpc_local_reconstruct(res, parties, r, got.v, n), MPC_OK);
	for (int i = 0; i < parties; i++)
		for (int j = 0; j < parties; j++) {
			if (i == j || !(rm >> i & 1) || !(sm >> j & 1))
				continue;
			make_input(r, xbits, i, 0, n, x.v);
			make_input(r, mpc_ring_bits(r), j, 1, n, y.v);
			mpc_ring_mul(r, x.v, x.v, y.v, n);
			mpc_ring_add(r, want.v, want.v, x.v, n);
		}
	assert_memory_equal(got.v, want.v, n * eb);
	mpc_vec_fini(&got), mpc_vec_fini(&want), mpc_vec_fini(&x), mpc_vec_fini(&y);
	mpc_local_results_fini(res, parties);
	free(res);
}

static void test_cross(void **st) {
	(void)st;
	check_cross(2, MPC_Z64, 64, scale(1000), 3, 3);
	check_cross(3, MPC_Z64, 64, scale(3000), 7, 7);
	check_cross(3, MPC_Z128, 128, scale(700), 7, 7);
	check_cross(3, MPC_Z64, 1, scale(5000), 2, 5); /* only party 1 receives */
	check_cross(3, MPC_Z128, 1, scale(300), 4, 3); /* party 2 receives from 0, 1 */
	check_cross(5, MPC_Z64, 17, scale(333), 0x15, 0x0e);
	check_cross(2, MPC_Z64, 64, 0, 3, 3); /* nothing to do */
}

/* ------------------------------------------------------------ material */

#define N_MAT_MAX 2000
#define N_MAT     (strcmp(engine, "ot") == 0 ? (size_t)N_MAT_MAX : (size_t)16)
#define N_WORDS   ((N_MAT + 63) / 64)
#define F_BITS    13
static mpc_err body_material(mpc_party *p, void *arg) {
	mpc_triples t;
	mpc_truncpairs tp;
	mpc_vec bits;
	mpc_bit_triples bt;
	mpc_err err;
	(void)arg;
	for (int ring = 0; ring < 2; ring++) {
		mpc_ring r = ring ? MPC_Z128 : MPC_Z64;
		size_t bytes = N_MAT * mpc_ring_bytes(r);
		if ((err = mpc_triples_get(p, r, N_MAT, &t)) != MPC_OK)
			return err;
		err = mpc_local_emit(t.a.v, bytes);
		if (!err)
			err = mpc_local_emit(t.b.v, bytes);
		if (!err)
			err = mpc_local_emit(t.c.v, bytes);
		mpc_triples_fini(&t);
		if (err || (err = mpc_truncpairs_get(p, r, F_BITS, N_MAT, &tp)) != MPC_OK)
			return err;
		err = mpc_local_emit(tp.r.v, bytes);
		if (!err)
			err = mpc_local_emit(tp.r_hi.v, bytes);
		mpc_truncpairs_fini(&tp);
		if (err || (err = mpc_bits_get(p, r, N_MAT, &bits)) != MPC_OK)
			return err;
		err = mpc_local_emit(bits.v, bytes);
		mpc_vec_fini(&bits);
		if (err)
			return err;
	}
	if ((err = mpc_bit_triples_get(p, N_WORDS, &bt)) != MPC_OK)
		return err;
	err = mpc_local_emit(bt.a, bt.n_words * 8);
	if (!err)
		err = mpc_local_emit(bt.b, bt.n_words * 8);
	if (!err)
		err = mpc_local_emit(bt.c, bt.n_words * 8);
	mpc_bit_triples_fini(&bt);
	return err;
}

/* Sum of the parties' k-th vector of n elements of r (emitted in order). */
static void sum_part(mpc_local_result *res, int parties, mpc_ring r, size_t offset, size_t n,
                     void *out) {
	size_t bytes = n * mpc_ring_bytes(r);
	memset(out, 0, bytes);
	for (int i = 0; i < parties; i++) {
		assert_true(res[i].out_len >= offset + bytes);
		mpc_vec tmp;
		assert_int_equal(mpc_vec_init(&tmp, r, n), MPC_OK);
		memcpy(tmp.v, res[i].out + offset, bytes);
		mpc_ring_add(r, out, out, tmp.v, n);
		mpc_vec_fini(&tmp);
	}
}

static void check_material(int parties) {
	mpc_local_result *res = run(parties, body_material, engine);
	size_t off = 0;
	for (int ring = 0; ring < 2; ring++) {
		mpc_ring r = ring ? MPC_Z128 : MPC_Z64;
		size_t bytes = N_MAT * mpc_ring_bytes(r);
		mpc_vec v[6];
		for (int k = 0; k < 6; k++) {
			assert_int_equal(mpc_vec_init(&v[k], r, N_MAT), MPC_OK);
			sum_part(res, parties, r, off, N_MAT, v[k].v);
			off += bytes;
		}
		/* c = a b */
		mpc_ring_mul(r, v[0].v, v[0].v, v[1].v, N_MAT);
		assert_memory_equal(v[0].v, v[2].v, bytes);
		/* r_hi = r >> f, and r is not always small */
		mpc_ring_shr(r, v[3].v, v[3].v, F_BITS, N_MAT);
		assert_memory_equal(v[3].v, v[4].v, bytes);
		/* bits are 0 or 1, about half of each */
		int ones = 0;
		for (size_t i = 0; i < N_MAT; i++) {
			int64_t b = mpc_ring_get_i64(r, v[5].v, i);
			assert_true(b == 0 || b == 1);
			ones += (int)b;
		}
		int spread = 3 * (int)sqrt((double)N_MAT) + 1;
		assert_true(ones >= (int)N_MAT / 2 - spread && ones <= (int)N_MAT / 2 + spread);
		for (int k = 0; k < 6; k++)
			mpc_vec_fini(&v[k]);
	}
	size_t nw = N_WORDS;
	uint64_t a[(N_MAT_MAX + 63) / 64] = {0}, b[(N_MAT_MAX + 63) / 64] = {0},
	                              c[(N_MAT_MAX + 63) / 64] = {0};
	for (int i = 0; i < parties; i++) {
		const uint64_t *o = (const uint64_t *)(res[i].out + off);
		assert_int_equal(res[i].out_len, off + 3 * nw * 8);
		for (size_t w = 0; w < nw; w++) {
			a[w] ^= o[w];
			b[w] ^= o[nw + w];
			c[w] ^= o[2 * nw + w];
		}
	}
	for (size_t w = 0; w < nw; w++)
		assert_true(c[w] == (a[w] & b[w]));
	mpc_local_results_fini(res, parties);
	free(res);
}

static void test_material_2(void **st) {
	(void)st;
	check_material(2);
}
static void test_material_3(void **st) {
	(void)st;
	check_material(3);
}
static void test_material_5(void **st) {
	(void)st;
	check_material(5);
}

int main(int argc, char **argv) {
	/* the engine-independent tests again with the Paillier engine (or only
	 * with the engine named on the command line) */
	const struct CMUnitTest gen_tests[] = {
	    cmocka_unit_test(test_cross),
	    cmocka_unit_test(test_material_2),
	    cmocka_unit_test(test_material_3),
	};
	if (argc > 1) {
		engine = argv[1];
		return cmocka_run_group_tests_name(engine, gen_tests, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_ot),    cmocka_unit_test(test_transpose),
	    cmocka_unit_test(test_iknp),       cmocka_unit_test(test_cross),
	    cmocka_unit_test(test_material_2), cmocka_unit_test(test_material_3),
	    cmocka_unit_test(test_material_5),
	};
	int failed = cmocka_run_group_tests_name("ot", tests, NULL, NULL);
	engine = "paillier";
	return failed + cmocka_run_group_tests_name("paillier", gen_tests, NULL, NULL);
}
