/* bench_mpc: online multiplication, dot product, fixed-point multiplication,
 * comparison and sigmoid, the dealer's triple rate, and the making of
 * material by OT and Paillier, on real processes over loopback tcp. For the
 * dealer's rows, bytes are what the dealer sends (to the last party). Prints
 * one table and writes JSON lines (op, ring, parties, batch, seconds,
 * ops_per_s, bytes_sent_per_party, rounds, peak_rss_mib).
 *
 * The comparison and sigmoid rows go through the prefetch pool
 * (protocols/preproc/mpc_pool.h): a first run over the dealer records what one batch
 * consumes (the plan); the online row fills a pool with the plan from the
 * dealer before the clock starts and times the function alone (no
 * preprocessing traffic may happen: a miss is an error); the material row
 * times filling a pool with the same plan by OT.
 *
 * mul_open_a2a and mul_open_king: online multiplication at N = 2, 3, 5 and 8
 * with the opening forced (mpc_party_set_open_rule) to all-to-all or to the
 * rotating king; the plain mul rows take mpc_open's AUTO rule.
 *
 * The merchant applications (bench_app, 3 parties, no dealer, best of runs):
 * statistics over 10^6 rows and the median of 10^5 (mpc_agg), logistic
 * regression scoring of 10^4 transactions x 32 features (mpc_score, OT
 * cross-product mode) end to end and online, and the latency of one scoring
 * request with its material in stock. End to end includes the OT set-up and
 * all preprocessing; see the comment at the top of bench_apps.c for the rest.
 *
 * This file: the options, the table and its JSON lines, and the order of
 * the rows; the rows themselves are bench_ops.c (primitives) and
 * bench_apps.c (applications), behind bench/bench.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench/bench.h"
#include "circuits/mpc_bristol.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"

const char *const bench_op_names[] = {"mul",
                                      "mul_open_a2a",
                                      "mul_open_king",
                                      "dot",
                                      "fixmul",
                                      "dealer_triples",
                                      "ot_triples",
                                      "ot_bit_triples",
                                      "ot_trunc_pairs",
                                      "paillier_triples",
                                      "aes128_blocks",
                                      "cmp_ltz",
                                      "ot_cmp_ltz_material",
                                      "sigmoid",
                                      "ot_sigmoid_material",
                                      "agg_stats_e2e",
                                      "agg_median_e2e",
                                      "score_logreg_e2e",
                                      "score_logreg_online",
                                      "score_latency",
                                      "score_online_beaver"};

static FILE *json;
static const char *only; /* --only: ops whose name contains one of these (comma-separated) */

int bench_selected(op_kind op) {
	char buf[256];
	if (only == NULL)
		return 1;
	snprintf(buf, sizeof(buf), "%s", only);
	for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
		if (strstr(bench_op_names[op], w) != NULL)
			return 1;
	return 0;
}

void bench_print_row(op_kind op, int tls, mpc_ring r, int parties, size_t batch, double best,
                     uint64_t bytes, uint64_t rounds, double peak) {
	double ops = (double)batch / best;
	double per = (double)bytes / (double)batch;
	printf("%-20s %-5s Z_2^%-4u %7d %10zu %9.4f %14.0f %12.1f %7llu %9.0f\n",
	       bench_op_names[op], tls ? "tls" : "plain", mpc_ring_bits(r), parties, batch, best,
	       ops, per, (unsigned long long)rounds, peak);
	fflush(stdout);
	if (json)
		fprintf(json,
		        "{\"op\":\"%s\",\"transport\":\"%s\",\"ring\":%u,\"parties\":%d,\"batch\":%"
		        "zu,\"seconds\":%.6f,"
		        "\"ops_per_s\":%.0f,\"bytes_sent_per_party\":%llu,\"bytes_per_op\":%.2f,"
		        "\"rounds\":%llu,\"peak_rss_mib\":%.0f}\n",
		        bench_op_names[op], tls ? "tls" : "plaintext", mpc_ring_bits(r), parties,
		        batch, best, ops, (unsigned long long)bytes, per,
		        (unsigned long long)rounds, peak);
}

