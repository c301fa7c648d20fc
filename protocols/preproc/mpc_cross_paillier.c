/* The Paillier engine behind mpc_cross.h.
 *
 * For x (receiver i) times y (sender j): i encrypts each x under its own key
 * shifted into its slot (x_e 2^(w (e mod s)), slots of w = xbits + k + 81
 * bits, s per ciphertext: mpc_cross_paillier_slots) and sends the
 * ciphertexts to every sender (the same ones to all); j raises each to its y
 * and multiplies the s of a group together, which packs x_e y_e into the
 * slots, adds a fresh encryption of its masks sum rho_e 2^(w e) (rho_e
 * uniform below 2^(xbits + k + 80)) and sends the packed ciphertexts back; j
 * keeps -rho_e, i decrypts and keeps slot e mod 2^k. The shares add up to
 * x*y mod 2^k. A slot's x y + rho < 2^w and s w <= bits - 1, so nothing
 * carries between slots and the plaintext stays below N.
 *
 * What each side sees: j sees encryptions under i's key (semantically
 * secure under the decisional composite residuosity assumption, with the
 * short-exponent randomness of mpc_paillier.h); i sees x*y + rho with rho 80
 * bits longer than x*y (statistical distance 2^-80 from rho alone, per
 * element: 2^-53 over 10^8 of them) under
 * fresh randomness from j, so the ciphertext tells it nothing about y
 * either.
 *
 * Cost: one ciphertext of 2*bits/8 bytes (512 for 2048-bit keys) per
 * element to each sender, and 512 bytes per s elements back (s = 9 for
 * Z_2^64 products, 6 for Z_2^128, at full-width x). It trades CPU (big-number
 * exponentiations) for bandwidth against the OT engine. */
#include "protocols/preproc/mpc_cross.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_party.h"
#include "protocols/preproc/mpc_paillier.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#define MAX_PARTIES 64
#define SIGMA       MPC_CROSS_PAILLIER_SIGMA
/* elements per round: keeps a round well under a second at 2048-bit keys,
 * so that peers waiting for it stay within their timeout */
#define CHUNK ((size_t)256)

typedef struct {
	int id, n;
	unsigned bits;
	mpc_paillier_key key;
	mpc_paillier_pub *peer; /* n entries; [id] unused */
	int *have_peer;
} pa_ctx;

static void pa_free(void *vctx) {
	pa_ctx *c = vctx;
	if (c == NULL)
		return;
	if (c->bits)
		mpc_paillier_key_clear(&c->key);
	if (c->peer)
		for (int j = 0; j < c->n; j++)
			if (c->have_peer[j])
				mpc_paillier_pub_clear(&c->peer[j]);
	free(c->peer);
	free(c->have_peer);
	free(c);
}

static int in_mask(uint64_t m, int i) {
	return (int)((m >> i) & 1);
}

static void to_mpz(mpz_t z, const void *v, size_t eb) {
	mpz_import(z, eb, -1, 1, 0, 0, v);
}

/* low k bits of z into out (k/8 bytes, little-endian) */
static void from_mpz(const mpz_t z, unsigned k, uint8_t *out) {
	uint8_t buf[1100] = {0};
	size_t w = 0;
	memset(out, 0, k / 8);
	mpz_export(buf, &w, -1, 1, 0, 0, z);
	memcpy(out, buf, w < k / 8 ? w : k / 8);
	mpc_wipe(buf, sizeof(buf));
}

unsigned mpc_cross_paillier_slots(unsigned modulus_bits, mpc_ring r, unsigned xbits) {
	if (mpc_ring_check(r) != MPC_OK || modulus_bits < 2 || xbits < 1 ||
	    xbits > mpc_ring_bits(r))
		return 0;
	return (modulus_bits - 1) / (xbits + mpc_ring_bits(r) + SIGMA + 1);
}

/* One call's state: its parameters, the round buffers and the big-number
 * temporaries (all wiped at the end). */
typedef struct {
	pa_ctx *c;
	mpc_party *p;
	unsigned K, w, xbits; /* ring bits, slot width, input bits */
	size_t eb, cb, slots; /* element and ciphertext bytes, slots per ciphertext */
	int me, np;
	uint64_t rm, sm; /* receivers, senders */
	size_t npk_max;  /* packed ciphertexts per chunk */
	uint8_t *mine;   /* CHUNK ciphertexts: Enc(x) under our key */
	uint8_t *in;     /* np x CHUNK: the receivers' Enc(x) */
	uint8_t *rep;    /* np x npk_max: our packed replies */
	uint8_t *back;   /* np x npk_max: the senders' packed replies */
	mpz_t ct, acc, d, rho, pack, t;
} pa_run;

