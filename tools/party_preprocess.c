/* mpc-party's preprocessing: the exact material a job consumes (its kind's
 * plan), the store (open, what it lacks, made ahead by `preprocess`), and
 * the preprocessing installed for a run with what the run took. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_kind.h"
#include "protocols/preproc/mpc_dealer.h"
#include "protocols/preproc/mpc_gen.h"
#include "protocols/preproc/mpc_plan.h"
#include "protocols/preproc/mpc_store.h"
#include "protocols/preproc/mpc_store_backend.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"
#include "tools/party.h"

/* The kinds of a plan as store types, in a fixed order: triples (Z_2^64,
 * Z_2^128), truncation pairs in plan order, bits (Z_2^64, Z_2^128), words of
 * bit triples. Kinds with no elements are kept (the order must not depend on
 * counts when parties compare vectors). */
typedef struct {
	mpc_mat_type t;
	uint64_t n;
} kind_n;
#define PLAN_KINDS (5 + MPC_POOL_TRUNC_KINDS)

static int plan_kinds(const mpc_pool_plan *pl, kind_n *k) {
	int m = 0;
	for (int i = 0; i < 2; i++)
		k[m++] = (kind_n){{MPC_MAT_TRIPLES, i ? 128 : 64, 0}, pl->triples[i]};
	for (uint32_t i = 0; i < pl->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		k[m++] = (kind_n){{MPC_MAT_TRUNC, pl->trunc[i].ring_bits, pl->trunc[i].f},
		                  pl->trunc[i].n};
	for (int i = 0; i < 2; i++)
		k[m++] = (kind_n){{MPC_MAT_BITS, i ? 128 : 64, 0}, pl->bits[i]};
	k[m++] = (kind_n){{MPC_MAT_BIT_TRIPLES, 1, 0}, pl->bit_triple_words};
	return m;
}

/* The plan with the kinds of `shape` and the counts n[] (in plan_kinds order). */
static mpc_pool_plan plan_with(const mpc_pool_plan *shape, const uint64_t *n) {
	mpc_pool_plan o = *shape;
	int m = 0;
	for (int i = 0; i < 2; i++)
		o.triples[i] = n[m++];
	for (uint32_t i = 0; i < o.n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		o.trunc[i].n = n[m++];
	for (int i = 0; i < 2; i++)
		o.bits[i] = n[m++];
	o.bit_triple_words = n[m];
	return o;
}

/* The exact material the job consumes (tools/party.h). */
mpc_err party_material_plan(const opts *o, const conn *c, uint64_t assume_rows, mpc_pool_plan *plan,
                            int *assumed, int *upper) {
	const mpc_kind *k = mpc_kind_find(c->job->computation);
	mpc_kind_io io = party_kind_io(o, c);
	uint64_t rows = 0;
	void *st = NULL;
	mpc_err err;

	*assumed = *upper = 0;
	*plan = (mpc_pool_plan){0};
	if (k == NULL)
		return mpc_error(MPC_ECONFIG, "%s: no material plan for computation = %s",
		                 c->job->path, c->job->computation);
	if ((err = k->parse(c->job, &st)) != MPC_OK)
		return err;
	if (k->flags & MPC_KIND_PLAN_ROWS) {
		rows = o->rows;
		if (rows == 0 && (err = k->input_rows(st, &io, &rows)) != MPC_OK)
			goto out;
		*assumed = rows == 0;
		if (rows == 0 && assume_rows == 0) {
			err = mpc_error(
			    MPC_ECONFIG,
			    "%s is a %s job: its material depends on the "
			    "asker's transaction count; say it with --rows N (every party "
			    "the same)",
			    o->job_path, k->name);
			goto out;
		}
		if (rows == 0)
			rows = assume_rows;
	}
	err = k->plan(st, rows, plan, upper);
out:
	k->free(st);
	return err;
}

/* The backend that stands for the store during a run (borrowed by the pool
 * that wraps it), for what it took from where. */
static mpc_preproc run_stored;
/* A standing service's durable stock (run --serve --store DIR): the store
 * and the engine that makes material into it, both borrowed from run_stored,
 * which owns them. */
static mpc_store *stock_store;
static mpc_preproc stock_gen;

/* After a run: what it took, of every kind, and from where. */
void party_note_taken(mpc_party *p, const mpc_job *j) {
	mpc_preproc *pre = mpc_party_preproc(p);
	mpc_pool_plan took;
	char line[1024];
	const mpc_store_backend_stats *ss =
	    run_stored.ops ? mpc_store_backend_get_stats(&run_stored) : NULL;
	const mpc_pool_stats *ps = mpc_pool_get_stats(pre);

	if (ps == NULL || mpc_pool_plan_get(pre, &took) != MPC_OK) {
		mpc_error_clear();
		return;
	}
	mpc_plan_format(&took, line, sizeof(line));
	if (j->preprocessing == MPC_JOB_DEALER)
		mpc_info("this run took: %s; served by the dealer", line);
	else
		mpc_info("this run took: %s; %llu from the store, %llu made now", line,
		         (unsigned long long)(ss ? ss->from_store : 0),
		         (unsigned long long)(ss ? ss->made : ps->passed));
}

static void store_path(const opts *o, const mpc_job *j, char *buf, size_t len) {
	if (o->store)
		snprintf(buf, len, "%s", o->store);
	else
		snprintf(buf, len, "mpc-store/%s-%s", j->id, o->party);
}

/* Open party `self`'s store of job j; create: make it (and ./mpc-store) if
 * absent, otherwise *st stays NULL when there is none. The store is bound to
 * what determines its material (mpc_job_store_binding), not to the job file's
 * bytes, and to the job id that names it. */
static mpc_err open_store_of(const opts *o, const mpc_job *j, int self, int create,
                             mpc_store **st) {
	char dir[600];
	uint8_t hash[32];
	struct stat sb;
	mpc_err err;

	*st = NULL;
	store_path(o, j, dir, sizeof(dir));
	if (!create && stat(dir, &sb) != 0)
		return MPC_OK;
	if (create && o->store == NULL && mkdir("mpc-store", 0700) != 0 && errno != EEXIST)
		return mpc_error(MPC_EIO, "cannot create mpc-store: %s", strerror(errno));
	if ((err = mpc_job_store_binding(j, hash)) != MPC_OK)
		return err;
	/* a standing service's stock outlives its job: it is named for what
	 * it is, and the binding says whose material it holds */
	return mpc_store_open(st, dir, o->serve ? PARTY_STOCK_ID : j->id, hash, self, j->n_parties);
}

static mpc_err open_store(const opts *o, const conn *c, int create, mpc_store **st) {
	return open_store_of(o, c->job, c->self, create, st);
}

static const char *engine_name(const mpc_job *j) {
	return j->preprocessing == MPC_JOB_PAILLIER ? "paillier" : "ot";
}

/* Triples per second the last `preprocess` measured (0: unknown). */
static double stored_rate(const mpc_store *st) {
	char path[700];
	double r = 0;
	snprintf(path, sizeof(path), "%s/RATE", mpc_store_dir(st));
	FILE *fp = fopen(path, "r");
	if (fp) {
		if (fscanf(fp, "triples_per_s %lf", &r) != 1)
			r = 0;
		fclose(fp);
	}
	return r;
}

/* What of plan is missing from the store (all of it without a store). */
static mpc_pool_plan plan_missing(mpc_store *st, const mpc_pool_plan *plan) {
	kind_n k[PLAN_KINDS];
	uint64_t n[PLAN_KINDS];
	int m = plan_kinds(plan, k);
	for (int i = 0; i < m; i++) {
		uint64_t have = st ? mpc_store_available(st, k[i].t) : 0;
		n[i] = k[i].n > have ? k[i].n - have : 0;
	}
	return plan_with(plan, n);
}

/* Estimated bytes this party sends to make plan with the generator. */
static double plan_bytes(const mpc_pool_plan *plan, const mpc_preproc *gen, int np) {
	kind_n k[PLAN_KINDS];
	double b = 0;
	int m = plan_kinds(plan, k);
	for (int i = 0; i < m; i++)
		b += (double)k[i].n *
		     mpc_gen_bytes_per(gen, np, (int)k[i].t.kind,
		                       k[i].t.ring_bits == 128 ? MPC_Z128 : MPC_Z64);
	return b;
}

/* Before a run: what the job consumes (plan), what of it is missing from the
 * store and will be made now, the bytes that takes. */
static void note_consumption(mpc_store *st, const mpc_preproc *gen, int np,
                             const mpc_pool_plan *plan) {
	mpc_pool_plan make = plan_missing(st, plan);
	char line[1024];
	double rate = st ? stored_rate(st) : 0;
	char when[96] = "";
	if (make.triples[0] + make.triples[1] > 0 && rate > 0)
		snprintf(when, sizeof(when), "; triples at the measured %.0f/s", rate);
	mpc_plan_format(&make, line, sizeof(line));
	if (mpc_plan_equal(&make, &(mpc_pool_plan){0}))
		mpc_info("the store holds all of it");
	else
		mpc_info("to make now (missing from the store): %s (about %.1f kB to send%s)", line,
		         plan_bytes(&make, gen, np) / 1e3, when);
}

/* The job's preprocessing at a party: the dealer, or made among the parties
 * (from the store first when there is one), wrapped in a recording pool so
 * that note_taken can say what the run took. States what the job consumes
 * (its plan, counted before the network was opened: see mpc_plan.h). */
mpc_err party_install_preproc(const opts *o, conn *c, mpc_party *p, const mpc_pool_plan *plan) {
	const mpc_job *j = c->job;
	mpc_preproc gen, pre;
	mpc_store *st = NULL;
	char line[1024];
	mpc_err err;

	run_stored = (mpc_preproc){0};
	mpc_info("this job consumes: %s", mpc_plan_format(plan, line, sizeof(line)));
	if (j->preprocessing == MPC_JOB_DEALER) {
		if ((err = mpc_dealer_connect(p, j->n_parties)) != MPC_OK)
			return err;
		return mpc_pool_install(p);
	}
	stock_store = NULL;
	stock_gen = (mpc_preproc){0};
	if ((err = open_store(o, c, o->serve != NULL && o->store != NULL, &st)) != MPC_OK)
		return err;
	if ((err = mpc_gen_new(&gen, p, engine_name(j), 0)) != MPC_OK) {
		mpc_store_close(st);
		return err;
	}
	note_consumption(st, &gen, j->n_parties, plan);
	if (o->serve && st != NULL) { /* the service makes its stock into the store */
		stock_store = st;
		stock_gen = gen;
	}
	if (st == NULL) {
		mpc_party_set_preproc(p, gen);
		return mpc_pool_install(p);
	}
	if ((err = mpc_store_backend(&pre, st, gen)) != MPC_OK)
		return err;
	mpc_party_set_preproc(p, pre);
	run_stored = pre;
	return mpc_pool_install(p);
}

mpc_err party_install_fresh(const conn *c, mpc_party *p) {
	mpc_preproc gen;
	mpc_err err = mpc_gen_new(&gen, p, engine_name(c->job), 0);
	if (err != MPC_OK)
		return err;
	mpc_party_set_preproc(p, gen);
	return mpc_pool_install(p);
}

/* Progress of one kind of material: on a terminal a line rewritten in
 * place, in the log every 10 s. */
typedef struct {
	char what[64];
	uint64_t total, done;
	double t0, last_log, last_tty;
	int tty;
} progress;

static void progress_show(progress *pg, int final) {
	double t = party_now(), el = t - pg->t0, rate = el > 0 ? (double)pg->done / el : 0;
	double left = rate > 0 ? (double)(pg->total - pg->done) / rate : 0;
	if (pg->tty && (final || t - pg->last_tty >= 0.2)) {
		fprintf(stderr, "\r  %s: %llu / %llu (%.0f%%), %.0f/s, %.0f s left   %s", pg->what,
		        (unsigned long long)pg->done, (unsigned long long)pg->total,
		        100.0 * (double)pg->done / (double)pg->total, rate, left,
		        final ? "\n" : "");
		pg->last_tty = t;
	}
	if (final || t - pg->last_log >= 10) {
		mpc_info("%s: %llu / %llu made, %.0f/s, %.0f s left", pg->what,
		         (unsigned long long)pg->done, (unsigned long long)pg->total, rate, left);
		pg->last_log = t;
	}
}

#define PRE_BATCH ((size_t)1 << 16)

/* Make `total` elements of type t with the generator, batch by batch into the
 * store. */
static mpc_err make_kind(mpc_party *p, const mpc_preproc *gen, mpc_store *st, mpc_mat_type t,
                         uint64_t total, double *rate, int quiet) {
	mpc_ring r = t.ring_bits == 128 ? MPC_Z128 : MPC_Z64;
	size_t eb = mpc_ring_bytes(r), elem = mpc_mat_elem_bytes(t);
	size_t batch = t.kind == MPC_MAT_BIT_TRIPLES ? PRE_BATCH / 8 : PRE_BATCH;
	mpc_vec v[3] = {{0}};
	uint8_t *buf = NULL;
	progress pg = {.total = total, .t0 = party_now(), .tty = isatty(2)};
	mpc_err err = MPC_OK;

	mpc_mat_name(t, pg.what, sizeof(pg.what));
	pg.last_log = pg.t0;
	if (total == 0)
		return MPC_OK;
	if ((buf = malloc(batch * elem)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (int q = 0; q < 3 && err == MPC_OK; q++)
		err = mpc_vec_init(&v[q], t.kind == MPC_MAT_BIT_TRIPLES ? MPC_Z64 : r, batch);
	while (err == MPC_OK && pg.done < total) {
		size_t n = total - pg.done < batch ? (size_t)(total - pg.done) : batch;
		uint8_t id[16];
		int parts = 1;
		if ((err = mpc_store_backend_batch_id(p, id)) != MPC_OK)
			break;
		switch (t.kind) {
		case MPC_MAT_TRIPLES:
			parts = 3;
			err = gen->ops->triples(gen->ctx, p, r, n, v[0].v, v[1].v, v[2].v);
			break;
		case MPC_MAT_TRUNC:
			parts = 2;
			err = gen->ops->trunc_pairs(gen->ctx, p, r, t.f, n, v[0].v, v[1].v);
			break;
		case MPC_MAT_BITS:
			err = gen->ops->bits(gen->ctx, p, r, n, v[0].v);
			break;
		case MPC_MAT_BIT_TRIPLES:
			parts = 3;
			eb = 8;
			err = gen->ops->bit_triples(gen->ctx, p, n, v[0].v, v[1].v, v[2].v);
			break;
		}
		if (err != MPC_OK)
			break;
		/* interleave: element e is part 0, part 1, ... */
		for (size_t e = 0; e < n; e++)
			for (int q = 0; q < parts; q++)
				memcpy(buf + (e * (size_t)parts + (size_t)q) * eb,
				       (uint8_t *)v[q].v + e * eb, eb);
		if ((err = mpc_store_add(st, t, id, n, buf)) != MPC_OK)
			break;
		pg.done += n;
		if (!quiet)
			progress_show(&pg, pg.done == total);
	}
	if (rate && pg.done == total)
		*rate = (double)total / (party_now() - pg.t0);
	mpc_wipe(buf, batch * elem);
	free(buf);
	for (int q = 0; q < 3; q++)
		mpc_vec_fini(&v[q]);
	return err;
}

/* ---- a standing service's durable stock (tools/party.h) ---- */

/* What the stock's store holds, in the kinds of shape. */
static mpc_pool_plan stock_held(const mpc_pool_plan *shape) {
	kind_n k[PLAN_KINDS];
	uint64_t n[PLAN_KINDS];
	int m = plan_kinds(shape, k);
	for (int i = 0; i < m; i++)
		n[i] = stock_store ? mpc_store_available(stock_store, k[i].t) : 0;
	return plan_with(shape, n);
}

uint64_t party_stock_rows(const mpc_pool_plan *one) {
	mpc_pool_plan held = stock_held(one);
	return mpc_plan_times(&held, one);
}

mpc_err party_stock_make(mpc_party *p, const mpc_pool_plan *plan) {
	kind_n k[PLAN_KINDS];
	int m = plan_kinds(plan, k);
	mpc_err err = MPC_OK;
	if (stock_store == NULL)
		return mpc_error(MPC_EINVAL, "the service has no store for its stock (--store)");
	for (int i = 0; i < m && err == MPC_OK; i++)
		if (k[i].n > 0)
			err = make_kind(p, &stock_gen, stock_store, k[i].t, k[i].n, NULL, 1);
	return err;
}

/* The count of kind t in pl. */
static uint64_t plan_count(const mpc_pool_plan *pl, mpc_mat_type t) {
	int rb = t.ring_bits == 128;
	switch (t.kind) {
	case MPC_MAT_TRIPLES:
		return pl->triples[rb];
	case MPC_MAT_BITS:
		return pl->bits[rb];
	case MPC_MAT_BIT_TRIPLES:
		return pl->bit_triple_words;
	case MPC_MAT_TRUNC:
		for (uint32_t i = 0; i < pl->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
			if (pl->trunc[i].ring_bits == t.ring_bits && pl->trunc[i].f == t.f)
				return pl->trunc[i].n;
	}
	return 0;
}

void party_stock_report(mpc_party *p, const mpc_pool_plan *one) {
	kind_n k[PLAN_KINDS];
	mpc_pool_plan left = {0}, held = stock_held(one);
	char text[4096], name[64], path[700];
	size_t len = 0;
	if (stock_store == NULL)
		return;
	if (mpc_pool_left(mpc_party_preproc(p), &left) != MPC_OK)
		mpc_error_clear();
	int m = plan_kinds(&held, k);
	len += (size_t)snprintf(text + len, sizeof(text) - len,
	                        "# rows' worth: %llu in the store, %llu in memory\n",
	                        (unsigned long long)mpc_plan_times(&held, one),
	                        (unsigned long long)mpc_plan_times(&left, one));
	for (int i = 0; i < m && len < sizeof(text) - 200; i++)
		if (plan_count(one, k[i].t) > 0)
			len += (size_t)snprintf(
			    text + len, sizeof(text) - len, "store\t%s\t%llu\nmemory\t%s\t%llu\n",
			    mpc_mat_name(k[i].t, name, sizeof(name)), (unsigned long long)k[i].n,
			    name, (unsigned long long)plan_count(&left, k[i].t));
	snprintf(path, sizeof(path), "%s/LEVEL", mpc_store_dir(stock_store));
	if (mpc_file_write_atomic(path, text, len, 0600) != MPC_OK)
		mpc_error_clear(); /* a figure for the metrics: the service goes on */
}

/* preprocess --status: what the store holds, from the job file alone (no
 * keys, no network). */
static int preprocess_status(const opts *o) {
	mpc_job *j = NULL;
	mpc_store *st = NULL;
	char desc[2048], dir[600];
	int code = 0, self;
	mpc_err err;

	if (o->job_path == NULL || o->party == NULL) {
		fprintf(stderr, "mpc-party preprocess --status: --job and --party are required\n");
		return MPC_EXIT_USAGE;
	}
	if ((err = mpc_job_load(o->job_path, &j)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		return MPC_EXIT_USAGE;
	}
	if ((self = mpc_job_party_index(j, o->party)) < 0) {
		fprintf(stderr, "mpc-party preprocess: %s has no [party %s]\n", o->job_path,
		        o->party);
		code = MPC_EXIT_USAGE;
		goto out;
	}
	store_path(o, j, dir, sizeof(dir));
	if ((err = open_store_of(o, j, self, 0, &st)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	if (st == NULL) {
		printf("store %s (job %s, party %s): none yet (nothing made)\n", dir, j->id,
		       o->party);
		goto out;
	}
	(void)mpc_store_describe(st, desc, sizeof(desc));
	printf("store %s (job %s, party %s):\n%s", mpc_store_dir(st), j->id, o->party, desc);
out:
	mpc_store_close(st);
	mpc_job_free(j);
	return code;
}

/* preprocess --list: every store under the store directory (--store DIR,
 * default ./mpc-store), with what it holds. No keys, no network. */
static int preprocess_list(const opts *o) {
	const char *root = o->store ? o->store : "mpc-store";
	struct dirent **ents = NULL;
	int n = scandir(root, &ents, NULL, alphasort), found = 0;

	if (n < 0) {
		if (errno == ENOENT) {
			printf("no stores under %s (it does not exist)\n", root);
			return 0;
		}
		fprintf(stderr, "mpc-party preprocess --list: cannot read %s: %s\n", root,
		        strerror(errno));
		return MPC_EXIT_INPUT;
	}
	for (int i = 0; i < n; i++) {
		char dir[700], job[65], desc[2048];
		uint8_t hash[32];
		int party, np;
		mpc_store *st = NULL;
		snprintf(dir, sizeof(dir), "%s/%s", root, ents[i]->d_name);
		if (ents[i]->d_name[0] == '.' ||
		    mpc_store_identity(dir, job, hash, &party, &np) != 0)
			continue;
		found++;
		if (mpc_store_open(&st, dir, job, hash, party, np) != MPC_OK) {
			printf("store %s (job %s, party %d of %d): cannot open: %s\n", dir, job,
			       party + 1, np, mpc_error_detail());
			continue;
		}
		(void)mpc_store_describe(st, desc, sizeof(desc));
		printf("store %s (job %s, party %d of %d):\n%s", dir, job, party + 1, np, desc);
		mpc_store_close(st);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (found == 0)
		printf("no stores under %s\n", root);
	return 0;
}

/* What preprocess is asked to have: the job's plan (--for-job, times --runs)
 * or the counts given, in the job's ring. Counted before any network. */
static mpc_err preprocess_want(const opts *o, const conn *c, mpc_pool_plan *want) {
	const mpc_job *j = c->job;
	mpc_err err;

	*want = (mpc_pool_plan){0};
	if (!o->for_job) {
		int rb = mpc_ring_bits(j->ring) == 128;
		want->triples[rb] = o->triples;
		want->bits[rb] = o->bits;
		want->bit_triple_words = (o->bit_triples + 63) / 64;
		if (j->frac_bits && o->trunc) {
			want->n_trunc = 1;
			want->trunc[0].ring_bits = mpc_ring_bits(j->ring);
			want->trunc[0].f = j->frac_bits;
			want->trunc[0].n = o->trunc;
		}
		return MPC_OK;
	}
	int assumed, upper;
	if ((err = party_material_plan(o, c, 0, want, &assumed, &upper)) != MPC_OK)
		return err;
	return mpc_pool_plan_scale(want, o->runs ? o->runs : 1);
}

/* Every party's missing counts, and the largest of each kind: what all make
 * together (a party that holds more keeps the surplus for later). */
static mpc_err agree_missing(conn *c, const mpc_pool_plan *want, const mpc_pool_plan *mine,
                             mpc_pool_plan *make) {
	kind_n k[PLAN_KINDS];
	uint64_t v[PLAN_KINDS] = {0}, *all = NULL;
	int m = plan_kinds(mine, k), n = c->nodes.n;
	uint64_t mask = (n >= 64 ? ~0ull : (1ull << n) - 1) & ~(1ull << c->self);
	mpc_err err;

	for (int i = 0; i < m; i++)
		v[i] = k[i].n;
	if ((all = calloc((size_t)n, sizeof(v))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = mpc_net_bcast(c->net, mask, v, mask, all, sizeof(v))) == MPC_OK)
		for (int q = 0; q < n; q++)
			for (int i = 0; i < m && q != c->self; i++)
				if (all[(size_t)q * PLAN_KINDS + (size_t)i] > v[i])
					v[i] = all[(size_t)q * PLAN_KINDS + (size_t)i];
	free(all);
	for (int i = 0; i < m && err == MPC_OK; i++)
		if (v[i] > (1ull << 40))
			err =
			    mpc_error(MPC_EPROTO, "a peer asked to make %llu elements of one kind",
			              (unsigned long long)v[i]);
	*make = plan_with(want, v);
	return err;
}

int party_cmd_preprocess(const opts *o) {
	conn c;
	mpc_store *st = NULL;
	mpc_party *p = NULL;
	mpc_preproc gen = {0};
	mpc_pool_plan want, mine, make;
	kind_n k[PLAN_KINDS];
	char mode[1200], desc[2048], line[1024];
	int code = 0;
	mpc_err err;

	if (o->list)
		return preprocess_list(o);
	if (o->status)
		return preprocess_status(o);
	if ((err = party_prepare(o, &c)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		code = err == MPC_ECONFIG || err == MPC_EIO ? MPC_EXIT_USAGE : mpc_exit_code(err);
		goto out;
	}
	const mpc_job *j = c.job;
	if (c.is_dealer || j->preprocessing == MPC_JOB_DEALER) {
		fprintf(stderr,
		        "mpc-party preprocess: %s has preprocessing = dealer: the dealer "
		        "serves material during the run; nothing to make ahead\n",
		        o->job_path);
		code = MPC_EXIT_USAGE;
		goto out;
	}
	uint64_t counts = o->triples + o->trunc + o->bits + o->bit_triples;
	if (o->for_job ? counts != 0 : counts == 0) {
		fprintf(stderr,
		        "mpc-party preprocess: say what to make: --for-job (what the job "
		        "consumes), or --triples N, --trunc N, --bits N, --bit-triples N\n");
		code = MPC_EXIT_USAGE;
		goto out;
	}
	if ((err = preprocess_want(o, &c, &want)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		code = mpc_exit_code(err);
		goto out;
	}
	if ((err = open_store(o, &c, 1, &st)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	/* --for-job and --target: levels to top up to; otherwise amounts to add */
	int level = o->for_job || o->target;
	mine = level ? plan_missing(st, &want) : want;
	/* what is wanted is part of what the nodes agree on */
	snprintf(mode, sizeof(mode), "preprocess %s %s", level ? "up to" : "add",
	         mpc_plan_format(&want, line, sizeof(line)));
	if ((err = party_agree(&c, mode)) != MPC_OK ||
	    (err = agree_missing(&c, &want, &mine, &make)) != MPC_OK) {
		code = party_fail(&c, err, "setting up preprocessing");
		goto out;
	}
	if (mpc_plan_equal(&make, &(mpc_pool_plan){0})) {
		printf("nothing to make: every party's store %s already holds %s\n",
		       mpc_store_dir(st), line);
		mpc_net_close(c.net);
		c.net = NULL;
		goto out;
	}
	if ((err = mpc_party_new(&p, c.net, j->n_parties)) != MPC_OK ||
	    (err = mpc_gen_new(&gen, p, engine_name(j), 0)) != MPC_OK) {
		code = party_fail(&c, err, "setting up preprocessing");
		goto out;
	}
	mpc_info("making %s by %s: about %.1f MB to send from this party",
	         mpc_plan_format(&make, line, sizeof(line)), engine_name(j),
	         plan_bytes(&make, &gen, j->n_parties) / 1e6);
	double t0 = party_now(), rate = 0;
	uint64_t b0 = mpc_net_bytes_sent(c.net);
	int m = plan_kinds(&make, k);
	for (int i = 0; i < m && err == MPC_OK; i++) {
		int job_triples =
		    k[i].t.kind == MPC_MAT_TRIPLES && k[i].t.ring_bits == mpc_ring_bits(j->ring);
		err = make_kind(p, &gen, st, k[i].t, k[i].n, job_triples ? &rate : NULL, 0);
	}
	if (err != MPC_OK) {
		code = party_fail(&c, err, "preprocessing");
		goto out;
	}
	if (rate > 0) {
		char path[700], text[64];
		snprintf(path, sizeof(path), "%s/RATE", mpc_store_dir(st));
		int len = snprintf(text, sizeof(text), "triples_per_s %.0f\n", rate);
		if (mpc_file_write_atomic(path, text, (size_t)len, 0600) != MPC_OK)
			mpc_warn("could not record the rate: %s", mpc_error_detail());
	}
	printf("made %s in %.2f s, %.1f MB sent; store %s now holds:\n", line, party_now() - t0,
	       (double)(mpc_net_bytes_sent(c.net) - b0) / 1e6, mpc_store_dir(st));
	(void)mpc_store_describe(st, desc, sizeof(desc));
	fputs(desc, stdout);
	mpc_party_free(p);
	p = NULL;
	mpc_net_close(c.net);
	c.net = NULL;
out:
	if (gen.ops)
		gen.ops->free(gen.ctx);
	mpc_party_free(p);
	mpc_store_close(st);
	party_conn_fini(&c);
	return code;
}
