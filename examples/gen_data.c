/* gen_data: synthetic merchant transactions for the examples. Writes
 * DIR/merchant0.csv ... (and DIR/holdout.csv with --holdout) with columns
 *   amount,fraud,category,txn_id,card_id,hour,f0,...,f(F-1)
 * (holdout.csv adds merchant). The fraud label follows one hidden logistic
 * pattern over the features, the amount, the category and the hour; the
 * merchants differ in their customers. The model is in jobs/mpc_synth.h.
 * Deterministic for a given --seed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/mpc_synth.h"

static void usage(FILE *out) {
	fprintf(out,
	        "usage: gen_data [--merchants N] [--rows R] [--seed S] [--out DIR] [--features F]\n"
	        "                [--holdout H] [--overlap P] [--cards C] [--verbose]\n"
	        "writes DIR/merchant0.csv ... with columns\n"
	        "  amount,fraud,category,txn_id,card_id,hour,f0,...,f<F-1>\n"
	        "  --merchants N  files to write, 1..%d (default 3)\n"
	        "  --rows R       rows per merchant, plus 0..20%% more each (default 1000)\n"
	        "  --seed S       everything follows from it (default 1)\n"
	        "  --out DIR      where (default examples/data; made if missing)\n"
	        "  --features F   numeric feature columns, 0..%d (default 8; above %d the files\n"
	        "                 have more than the 64 columns aggregate_stats reads)\n"
	        "  --holdout H    also DIR/holdout.csv: H rows of the whole network's customers,\n"
	        "                 with a merchant column saying whose (default 0: none)\n"
	        "  --overlap P    a share P of R rows are the same transactions in every file\n"
	        "                 (same txn_id and record: a join key; default 0)\n"
	        "  --cards C      card ids come from a pool of C cards shared by all merchants\n"
	        "                 (default N*R/4)\n"
	        "  --verbose      a line per file (rows, fraud rate)\n",
	        MPC_SYNTH_MAX_MERCHANTS, MPC_SYNTH_MAX_FEATURES, MPC_SYNTH_CSV_FEATURES_OK);
}

static int num(const char *opt, const char *v, double lo, double hi, double *out) {
	char *end;
	double x = strtod(v, &end);
	if (end == v || *end != '\0' || !(x >= lo && x <= hi)) {
		fprintf(stderr, "gen_data: %s: expected a number in [%g, %g]\n", opt, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

int main(int argc, char **argv) {
	mpc_synth_params sp;
	const char *dir = "examples/data";
	double x;

	mpc_synth_params_default(&sp);
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(o, "--verbose") == 0) {
			sp.log = stdout;
			continue;
		}
		if (v == NULL) {
			usage(stderr);
			return 1;
		}
		i++;
		if (strcmp(o, "--out") == 0) {
			dir = v;
			continue;
		}
		if (strcmp(o, "--seed") == 0) {
			char *end;
			errno = 0;
			sp.seed = strtoull(v, &end, 10);
			if (end == v || *end != '\0' || errno != 0) {
				fprintf(stderr, "gen_data: --seed: expected a whole number\n");
				return 1;
			}
			continue;
		}
		if (strcmp(o, "--merchants") == 0 && num(o, v, 1, MPC_SYNTH_MAX_MERCHANTS, &x) == 0)
			sp.merchants = (int)x;
		else if (strcmp(o, "--rows") == 0 && num(o, v, 0, 1e9, &x) == 0)
			sp.rows = (long)x;
		else if (strcmp(o, "--features") == 0 &&
		         num(o, v, 0, MPC_SYNTH_MAX_FEATURES, &x) == 0)
			sp.features = (int)x;
		else if (strcmp(o, "--holdout") == 0 && num(o, v, 0, 1e9, &x) == 0)
			sp.holdout = (long)x;
		else if (strcmp(o, "--overlap") == 0 && num(o, v, 0, 1, &x) == 0)
			sp.overlap = x;
		else if (strcmp(o, "--cards") == 0 && num(o, v, 1, 1e12, &x) == 0)
			sp.cards = (long)x;
		else {
			if (strcmp(o, "--merchants") && strcmp(o, "--rows") &&
			    strcmp(o, "--features") && strcmp(o, "--holdout") &&
			    strcmp(o, "--overlap") && strcmp(o, "--cards"))
				usage(stderr);
			return 1;
		}
	}
	if (sp.features > MPC_SYNTH_CSV_FEATURES_OK)
		fprintf(stderr,
		        "gen_data: note: with %d features the files have more than 64 "
		        "columns, which aggregate_stats and mpc-party do not read\n",
		        sp.features);
	if (mpc_synth_write(&sp, dir) != MPC_OK) {
		fprintf(stderr, "gen_data: %s\n", mpc_error_detail());
		return 1;
	}
	return 0;
}