/* oc[e] += (or -=) the low K bits of z. */
static void add_low_bits(const mpz_t z, unsigned K, uint8_t *oc, size_t e, int neg) {
	uint8_t sh[16];
	from_mpz(z, K, sh);
	if (K == 64) {
		uint64_t v;
		memcpy(&v, sh, 8);
		((uint64_t *)oc)[e] += neg ? 0 - v : v;
	} else {
		mpc_u128 v;
		memcpy(&v, sh, 16);
		((mpc_u128 *)oc)[e] += neg ? 0 - v : v;
	}
	mpc_wipe(sh, sizeof(sh));
}

/* Round 1, receiver: Enc(x_e 2^(w (e mod slots))) under our key into mine.
 * x is already in its slot: the sender's product of the group's
 * ciphertexts then packs the results by itself. */
static mpc_err pa_encrypt_x(pa_run *u, const uint8_t *xc, size_t cn) {
	mpc_err err = MPC_OK;
	for (size_t e = 0; e < cn && err == MPC_OK; e++) {
		to_mpz(u->t, xc + e * u->eb, u->eb);
		mpz_mul_2exp(u->t, u->t, (mp_bitcnt_t)(u->w * (e % u->slots)));
		if ((err = mpc_paillier_encrypt_own(&u->c->key, u->ct, u->t)) == MPC_OK)
			mpc_paillier_ct_export(&u->c->key.pub, u->ct, u->mine + e * u->cb);
	}
	return err;
}

/* Round 2, sender to receiver j: the packed Enc(x_e y_e + rho_e) of the
 * elements lo..hi-1 (j's ciphertexts cj) into dst; our share -rho_e into oc. */
static mpc_err pa_pack_group(pa_run *u, int j, const uint8_t *cj, const uint8_t *yc, uint8_t *oc,
                             size_t lo, size_t hi, uint8_t *dst) {
	const mpc_paillier_pub *pk = &u->c->peer[j];
	mpc_err err;
	mpz_set_ui(u->acc, 1);
	mpz_set_ui(u->pack, 0);
	for (size_t e = hi; e-- > lo;) {
		if (mpc_paillier_ct_import(pk, u->ct, cj + e * u->cb) != MPC_OK)
			return mpc_error(MPC_EPROTO, "Paillier cross products, round 1: %s sent %s",
			                 mpc_net_name(mpc_party_net(u->p), j),
			                 "a malformed ciphertext");
		to_mpz(u->t, yc + e * u->eb, u->eb);
		if (mpz_sgn(u->t) != 0)
			mpz_powm_sec(u->d, u->ct, u->t, pk->n2);
		else
			mpz_set_ui(u->d, 1);
		/* acc = prod Enc(x_e 2^(w slot))^(y_e) */
		mpz_mul(u->acc, u->acc, u->d);
		mpz_mod(u->acc, u->acc, pk->n2);
		/* mask slot e; our share is -rho mod 2^k */
		if ((err = mpc_paillier_random_bits(u->rho, u->xbits + u->K + SIGMA)) != MPC_OK)
			return err;
		mpz_mul_2exp(u->t, u->rho, (mp_bitcnt_t)(u->w * (e - lo)));
		mpz_add(u->pack, u->pack, u->t);
		add_low_bits(u->rho, u->K, oc, e, 1);
	}
	if ((err = mpc_paillier_encrypt(pk, u->ct, u->pack)) != MPC_OK)
		return err;
	mpz_mul(u->acc, u->acc, u->ct);
	mpz_mod(u->acc, u->acc, pk->n2);
	mpc_paillier_ct_export(pk, u->acc, dst);
	return MPC_OK;
}

/* After round 2, receiver: decrypt sender j's npk packed replies and add
 * each slot's x y + rho mod 2^k into oc. */
