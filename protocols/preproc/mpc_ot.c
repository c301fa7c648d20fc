/* Base OT (Chou-Orlandi on P-256), IKNP extension, transpose and hash. */
#include "protocols/preproc/mpc_ot.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "runtime/mpc_wipe.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---------------------------------------------------------------- base OT */

struct mpc_baseot_sender {
	EC_GROUP *group;
	BIGNUM *a;
	EC_POINT *A;
	uint8_t Abytes[MPC_OT_POINT_BYTES];
};

static mpc_err ec_fail(const char *what) {
	return mpc_error(MPC_ECRYPTO, "base OT: %s failed (OpenSSL)", what);
}

/* Key l from the transcript and the shared point P. */
static mpc_err derive_key(const EC_GROUP *g, const EC_POINT *P, const uint8_t A[MPC_OT_POINT_BYTES],
                          const uint8_t B[MPC_OT_POINT_BYTES], const uint8_t tag[16], unsigned l,
                          BN_CTX *bn, uint8_t key[16]) {
	uint8_t pb[MPC_OT_POINT_BYTES], md[32], idx[4];
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
	unsigned mdlen = 0;
	int ok;

	if (md_ctx == NULL)
		return mpc_error(MPC_ENOMEM, "base OT: out of memory");
	for (int i = 0; i < 4; i++)
		idx[i] = (uint8_t)(l >> (8 * i));
	ok = EC_POINT_point2oct(g, P, POINT_CONVERSION_COMPRESSED, pb, sizeof(pb), bn) ==
	         sizeof(pb) &&
	     EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md_ctx, "mpc base OT v1", 14) == 1 &&
	     EVP_DigestUpdate(md_ctx, tag, 16) == 1 && EVP_DigestUpdate(md_ctx, idx, 4) == 1 &&
	     EVP_DigestUpdate(md_ctx, A, MPC_OT_POINT_BYTES) == 1 &&
	     EVP_DigestUpdate(md_ctx, B, MPC_OT_POINT_BYTES) == 1 &&
	     EVP_DigestUpdate(md_ctx, pb, sizeof(pb)) == 1 &&
	     EVP_DigestFinal_ex(md_ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(md_ctx);
	if (ok)
		memcpy(key, md, 16);
	mpc_wipe(md, sizeof(md));
	mpc_wipe(pb, sizeof(pb));
	if (!ok)
		return ec_fail("key derivation");
	return MPC_OK;
}

mpc_err mpc_baseot_sender_new(mpc_baseot_sender **out, uint8_t A[MPC_OT_POINT_BYTES]) {
	mpc_baseot_sender *s = calloc(1, sizeof(*s));
	mpc_err err = MPC_OK;

	*out = NULL;
	if (s == NULL)
		return mpc_error(MPC_ENOMEM, "base OT: out of memory");
	s->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	s->a = BN_secure_new();
	if (!s->group || !s->a || !(s->A = EC_POINT_new(s->group))) {
		err = ec_fail("set-up");
		goto fail;
	}
	BN_set_flags(s->a, BN_FLG_CONSTTIME);
	if (BN_priv_rand_range(s->a, EC_GROUP_get0_order(s->group)) != 1 ||
	    !EC_POINT_mul(s->group, s->A, s->a, NULL, NULL, NULL) ||
	    EC_POINT_point2oct(s->group, s->A, POINT_CONVERSION_COMPRESSED, s->Abytes,
	                       MPC_OT_POINT_BYTES, NULL) != MPC_OT_POINT_BYTES) {
		err = ec_fail("A = aG");
		goto fail;
	}
	memcpy(A, s->Abytes, MPC_OT_POINT_BYTES);
	*out = s;
	return MPC_OK;
fail:
	mpc_baseot_sender_free(s);
	return err;
}

void mpc_baseot_sender_free(mpc_baseot_sender *s) {
	if (s == NULL)
		return;
	BN_clear_free(s->a);
	EC_POINT_free(s->A);
	EC_GROUP_free(s->group);
	free(s);
}

