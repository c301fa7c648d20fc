/* Statistics results and transaction files: rows from a transaction file
 * for mpc_agg_run, and its results written as CSV or JSON (jobs/mpc_agg_io.h). */
#include "jobs/mpc_agg_io.h"
#include "runtime/mpc_file.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mpc_agg_rows_from_txns(const mpc_txns *t, const char *const *names, size_t n_names,
                            double *fraud, uint32_t *group, mpc_agg_rows *out) {
	memset(out, 0, sizeof(*out));
	out->n = t->n;
	out->n_cols = 2;
	out->col[0] = t->amount;
	out->col[1] = fraud;
	out->group = group;
	uint32_t *map = t->n_cats ? malloc(t->n_cats * sizeof(uint32_t)) : NULL;
	for (size_t c = 0; map && c < t->n_cats; c++) {
		map[c] = MPC_AGG_NO_GROUP;
		for (size_t g = 0; g < n_names; g++)
			if (strcmp(t->cats[c], names[g]) == 0) {
				map[c] = (uint32_t)g;
				break;
			}
	}
	for (size_t i = 0; i < t->n; i++) {
		fraud[i] = t->fraud[i];
		uint32_t c = t->category[i];
		if (map)
			group[i] = c < t->n_cats ? map[c] : MPC_AGG_NO_GROUP;
		else /* out of memory: linear search per row */
			for (size_t g = 0, done = 0; !done; g++)
				if (g == n_names ||
				    (c < t->n_cats && strcmp(t->cats[c], names[g]) == 0)) {
					group[i] = g == n_names ? MPC_AGG_NO_GROUP : (uint32_t)g;
					done = 1;
				}
	}
	free(map);
}

/* A growing text buffer for mpc_agg_write. */
typedef struct {
	char *b;
	size_t len, cap;
	int failed;
} sbuf;

static void MPC_PRINTF(2, 3) sb_printf(sbuf *sb, const char *fmt, ...) {
	va_list ap;
	for (;;) {
		if (sb->failed)
			return;
		va_start(ap, fmt);
		int k = vsnprintf(sb->b ? sb->b + sb->len : NULL, sb->b ? sb->cap - sb->len : 0,
		                  fmt, ap);
		va_end(ap);
		if (k < 0) {
			sb->failed = 1;
			return;
		}
		if (sb->b && sb->len + (size_t)k < sb->cap) {
			sb->len += (size_t)k;
			return;
		}
		size_t cap = (sb->cap ? sb->cap * 2 : 4096) + (size_t)k;
		char *nb = realloc(sb->b, cap);
		if (!nb) {
			sb->failed = 1;
			return;
		}
		sb->b = nb;
		sb->cap = cap;
	}
}

/* JSON has no NaN: null. */
static void put_num(sbuf *sb, int json, double v) {
	if (isnan(v))
		sb_printf(sb, json ? "null" : "nan");
	else
		sb_printf(sb, "%.17g", v);
}

static void put_cohort(sbuf *sb, int json, const mpc_agg_spec *s, const char *name,
                       const mpc_agg_stats *st, int first) {
	const char *status = st->suppressed ? "suppressed" : "ok";
	if (json)
		sb_printf(sb, "%s\"%s\": {\"status\": \"%s\"", first ? "" : ", ", name, status);
	else
		sb_printf(sb, "%s,status,%s\n", name, status);
	if (st->suppressed) {
		if (json)
			sb_printf(sb, "}");
		return;
	}
	const char *field;
	unsigned bit;
	double val;
	for (size_t i = 0; (field = mpc_agg_stat_field(i, st, &bit, &val)) != NULL; i++) {
		if (!(s->stats & bit))
			continue;
		sb_printf(sb, json ? ", \"%s\": " : "%s,%s,", json ? field : name,
		          json ? "" : field);
		put_num(sb, json, val);
		if (!json)
			sb_printf(sb, "\n");
	}
	if (s->stats & MPC_AGG_HIST) {
		if (json)
			sb_printf(sb, ", \"histogram\": [");
		for (size_t h = 0; h <= s->n_edges; h++) {
			if (!json)
				sb_printf(sb, "%s,bucket_%zu,", name, h);
			else if (h)
				sb_printf(sb, ", ");
			put_num(sb, json, st->hist[h]);
			if (!json)
				sb_printf(sb, "\n");
		}
		if (json)
			sb_printf(sb, "]");
	}
	if (s->stats & MPC_AGG_QUANT) {
		if (json)
			sb_printf(sb, ", \"quantiles\": {");
		/* the midpoint, then the lower and upper quantiles it came from */
		for (int k = 0; k < (s->quant_lower ? 1 : 3); k++)
			for (size_t q = 0; q < s->n_quant; q++) {
				static const char *const pre[3] = {"", "lo_", "hi_"};
				const double *v = k == 0   ? st->quant
				                  : k == 1 ? st->quant_lo
				                           : st->quant_hi;
				if (json)
					sb_printf(sb, "%s\"%s%.17g\": ", k || q ? ", " : "", pre[k],
					          s->quant[q]);
				else
					sb_printf(sb, "%s,quantile_%s%.17g,", name, pre[k],
					          s->quant[q]);
				put_num(sb, json, v[q]);
				if (!json)
					sb_printf(sb, "\n");
			}
		if (json)
			sb_printf(sb, "}");
	}
	if (json)
		sb_printf(sb, "}");
}