static mpc_err pa_unpack(pa_run *u, int j, size_t cn, size_t npk, uint8_t *oc) {
	for (size_t g = 0; g < npk; g++) {
		size_t lo = g * u->slots, hi = lo + u->slots < cn ? lo + u->slots : cn;
		if (mpc_paillier_ct_import(&u->c->key.pub, u->ct,
		                           u->back + ((size_t)j * u->npk_max + g) * u->cb) !=
		    MPC_OK)
			return mpc_error(MPC_EPROTO,
			                 "Paillier cross products, round 2: %s "
			                 "sent a malformed ciphertext",
			                 mpc_net_name(mpc_party_net(u->p), j));
		mpc_paillier_decrypt(&u->c->key, u->pack, u->ct);
		for (size_t e = lo; e < hi; e++) {
			mpz_tdiv_q_2exp(u->t, u->pack, (mp_bitcnt_t)(u->w * (e - lo)));
			add_low_bits(u->t, u->K, oc, e, 0);
		}
	}
	return MPC_OK;
}

/* Both rounds for the cn elements of one chunk. */
static mpc_err pa_chunk(pa_run *u, const uint8_t *xc, const uint8_t *yc, uint8_t *oc, size_t cn) {
	const void *sp[MAX_PARTIES];
	void *rp[MAX_PARTIES];
	size_t sl[MAX_PARTIES], rl[MAX_PARTIES];
	size_t npk = (cn + u->slots - 1) / u->slots;
	int me = u->me, np = u->np, recv_any = 0;
	uint64_t rm = u->rm, sm = u->sm;
	mpc_err err = MPC_OK;

	for (int j = 0; j < np; j++)
		recv_any |= j != me && in_mask(rm, me) && in_mask(sm, j);
	/* round 1: Enc(x) under our key to every sender */
	if (recv_any && (err = pa_encrypt_x(u, xc, cn)) != MPC_OK)
		return err;
	for (int j = 0; j < np; j++) {
		sp[j] = rp[j] = NULL;
		sl[j] = rl[j] = 0;
		if (j == me)
			continue;
		if (in_mask(rm, me) && in_mask(sm, j))
			sp[j] = u->mine, sl[j] = cn * u->cb;
		if (in_mask(sm, me) && in_mask(rm, j))
			rp[j] = u->in + (size_t)j * CHUNK * u->cb, rl[j] = cn * u->cb;
	}
	if ((err = mpc_net_exchange(mpc_party_net(u->p), sp, sl, rp, rl)) != MPC_OK)
		return err;
	/* round 2: packed Enc(x y + rho) back to every receiver */
	for (int j = 0; j < np; j++) {
		sp[j] = rp[j] = NULL;
		sl[j] = rl[j] = 0;
		if (j == me)
			continue;
		if (in_mask(sm, me) && in_mask(rm, j)) {
			const uint8_t *cj = u->in + (size_t)j * CHUNK * u->cb;
			uint8_t *rj = u->rep + (size_t)j * u->npk_max * u->cb;
			for (size_t g = 0; g < npk; g++) {
				size_t lo = g * u->slots,
				       hi = lo + u->slots < cn ? lo + u->slots : cn;
				if ((err = pa_pack_group(u, j, cj, yc, oc, lo, hi,
				                         rj + g * u->cb)) != MPC_OK)
					return err;
			}
			sp[j] = rj;
			sl[j] = npk * u->cb;
		}
		if (in_mask(rm, me) && in_mask(sm, j)) {
			rp[j] = u->back + (size_t)j * u->npk_max * u->cb;
			rl[j] = npk * u->cb;
		}
	}
	if ((err = mpc_net_exchange(mpc_party_net(u->p), sp, sl, rp, rl)) != MPC_OK)
		return err;
	for (int j = 0; j < np && err == MPC_OK; j++)
		if (j != me && in_mask(rm, me) && in_mask(sm, j))
			err = pa_unpack(u, j, cn, npk, oc);
	return err;
}