mpc_err mpc_baseot_sender_keys(mpc_baseot_sender *s, const uint8_t *B, const uint8_t tag[16],
                               uint8_t k0[MPC_OT_KAPPA][16], uint8_t k1[MPC_OT_KAPPA][16]) {
	BN_CTX *bn = BN_CTX_new();
	EC_POINT *Bp = EC_POINT_new(s->group), *P = EC_POINT_new(s->group);
	EC_POINT *negA = EC_POINT_dup(s->A, s->group);
	mpc_err err = MPC_OK;

	if (!bn || !Bp || !P || !negA || !EC_POINT_invert(s->group, negA, bn)) {
		err = ec_fail("set-up");
		goto out;
	}
	for (unsigned l = 0; l < MPC_OT_KAPPA && err == MPC_OK; l++) {
		const uint8_t *Bl = B + (size_t)l * MPC_OT_POINT_BYTES;
		if (!EC_POINT_oct2point(s->group, Bp, Bl, MPC_OT_POINT_BYTES, bn) ||
		    EC_POINT_is_at_infinity(s->group, Bp)) {
			err = mpc_error(MPC_EPROTO,
			                "base OT: point %u from the peer is not a point "
			                "of P-256",
			                l);
			break;
		}
		/* k0 = H(a B), k1 = H(a (B - A)) */
		if (!EC_POINT_mul(s->group, P, NULL, Bp, s->a, bn)) {
			err = ec_fail("aB");
			break;
		}
		if ((err = derive_key(s->group, P, s->Abytes, Bl, tag, l, bn, k0[l])) != MPC_OK)
			break;
		if (!EC_POINT_add(s->group, Bp, Bp, negA, bn) ||
		    !EC_POINT_mul(s->group, P, NULL, Bp, s->a, bn)) {
			err = ec_fail("a(B - A)");
			break;
		}
		err = derive_key(s->group, P, s->Abytes, Bl, tag, l, bn, k1[l]);
	}
out:
	EC_POINT_clear_free(P);
	EC_POINT_free(Bp);
	EC_POINT_free(negA);
	BN_CTX_free(bn);
	return err;
}

mpc_err mpc_baseot_receive(const uint8_t A[MPC_OT_POINT_BYTES], const uint8_t choice[16],
                           const uint8_t tag[16], uint8_t *B, uint8_t k[MPC_OT_KAPPA][16]) {
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	BN_CTX *bn = BN_CTX_new();
	BIGNUM *b = BN_secure_new();
	EC_POINT *Ap = NULL, *P0 = NULL, *P1 = NULL, *K = NULL;
	uint8_t o0[MPC_OT_POINT_BYTES], o1[MPC_OT_POINT_BYTES];
	mpc_err err = MPC_OK;

	if (!g || !bn || !b || !(Ap = EC_POINT_new(g)) || !(P0 = EC_POINT_new(g)) ||
	    !(P1 = EC_POINT_new(g)) || !(K = EC_POINT_new(g))) {
		err = ec_fail("set-up");
		goto out;
	}
	BN_set_flags(b, BN_FLG_CONSTTIME);
	if (!EC_POINT_oct2point(g, Ap, A, MPC_OT_POINT_BYTES, bn) ||
	    EC_POINT_is_at_infinity(g, Ap)) {
		err = mpc_error(MPC_EPROTO, "base OT: the peer's A is not a point of P-256");
		goto out;
	}
	for (unsigned l = 0; l < MPC_OT_KAPPA; l++) {
		/* B = bG + s A, chosen without a branch on s: both are computed
		 * and the bytes selected with a mask */
		uint8_t mask = (uint8_t)(0 - ((choice[l / 8] >> (l % 8)) & 1));
		uint8_t *Bl = B + (size_t)l * MPC_OT_POINT_BYTES;
		if (BN_priv_rand_range(b, EC_GROUP_get0_order(g)) != 1 ||
		    !EC_POINT_mul(g, P0, b, NULL, NULL, bn) || !EC_POINT_add(g, P1, P0, Ap, bn) ||
		    EC_POINT_point2oct(g, P0, POINT_CONVERSION_COMPRESSED, o0, sizeof(o0), bn) !=
		        sizeof(o0) ||
		    EC_POINT_point2oct(g, P1, POINT_CONVERSION_COMPRESSED, o1, sizeof(o1), bn) !=
		        sizeof(o1) ||
		    !EC_POINT_mul(g, K, NULL, Ap, b, bn)) {
			err = ec_fail("B = bG + sA");
			break;
		}
		for (size_t i = 0; i < MPC_OT_POINT_BYTES; i++)
			Bl[i] = (uint8_t)((o0[i] & ~mask) | (o1[i] & mask));
		if ((err = derive_key(g, K, A, Bl, tag, l, bn, k[l])) != MPC_OK)
			break;
	}
out:
	mpc_wipe(o0, sizeof(o0));
	mpc_wipe(o1, sizeof(o1));
	EC_POINT_clear_free(K);
	EC_POINT_clear_free(P0);
	EC_POINT_clear_free(P1);
	EC_POINT_free(Ap);
	BN_clear_free(b);
	BN_CTX_free(bn);
	EC_GROUP_free(g);
	return err;
}

