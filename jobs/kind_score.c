/* computation = fraud_score: the asker's transactions scored with the model
 * owner's logistic regression or decision trees (protocols/apps/mpc_score.h;
 * the section: jobs/kind_score.h). Only the asker receives the scores and
 * flags; it writes them to --output.
 *
 * Before scoring, the parties agree on the public shapes: the asker
 * announces its transaction count to every node, and in the vertical layout
 * its keys, in its order, which are the job's public transaction list.
 * Plan: per transaction of the asker, so it is simulated ahead (the fork
 * before the network is opened) and taken once the count is announced. */
#include "jobs/kind_score.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/mpc_kind.h"
#include "protocols/apps/mpc_score.h"
#include "protocols/preproc/mpc_cross.h"
#include "protocols/preproc/mpc_plan.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

typedef struct {
	const mpc_job *job;
	mpc_score_job sc;
	uint64_t rows; /* the plan's shape: the asker's transactions (the planner's slot) */
	int me;        /* party index, -1 at the dealer */
	size_t q;      /* features this party holds */
	/* this party's features (my_n x q), and its keys */
	double *x;
	size_t my_n;
	char (*ids)[40];
	/* the model, at its owner */
	double *w, b, *tthr, *tleaf;
	uint32_t *tf;
	mpc_plan_ahead ahead;
	/* the run: the asker's count and keys, its scores and flags */
	size_t n;
	const char **keys, **my_keys;
	char (*keybuf)[40];
	double *score;
	uint8_t *flag;
	double seconds;
	mpc_pool_plan plan1; /* a service: one row's material */
} score_state;

const mpc_score_job *mpc_score_job_of(const void *kind_state) {
	return &((const score_state *)kind_state)->sc;
}

static size_t n_nodes(const mpc_score_job *sc) {
	return sc->trees * (((size_t)1 << sc->depth) - 1);
}

static size_t n_leaves(const mpc_score_job *sc) {
	return sc->trees * ((size_t)1 << sc->depth);
}

static void score_free(void *st) {
	score_state *s = st;
	if (s == NULL)
		return;
	if (s->x)
		mpc_wipe(s->x, s->my_n * s->q * sizeof(double));
	free(s->x);
	mpc_wipe_free(s->ids, s->my_n * sizeof(*s->ids)); /* the asker's transaction ids */
	mpc_wipe_free(s->w, s->sc.d * sizeof(double));
	mpc_wipe_free(s->tf, n_nodes(&s->sc) * sizeof(uint32_t));
	mpc_wipe_free(s->tthr, n_nodes(&s->sc) * sizeof(double));
	mpc_wipe_free(s->tleaf, n_leaves(&s->sc) * sizeof(double));
	mpc_wipe(&s->b, sizeof(s->b));
	free(s->keys);
	free(s->my_keys);
	free(s->keybuf);
	mpc_wipe_free(s->score, s->n * sizeof(double));
	mpc_wipe_free(s->flag, s->n);
	mpc_plan_ahead_cancel(&s->ahead);
	free(s);
}

