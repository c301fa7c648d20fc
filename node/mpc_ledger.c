/* The privacy budget ledger on disk (see mpc_ledger.h for the composition
 * and the rules that keep a charge from ever being lost). The journal
 * machinery (fixed records, numbered and checksummed, appended one at a
 * time and fsynced; the lock, the checks, the replay) is node/mpc_journal.c;
 * here are the charge records and the totals. */
#include "node/mpc_ledger.h"
#include "jobs/mpc_job.h"
#include "node/mpc_journal.h"
#include "runtime/mpc_bytes.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L_MAGIC   "MPCLDG01"
#define L_VERSION 1u
#define REC       MPC_JOURNAL_REC /* bytes of one record */
#define K_CHARGE  2u
#define SLACK     1e-12 /* of the limit: see within() */

/* Record layout (node/mpc_journal.h), integers little-endian, doubles as
 * their IEEE bits:
 *   0 magic 8 | 8 number 8 | 16 kind 4 | 20 format version 4 | 24 unix time 8
 *  32 epsilon 8 | 40 delta 8 | 48 rho 8
 *  56 dataset 64 (the header: the ledger id, 16) | 120 job id 64 | 184 label 40
 * 224 SHA-256 of (ledger id | bytes 0..224)
 * Text fields are zero-padded; a name of 64 characters fills its field. */
#define O_KIND    16
#define O_EPS     32
#define O_DELTA   40
#define O_RHO     48
#define O_DATASET 56
#define O_JOB     120
#define O_LABEL   184

typedef struct {
	char name[MPC_LEDGER_NAME_MAX + 1];
	mpc_ledger_total t;
} dataset_total;

struct mpc_ledger {
	mpc_journal *j;
	dataset_total *ds;
	size_t nds, cap;
};

static void put_double(uint8_t *b, double v) {
	uint64_t u;
	memcpy(&u, &v, 8);
	mpc_put64(b, u);
}

static double get_double(const uint8_t *b) {
	uint64_t u = mpc_get64(b);
	double v;
	memcpy(&v, &u, 8);
	return v;
}

static int good_name(const char *s, size_t n) {
	return n > 0 && n <= MPC_LEDGER_NAME_MAX && strlen(s) == n &&
	       mpc_job_name_ok(s, MPC_LEDGER_NAME_MAX);
}