/* ---------------------------------------------------------------- IKNP */

static mpc_err prgs_new(mpc_prg **g, uint8_t k[MPC_OT_KAPPA][16]) {
	mpc_err err = MPC_OK;
	for (int l = 0; l < MPC_OT_KAPPA && err == MPC_OK; l++)
		err = mpc_prg_new(&g[l], k[l]);
	mpc_wipe(k, (size_t)MPC_OT_KAPPA * 16);
	return err;
}

static void prgs_free(mpc_prg **g) {
	for (int l = 0; l < MPC_OT_KAPPA; l++) {
		mpc_prg_free(g[l]);
		g[l] = NULL;
	}
}

mpc_err mpc_iknp_receiver_init(mpc_iknp_receiver *r, uint8_t k0[MPC_OT_KAPPA][16],
                               uint8_t k1[MPC_OT_KAPPA][16]) {
	mpc_err err;
	memset(r, 0, sizeof(*r));
	err = prgs_new(r->g0, k0);
	mpc_err err1 = prgs_new(r->g1, k1);
	if (err == MPC_OK)
		err = err1;
	if (err != MPC_OK)
		mpc_iknp_receiver_fini(r);
	return err;
}

mpc_err mpc_iknp_sender_init(mpc_iknp_sender *s, const uint8_t delta[16],
                             uint8_t k[MPC_OT_KAPPA][16]) {
	mpc_err err;
	memset(s, 0, sizeof(*s));
	memcpy(s->delta, delta, 16);
	if ((err = prgs_new(s->g, k)) != MPC_OK)
		mpc_iknp_sender_fini(s);
	return err;
}

void mpc_iknp_receiver_fini(mpc_iknp_receiver *r) {
	prgs_free(r->g0);
	prgs_free(r->g1);
}

void mpc_iknp_sender_fini(mpc_iknp_sender *s) {
	prgs_free(s->g);
	mpc_wipe(s->delta, sizeof(s->delta));
}

static void xor_bytes(uint8_t *out, const uint8_t *a, size_t n) {
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, out + i, 8);
		memcpy(&y, a + i, 8);
		x ^= y;
		memcpy(out + i, &x, 8);
	}
	for (; i < n; i++)
		out[i] ^= a[i];
}

/* The work goes slice by slice (MPC_OT_SLICE OTs) so that a slice's 128
 * columns and rows stay in cache between the PRG, the XORs and the
 * transpose. u is laid out slice after slice: 128 columns of one slice, then
 * the next. */
