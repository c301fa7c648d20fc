/* Input, open and linear operations on additive shares. */
#include "protocols/core/mpc_share.h"
#ifdef MPC_TEST_HOOKS
#include "protocols/core/mpc_share_tap.h"
#endif

#include "runtime/mpc_wipe.h"
#include <stdlib.h>
#include <string.h>

/* Temporary buffer size for drawing input masks, in elements. */
#define INPUT_CHUNK ((size_t)1 << 16)

/* Draw the next n elements of every pairwise stream, chunk by chunk, and
 * subtract them from buf (zero_share = 0: an input's owner), or add them
 * where this party is the lower of the pair and subtract them where it is
 * the higher (zero_share = 1: the pair's draws cancel). The streams are
 * bytes: chunked draws stay in step with a peer's single one. */
static mpc_err pair_streams(mpc_party *p, mpc_ring r, void *buf, size_t n, int zero_share,
                            const char *who) {
	size_t eb = mpc_ring_bytes(r);
	int me = mpc_party_id(p), np = mpc_party_size(p);
	size_t cap = n < INPUT_CHUNK ? n : INPUT_CHUNK;
	mpc_err err = MPC_OK;
	void *tmp;

	if (n == 0)
		return MPC_OK;
	if ((tmp = malloc(cap * eb)) == NULL)
		return mpc_error(MPC_ENOMEM, "%s: out of memory", who);
	for (int j = 0; j < np && err == MPC_OK; j++) {
		if (j == me)
			continue;
		for (size_t off = 0; off < n && err == MPC_OK; off += cap) {
			size_t m = n - off < cap ? n - off : cap;
			uint8_t *o = (uint8_t *)buf + off * eb;
			if ((err = mpc_party_prg_pair(p, j, tmp, m * eb)) != MPC_OK)
				break;
			if (zero_share && me < j)
				mpc_ring_add(r, o, o, tmp, m);
			else
				mpc_ring_sub(r, o, o, tmp, m);
		}
	}
	mpc_wipe(tmp, cap * eb);
	free(tmp);
	return err;
}

mpc_err mpc_input(mpc_party *p, int owner, mpc_ring r, const void *in, void *out, size_t n) {
	size_t eb = mpc_ring_bytes(r);
	int me = mpc_party_id(p), np = mpc_party_size(p);

	if (mpc_ring_check(r) != MPC_OK || owner < 0 || owner >= np)
		return mpc_error(MPC_EINVAL, "mpc_input: bad ring or owner %d", owner);
	if (me != owner)
		return mpc_party_prg_pair(p, owner, out, n * eb);
	if (in == NULL && n > 0)
		return mpc_error(MPC_EINVAL, "mpc_input: the owner gave no values");
	if (n == 0)
		return MPC_OK;
	/* each peer's share is the next n elements of its stream with us */
	memmove(out, in, n * eb);
	return pair_streams(p, r, out, n, 0, "mpc_input");
}

mpc_open_mode mpc_open_choice(const mpc_party *p, mpc_ring r, size_t n) {
	mpc_open_mode mode = mpc_party_open_mode(p);
	mpc_u128 np = (mpc_u128)mpc_party_size(p);

	if (mode != MPC_OPEN_AUTO)
		return mode;
	if (np < 3)
		return MPC_OPEN_ALL_TO_ALL;
	/* saved = (N-1)(N-2)/N * n * eb > threshold, without the division and
	 * without overflow (n * eb < 2^68, the rest < 2^12) */
	mpc_u128 saved_n = (np - 1) * (np - 2) * (mpc_u128)n * mpc_ring_bytes(r);
	return saved_n > (mpc_u128)mpc_party_open_threshold(p) * np ? MPC_OPEN_KING
	                                                            : MPC_OPEN_ALL_TO_ALL;
}

/* All-to-all, one chunk of m elements: everyone sends its share to everyone
 * and adds up what it gets. recv has room for N * m elements. */
static mpc_err open_all(mpc_party *p, mpc_ring r, const uint8_t *s, uint8_t *o, size_t m,
                        uint8_t *recv) {
	size_t eb = mpc_ring_bytes(r);
	int me = mpc_party_id(p), np = mpc_party_size(p);
	mpc_err err;

	if ((err = mpc_party_bcast(p, s, recv, m * eb)) != MPC_OK)
		return err;
	if (o != s)
		memmove(o, s, m * eb);
	for (int j = 0; j < np; j++)
		if (j != me)
			mpc_ring_add(r, o, o, recv + (size_t)j * m * eb, m);
	return MPC_OK;
}