static mpc_err score_parse(const mpc_job *j, void **out) {
	score_state *s = calloc(1, sizeof(*s));
	mpc_err err;
	*out = NULL;
	if (s == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	s->job = j;
	s->ahead = (mpc_plan_ahead){.pid = -1, .to = -1, .from = -1};
	if ((err = mpc_score_job_parse(j, &s->sc)) != MPC_OK) {
		score_free(s);
		return err;
	}
	*out = s;
	return MPC_OK;
}

/* ---- plan ---- */

/* The asker's `rows` transactions of zeros, every holder's columns, and a
 * model of zeros at the owner. */
static mpc_err sim_score(mpc_party *p, const mpc_cross *zc, void *arg) {
	const score_state *st = arg;
	const mpc_score_job *sc = &st->sc;
	int me = mpc_party_id(p);
	size_t n = (size_t)st->rows, q = 0, nodes = 0, leaves = 0;
	double *x = NULL, *w = NULL, *thr = NULL, *leaf = NULL, *score = NULL;
	uint32_t *feat = NULL;
	uint8_t *flag = NULL;
	char(*kb)[24] = NULL;
	const char **keys = NULL;
	mpc_err err = MPC_OK;

	for (size_t k = 0; k < sc->d; k++)
		q += sc->holder[k] == me;
	if (sc->model == MPC_SCORE_JOB_TREE) {
		nodes = n_nodes(sc);
		leaves = n_leaves(sc);
	}
	if (!(x = calloc(n * q + 1, sizeof(double))) || !(w = calloc(sc->d + 1, sizeof(double))) ||
	    !(thr = calloc(nodes + 1, sizeof(double))) ||
	    !(leaf = calloc(leaves + 1, sizeof(double))) ||
	    !(feat = calloc(nodes + 1, sizeof(uint32_t))) ||
	    !(score = calloc(n + 1, sizeof(double))) || !(flag = calloc(n + 1, 1)) ||
	    !(kb = calloc(n + 1, sizeof(*kb))) || !(keys = calloc(n + 1, sizeof(*keys)))) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(kb[i], sizeof(kb[i]), "k%zu", i);
		keys[i] = kb[i];
	}
	mpc_score_opts so = {.asker = sc->asker,
	                     .cross = st->job->preprocessing == MPC_JOB_DEALER ? NULL : zc};
	mpc_score_data sd = {
	    .n = n, .d = sc->d, .holder = sc->asker, .x = x, .x_max = sc->max_feature};
	if (sc->vertical) {
		sd.col_holder = sc->holder;
		sd.keys = keys;
		sd.my_keys = keys;
		sd.my_n = me == sc->asker || q > 0 ? n : 0;
	}
	int owner = me == sc->owner;
	if (sc->model == MPC_SCORE_JOB_TREE) {
		mpc_score_tree_model tm = {.owner = sc->owner,
		                           .n_trees = sc->trees,
		                           .depth = sc->depth,
		                           .feature = owner ? feat : NULL,
		                           .thr = owner ? thr : NULL,
		                           .leaf = owner ? leaf : NULL,
		                           .v_max = sc->max_weight,
		                           .threshold = sc->threshold};
		err = mpc_score_tree(p, &so, &sd, &tm, score, flag);
	} else {
		mpc_score_logreg_model m = {.owner = sc->owner,
		                            .w = owner ? w : NULL,
		                            .w_max = sc->max_weight,
		                            .threshold = sc->threshold};
		err = mpc_score_logreg(p, &so, &sd, &m, score, flag);
	}
out:
	free(x);
	free(w);
	free(thr);
	free(leaf);
	free(feat);
	free(score);
	free(flag);
	free(kb);
	free(keys);
	return err;
}

static mpc_err score_plan(void *st, uint64_t rows, mpc_pool_plan *out, int *upper) {
	score_state *s = st;
	*upper = 0;
	s->rows = rows;
	return mpc_plan_simulate(s->job->n_parties, sim_score, s, out);
}

static mpc_err score_input_rows(void *st, const mpc_kind_io *io, uint64_t *rows) {
	score_state *s = st;
	const mpc_score_job *sc = &s->sc;
	double *x = NULL;
	char(*ids)[40] = NULL;
	size_t n = 0, q = 0;
	mpc_err err;

	*rows = 0;
	if (io->is_dealer || io->self != sc->asker || io->input == NULL)
		return MPC_OK;
	if ((err = mpc_score_job_read_features(io->input, sc, io->self, &x, &n, &ids)) != MPC_OK)
		return err;
	for (size_t k = 0; k < sc->d; k++)
		q += sc->holder[k] == io->self;
	if (x)
		mpc_wipe(x, n * q * sizeof(double));
	free(x);
	mpc_wipe_free(ids, n * sizeof(*ids));
	*rows = n;
	return MPC_OK;
}

/* ---- input ---- */

static mpc_err read_features(score_state *s, const mpc_kind_io *io, mpc_kind_summary *sum,
                             int *bad_input) {
	const mpc_score_job *sc = &s->sc;
	mpc_err err;
	if (io->input == NULL)
		return mpc_error(MPC_ECONFIG, "%s is the %s of %s: --input FILE.csv is required",
		                 io->party, s->me == sc->asker ? "asker" : "holder of features",
		                 s->job->path);
	if ((err = mpc_score_job_read_features(io->input, sc, s->me, &s->x, &s->my_n, &s->ids)) !=
	    MPC_OK) {
		*bad_input = err != MPC_ENOMEM;
		return err;
	}
	mpc_info("read %zu transactions (%zu of the %zu features) from %s", s->my_n, s->q, sc->d,
	         io->input);
	sum->input_read = 1;
	sum->rows = s->my_n;
	if (s->me == sc->asker)
		s->n = s->my_n;
	return MPC_OK;
}