static void machine(void) {
	struct utsname u;
	char line[256], model[256] = "unknown";
	FILE *fp = fopen("/proc/cpuinfo", "r");
	while (fp && fgets(line, sizeof(line), fp))
		if (strncmp(line, "model name", 10) == 0) {
			char *c = strchr(line, ':');
			snprintf(model, sizeof(model), "%s", c ? c + 2 : line);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (fp)
		fclose(fp);
	uname(&u);
	printf("machine: %s, %ld cores, %s %s\n", model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
	       u.release);
	if (json)
		fprintf(json, "{\"machine\":\"%s\",\"cores\":%ld,\"kernel\":\"%s %s\"}\n", model,
		        sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release);
}

int main(int argc, char **argv) {
	int quick = 0, fail = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
			if ((json = fopen(argv[++i], "w")) == NULL) {
				perror(argv[i]);
				return 1;
			}
		} else if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr,
			        "usage: bench_mpc [--json FILE] [--quick] [--only OP[,OP...]]\n"
			        "  --only: the rows whose op name contains one of the words, e.g.\n"
			        "          --only cmp,sigmoid,aes (op names: see the table)\n");
			return 1;
		}
	}
	size_t big = quick ? 100000 : 1000000;
	int reps = quick ? 1 : 3;
	machine();
	printf("online phase unless noted; loopback tcp; dealer preprocessing; best of %d\n", reps);
	printf("%-20s %-5s %-9s %7s %10s %9s %14s %12s %7s %9s\n", "op", "link", "ring", "parties",
	       "batch", "seconds", "ops/s", "bytes/op/pty", "rounds", "peak MiB");
	static const mpc_ring rings[2] = {MPC_Z64, MPC_Z128};
	/* the rows compared with TLS take the best of 5: the comparison is what
	 * they are for */
	int reps5 = quick ? 1 : 5;
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |= bench_op(OP_MUL, rings[k], pr, big, pr == 3 ? reps5 : reps, 0);
	/* the two openings by N: 2(N-1)/N against N-1 elements per opened
	 * element, one round more; 10^6 products: N = 8 runs in seconds on 2 cores */
	static const int opens_np[4] = {2, 3, 5, 8};
	for (int k = 0; k < 4; k++) {
		fail |= bench_op(OP_MUL_A2A, MPC_Z64, opens_np[k], big, reps, 0);
		fail |= bench_op(OP_MUL_KING, MPC_Z64, opens_np[k], big, reps, 0);
	}
	/* the cost of TLS 1.3 on every link */
	fail |= bench_op(OP_MUL, MPC_Z64, 3, big, reps5, 1);
	fail |= bench_op(OP_MUL, MPC_Z128, 3, big, reps5, 1);
	fail |= bench_op(OP_DOT, MPC_Z64, 3, big, reps, 0);
	fail |= bench_op(OP_FIXMUL, MPC_Z128, 3, big, reps, 0);
	fail |= bench_op(OP_TRIPLES, MPC_Z64, 3, big, reps, 0);
	fail |= bench_op(OP_TRIPLES, MPC_Z128, 3, big, reps, 0);
	/* dealer-free preprocessing: triples per second and bytes per triple */
	size_t pre = quick ? 20000 : 200000;
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |= bench_op(OP_OT_TRIPLES, rings[k], pr, pre, reps, 0);
	fail |= bench_op(OP_OT_TRIPLES, MPC_Z64, 3, pre, reps, 1); /* the cost of TLS */
	fail |= bench_op(OP_OT_BIT_TRIPLES, MPC_Z64, 3, 64 * pre, reps, 0);
	fail |= bench_op(OP_OT_TRUNC, MPC_Z64, 3, pre / 4, reps, 0);
	fail |= bench_op(OP_OT_TRUNC, MPC_Z128, 3, pre / 8, reps, 0);
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |=
			    bench_op(OP_PAILLIER_TRIPLES, rings[k], pr, quick ? 500 : 2000, 1, 0);
	/* AES-128 under MPC (Bristol circuit from ../shared), bit triples included */
	if (mpc_bristol_load("../shared/circuits/bristol/aes_128.txt", &bench_aes_circuit) ==
	    MPC_OK) {
		fail |= bench_op(OP_AES, MPC_Z64, 3, 1000, reps, 0);
		mpc_bristol_free(bench_aes_circuit);
	} else {
		printf("aes128_blocks: skipped (%s)\n", mpc_error_detail());
	}
	/* comparisons (batch 10^5) and sigmoid (10^4, F = 16) with their
	 * material in stock, and the making of that material by OT */
	fail |= bench_op(OP_CMP, MPC_Z64, 3, 100000, reps, 0);
	fail |= bench_op(OP_OT_CMP, MPC_Z64, 3, 100000, reps, 0);
	fail |= bench_op(OP_SIGMOID, MPC_Z128, 3, 10000, reps, 0);
	fail |= bench_op(OP_OT_SIGMOID, MPC_Z128, 3, 10000, reps, 0);
	/* the merchant applications: end to end with the OT set-up and every
	 * piece of OT preprocessing inside the time, unless "online" */
	int apps = 0;
	for (op_kind op = OP_AGG_STATS; op <= OP_SCORE_BEAVER; op++)
		apps |= bench_selected(op);
	if (apps)
		printf("merchant applications: *_e2e include the OT set-up and "
		       "all OT preprocessing; online rows have their material in stock\n");
	fail |= bench_app(OP_AGG_STATS, reps);
	fail |= bench_app(OP_AGG_MEDIAN, reps);
	/* score_logreg_e2e and score_logreg_online; each run also fills the pool
	 * by OT between the two (about 6 s), so at most 2 runs */
	fail |= bench_app(OP_SCORE, reps < 2 ? reps : 2);
	fail |= bench_app(OP_SCORE_LATENCY, reps);
	fail |= bench_app(OP_SCORE_BEAVER, reps); /* online with every triple in stock */
	if (!quick)
		fail |= bench_op(OP_MUL, MPC_Z64, 3, 10 * big, 1, 0);
	if (json)
		fclose(json);
	return fail ? 1 : 0;
}