/* Slice j of m elements cut into np: m / np elements, one more for the
 * first m % np slices. */
static size_t slice_start(size_t m, int np, int j) {
	size_t base = m / (size_t)np, extra = m % (size_t)np, uj = (size_t)j;
	return uj * base + (uj < extra ? uj : extra);
}
static size_t slice_len(size_t m, int np, int j) {
	return m / (size_t)np + ((size_t)j < m % (size_t)np ? 1 : 0);
}

/* Rotating king, one chunk of m elements. Round 1: our share of slice j to
 * party j, and every peer's share of our slice into recv (slot j); we add
 * them to our own share in slot me. Round 2: our opened slice to every peer,
 * theirs straight into o. recv has room for N * ceil(m / N) elements. The
 * share is read in round 1 only, so o may overlap it. */
static mpc_err open_king(mpc_party *p, mpc_ring r, const uint8_t *s, uint8_t *o, size_t m,
                         uint8_t *recv) {
	size_t eb = mpc_ring_bytes(r);
	int me = mpc_party_id(p), np = mpc_party_size(p), nodes = mpc_net_size(mpc_party_net(p));
	size_t mine = slice_len(m, np, me), at = slice_start(m, np, me);
	uint8_t *acc = recv + (size_t)me * mine * eb;
	const void *send[MPC_NET_MAX_NODES] = {0};
	void *rcv[MPC_NET_MAX_NODES] = {0};
	size_t slen[MPC_NET_MAX_NODES] = {0}, rlen[MPC_NET_MAX_NODES] = {0};
	mpc_err err;

	for (int j = 0; j < np && j < nodes; j++) {
		if (j == me)
			continue;
		send[j] = s + slice_start(m, np, j) * eb;
		slen[j] = slice_len(m, np, j) * eb;
		rcv[j] = recv + (size_t)j * mine * eb;
		rlen[j] = mine * eb;
	}
	if ((err = mpc_net_exchange(mpc_party_net(p), send, slen, rcv, rlen)) != MPC_OK)
		return err;
	memmove(acc, s + at * eb, mine * eb);
	for (int j = 0; j < np; j++)
		if (j != me)
			mpc_ring_add(r, acc, acc, recv + (size_t)j * mine * eb, mine);
	for (int j = 0; j < np && j < nodes; j++) {
		if (j == me)
			continue;
		send[j] = acc;
		slen[j] = mine * eb;
		rcv[j] = o + slice_start(m, np, j) * eb;
		rlen[j] = slice_len(m, np, j) * eb;
	}
	if ((err = mpc_net_exchange(mpc_party_net(p), send, slen, rcv, rlen)) != MPC_OK)
		return err;
	memmove(o + at * eb, acc, mine * eb);
	return MPC_OK;
}

mpc_err mpc_open(mpc_party *p, mpc_ring r, const void *share, void *out, size_t n) {
	size_t eb = mpc_ring_bytes(r);
	int np = mpc_party_size(p);
	size_t cap = n < MPC_OPEN_MAX_ELEMS ? n : MPC_OPEN_MAX_ELEMS;
	mpc_err err = MPC_OK;
	uint8_t *recv;

	if (mpc_ring_check(r) != MPC_OK)
		return mpc_error(MPC_EINVAL, "mpc_open: bad ring");
	if (n == 0)
		return MPC_OK;
	int king = mpc_open_choice(p, r, n) == MPC_OPEN_KING;
	/* all-to-all: N shares of a chunk; king: N shares of our slice */
	size_t slots = king ? (cap + (size_t)np - 1) / (size_t)np : cap;
	if ((recv = malloc((size_t)np * slots * eb)) == NULL)
		return mpc_error(MPC_ENOMEM, "mpc_open: out of memory for %zu elements", n);
	for (size_t off = 0; off < n && err == MPC_OK; off += cap) {
		size_t m = n - off < cap ? n - off : cap;
		const uint8_t *s = (const uint8_t *)share + off * eb;
		uint8_t *o = (uint8_t *)out + off * eb;
		err = king ? open_king(p, r, s, o, m, recv) : open_all(p, r, s, o, m, recv);
	}
	free(recv); /* peers' shares of a value now public: nothing to wipe */
	return err;
}

mpc_err mpc_share_rerandomise(mpc_party *p, mpc_ring r, void *share, size_t n) {
	if (mpc_ring_check(r) != MPC_OK)
		return mpc_error(MPC_EINVAL, "mpc_share_rerandomise: bad ring");
	return pair_streams(p, r, share, n, 1, "mpc_share_rerandomise");
}

