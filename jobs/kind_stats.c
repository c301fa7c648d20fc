/* computation = aggregate_stats: statistics over every party's
 * transactions (jobs/kind_stats.h). With only max_amount and max_rows it is
 * the legacy preset (protocols/apps/mpc_stats.h: count, total, mean,
 * variance, stddev, fraud_rate, "statistic,value" output); otherwise
 * protocols/apps/mpc_agg.h with the section's spec.
 *
 * Plan: the same whatever each party's row count (every party sums its rows
 * locally), except that cohorts suppressed during the run (min_cohort, or a
 * DP noisy count below it) skip their remaining work: the dummy data fills
 * every cohort, so the plan is the one where no cohort is suppressed, the
 * most a run can take. */
#include "jobs/kind_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_agg_io.h"
#include "jobs/mpc_csv.h"
#include "jobs/mpc_kind.h"
#include "jobs/mpc_pg.h"
#include "protocols/apps/mpc_stats.h"
#include "protocols/preproc/mpc_plan.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

typedef struct {
	const mpc_job *job;
	mpc_stats_job a;
	mpc_stats_params sp; /* the legacy preset's */
	mpc_txns t;          /* this party's transactions */
	double *fraud;       /* t.n + 1: the rows for mpc_agg */
	uint32_t *group;
	mpc_agg_rows rows;
	mpc_pool_plan plan;
	mpc_stats_result res;
	mpc_agg_result ares;
	int have_ares;
	size_t contributors; /* input parties counted (0: the parties' own rows) */
} stats_state;

const mpc_stats_job *mpc_stats_job_of(const void *kind_state) {
	return &((const stats_state *)kind_state)->a;
}

static void stats_free(void *st) {
	stats_state *s = st;
	if (s == NULL)
		return;
	if (s->have_ares)
		mpc_agg_result_fini(&s->ares);
	if (s->fraud)
		mpc_wipe(s->fraud, (s->t.n + 1) * sizeof(double));
	free(s->fraud);
	mpc_wipe_free(s->group, (s->t.n + 1) * sizeof(uint32_t)); /* row -> group is private */
	mpc_txns_fini(&s->t);
	mpc_wipe(&s->res, sizeof(s->res));
	free(s);
}