static mpc_err pa_cross(void *vctx, mpc_party *p, mpc_ring r, unsigned xbits, size_t n,
                        const void *x, const void *y, void *out, uint64_t rm, uint64_t sm) {
	pa_ctx *c = vctx;
	pa_run u = {.c = c,
	            .p = p,
	            .K = mpc_ring_bits(r),
	            .xbits = xbits,
	            .me = c->id,
	            .np = c->n,
	            .rm = rm,
	            .sm = sm};
	mpc_err err = MPC_OK;

	u.w = xbits + u.K + SIGMA + 1;
	u.eb = mpc_ring_bytes(r), u.cb = mpc_paillier_ct_bytes(c->bits);
	u.slots = mpc_cross_paillier_slots(c->bits, r, xbits);
	if (u.slots == 0) /* a bad ring or input width (mpc_cross_paillier_slots) */
		return mpc_error(MPC_EINVAL, "Paillier cross products: %u-bit inputs in Z_2^%u",
		                 xbits, u.K);
	if (n > 0 && ((in_mask(rm, u.me) && x == NULL) || (in_mask(sm, u.me) && y == NULL)))
		return mpc_error(MPC_EINVAL, "Paillier cross products: missing input at party %d",
		                 u.me);
	if (n > 0)
		memset(out, 0, n * u.eb);
	u.npk_max = (CHUNK + u.slots - 1) / u.slots;
	u.mine = malloc(CHUNK * u.cb);
	u.in = malloc((size_t)u.np * CHUNK * u.cb);
	u.rep = malloc((size_t)u.np * u.npk_max * u.cb);
	u.back = malloc((size_t)u.np * u.npk_max * u.cb);
	if (!u.mine || !u.in || !u.rep || !u.back) {
		free(u.mine), free(u.in), free(u.rep), free(u.back);
		return mpc_error(MPC_ENOMEM, "Paillier engine: out of memory");
	}
	mpz_inits(u.ct, u.acc, u.d, u.rho, u.pack, u.t, NULL);
	for (size_t off = 0; off < n && err == MPC_OK; off += CHUNK) {
		size_t cn = n - off < CHUNK ? n - off : CHUNK;
		err = pa_chunk(&u, x ? (const uint8_t *)x + off * u.eb : NULL,
		               y ? (const uint8_t *)y + off * u.eb : NULL,
		               (uint8_t *)out + off * u.eb, cn);
	}
	mpz_ptr secret[] = {u.ct, u.acc, u.d, u.rho, u.pack, u.t};
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		mpc_mpz_wipe(secret[i]);
	mpz_clears(u.ct, u.acc, u.d, u.rho, u.pack, u.t, NULL);
	free(u.mine);
	free(u.in);
	mpc_wipe(u.rep, (size_t)u.np * u.npk_max * u.cb);
	free(u.rep);
	free(u.back);
	return err;
}

static double pa_bytes_per_elem(void *vctx, int np, mpc_ring r, unsigned xbits) {
	pa_ctx *c = vctx;
	double cb = (double)mpc_paillier_ct_bytes(c->bits);
	double slots = (double)mpc_cross_paillier_slots(c->bits, r, xbits);
	return (np - 1) * (cb + cb / slots);
}

static const mpc_cross_ops pa_ops = {
    .name = "paillier",
    .cross = pa_cross,
    .cross_bits = NULL,
    .bytes_per_elem = pa_bytes_per_elem,
    .free = pa_free,
};

mpc_err mpc_cross_paillier_new(mpc_cross *out, mpc_party *p, unsigned bits) {
	int me = mpc_party_id(p), np = mpc_party_size(p);
	pa_ctx *c = calloc(1, sizeof(*c));
	uint8_t *all = NULL;
	size_t pb = mpc_paillier_pub_bytes(bits);
	mpc_err err;

	*out = (mpc_cross){0};
	if (c == NULL || np > MAX_PARTIES || !(c->peer = calloc((size_t)np, sizeof(*c->peer))) ||
	    !(c->have_peer = calloc((size_t)np, sizeof(int))) || !(all = calloc((size_t)np, pb))) {
		pa_free(c);
		free(all);
		return mpc_error(MPC_ENOMEM, "Paillier engine: out of memory");
	}
	c->id = me;
	c->n = np;
	if ((err = mpc_paillier_keygen(&c->key, bits)) != MPC_OK)
		goto out;
	c->bits = bits;
	mpc_paillier_pub_export(&c->key.pub, all + (size_t)me * pb);
	if ((err = mpc_party_bcast(p, all + (size_t)me * pb, all, pb)) != MPC_OK)
		goto out;
	for (int j = 0; j < np && err == MPC_OK; j++) {
		if (j == me)
			continue;
		if ((err = mpc_paillier_pub_import(&c->peer[j], bits, all + (size_t)j * pb)) !=
		    MPC_OK)
			err =
			    mpc_error(MPC_EPROTO, "Paillier set-up: %s sent a malformed public key",
			              mpc_net_name(mpc_party_net(p), j));
		else
			c->have_peer[j] = 1;
	}
	if (err == MPC_OK) {
		mpc_debug("Paillier engine: %u-bit keys exchanged with %d peers", bits, np - 1);
		*out = (mpc_cross){.ops = &pa_ops, .ctx = c};
		c = NULL;
	}
out:
	free(all);
	pa_free(c);
	return err;
}