#ifdef MPC_TEST_HOOKS
static mpc_share_tap_fn open_tap;
static void *open_tap_ctx;

void mpc_share_set_open_tap(mpc_share_tap_fn fn, void *ctx) {
	open_tap = fn;
	open_tap_ctx = ctx;
}
#endif

mpc_err mpc_open_to(mpc_party *p, int to, mpc_ring r, const void *share, void *out, size_t n) {
	size_t eb = mpc_ring_bytes(r);
	int me = mpc_party_id(p), np = mpc_party_size(p), nodes = mpc_net_size(mpc_party_net(p));
	size_t cap = n < MPC_OPEN_MAX_ELEMS ? n : MPC_OPEN_MAX_ELEMS;
	const void *send[MPC_NET_MAX_NODES] = {0};
	void *recv[MPC_NET_MAX_NODES] = {0};
	size_t slen[MPC_NET_MAX_NODES] = {0}, rlen[MPC_NET_MAX_NODES] = {0};
	uint8_t *buf = NULL; /* receiver: the peers' shares; others: our fresh share */
	mpc_err err = MPC_OK;

	if (mpc_ring_check(r) != MPC_OK || to < 0 || to >= np)
		return mpc_error(MPC_EINVAL, "mpc_open_to: bad ring or party %d", to);
	if (me == to && out == NULL)
		return mpc_error(MPC_EINVAL, "mpc_open_to: no output buffer at the receiver");
	if (n == 0)
		return MPC_OK;
	size_t bsz = (me == to ? (size_t)np : 1) * cap * eb;
	if ((buf = malloc(bsz)) == NULL)
		return mpc_error(MPC_ENOMEM, "mpc_open_to: out of memory for %zu elements", n);
	for (size_t off = 0; off < n && err == MPC_OK; off += cap) {
		size_t m = n - off < cap ? n - off : cap;
		const uint8_t *s = (const uint8_t *)share + off * eb;
		uint8_t *o = me == to ? (uint8_t *)out + off * eb : buf;
		/* a copy of our share plus our part of a zero-sharing: what we send
		 * (or, at the receiver, keep) is fresh, whatever the caller's share
		 * carried */
		if (o != s)
			memmove(o, s, m * eb);
		if ((err = mpc_share_rerandomise(p, r, o, m)) != MPC_OK)
			break;
		for (int j = 0; j < nodes && j < np; j++) {
			if (j == me)
				continue;
			if (me == to) {
				recv[j] = buf + (size_t)j * m * eb;
				rlen[j] = m * eb;
			} else if (j == to) {
				send[j] = buf;
				slen[j] = m * eb;
			}
		}
		err = mpc_net_exchange(mpc_party_net(p), send, slen, recv, rlen);
		if (err != MPC_OK || me != to)
			continue;
		for (int j = 0; j < np; j++) {
			if (j == me)
				continue;
#ifdef MPC_TEST_HOOKS
			if (open_tap)
				open_tap(open_tap_ctx, j, r, buf + (size_t)j * m * eb, m);
#endif
			mpc_ring_add(r, o, o, buf + (size_t)j * m * eb, m);
		}
	}
	/* the others' shares of a value only the receiver may see, or our own */
	mpc_wipe(buf, bsz);
	free(buf);
	return err;
}

void mpc_share_add(mpc_ring r, void *out, const void *a, const void *b, size_t n) {
	mpc_ring_add(r, out, a, b, n);
}

void mpc_share_sub(mpc_ring r, void *out, const void *a, const void *b, size_t n) {
	mpc_ring_sub(r, out, a, b, n);
}

void mpc_share_neg(mpc_ring r, void *out, const void *a, size_t n) {
	mpc_ring_neg(r, out, a, n);
}

void mpc_share_scale(mpc_ring r, void *out, const void *a, const void *c, size_t n) {
	mpc_ring_scale(r, out, a, c, n);
}

void mpc_share_add_public(mpc_party *p, mpc_ring r, void *out, const void *a, const void *pub,
                          size_t n) {
	if (mpc_party_id(p) == 0)
		mpc_ring_add(r, out, a, pub, n);
	else if (out != a)
		memmove(out, a, n * mpc_ring_bytes(r));
}

mpc_err mpc_open_output(mpc_party *p, mpc_ring r, void *share, void *out, size_t n) {
	mpc_err err = mpc_share_rerandomise(p, r, share, n);
	return err == MPC_OK ? mpc_open(p, r, share, out, n) : err;
}