/* The selection (spec.select): the group chosen and the epsilon spent on
 * it (Gaussian: also its share of rho). */
static void put_select(sbuf *sb, int json, const mpc_agg_spec *s, const char *const *group_names,
                       const mpc_agg_result *r) {
	const char *stat = mpc_agg_select_name(s->select);
	char gname[32];
	if (!stat || r->selected < 0 || (size_t)r->selected >= r->n_groups)
		return;
	const char *name = group_names ? group_names[r->selected] : NULL;
	if (!name) {
		snprintf(gname, sizeof(gname), "group%d", r->selected);
		name = gname;
	}
	double rho = 0;
	for (size_t i = 0; i < r->dp.n; i++)
		if (mpc_agg_dp_item_is_select(&r->dp.item[i]))
			rho = r->dp.item[i].alloc.rho;
	if (json) {
		sb_printf(sb,
		          ", \"select\": {\"statistic\": \"%s\", \"group\": \"%s\", "
		          "\"epsilon\": %.17g",
		          stat, name, r->dp.select_epsilon);
		if (rho > 0)
			sb_printf(sb, ", \"rho\": %.17g", rho);
		sb_printf(sb, "}");
		return;
	}
	sb_printf(sb, "dp,select_max_%s,%s\ndp,select_epsilon,%.17g\n", stat, name,
	          r->dp.select_epsilon);
	if (rho > 0)
		sb_printf(sb, "dp,select_rho,%.17g\n", rho);
}

mpc_err mpc_agg_write(const char *path, int json, const mpc_agg_spec *s,
                      const char *const *group_names, const mpc_agg_result *r) {
	sbuf sb = {0};
	char gname[32];
	mpc_err err;
	sb_printf(&sb, json ? "{" : "cohort,statistic,value\n");
	put_cohort(&sb, json, s, "all", &r->all, 1);
	if (r->n_groups && json)
		sb_printf(&sb, ", \"groups\": {");
	for (size_t g = 0; g < r->n_groups; g++) {
		const char *name = group_names ? group_names[g] : NULL;
		if (!name) {
			snprintf(gname, sizeof(gname), "group%zu", g);
			name = gname;
		}
		put_cohort(&sb, json, s, name, &r->group[g], g == 0);
	}
	if (r->n_groups && json)
		sb_printf(&sb, "}");
	if (r->dp.n) {
		/* what the noise was: public (the budget split every party printed) */
		const mpc_dp_alloc *a0 = &r->dp.item[0].alloc;
		const char *mech = a0->mech == MPC_DP_GAUSSIAN ? "gaussian" : "laplace";
		double eps = s->dp_epsilon; /* the whole budget (the Gaussian's shares of rho add
		                               up to it, not their epsilons) */
		if (json)
			sb_printf(&sb,
			          ", \"dp\": {\"mechanism\": \"%s\", \"epsilon\": %.17g, "
			          "\"delta\": %.17g, \"noise_stddev\": {",
			          mech, eps, a0->delta);
		else
			sb_printf(&sb, "dp,mechanism,%s\ndp,epsilon,%.17g\ndp,delta,%.17g\n", mech,
			          eps, a0->delta);
		for (size_t i = 0; i < r->dp.n; i++) {
			const mpc_agg_dp_item *it = &r->dp.item[i];
			if (mpc_agg_dp_item_is_select(it))
				continue; /* no noise: put_select */
			if (json)
				sb_printf(&sb, "%s\"%s_%s\": %.17g", i ? ", " : "",
				          mpc_agg_dp_kind_name(it->kind),
				          it->groups ? "groups" : "all", it->stddev);
			else
				sb_printf(&sb, "dp,noise_stddev_%s_%s,%.17g\n",
				          mpc_agg_dp_kind_name(it->kind),
				          it->groups ? "groups" : "all", it->stddev);
		}
		if (json)
			sb_printf(&sb, "}");
		put_select(&sb, json, s, group_names, r);
		if (json)
			sb_printf(&sb, "}");
	}
	if (json)
		sb_printf(&sb, "}\n");
	if (sb.failed)
		err = mpc_error(MPC_ENOMEM, "statistics: out of memory writing %s", path);
	else
		err = mpc_file_write_atomic(path, sb.b, sb.len, 0644);
	free(sb.b);
	return err;
}

void mpc_stats_rows_from_txns(const mpc_txns *t, mpc_stats_rows *out) {
	out->n = t->n;
	out->amount = t->amount;
	out->fraud = t->fraud;
}

mpc_err mpc_stats_write(const char *path, int json, const mpc_stats_result *r) {
	char buf[1024];
	size_t len = 0;
	len += (size_t)snprintf(buf, sizeof(buf), json ? "{" : "statistic,value\n");
	for (int i = 0; i < MPC_STATS_N; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		                        json ? "%s\"%s\": %.17g" : "%s%s,%.17g\n",
		                        json && i ? ", " : "", mpc_stats_names[i], r->v[i]);
	if (json)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "}\n");
	return mpc_file_write_atomic(path, buf, len, 0644);
}