static int good_label(const char *s, size_t n) {
	if (n == 0 || n > MPC_LEDGER_LABEL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static int good_value(double v) {
	return isfinite(v) && v >= 0;
}

/* ---------------------------------------------------------------- totals */

static dataset_total *find(const mpc_ledger *l, const char *name) {
	for (size_t i = 0; i < l->nds; i++)
		if (strcmp(l->ds[i].name, name) == 0)
			return &l->ds[i];
	return NULL;
}

static dataset_total *find_or_add(mpc_ledger *l, const char *name) {
	dataset_total *d = find(l, name);
	if (d != NULL)
		return d;
	if (l->nds == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		dataset_total *n = realloc(l->ds, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		l->ds = n;
		l->cap = cap;
	}
	d = &l->ds[l->nds++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	return d;
}

/* The one place sums are formed, on replay and on charge alike: the same
 * additions in the same order give the same totals on every open. */
static void add_to(mpc_ledger_total *t, double eps, double delta, double rho) {
	t->epsilon += eps;
	t->delta += delta;
	t->rho += rho;
	t->count++;
}

/* ---------------------------------------------------------------- replay */

/* One intact record numbered g (the journal has checked its number and
 * version): the header carries nothing more; a charge has its contents
 * checked and is added to its dataset's totals. */
static mpc_err replay_charge(void *ctx, mpc_journal *j, uint64_t g, const uint8_t rec[REC]) {
	mpc_ledger *l = ctx;
	char name[MPC_LEDGER_NAME_MAX + 1], job[MPC_LEDGER_NAME_MAX + 1];
	char label[MPC_LEDGER_LABEL_MAX + 1];
	if (g == 0)
		return MPC_OK;
	if (mpc_get32(rec + O_KIND) != K_CHARGE)
		return mpc_journal_corrupt(j, g, "an intact record out of order");
	memcpy(name, rec + O_DATASET, MPC_LEDGER_NAME_MAX);
	memcpy(job, rec + O_JOB, MPC_LEDGER_NAME_MAX);
	memcpy(label, rec + O_LABEL, MPC_LEDGER_LABEL_MAX);
	name[MPC_LEDGER_NAME_MAX] = job[MPC_LEDGER_NAME_MAX] = label[MPC_LEDGER_LABEL_MAX] = '\0';
	double eps = get_double(rec + O_EPS), delta = get_double(rec + O_DELTA);
	double rho = get_double(rec + O_RHO);
	if (!good_name(name, strlen(name)) || !good_name(job, strlen(job)) ||
	    !good_label(label, strlen(label)) || !good_value(eps) || !good_value(delta) ||
	    !good_value(rho))
		return mpc_journal_corrupt(j, g, "an intact record with invalid contents");
	dataset_total *d = find_or_add(l, name);
	if (d == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	add_to(&d->t, eps, delta, rho);
	return MPC_OK;
}

static const mpc_journal_spec spec = {
    .title = "privacy budget ledger",
    .noun = "ledger",
    .kind = "ledger",
    .shared = "spend the same budget",
    .loss = "Charges may be missing, so no budget can be trusted and nothing is charged or "
            "released",
    .magic = L_MAGIC,
    .version = L_VERSION,
    .replay = replay_charge,
    .fill = NULL,
};

/* ---------------------------------------------------------------- API */

mpc_err mpc_ledger_open(const char *path, mpc_ledger **out) {
	mpc_ledger *l;
	mpc_err err;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = mpc_journal_open(&spec, path, l, &l->j)) != MPC_OK) {
		mpc_ledger_close(l);
		return err;
	}
	*out = l;
	return MPC_OK;
}

void mpc_ledger_close(mpc_ledger *l) {
	if (l == NULL)
		return;
	mpc_journal_close(l->j); /* releases the lock */
	free(l->ds);
	free(l);
}

const char *mpc_ledger_path(const mpc_ledger *l) {
	return mpc_journal_path(l->j);
}

mpc_err mpc_ledger_spent(const mpc_ledger *l, const char *dataset, mpc_ledger_total *out) {
	memset(out, 0, sizeof(*out));
	if (dataset == NULL || !good_name(dataset, strlen(dataset)))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: bad dataset name (1 to %d of "
		                 "A-Z a-z 0-9 . _ -)",
		                 mpc_journal_path(l->j), MPC_LEDGER_NAME_MAX);
	const dataset_total *d = find(l, dataset);
	if (d != NULL)
		*out = d->t;
	return MPC_OK;
}

static mpc_err check_charge(const mpc_ledger *l, const char *dataset, const char *job_id,
                            const char *label, double eps, double delta, double rho,
                            const mpc_ledger_budget *limit) {
	const char *ds = dataset && good_name(dataset, strlen(dataset)) ? dataset : "(bad name)";
	if (dataset == NULL || !good_name(dataset, strlen(dataset)))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: bad dataset name (1 to %d of "
		                 "A-Z a-z 0-9 . _ -)",
		                 mpc_journal_path(l->j), MPC_LEDGER_NAME_MAX);
	if (job_id == NULL || !good_name(job_id, strlen(job_id)))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: dataset %s: bad job id (1 to %d of "
		                 "A-Z a-z 0-9 . _ -)",
		                 mpc_journal_path(l->j), ds, MPC_LEDGER_NAME_MAX);
	if (label == NULL || !good_label(label, strlen(label)))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: dataset %s: bad release label (1 to "
		                 "%d printable ASCII characters)",
		                 mpc_journal_path(l->j), ds, MPC_LEDGER_LABEL_MAX);
	if (!good_value(eps) || !good_value(delta) || !good_value(rho))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: dataset %s: job %s asks epsilon %g, "
		                 "delta %g, rho %g: each must be finite and >= 0",
		                 mpc_journal_path(l->j), ds, job_id, eps, delta, rho);
	if (limit == NULL || !good_value(limit->epsilon) || !good_value(limit->delta))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: dataset %s: no limit given, or a "
		                 "limit that is not finite and >= 0",
		                 mpc_journal_path(l->j), ds);
	return MPC_OK;
}

/* A sum within its limit. Decimal budgets are not exact in binary (0.1 +
 * 0.2 > 0.3 in doubles), so a sum may pass the limit by SLACK of the limit,
 * below the rounding error of the sum itself and of no consequence to
 * privacy; a limit of 0 allows exactly 0. */
static int within(double sum, double limit) {
	return sum <= limit + limit * SLACK;
}

mpc_err mpc_ledger_charge(mpc_ledger *l, const char *dataset, const char *job_id, const char *label,
                          double eps, double delta, double rho, const mpc_ledger_budget *limit) {
	uint8_t rec[REC];
	mpc_err err;

	if (mpc_journal_broken(l->j))
		return mpc_error(MPC_EIO,
		                 "privacy budget ledger %s: an earlier write failed; this handle "
		                 "charges nothing more: close the ledger and open it again",
		                 mpc_journal_path(l->j));
	if ((err = check_charge(l, dataset, job_id, label, eps, delta, rho, limit)) != MPC_OK)
		return err;
	eps += 0.0; /* -0.0 is stored as 0 */
	delta += 0.0;
	rho += 0.0;
	/* the entry before the write: nothing may fail between the fsync and
	 * the totals */
	dataset_total *d = find_or_add(l, dataset);
	if (d == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_ledger_total after = d->t;
	add_to(&after, eps, delta, rho);
	if (!isfinite(after.epsilon) || !isfinite(after.delta) || !isfinite(after.rho))
		return mpc_error(MPC_EREFUSED,
		                 "privacy budget ledger %s: dataset %s: job %s (%s) asks epsilon "
		                 "%g, delta %g, rho %g, which would take a sum past the largest "
		                 "double: refused, nothing recorded",
		                 mpc_journal_path(l->j), dataset, job_id, label, eps, delta, rho);
	if (!within(after.epsilon, limit->epsilon) || !within(after.delta, limit->delta))
		return mpc_error(MPC_EREFUSED,
		                 "privacy budget ledger %s: dataset %s has spent epsilon %.9g, "
		                 "delta %.9g in %" PRIu64 " releases; job %s (%s) asks epsilon "
		                 "%.9g, delta %.9g more, past its limit of epsilon %.9g, delta "
		                 "%.9g (basic composition): refused, nothing recorded",
		                 mpc_journal_path(l->j), dataset, d->t.epsilon, d->t.delta,
		                 d->t.count, job_id, label, eps, delta, limit->epsilon,
		                 limit->delta);
	mpc_journal_rec_start(l->j, rec, mpc_journal_records(l->j), K_CHARGE);
	put_double(rec + O_EPS, eps);
	put_double(rec + O_DELTA, delta);
	put_double(rec + O_RHO, rho);
	memcpy(rec + O_DATASET, dataset, strlen(dataset));
	memcpy(rec + O_JOB, job_id, strlen(job_id));
	memcpy(rec + O_LABEL, label, strlen(label));
	/* sealed, written and fsynced; a failed write breaks the handle */
	if ((err = mpc_journal_append(l->j, rec)) != MPC_OK)
		return err;
	d->t = after;
	return MPC_OK;
}
