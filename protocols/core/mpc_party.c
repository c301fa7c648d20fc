/* Party state: ids, pairwise PRG streams, preprocessing source. */
#include "protocols/core/mpc_party.h"

#include "runtime/mpc_wipe.h"
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_log.h"
#include "runtime/mpc_prg.h"

struct mpc_party {
	int id, n;
	mpc_net *net;
	mpc_prg *own;
	mpc_prg **pair; /* pair[j]: stream shared with party j; NULL at j == id */
	mpc_preproc pre;
	mpc_open_mode open_mode;
	size_t open_threshold;
};

mpc_err mpc_party_new(mpc_party **out, mpc_net *net, int n_parties) {
	mpc_party *p = NULL;
	uint8_t *seeds = NULL; /* n_parties slots of MPC_SEED_BYTES */
	const void **send = NULL;
	void **recv = NULL;
	size_t *slen = NULL, *rlen = NULL;
	mpc_err err;
	int nodes;

	*out = NULL;
	if (net == NULL)
		return mpc_error(MPC_EINVAL, "mpc_party_new: no network");
	nodes = mpc_net_size(net);
	if (n_parties < 2 || n_parties > nodes || mpc_net_id(net) >= n_parties)
		return mpc_error(MPC_EINVAL,
		                 "mpc_party_new: %d parties on a network of %d nodes "
		                 "(this node is %d)",
		                 n_parties, nodes, mpc_net_id(net));
	p = calloc(1, sizeof(*p));
	seeds = calloc((size_t)nodes, MPC_SEED_BYTES);
	send = calloc((size_t)nodes, sizeof(*send));
	recv = calloc((size_t)nodes, sizeof(*recv));
	slen = calloc((size_t)nodes, sizeof(*slen));
	rlen = calloc((size_t)nodes, sizeof(*rlen));
	if (!p || !seeds || !send || !recv || !slen || !rlen ||
	    !(p->pair = calloc((size_t)n_parties, sizeof(*p->pair)))) {
		err = mpc_error(MPC_ENOMEM, "mpc_party_new: out of memory");
		goto out;
	}
	p->id = mpc_net_id(net);
	p->n = n_parties;
	p->net = net;
	p->open_mode = MPC_OPEN_AUTO;
	p->open_threshold = MPC_OPEN_KING_THRESHOLD_DEFAULT;

	uint8_t own_seed[MPC_SEED_BYTES];
	err = mpc_seed_random(own_seed);
	if (err == MPC_OK)
		err = mpc_prg_new(&p->own, own_seed);
	mpc_wipe(own_seed, sizeof(own_seed));
	if (err != MPC_OK)
		goto out;

	/* The lower id of each pair draws the pair's seed and sends it. */
	for (int j = 0; j < n_parties; j++) {
		uint8_t *s = seeds + (size_t)j * MPC_SEED_BYTES;
		if (j > p->id) {
			if ((err = mpc_seed_random(s)) != MPC_OK)
				goto out;
			send[j] = s;
			slen[j] = MPC_SEED_BYTES;
		} else if (j < p->id) {
			recv[j] = s;
			rlen[j] = MPC_SEED_BYTES;
		}
	}
	err = mpc_net_exchange(net, (const void *const *)send, slen, (void *const *)recv, rlen);
	if (err != MPC_OK)
		goto out;
	for (int j = 0; j < n_parties; j++) {
		if (j == p->id)
			continue;
		err = mpc_prg_new(&p->pair[j], seeds + (size_t)j * MPC_SEED_BYTES);
		if (err != MPC_OK)
			goto out;
	}
	mpc_debug("party %d of %d: pairwise seeds agreed", p->id, n_parties);
	*out = p;
	p = NULL;
out:
	if (seeds)
		mpc_wipe(seeds, (size_t)nodes * MPC_SEED_BYTES);
	free(seeds);
	free(send);
	free(recv);
	free(slen);
	free(rlen);
	mpc_party_free(p);
	return err;
}

void mpc_party_free(mpc_party *p) {
	if (p == NULL)
		return;
	if (p->pre.ops && p->pre.ops->free)
		p->pre.ops->free(p->pre.ctx);
	mpc_prg_free(p->own);
	if (p->pair)
		for (int j = 0; j < p->n; j++)
			mpc_prg_free(p->pair[j]);
	free(p->pair);
	mpc_wipe(p, sizeof(*p));
	free(p);
}

int mpc_party_id(const mpc_party *p) {
	return p->id;
}
int mpc_party_size(const mpc_party *p) {
	return p->n;
}
mpc_net *mpc_party_net(mpc_party *p) {
	return p->net;
}
mpc_preproc *mpc_party_preproc(mpc_party *p) {
	return &p->pre;
}

void mpc_party_set_preproc(mpc_party *p, mpc_preproc pre) {
	if (p->pre.ops && p->pre.ops->free)
		p->pre.ops->free(p->pre.ctx);
	p->pre = pre;
}

mpc_err mpc_party_set_open_rule(mpc_party *p, mpc_open_mode mode, size_t threshold_bytes) {
	if (mode != MPC_OPEN_AUTO && mode != MPC_OPEN_ALL_TO_ALL && mode != MPC_OPEN_KING)
		return mpc_error(MPC_EINVAL, "mpc_party_set_open_rule: unknown mode %d", (int)mode);
	p->open_mode = mode;
	p->open_threshold = threshold_bytes;
	return MPC_OK;
}

mpc_open_mode mpc_party_open_mode(const mpc_party *p) {
	return p->open_mode;
}

size_t mpc_party_open_threshold(const mpc_party *p) {
	return p->open_threshold;
}

mpc_err mpc_party_prg_pair(mpc_party *p, int j, void *out, size_t len) {
	if (j < 0 || j >= p->n || j == p->id)
		return mpc_error(MPC_EINVAL, "no pairwise stream between party %d and %d", p->id,
		                 j);
	return mpc_prg_fill(p->pair[j], out, len);
}

mpc_err mpc_party_prg_own(mpc_party *p, void *out, size_t len) {
	return mpc_prg_fill(p->own, out, len);
}

mpc_err mpc_party_bcast(mpc_party *p, const void *buf, void *recv, size_t len) {
	uint64_t mask = (p->n >= 64 ? ~0ull : ((1ull << p->n) - 1)) & ~(1ull << p->id);
	return mpc_net_bcast(p->net, mask, buf, mask, recv, len);
}