static mpc_err stats_parse(const mpc_job *j, void **out) {
	stats_state *s = calloc(1, sizeof(*s));
	mpc_err err;
	*out = NULL;
	if (s == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	s->job = j;
	if ((err = mpc_stats_job_parse(j, &s->a)) != MPC_OK) {
		stats_free(s);
		return err;
	}
	*out = s;
	return MPC_OK;
}

/* ---- plan: the computation on dummy data of the public shapes ---- */

/* A value of the filter column that passes the filter (within max_abs when
 * the filter is on the value column). */
static double filter_pass(const mpc_agg_spec *s) {
	double c = s->filter_value, cand[6] = {c, c + 1, c - 1, c + 1e-3, c - 1e-3, 0};
	for (int i = 0; i < 6; i++) {
		double v = cand[i];
		if (mpc_agg_filter_pass(s, v) && (s->filter_col != s->col || fabs(v) <= s->max_abs))
			return v;
	}
	return c;
}

static mpc_err sim_legacy(mpc_party *p, const mpc_cross *zc, void *arg) {
	const stats_state *s = arg;
	mpc_stats_params sp;
	double amount = 0;
	uint8_t fraud = 0;
	mpc_stats_rows rows = {.n = 1, .amount = &amount, .fraud = &fraud};
	mpc_stats_result res;
	(void)zc;
	mpc_stats_params_default(&sp);
	sp.frac = s->job->frac_bits;
	sp.max_amount = s->a.max_amount;
	sp.max_rows = s->a.max_rows;
	return mpc_stats_run(p, &sp, &rows, &res);
}

/* Rows for a plan's simulation: per rows a cohort, every row passing the
 * filter, at most max_rows (then no run can fill every cohort either).
 * Under DP a noisy count must reach K too; the zero material makes the
 * noise a fixed public value, so a margin of 16 rows covers it. */
typedef struct {
	double *col0, *col1;
	uint32_t *grp;
	mpc_agg_rows rows;
} dummy_rows;

static void dummy_free(dummy_rows *d) {
	free(d->col0);
	free(d->col1);
	free(d->grp);
}

static mpc_err dummy_make(const mpc_agg_spec *s, size_t per, dummy_rows *d) {
	size_t G = s->n_groups ? s->n_groups : 1, n = G * (per + (s->dp ? 16 : 0));
	if ((double)n > s->max_rows)
		n = (size_t)s->max_rows;
	memset(d, 0, sizeof(*d));
	d->col0 = calloc(n + 1, sizeof(double));
	d->col1 = calloc(n + 1, sizeof(double));
	d->grp = calloc(n + 1, sizeof(uint32_t));
	if (!d->col0 || !d->col1 || !d->grp)
		return mpc_error(MPC_ENOMEM, "out of memory");
	double fv = s->filter_col >= 0 ? filter_pass(s) : 0;
	for (size_t i = 0; i < n; i++) {
		d->col0[i] = s->filter_col == 0 ? fv : 0;
		d->col1[i] = s->filter_col == 1 ? fv : 0;
		d->grp[i] = s->n_groups ? (uint32_t)(i % s->n_groups) : MPC_AGG_NO_GROUP;
	}
	d->rows = (mpc_agg_rows){.n = n, .n_cols = 2, .col = {d->col0, d->col1}, .group = d->grp};
	return MPC_OK;
}

/* Every cohort gets at least K rows over all parties (so none is suppressed
 * by its count), spread over the parties. */
static mpc_err sim_agg(mpc_party *p, const mpc_cross *zc, void *arg) {
	const stats_state *st = arg;
	const mpc_agg_spec *s = &st->a.spec;
	uint64_t K = s->min_cohort > 1 ? s->min_cohort : 1, np = (uint64_t)mpc_party_size(p);
	dummy_rows d;
	mpc_agg_result res;
	mpc_err err;
	(void)zc;
	if ((err = dummy_make(s, (size_t)((K + np - 1) / np), &d)) == MPC_OK &&
	    (err = mpc_agg_run(p, s, &d.rows, &res)) == MPC_OK)
		mpc_agg_result_fini(&res);
	dummy_free(&d);
	return err;
}

/* With input parties: every one of them contributes (the most a run can
 * take: min/max compare the contributions), party 0 holding each whole and
 * the others zero shares, each contribution filling every cohort. */
static mpc_err sim_contribs(mpc_party *p, const mpc_cross *zc, void *arg) {
	const stats_state *st = arg;
	const mpc_agg_spec *s = &st->a.spec;
	size_t m = (size_t)st->job->n_inputs, len = mpc_agg_contrib_len(s);
	uint64_t K = s->min_cohort > 1 ? s->min_cohort : 1;
	mpc_u128 *sh = calloc(m * len + 1, 16);
	dummy_rows d;
	mpc_agg_result res;
	mpc_err err;
	(void)zc;
	if ((err = dummy_make(s, (size_t)K, &d)) == MPC_OK && sh == NULL)
		err = mpc_error(MPC_ENOMEM, "out of memory");
	for (size_t c = 0; err == MPC_OK && mpc_party_id(p) == 0 && c < m; c++)
		err = mpc_agg_contrib(s, &d.rows, "plan", sh + c * len);
	if (err == MPC_OK && (err = mpc_agg_run_contribs(p, s, sh, m, &res)) == MPC_OK)
		mpc_agg_result_fini(&res);
	free(sh);
	dummy_free(&d);
	return err;
}

/* The spec against who contributes rows: the compute parties themselves,
 * or the input parties. */
static mpc_err check_spec(const stats_state *s) {
	const mpc_job *j = s->job;
	if (j->n_inputs > 0)
		return mpc_agg_contrib_check(&s->a.spec, (size_t)j->n_inputs);
	return mpc_agg_check_spec(&s->a.spec, j->n_parties);
}

static mpc_err stats_plan(void *st, uint64_t rows, mpc_pool_plan *out, int *upper) {
	stats_state *s = st;
	const mpc_job *j = s->job;
	(void)rows;
	*out = (mpc_pool_plan){0};
	*upper = !s->a.legacy;
	if (!s->a.legacy && check_spec(s) != MPC_OK) {
		char why[400];
		snprintf(why, sizeof(why), "%s", mpc_error_detail());
		return mpc_error(MPC_ECONFIG, "%s: [%s]: %s", j->path, j->computation, why);
	}
	return mpc_plan_simulate(j->n_parties,
	                         s->a.legacy       ? sim_legacy
	                         : j->n_inputs > 0 ? sim_contribs
	                                           : sim_agg,
	                         s, out);
}

/* ---- input ---- */

/* The section against the job's parties: the legacy preset's bounds, or
 * mpc_agg's spec (named at the statistics line). */
static mpc_err check_section(stats_state *s) {
	const mpc_job *j = s->job;
	mpc_err err;
	if (s->a.legacy && j->n_inputs > 0)
		return mpc_error(MPC_ECONFIG,
		                 "%s: [%s]: a job with input parties names its statistics (for "
		                 "instance statistics = count, sum, mean, variance, stddev, "
		                 "fraud_rate)",
		                 j->path, j->computation);
	if (s->a.legacy) {
		mpc_stats_params_default(&s->sp);
		s->sp.frac = j->frac_bits;
		s->sp.max_amount = s->a.max_amount;
		s->sp.max_rows = s->a.max_rows;
		return mpc_stats_check_params(&s->sp, j->n_parties);
	}
	if ((err = check_spec(s)) == MPC_OK)
		return MPC_OK;
	const mpc_job_param *sp = mpc_kind_param(j, "statistics");
	char why[400];
	snprintf(why, sizeof(why), "%s", mpc_error_detail());
	if (sp)
		return mpc_error(MPC_ECONFIG, "%s:%d: [%s] statistics: %s", j->path, sp->line,
		                 j->computation, why);
	return mpc_error(MPC_ECONFIG, "%s: [%s]: %s", j->path, j->computation, why);
}

/* Print the budget split of a DP job, before anything is sent. */
static void print_dp_plan(const mpc_agg_spec *s) {
	mpc_agg_dp_plan plan;
	if (s->dp == 0 || mpc_agg_dp_plan_make(s, &plan) != MPC_OK)
		return;
	const char *sel = s->select ? " (one of them the selection of a group)" : "";
	if (s->dp == MPC_DP_GAUSSIAN)
		printf("differential privacy: discrete Gaussian noise made jointly under MPC, "
		       "(epsilon %g, delta %g) split over %zu released aggregates%s (zCDP):\n",
		       s->dp_epsilon, s->dp_delta, plan.n, sel);
	else
		printf("differential privacy: discrete Laplace noise made jointly under MPC, "
		       "epsilon %g split over %zu released aggregates%s:\n",
		       s->dp_epsilon, plan.n, sel);
	for (size_t i = 0; i < plan.n; i++)
		printf("  %s\n", plan.item[i].line);
	fflush(stdout);
}

/* This party's transactions, checked against the bounds: all input is read
 * and checked before the first byte moves. */
/* The rows of a PostgreSQL dataset: the node's file of three lines (the
 * dataset's name, the conninfo, the query), wiped once read. */
static mpc_err read_pg(stats_state *s, const char *file, char *name, size_t cap) {
	char *text = NULL, *line[3] = {0};
	size_t len = 0;
	mpc_err err = mpc_file_read_all(file, 16384, &text, &len);
	if (err != MPC_OK)
		return err;
	char *p = text;
	for (int i = 0; i < 3 && p; i++) {
		line[i] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
	}
	if (line[2] == NULL || strncmp(line[0], "dataset ", 8) != 0)
		err = mpc_error(MPC_ECONFIG,
		                "--input-pg %s: expected three lines (dataset NAME, "
		                "conninfo, query)",
		                file);
	else
		snprintf(name, cap, "%s", line[0]);
	if (err == MPC_OK)
		err = mpc_txns_read_pg(name, line[1], line[2], NULL, s->a.max_amount, &s->t);
	mpc_wipe_free(text, len);
	return err;
}

static mpc_err read_rows(stats_state *s, const char *path, const char *pg, int *bad_input) {
	const mpc_agg_spec *spec = &s->a.spec;
	char name[80];
	mpc_err err =
	    pg ? read_pg(s, pg, name, sizeof(name)) : mpc_txns_read(path, s->a.max_amount, &s->t);
	if (err != MPC_OK) {
		*bad_input = err != MPC_ENOMEM && err != MPC_ECONFIG;
		return err;
	}
	if (pg)
		path = name;
	if (s->a.legacy) {
		mpc_stats_rows rows;
		mpc_stats_rows_from_txns(&s->t, &rows);
		err = mpc_stats_check_input(&s->sp, &rows, path);
		*bad_input = err != MPC_OK && err != MPC_ENOMEM;
		return err;
	}
	if ((s->fraud = calloc(s->t.n + 1, sizeof(double))) == NULL ||
	    (s->group = calloc(s->t.n + 1, sizeof(uint32_t))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_agg_rows_from_txns(&s->t, s->a.groups, spec->n_groups, s->fraud, s->group, &s->rows);
	if ((err = mpc_agg_check_rows(spec, &s->rows, path)) != MPC_OK)
		*bad_input = 1;
	return err;
}

static mpc_err stats_load_input(void *st, const mpc_kind_io *io, mpc_kind_summary *sum,
                                int *bad_input) {
	stats_state *s = st;
	mpc_err err;

	if ((err = check_section(s)) != MPC_OK)
		return err;
	if (s->job->n_inputs > 0 && !io->is_dealer && (io->input || io->input_pg))
		return mpc_error(
		    MPC_ECONFIG,
		    "job %s takes its rows from its input parties: a compute party has "
		    "no --input (submit them with `mpc-party submit` as an [input NAME])",
		    s->job->id);
	if (io->is_dealer || s->job->n_inputs > 0 ||
	    (io->dry && io->input == NULL && io->input_pg == NULL))
		return MPC_OK;
	if (io->input == NULL && io->input_pg == NULL)
		return mpc_error(MPC_ECONFIG, "--input FILE.csv is required for %s",
		                 s->job->computation);
	if ((err = read_rows(s, io->input, io->input_pg, bad_input)) != MPC_OK)
		return err;
	mpc_info("read %zu transactions from %s", s->t.n,
	         io->input_pg ? "the PostgreSQL dataset" : io->input);
	sum->input_read = 1;
	sum->rows = s->t.n;
	if (!io->dry && !s->a.legacy)
		print_dp_plan(&s->a.spec);
	return MPC_OK;
}

/* ---- run, write ---- */

static mpc_err stats_prepare(void *st, const mpc_kind_io *io) {
	stats_state *s = st;
	int upper;
	if (io->is_dealer)
		return MPC_OK;
	return stats_plan(s, 0, &s->plan, &upper);
}

static mpc_err stats_run(void *st, mpc_kind_session *ks) {
	stats_state *s = st;
	mpc_party *p = NULL;
	mpc_stats_rows rows;
	mpc_err err;

	if (ks->io->is_dealer)
		return ks->start(ks, NULL, &p);
	if ((err = ks->start(ks, &s->plan, &p)) != MPC_OK)
		return err;
	if (s->a.legacy) {
		mpc_stats_rows_from_txns(&s->t, &rows);
		return mpc_stats_run(p, &s->sp, &rows, &s->res);
	}
	const mpc_kind_contribs *kc = ks->io->contribs;
	if (kc)
		err = mpc_agg_run_contribs(p, &s->a.spec, kc->shares, kc->m, &s->ares);
	else
		err = mpc_agg_run(p, &s->a.spec, &s->rows, &s->ares);
	if (err == MPC_OK) {
		s->have_ares = 1;
		s->contributors = kc ? kc->m : 0;
	}
	return err;
}

/* ---- input parties ---- */

static mpc_err stats_contrib_len(void *st, mpc_ring *ring, size_t *n) {
	stats_state *s = st;
	*ring = MPC_Z128;
	*n = mpc_agg_contrib_len(&s->a.spec);
	return MPC_OK;
}

/* An input party's local aggregates of its --input (read and checked like a
 * compute party's rows). */
static mpc_err stats_contribute(void *st, const mpc_kind_io *io, void **vec, size_t *n,
                                int *bad_input) {
	stats_state *s = st;
	size_t len = mpc_agg_contrib_len(&s->a.spec);
	mpc_u128 *v;
	mpc_err err;
	*vec = NULL;
	*n = 0;
	if ((err = check_section(s)) != MPC_OK ||
	    (err = read_rows(s, io->input, NULL, bad_input)) != MPC_OK)
		return err;
	mpc_info("read %zu transactions from %s", s->t.n, io->input);
	if ((v = calloc(len + 1, 16)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = mpc_agg_contrib(&s->a.spec, &s->rows, io->input, v)) != MPC_OK) {
		*bad_input = err == MPC_ERANGE;
		mpc_wipe_free(v, (len + 1) * 16);
		return err;
	}
	*vec = v;
	*n = len;
	return MPC_OK;
}

static void print_cohort(const mpc_agg_spec *s, const char *name, const mpc_agg_stats *st) {
	const char *field;
	unsigned bit;
	double v;
	if (st->suppressed) {
		printf("  %-12s suppressed (fewer than %llu rows)\n", name,
		       (unsigned long long)(s->min_cohort > 1 ? s->min_cohort : 1));
		return;
	}
	printf("  %-12s", name);
	/* a job file cannot ask for cov or corr (no second column) */
	for (size_t i = 0; (field = mpc_agg_stat_field(i, st, &bit, &v)) != NULL; i++)
		if (s->stats & bit)
			printf(" %s %.6g", field, v);
	if (s->stats & MPC_AGG_QUANT)
		for (size_t q = 0; q < s->n_quant; q++)
			printf(" q%g %.6g", s->quant[q], st->quant[q]);
	if (s->stats & MPC_AGG_HIST) {
		printf(" histogram");
		for (size_t h = 0; h <= s->n_edges; h++)
			printf("%s%.0f", h ? "/" : " ", st->hist[h]);
	}
	printf("\n");
}

static mpc_err stats_write(void *st, const mpc_kind_io *io) {
	stats_state *s = st;
	const mpc_job *j = s->job;
	if (!s->a.legacy) {
		const char *dp = s->a.spec.dp ? ", with differential privacy" : "";
		if (!io->quiet && s->contributors)
			printf("job %s: joint statistics over %zu input parties' rows (%s)%s\n",
			       j->id, s->contributors, io->party, dp);
		else if (!io->quiet)
			printf("job %s: joint statistics over %d parties (%s)%s\n", j->id,
			       j->n_parties, io->party, dp);
		for (size_t g = 0; !io->quiet && g <= s->ares.n_groups; g++)
			print_cohort(&s->a.spec, g ? s->a.groups[g - 1] : "all",
			             g ? &s->ares.group[g - 1] : &s->ares.all);
		if (!io->quiet && s->ares.selected >= 0)
			printf("  %-12s %s: the highest %s, drawn by the exponential mechanism "
			       "(epsilon %.6g; no score was opened)\n",
			       "selected", s->a.groups[s->ares.selected],
			       mpc_agg_select_name(s->a.spec.select), s->ares.dp.select_epsilon);
		if (io->output)
			return mpc_agg_write(io->output, io->json, &s->a.spec, s->a.groups,
			                     &s->ares);
		return MPC_OK;
	}
	printf("job %s: joint statistics over %d parties (%s)\n", j->id, j->n_parties, io->party);
	for (int i = 0; i < MPC_STATS_N; i++)
		printf("  %-11s %.6f\n", mpc_stats_names[i], s->res.v[i]);
	if (io->output)
		return mpc_stats_write(io->output, io->json, &s->res);
	return MPC_OK;
}

/* The whole run's budget: the job's epsilon (and delta for the Gaussian),
 * split over the released aggregates inside (print_dp_plan); 0 and 0 for
 * exact statistics. */
static mpc_err stats_privacy(void *st, double *epsilon, double *delta) {
	const stats_state *s = st;
	*epsilon = s->a.spec.dp ? s->a.spec.dp_epsilon : 0;
	*delta = s->a.spec.dp == MPC_DP_GAUSSIAN ? s->a.spec.dp_delta : 0;
	return MPC_OK;
}

const mpc_kind mpc_kind_stats = {
    .name = "aggregate_stats",
    .doing = "computing",
    .flags = 0,
    .parse = stats_parse,
    .plan = stats_plan,
    .input_rows = NULL,
    .load_input = stats_load_input,
    .prepare = stats_prepare,
    .run = stats_run,
    .write = stats_write,
    .free = stats_free,
    .privacy = stats_privacy,
    .serve = NULL,
    .contrib_len = stats_contrib_len,
    .contribute = stats_contribute,
};