static mpc_err read_model(score_state *s, const mpc_kind_io *io, mpc_kind_summary *sum,
                          int *bad_input) {
	const mpc_score_job *sc = &s->sc;
	int tree = sc->model == MPC_SCORE_JOB_TREE;
	mpc_err err;
	if (io->model == NULL)
		return mpc_error(MPC_ECONFIG,
		                 "%s is the model owner of %s: --model FILE is required", io->party,
		                 s->job->path);
	if (tree ? (s->tf = calloc(n_nodes(sc), sizeof(uint32_t))) == NULL ||
	               (s->tthr = calloc(n_nodes(sc), sizeof(double))) == NULL ||
	               (s->tleaf = calloc(n_leaves(sc), sizeof(double))) == NULL
	         : (s->w = calloc(sc->d, sizeof(double))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	err = tree ? mpc_score_job_read_tree(io->model, sc, s->tf, s->tthr, s->tleaf, &s->b)
	           : mpc_score_job_read_logreg(io->model, sc, s->w, &s->b);
	if (err != MPC_OK) {
		*bad_input = err != MPC_ENOMEM;
		return err;
	}
	if (tree) {
		mpc_info("read the model (%zu trees of depth %zu) from %s", sc->trees, sc->depth,
		         io->model);
		snprintf(sum->model, sizeof(sum->model), "%zu trees of depth %zu", sc->trees,
		         sc->depth);
	} else {
		mpc_info("read the model (%zu weights and the intercept) from %s", sc->d,
		         io->model);
		snprintf(sum->model, sizeof(sum->model),
		         "logistic regression, %zu weights and the intercept", sc->d);
	}
	sum->model_read = 1;
	return MPC_OK;
}

static mpc_err score_load_input(void *st, const mpc_kind_io *io, mpc_kind_summary *sum,
                                int *bad_input) {
	score_state *s = st;
	const mpc_score_job *sc = &s->sc;
	mpc_err err;

	s->me = io->is_dealer ? -1 : io->self;
	for (size_t k = 0; k < sc->d; k++)
		s->q += sc->holder[k] == s->me;
	if (io->service && (sc->vertical || sc->owner == sc->asker))
		return mpc_error(MPC_ECONFIG,
		                 "%s: a scoring service needs the horizontal layout and an asker "
		                 "other than the model owner",
		                 s->job->path);
	if (io->service) { /* the asker's rows come with the requests */
	} else if ((s->me == sc->asker || s->q > 0) && !(io->dry && io->input == NULL)) {
		if ((err = read_features(s, io, sum, bad_input)) != MPC_OK)
			return err;
	} else if (io->input) {
		mpc_warn("--input %s ignored: this party holds no features of the job", io->input);
	}
	if (s->me == sc->owner && !(io->dry && io->model == NULL))
		return read_model(s, io, sum, bad_input);
	return MPC_OK;
}

/* ---- run ---- */

/* the plan depends on n, known once the asker announces it; its simulation
 * is forked now, before the network is opened (mpc_plan.h) */
static mpc_err score_prepare(void *st, const mpc_kind_io *io) {
	score_state *s = st;
	if (io->is_dealer)
		return MPC_OK;
	if (io->service) { /* one row's material, the unit of the stock */
		s->rows = 1;
		return mpc_plan_simulate(s->job->n_parties, sim_score, s, &s->plan1);
	}
	return mpc_plan_ahead_start(&s->ahead, s->job->n_parties, sim_score, s, &s->rows);
}

/* The nodes of a network of nn other than self, as a mask. */
static uint64_t others(int nn, int self) {
	return (nn >= 64 ? ~0ull : (1ull << nn) - 1) & ~(1ull << self);
}

/* n is public: the asker announces it to every node (the dealer too). */
static mpc_err announce_count(score_state *s, mpc_kind_session *ks) {
	uint64_t all = others(mpc_net_size(ks->net), ks->io->self);
	uint64_t mine = s->n, got[MPC_NET_MAX_NODES] = {0};
	mpc_err err;
	if ((err = mpc_net_bcast(ks->net, all, &mine, all, got, sizeof(mine))) != MPC_OK)
		return err;
	if (s->me != s->sc.asker)
		s->n = got[s->sc.asker];
	if ((double)s->n > s->sc.max_rows)
		return mpc_error(MPC_EPROTO,
		                 "the asker announced %llu transactions, above max_rows",
		                 (unsigned long long)s->n);
	return MPC_OK;
}

static int cmp_key(const void *a, const void *b) {
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Vertical scoring at a holder: every one of the asker's n keys must be
 * among this party's rows. MPC_EINVAL names the file, how many are missing
 * and the first by the asker's row number (never a key's value). */
static mpc_err holder_rows_cover(const char *path, const char *asker, const char **keys, size_t n,
                                 const char **mine, size_t my_n) {
	const char **sorted = my_n ? malloc(my_n * sizeof(*sorted)) : NULL;
	size_t missing = 0, first = 0;
	if (my_n && sorted == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if (my_n) {
		memcpy(sorted, mine, my_n * sizeof(*sorted));
		qsort(sorted, my_n, sizeof(*sorted), cmp_key);
	}
	for (size_t i = 0; i < n; i++)
		if (my_n == 0 || bsearch(&keys[i], sorted, my_n, sizeof(*sorted), cmp_key) == NULL)
			if (missing++ == 0)
				first = i;
	free(sorted);
	if (missing)
		return mpc_error(
		    MPC_EINVAL,
		    "%s: %zu of the %zu transactions of the asker (%s) have "
		    "no row here (the first is the asker's row %zu): a holder needs a row "
		    "for every transaction the asker scores",
		    path, missing, n, asker, first + 1);
	return MPC_OK;
}

/* vertical: the asker's keys, in its order, are the job's public list */
static mpc_err announce_keys(score_state *s, mpc_kind_session *ks) {
	const mpc_score_job *sc = &s->sc;
	const void *sp[MPC_NET_MAX_NODES] = {0};
	void *rp[MPC_NET_MAX_NODES] = {0};
	size_t sl[MPC_NET_MAX_NODES] = {0}, rl[MPC_NET_MAX_NODES] = {0}, n = s->n;
	int asker = s->me == sc->asker;
	mpc_err err;

	if ((s->keys = calloc(n + 1, sizeof(*s->keys))) == NULL ||
	    (s->my_keys = calloc(s->my_n + 1, sizeof(*s->my_keys))) == NULL ||
	    (!asker && (s->keybuf = calloc(n + 1, sizeof(*s->keybuf))) == NULL))
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (int i = 0; i < s->job->n_parties; i++) {
		if (asker && i != s->me) {
			sp[i] = s->ids;
			sl[i] = n * sizeof(*s->ids);
		}
		if (!asker && i == sc->asker) {
			rp[i] = s->keybuf;
			rl[i] = n * sizeof(*s->keybuf);
		}
	}
	if (n && (err = mpc_net_exchange(ks->net, sp, sl, rp, rl)) != MPC_OK)
		return err;
	for (size_t i = 0; i < n; i++) {
		char *k = asker ? s->ids[i] : s->keybuf[i];
		k[39] = '\0';
		s->keys[i] = k;
	}
	for (size_t i = 0; i < s->my_n; i++)
		s->my_keys[i] = s->ids[i];
	/* only now can a holder see whether its file has a row for every
	 * transaction of the asker: an input error found after connecting,
	 * which the peers hear with its reason */
	if (!asker && s->q > 0 &&
	    (err = holder_rows_cover(ks->io->input, s->job->parties[sc->asker].name, s->keys, n,
	                             s->my_keys, s->my_n)) != MPC_OK) {
		ks->bad_input = err != MPC_ENOMEM;
		return err;
	}
	return MPC_OK;
}

/* The owner's model applied to the asker's s->n transactions, with the
 * cross-product engine cross (NULL: Beaver triples from a dealer). */
static mpc_err score_eval(score_state *s, mpc_party *p, const mpc_cross *cross) {
	const mpc_score_job *sc = &s->sc;
	mpc_err err;
	mpc_score_opts so = {.asker = sc->asker, .cross = cross};
	mpc_score_data sd = {
	    .n = s->n, .d = sc->d, .holder = sc->asker, .x = s->x, .x_max = sc->max_feature};
	if (sc->vertical) {
		sd.col_holder = sc->holder;
		sd.keys = s->keys;
		sd.my_keys = s->my_keys;
		sd.my_n = s->my_n;
	}
	if (sc->model == MPC_SCORE_JOB_TREE) {
		mpc_score_tree_model tm = {.owner = sc->owner,
		                           .n_trees = sc->trees,
		                           .depth = sc->depth,
		                           .feature = s->tf,
		                           .thr = s->tthr,
		                           .leaf = s->tleaf,
		                           .base = s->b,
		                           .v_max = sc->max_weight,
		                           .threshold = sc->threshold};
		err = mpc_score_tree(p, &so, &sd, &tm, s->score, s->flag);
	} else {
		mpc_score_logreg_model m = {.owner = sc->owner,
		                            .w = s->w,
		                            .b = s->b,
		                            .w_max = sc->max_weight,
		                            .threshold = sc->threshold};
		err = mpc_score_logreg(p, &so, &sd, &m, s->score, s->flag);
	}
	return err;
}

/* The protocol: products of the owner's weights with the asker's features
 * are Gilboa cross products over OT, unless a dealer serves Beaver
 * triples. */
static mpc_err score_protocol(score_state *s, mpc_party *p) {
	mpc_cross cross = {0};
	mpc_err err;
	if (s->job->preprocessing != MPC_JOB_DEALER &&
	    (err = mpc_cross_ot_new(&cross, p)) != MPC_OK)
		return err;
	err = score_eval(s, p, cross.ops ? &cross : NULL);
	mpc_cross_free(&cross);
	return err;
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static mpc_err score_run(void *st, mpc_kind_session *ks) {
	score_state *s = st;
	const mpc_score_job *sc = &s->sc;
	const mpc_job *j = s->job;
	mpc_party *p = NULL;
	mpc_pool_plan plan;
	mpc_err err;

	if ((err = announce_count(s, ks)) != MPC_OK)
		return err;
	if (sc->vertical && !ks->io->is_dealer && (err = announce_keys(s, ks)) != MPC_OK)
		return err;
	if (ks->io->is_dealer)
		return ks->start(ks, NULL, &p);
	if (s->me == sc->asker && s->n > 0 &&
	    ((s->score = calloc(s->n, sizeof(double))) == NULL ||
	     (s->flag = calloc(s->n, 1)) == NULL))
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_info("scoring %zu transactions of %s with the %s of %s (threshold %g)", s->n,
	         j->parties[sc->asker].name,
	         sc->model == MPC_SCORE_JOB_TREE ? "decision trees" : "logistic regression",
	         j->parties[sc->owner].name, sc->threshold);
	double t0 = now();
	if ((err = mpc_plan_ahead_get(&s->ahead, s->n, &plan)) != MPC_OK ||
	    (err = ks->start(ks, &plan, &p)) != MPC_OK || (err = score_protocol(s, p)) != MPC_OK)
		return err;
	s->seconds = now() - t0;
	return MPC_OK;
}

/* ---- the standing service (mpc-party serve) ----
 * The asker leads. Before each step it sends every other party a header:
 * score n rows, move n rows' worth of material into memory, make n rows'
 * worth into the durable stock, or stop. A scoring step is answered by the
 * model owner's verdict (its quota, io->service->admit) to every party,
 * then the batch is scored with the party, the cross engine and the
 * material in memory, made once for the whole service: 2 rounds more than
 * a job's scoring, and no OT set-up.
 *
 * Material, with a durable stock (io->service->stock_make): `stock` rows'
 * worth in the store, made by the engine SVC_MAKE_CHUNK rows' worth a step
 * while no request waits; `window` rows' worth of it in memory, moved from
 * the store SVC_TAKE_CHUNK rows' worth a step, while idle or, below a
 * quarter of the window, before the next request (a step of 64 rows' worth
 * takes about 30 ms here: reading, checking, recording and overwriting
 * 2.6 MB; a window that covers a burst keeps them out of its way). The store records what
 * it hands out before it does (protocols/preproc/mpc_store.h): memory lost
 * in a crash is wasted, never served again. Without one: `stock` rows'
 * worth in memory, made while idle. A request the memory cannot cover
 * takes the rest from the store or the engine: slower, never wrong. */
enum { SVC_SCORE = 1, SVC_REFILL = 2, SVC_STOP = 3, SVC_STOCK = 4 };
#define SVC_VERDICT    256  /* bytes: 0 (go) or 1 (refused), then the refusal's text */
#define SVC_MAX_BATCH  4096 /* rows of one scoring step */
#define SVC_IDLE_MS    50   /* no request this long: refill */
#define SVC_MAKE_CHUNK 16   /* rows' worth one step makes with the engine */
#define SVC_TAKE_CHUNK 64   /* rows' worth one step moves from the store to memory */
#define SVC_REPORT_S   1.0  /* the counts published at most this often after scoring */

typedef struct {
	uint32_t type, pad;
	uint64_t n;
} svc_header;

/* The asker sends h; the others wait for it as long as it takes. */
static mpc_err svc_header_xchg(score_state *s, mpc_kind_session *ks, svc_header *h) {
	int asker = s->sc.asker, nn = mpc_net_size(ks->net);
	mpc_err err;
	if (s->me == asker)
		return mpc_net_bcast(ks->net, others(nn, asker), h, 0, NULL, sizeof(*h));
	if ((err = mpc_net_recv_wait(ks->net, asker, h, sizeof(*h), -1)) != MPC_OK)
		return err;
	if (h->type < SVC_SCORE || h->type > SVC_STOCK || h->pad != 0 ||
	    (h->type == SVC_SCORE && (h->n == 0 || h->n > SVC_MAX_BATCH)) ||
	    (h->type != SVC_SCORE && h->n > (uint64_t)1 << 32))
		return mpc_error(MPC_EPROTO, "the asker %s sent a malformed service header",
		                 s->job->parties[asker].name);
	if (h->type == SVC_STOCK && ks->io->service->stock_make == NULL)
		return mpc_error(MPC_ECONFIG,
		                 "the asker %s keeps its stock in a store and this party has "
		                 "none: run every party's service with --store DIR",
		                 s->job->parties[asker].name);
	return MPC_OK;
}

/* The owner decides n more rows for the asker and tells every party: 1 to
 * go ahead, 0 (and why in refusal) if refused. */
static mpc_err svc_verdict(score_state *s, mpc_kind_session *ks, uint64_t n, int *go,
                           char refusal[SVC_VERDICT]) {
	const mpc_kind_service *svc = ks->io->service;
	int owner = s->sc.owner, nn = mpc_net_size(ks->net);
	uint8_t v[SVC_VERDICT] = {0};
	mpc_err err;
	if (s->me == owner) {
		if (svc->admit &&
		    svc->admit(svc->arg, s->job->parties[s->sc.asker].name, n) != MPC_OK) {
			v[0] = 1;
			snprintf((char *)v + 1, SVC_VERDICT - 1, "%s", mpc_error_detail());
		}
		err = mpc_net_bcast(ks->net, others(nn, owner), v, 0, NULL, sizeof(v));
	} else {
		err = mpc_net_recv(ks->net, owner, v, sizeof(v));
	}
	if (err != MPC_OK)
		return err;
	if (v[0] > 1 || v[SVC_VERDICT - 1] != 0)
		return mpc_error(MPC_EPROTO, "the model owner sent a malformed verdict");
	*go = v[0] == 0;
	for (size_t i = 1; i < SVC_VERDICT && v[i]; i++) /* shown to the asker's systems */
		refusal[i - 1] = v[i] >= 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
	refusal[SVC_VERDICT - 1] = '\0';
	return MPC_OK;
}

/* rows' worth of material: into memory (from the store first), or into
 * the durable stock */
static mpc_err svc_material(score_state *s, mpc_kind_session *ks, mpc_party *p,
                            const svc_header *h) {
	const mpc_kind_service *svc = ks->io->service;
	mpc_pool_plan plan = s->plan1;
	mpc_err err = mpc_pool_plan_scale(&plan, h->n);
	if (err != MPC_OK || h->n == 0)
		return err;
	err = h->type == SVC_STOCK ? svc->stock_make(svc->arg, p, &plan) : mpc_pool_fill(p, &plan);
	if (err == MPC_OK && svc->stock_report)
		svc->stock_report(svc->arg, p, &s->plan1);
	return err;
}

/* One scoring step of n rows (the asker's in x). */
static mpc_err svc_score(score_state *s, mpc_kind_session *ks, mpc_party *p, const mpc_cross *cross,
                         const double *x, uint64_t n) {
	const mpc_kind_service *svc = ks->io->service;
	char refusal[SVC_VERDICT] = "";
	int go = 0, asker = s->me == s->sc.asker;
	mpc_err err;
	if ((err = svc_verdict(s, ks, n, &go, refusal)) != MPC_OK)
		return err;
	if (!go)
		return asker ? svc->reply(svc->arg, NULL, NULL, (size_t)n, refusal) : MPC_OK;
	double score[SVC_MAX_BATCH];
	uint8_t flag[SVC_MAX_BATCH];
	s->n = (size_t)n;
	s->x = asker ? (double *)x : NULL; /* the host's: never freed here */
	s->score = asker ? score : NULL;
	s->flag = asker ? flag : NULL;
	err = score_eval(s, p, cross);
	s->x = NULL;
	s->score = NULL;
	s->flag = NULL;
	s->n = 0;
	if (err == MPC_OK && asker)
		err = svc->reply(svc->arg, score, flag, (size_t)n, NULL);
	mpc_wipe(score, sizeof(score));
	mpc_wipe(flag, sizeof(flag));
	return err;
}

/* The service's levels, in rows' worth: memory's target (window) and the
 * durable stock's (0: none). */
typedef struct {
	uint64_t window, target;
} svc_levels;

static svc_levels svc_levels_of(const mpc_kind_service *svc) {
	if (svc->stock_make == NULL)
		return (svc_levels){.window = svc->stock};
	uint64_t w = svc->window ? svc->window : svc->stock;
	return (svc_levels){.window = w < svc->stock ? w : svc->stock, .target = svc->stock};
}

/* Rows' worth of material in memory. */
static uint64_t svc_in_memory(const score_state *s, mpc_party *p) {
	mpc_pool_plan left;
	if (mpc_pool_left(mpc_party_preproc(p), &left) != MPC_OK) {
		mpc_error_clear();
		return 0;
	}
	return mpc_plan_times(&left, &s->plan1);
}

static uint64_t min2(uint64_t a, uint64_t b) {
	return a < b ? a : b;
}

/* The asker's next step: a batch, or material where it is short (memory
 * from the store before requests when memory runs low; otherwise after an
 * idle spell, memory first, then the store). */
static mpc_err svc_next(score_state *s, mpc_kind_session *ks, mpc_party *p, svc_header *h,
                        const double **x) {
	const mpc_kind_service *svc = ks->io->service;
	svc_levels lv = svc_levels_of(svc);
	int durable = svc->stock_make != NULL;
	uint64_t mem = svc_in_memory(s, p);
	uint64_t stored = durable ? svc->stock_rows(svc->arg, &s->plan1) : 0;
	uint64_t need_mem = lv.window > mem ? lv.window - mem : 0;
	uint64_t need_store = lv.target > stored ? lv.target - stored : 0;
	size_t n = 0;
	*h = (svc_header){.type = SVC_STOP};
	if (durable && need_mem && mem < lv.window / 4 && stored > 0) {
		*h = (svc_header){.type = SVC_REFILL,
		                  .n = min2(min2(need_mem, SVC_TAKE_CHUNK), stored)};
		return MPC_OK;
	}
	mpc_err err = svc->next(svc->arg, x, &n, need_mem || need_store ? SVC_IDLE_MS : -1);
	if (err == MPC_ECLOSED)
		return MPC_OK;
	if (err != MPC_OK)
		return err;
	if (n > SVC_MAX_BATCH || (double)n > s->sc.max_rows)
		return mpc_error(MPC_EINVAL, "a batch of %zu rows: at most %d", n, SVC_MAX_BATCH);
	if (n)
		*h = (svc_header){.type = SVC_SCORE, .n = n};
	else if (need_mem && (!durable || stored > 0))
		/* a request that comes meanwhile waits for one step at most */
		*h = (svc_header){.type = SVC_REFILL,
		                  .n = durable ? min2(min2(need_mem, SVC_TAKE_CHUNK), stored)
		                               : min2(need_mem, SVC_MAKE_CHUNK)};
	else
		*h = (svc_header){.type = SVC_STOCK, .n = min2(need_store, SVC_MAKE_CHUNK)};
	return MPC_OK;
}

/* The start: the durable stock made up to its target, then memory filled;
 * the asker says how much (its store's counts), every party does it. */
static mpc_err svc_start(score_state *s, mpc_kind_session *ks, mpc_party *p) {
	const mpc_kind_service *svc = ks->io->service;
	svc_levels lv = svc_levels_of(svc);
	uint64_t stored = 0;
	svc_header h = {.type = SVC_STOCK};
	mpc_err err;
	if (s->me == s->sc.asker && svc->stock_make)
		stored = svc->stock_rows(svc->arg, &s->plan1);
	h.n = lv.target > stored ? lv.target - stored : 0;
	if (svc->stock_make && ((err = svc_header_xchg(s, ks, &h)) != MPC_OK ||
	                        (err = svc_material(s, ks, p, &h)) != MPC_OK))
		return err;
	h = (svc_header){.type = SVC_REFILL, .n = lv.window};
	if ((err = svc_header_xchg(s, ks, &h)) != MPC_OK ||
	    (err = svc_material(s, ks, p, &h)) != MPC_OK)
		return err;
	char line[512];
	mpc_info("scoring service of %s's model for %s: ready (stock: %llu rows' worth%s, "
	         "%llu in memory; one row takes %s)",
	         s->job->parties[s->sc.owner].name, s->job->parties[s->sc.asker].name,
	         (unsigned long long)(svc->stock_make ? lv.target : lv.window),
	         svc->stock_make ? " in the store" : "", (unsigned long long)lv.window,
	         mpc_plan_format(&s->plan1, line, sizeof(line)));
	return MPC_OK;
}

static mpc_err score_serve(void *st, mpc_kind_session *ks) {
	score_state *s = st;
	const mpc_kind_service *svc = ks->io->service;
	mpc_party *p = NULL;
	mpc_cross cross = {0};
	mpc_pool_plan none = {0};
	mpc_err err;
	if (svc == NULL || ks->io->is_dealer || s->job->preprocessing == MPC_JOB_DEALER)
		return mpc_error(MPC_ECONFIG, "%s: a scoring service runs without a dealer",
		                 s->job->path);
	if ((err = ks->start(ks, &none, &p)) != MPC_OK ||
	    (err = mpc_cross_ot_new(&cross, p)) != MPC_OK || (err = svc_start(s, ks, p)) != MPC_OK)
		goto out;
	uint64_t batches = 0, rows = 0, rounds = 0;
	double reported = now();
	for (;;) {
		svc_header h = {0};
		const double *x = NULL;
		if (s->me == s->sc.asker && (err = svc_next(s, ks, p, &h, &x)) != MPC_OK)
			break;
		uint64_t r0 = mpc_net_rounds(ks->net);
		if ((err = svc_header_xchg(s, ks, &h)) != MPC_OK || h.type == SVC_STOP)
			break;
		err = h.type == SVC_SCORE ? svc_score(s, ks, p, &cross, x, h.n)
		                          : svc_material(s, ks, p, &h);
		if (err != MPC_OK)
			break;
		if (h.type == SVC_SCORE) {
			batches++;
			rows += h.n;
			rounds += mpc_net_rounds(ks->net) - r0;
			if (svc->stock_report && now() - reported >= SVC_REPORT_S) {
				svc->stock_report(svc->arg, p, &s->plan1);
				reported = now();
			}
		}
	}
	if (err == MPC_ECLOSED) /* the asker closed the network: the service ended */
		err = MPC_OK;
	if (svc->stock_report && p)
		svc->stock_report(svc->arg, p, &s->plan1);
	mpc_info("scoring service: %llu batches, %llu rows, %.1f rounds a batch",
	         (unsigned long long)batches, (unsigned long long)rows,
	         batches ? (double)rounds / (double)batches : 0.0);
out:
	mpc_cross_free(&cross);
	return err;
}

/* ---- outputs ---- */

/* "row,[txn_id,]score,flag" lines, atomically. */
static mpc_err write_scores(const score_state *s, const char *path) {
	size_t cap = 64 + s->n * 80, len = 0;
	char *buf = malloc(cap);
	mpc_err err = MPC_OK;
	if (buf == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	len +=
	    (size_t)snprintf(buf + len, cap - len, "row,%sscore,flag\n", s->ids ? "txn_id," : "");
	for (size_t i = 0; i < s->n && err == MPC_OK; i++) {
		/* an honest score is in [0, 1]; wrong shares from a peer can decode
		 * to anything, which must be an error, not an overrun */
		int k =
		    snprintf(buf + len, cap - len, "%zu,%s%s%.9f,%d\n", i + 1,
		             s->ids ? s->ids[i] : "", s->ids ? "," : "", s->score[i], s->flag[i]);
		if (k < 0 || (size_t)k >= cap - len)
			err = mpc_error(MPC_EPROTO,
			                "the score of row %zu is out of range: "
			                "a peer sent malformed shares",
			                i + 1);
		else
			len += (size_t)k;
	}
	if (err == MPC_OK)
		err = mpc_file_write_atomic(path, buf, len, 0600);
	mpc_wipe(buf, cap);
	free(buf);
	return err;
}

static mpc_err score_write(void *st, const mpc_kind_io *io) {
	score_state *s = st;
	const mpc_score_job *sc = &s->sc;
	const mpc_job *j = s->job;
	if (s->me != sc->asker) {
		printf("job %s: %zu transactions of %s scored in %.2f s; this party (%s) receives "
		       "nothing: only the asker gets the scores\n",
		       j->id, s->n, j->parties[sc->asker].name, s->seconds, io->party);
		return MPC_OK;
	}
	size_t flagged = 0;
	for (size_t i = 0; i < s->n; i++)
		flagged += s->flag[i];
	printf("job %s: %zu transactions scored in %.2f s with the model of %s: %zu flagged "
	       "(score > %g)\n",
	       j->id, s->n, s->seconds, j->parties[sc->owner].name, flagged, sc->threshold);
	return io->output ? write_scores(s, io->output) : MPC_OK;
}

const mpc_kind mpc_kind_score = {
    .name = "fraud_score",
    .doing = "scoring",
    .flags = MPC_KIND_PLAN_ROWS,
    .parse = score_parse,
    .plan = score_plan,
    .input_rows = score_input_rows,
    .load_input = score_load_input,
    .prepare = score_prepare,
    .run = score_run,
    .write = score_write,
    .free = score_free,
    .privacy = NULL,
    .serve = score_serve,
};