mpc_err mpc_iknp_receiver_extend(mpc_iknp_receiver *r, size_t m, const uint8_t *choice, uint8_t *u,
                                 uint8_t *cols, uint8_t *t) {
	mpc_err err;

	if (m % 128 != 0)
		return mpc_error(MPC_EINVAL, "IKNP: %zu OTs is not a multiple of 128", m);
	for (size_t off = 0; off < m; off += MPC_OT_SLICE) {
		size_t sm = m - off < MPC_OT_SLICE ? m - off : MPC_OT_SLICE;
		size_t cb = sm / 8, st = MPC_OT_STRIDE(sm);
		uint8_t *us = u + off * 16;
		for (int l = 0; l < MPC_OT_KAPPA; l++) {
			uint8_t *tl = cols + (size_t)l * st, *ul = us + (size_t)l * cb;
			if ((err = mpc_prg_fill(r->g0[l], tl, cb)) != MPC_OK ||
			    (err = mpc_prg_fill(r->g1[l], ul, cb)) != MPC_OK)
				return err;
			xor_bytes(ul, tl, cb);
			xor_bytes(ul, choice + off / 8, cb);
		}
		mpc_ot_transpose(cols, st, sm, t + off * 16);
	}
	return MPC_OK;
}

mpc_err mpc_iknp_sender_extend(mpc_iknp_sender *s, size_t m, const uint8_t *u, uint8_t *cols,
                               uint8_t *q) {
	mpc_err err;

	if (m % 128 != 0)
		return mpc_error(MPC_EINVAL, "IKNP: %zu OTs is not a multiple of 128", m);
	for (size_t off = 0; off < m; off += MPC_OT_SLICE) {
		size_t sm = m - off < MPC_OT_SLICE ? m - off : MPC_OT_SLICE;
		size_t cb = sm / 8, st = MPC_OT_STRIDE(sm);
		const uint8_t *us = u + off * 16;
		for (int l = 0; l < MPC_OT_KAPPA; l++) {
			uint8_t *ql = cols + (size_t)l * st;
			if ((err = mpc_prg_fill(s->g[l], ql, cb)) != MPC_OK)
				return err;
			/* Delta is secret: xor u_l & mask rather than branching on it */
			uint64_t mask = 0 - (uint64_t)((s->delta[l / 8] >> (l % 8)) & 1);
			const uint8_t *ul = us + (size_t)l * cb;
			size_t i = 0;
			for (; i + 8 <= cb; i += 8) {
				uint64_t x, y;
				memcpy(&x, ql + i, 8);
				memcpy(&y, ul + i, 8);
				x ^= y & mask;
				memcpy(ql + i, &x, 8);
			}
			for (; i < cb; i++)
				ql[i] ^= (uint8_t)(ul[i] & mask);
		}
		/* q may be u itself: this slice of u has been read in full */
		mpc_ot_transpose(cols, st, sm, q + off * 16);
	}
	return MPC_OK;
}

/* ---------------------------------------------------------------- transpose */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* The same with AVX2: two 16x16 transposes side by side in the two lanes,
 * so one movemask yields 32 columns' bits. */
/* Stage s of the in-place shuffle: vectors a and a | 2^s become the low and
 * high unpacks of their 2^s-byte units. After stages 0..3 vector rev4[b]
 * holds byte b of every input vector. */
#define STAGE256(W, S)                                                                             \
	do {                                                                                       \
		_Pragma("GCC unroll 16") for (int a = 0; a < 16; a++) if (!(a >> S & 1)) {         \
			__m256i lo = _mm256_unpacklo_epi##W(v[a], v[a | 1 << S]);                  \
			__m256i hi = _mm256_unpackhi_epi##W(v[a], v[a | 1 << S]);                  \
			v[a] = lo;                                                                 \
			v[a | 1 << S] = hi;                                                        \
		}                                                                                  \
	} while (0)

__attribute__((target("avx2"))) static void transpose_avx2(const uint8_t *cols, size_t cb, size_t m,
                                                           uint8_t *rows) {
	static const uint8_t rev4[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};

	for (size_t blk = 0; blk < m / 128; blk++) {
		for (int cg = 0; cg < 4; cg++) {
			__m256i v[16];
			_Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) {
				const uint8_t *lo = cols + (size_t)(32 * cg + i) * cb + blk * 16;
				const uint8_t *hi = lo + 16 * cb;
				v[i] = _mm256_inserti128_si256(
				    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)lo)),
				    _mm_loadu_si128((const __m128i *)hi), 1);
			}
			STAGE256(8, 0);
			STAGE256(16, 1);
			STAGE256(32, 2);
			STAGE256(64, 3);
			for (int b = 0; b < 16; b++) {
				__m256i x = v[rev4[b]];
				uint8_t *row =
				    rows + ((blk * 128 + (size_t)b * 8 + 7) * 16) + 4 * cg;
				for (int bit = 7; bit >= 0; bit--) {
					uint32_t mk = (uint32_t)_mm256_movemask_epi8(x);
					memcpy(row, &mk, 4);
					row -= 16;
					x = _mm256_slli_epi64(x, 1);
				}
			}
		}
	}
}
#undef STAGE256
#define HAVE_AVX2_PATH 1
#endif

#ifdef __SSE2__
/* The same 16x16 byte transpose with SSE2 (see STAGE256). */
#define STAGE(W, S)                                                                                \
	do {                                                                                       \
		_Pragma("GCC unroll 16") for (int a = 0; a < 16; a++) if (!(a >> S & 1)) {         \
			__m128i lo = _mm_unpacklo_epi##W(v[a], v[a | 1 << S]);                     \
			__m128i hi = _mm_unpackhi_epi##W(v[a], v[a | 1 << S]);                     \
			v[a] = lo;                                                                 \
			v[a | 1 << S] = hi;                                                        \
		}                                                                                  \
	} while (0)

static void transpose_sse2(const uint8_t *cols, size_t cb, size_t m, uint8_t *rows) {
	static const uint8_t rev4[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};

	for (size_t blk = 0; blk < m / 128; blk++) {
		for (int cg = 0; cg < 8; cg++) {
			__m128i v[16];
			for (int i = 0; i < 16; i++)
				v[i] = _mm_loadu_si128((
				    const __m128i *)(cols + (size_t)(16 * cg + i) * cb + blk * 16));
			STAGE(8, 0);
			STAGE(16, 1);
			STAGE(32, 2);
			STAGE(64, 3);
			for (int b = 0; b < 16; b++) {
				__m128i x = v[rev4[b]];
				uint8_t *row =
				    rows + ((blk * 128 + (size_t)b * 8 + 7) * 16) + 2 * cg;
				for (int bit = 7; bit >= 0; bit--) {
					uint16_t mk = (uint16_t)_mm_movemask_epi8(x);
					memcpy(row, &mk, 2);
					row -= 16;
					x = _mm_slli_epi64(x, 1);
				}
			}
		}
	}
}
#undef STAGE

void mpc_ot_transpose(const uint8_t *cols, size_t stride, size_t m, uint8_t *rows) {
#ifdef HAVE_AVX2_PATH
	static int avx2 = -1;
	if (avx2 < 0) {
		__builtin_cpu_init();
		avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	}
	if (avx2) {
		transpose_avx2(cols, stride, m, rows);
		return;
	}
#endif
	transpose_sse2(cols, stride, m, rows);
}
#else
void mpc_ot_transpose(const uint8_t *cols, size_t cb, size_t m, uint8_t *rows) {
	memset(rows, 0, m * 16);
	for (size_t l = 0; l < 128; l++)
		for (size_t j = 0; j < m; j++)
			rows[j * 16 + l / 8] |=
			    (uint8_t)(((cols[l * cb + j / 8] >> (j % 8)) & 1) << (l % 8));
}
#endif

/* ---------------------------------------------------------------- hash */

struct mpc_ot_hash {
	EVP_CIPHER_CTX *ctx;
	uint8_t *buf;
	size_t cap; /* blocks */
};

mpc_err mpc_ot_hash_new(mpc_ot_hash **out, const uint8_t key[16]) {
	mpc_ot_hash *h = calloc(1, sizeof(*h));
	*out = NULL;
	if (h == NULL || (h->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		free(h);
		return mpc_error(MPC_ENOMEM, "OT hash: out of memory");
	}
	if (EVP_EncryptInit_ex(h->ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1) {
		mpc_ot_hash_free(h);
		return mpc_error(MPC_ECRYPTO, "OT hash: AES-128-ECB set-up failed");
	}
	EVP_CIPHER_CTX_set_padding(h->ctx, 0);
	*out = h;
	return MPC_OK;
}

void mpc_ot_hash_free(mpc_ot_hash *h) {
	if (h == NULL)
		return;
	EVP_CIPHER_CTX_free(h->ctx);
	if (h->buf) {
		mpc_wipe(h->buf, h->cap * 16);
		free(h->buf);
	}
	free(h);
}

/* sigma(a, b) = (a ^ b, a) on the two 64-bit halves. */
static inline void sigma(const uint8_t *in, uint8_t *out, const uint8_t *delta) {
	uint64_t a, b;
	memcpy(&a, in, 8);
	memcpy(&b, in + 8, 8);
	if (delta) {
		uint64_t d0, d1;
		memcpy(&d0, delta, 8);
		memcpy(&d1, delta + 8, 8);
		a ^= d0;
		b ^= d1;
	}
	uint64_t lo = a ^ b;
	memcpy(out, &lo, 8);
	memcpy(out + 8, &a, 8);
}

static mpc_err aes_blocks(mpc_ot_hash *h, const uint8_t *in, uint8_t *out, size_t n) {
	while (n > 0) {
		size_t c = n < ((size_t)1 << 20) ? n : ((size_t)1 << 20);
		int outl = 0;
		if (EVP_EncryptUpdate(h->ctx, out, &outl, in, (int)(c * 16)) != 1 ||
		    (size_t)outl != c * 16)
			return mpc_error(MPC_ECRYPTO, "OT hash: AES-128-ECB failed");
		in += c * 16;
		out += c * 16;
		n -= c;
	}
	return MPC_OK;
}

static mpc_err ensure(mpc_ot_hash *h, size_t n) {
	if (h->cap >= n)
		return MPC_OK;
	if (h->buf) {
		mpc_wipe(h->buf, h->cap * 16);
		free(h->buf);
	}
	h->cap = 0;
	if ((h->buf = malloc(n * 16)) == NULL)
		return mpc_error(MPC_ENOMEM, "OT hash: out of memory");
	h->cap = n;
	return MPC_OK;
}

mpc_err mpc_ot_hash_blocks(mpc_ot_hash *h, const uint8_t *in, uint8_t *out, size_t n) {
	mpc_err err;
	if ((err = ensure(h, n)) != MPC_OK)
		return err;
	for (size_t j = 0; j < n; j++)
		sigma(in + 16 * j, h->buf + 16 * j, NULL);
	if ((err = aes_blocks(h, h->buf, out, n)) != MPC_OK)
		return err;
	xor_bytes(out, h->buf, n * 16);
	return MPC_OK;
}

mpc_err mpc_ot_hash_pairs(mpc_ot_hash *h, const uint8_t *q, const uint8_t delta[16], uint8_t *out0,
                          uint8_t *out1, size_t n) {
	mpc_err err;
	if ((err = ensure(h, 2 * n)) != MPC_OK)
		return err;
	uint8_t *s0 = h->buf, *s1 = h->buf + 16 * n;
	for (size_t j = 0; j < n; j++) {
		sigma(q + 16 * j, s0 + 16 * j, NULL);
		sigma(q + 16 * j, s1 + 16 * j, delta);
	}
	if ((err = aes_blocks(h, s0, out0, n)) != MPC_OK ||
	    (err = aes_blocks(h, s1, out1, n)) != MPC_OK)
		return err;
	xor_bytes(out0, s0, n * 16);
	xor_bytes(out1, s1, n * 16);
	return MPC_OK;
}
