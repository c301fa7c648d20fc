/* bench_mpc: online multiplication, dot product, fixed-point multiplication
 * and the dealer's triple rate, on real processes over loopback tcp. For the
 * dealer's rows, bytes are what the dealer sends (to the last party). Prints
 * one table and writes JSON lines (op, ring, parties, batch, seconds,
 * ops_per_s, bytes_sent_per_party, rounds, peak_rss_mib). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "protocols/mpc_beaver.h"
#include "protocols/mpc_bool.h"
#include "protocols/mpc_local.h"
#include "protocols/mpc_share.h"

typedef enum {
	OP_MUL,
	OP_DOT,
	OP_FIXMUL,
	OP_TRIPLES,
	OP_OT_TRIPLES,
	OP_OT_BIT_TRIPLES,
	OP_OT_TRUNC,
	OP_PAILLIER_TRIPLES,
	OP_AES,
} op_kind;
static const char *const op_names[] = {"mul",        "dot",           "fixmul",
				       "dealer_triples", "ot_triples", "ot_bit_triples",
				       "ot_trunc_pairs", "paillier_triples", "aes128_blocks"};

/* Dealer-free preprocessing rows: the engine, or NULL. */
static const char *engine_of(op_kind op)
{
	return op == OP_PAILLIER_TRIPLES ? "paillier"
	       : op >= OP_OT_TRIPLES     ? "ot"
					 : NULL;
}

static struct {
	op_kind op;
	mpc_ring ring;
	size_t batch;
	int reps;
} cur;

/* What each party reports about the timed part. */
typedef struct {
	double seconds;
	uint64_t bytes, rounds;
	double peak_mib;
} measure;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The AES-128 circuit, when ../shared is there. */
static mpc_bristol *aes_circuit;

/* AES-128 on cur.batch blocks, one key (party 0) and the blocks (party 1),
 * bit triples from OT made inside the timed part. */
static mpc_err run_aes(mpc_party *p)
{
	size_t W = (cur.batch + 63) / 64;
	int owner[2] = {0, 1};
	uint64_t *key = calloc(128 * W, 8), *blk = calloc(128 * W, 8), *ct = calloc(128 * W, 8);
	const uint64_t *in[2] = {mpc_party_id(p) == 0 ? key : NULL, mpc_party_id(p) == 1 ? blk : NULL};
	uint64_t *out[1] = {ct};
	mpc_err err = key && blk && ct ? mpc_bool_run(p, aes_circuit, cur.batch, owner, in, out)
				       : mpc_error(MPC_ENOMEM, "out of memory");
	free(key);
	free(blk);
	free(ct);
	return err;
}

static mpc_err timed(mpc_party *p, void *arg)
{
	mpc_net *net = mpc_party_net(p);
	size_t n = cur.batch;
	mpc_vec x = {0}, y = {0}, z = {0};
	mpc_triples t = {0};
	mpc_truncpairs tp = {0};
	measure m = {0};
	mpc_err err;
	(void)arg;

	if ((err = mpc_vec_init(&x, cur.ring, n)) || (err = mpc_vec_init(&y, cur.ring, n)) ||
	    (err = mpc_vec_init(&z, cur.ring, cur.op == OP_DOT ? n / 1000 : n)))
		goto out;
	if ((err = mpc_party_prg_own(p, x.v, n * mpc_ring_bytes(cur.ring))) ||
	    (err = mpc_party_prg_own(p, y.v, n * mpc_ring_bytes(cur.ring))))
		goto out;
	if (cur.op >= OP_TRIPLES) {
		double t0 = now();
		uint64_t b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
		if (cur.op == OP_AES) {
			err = run_aes(p);
		} else if (cur.op == OP_OT_BIT_TRIPLES) {
			mpc_bit_triples bt;
			if ((err = mpc_bit_triples_get(p, (n + 63) / 64, &bt)) == MPC_OK)
				mpc_bit_triples_fini(&bt);
		} else if (cur.op == OP_OT_TRUNC) {
			err = mpc_truncpairs_get(p, cur.ring, 16, n, &tp);
		} else {
			err = mpc_triples_get(p, cur.ring, n, &t);
		}
		m.seconds = now() - t0;
		m.bytes = mpc_net_bytes_sent(net) - b0;
		m.rounds = mpc_net_rounds(net) - r0;
		goto report;
	}
	/* offline: the triples (and truncation pairs) the timed part consumes */
	if (cur.op != OP_DOT && (err = mpc_triples_get(p, cur.ring, n, &t)) != MPC_OK)
		goto out;
	if (cur.op == OP_FIXMUL && (err = mpc_truncpairs_get(p, cur.ring, 16, n, &tp)) != MPC_OK)
		goto out;
	/* line the parties up so that nobody's clock starts early */
	uint8_t b = 0, sink[16 * 64];
	if ((err = mpc_party_bcast(p, &b, sink, 1)) != MPC_OK)
		goto out;
	double t0 = now();
	uint64_t b0 = mpc_net_bytes_sent(net), r0 = mpc_net_rounds(net);
	switch (cur.op) {
	case OP_MUL:
		err = mpc_beaver_mul_with(p, cur.ring, &t, x.v, y.v, z.v, n);
		break;
	case OP_FIXMUL:
		err = mpc_fixed_mul_with(p, cur.ring, &t, &tp, x.v, y.v, z.v, n);
		break;
	default: /* dot products of length 1000, triples included (dealer) */
		err = mpc_beaver_dot(p, cur.ring, x.v, y.v, z.v, n / 1000, 1000);
		break;
	}
	m.seconds = now() - t0;
	m.bytes = mpc_net_bytes_sent(net) - b0;
	m.rounds = mpc_net_rounds(net) - r0;
report:
	if (err == MPC_OK) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		m.peak_mib = ru.ru_maxrss / 1024.0;
		err = mpc_local_emit(&m, sizeof(m));
	}
out:
	mpc_vec_fini(&x);
	mpc_vec_fini(&y);
	mpc_vec_fini(&z);
	mpc_triples_fini(&t);
	mpc_truncpairs_fini(&tp);
	return err;
}

static FILE *json;
static const char *only; /* --only: ops whose name contains this */

/* Run one configuration `reps` times; report the best time, and the worst
 * party's bytes and memory. */
static int bench(op_kind op, mpc_ring r, int parties, size_t batch, int reps, int tls)
{
	mpc_local_config cfg = {.n_parties = parties, .with_dealer = engine_of(op) == NULL,
				.gen = engine_of(op), .use_tcp = 1, .use_tls = tls,
				.timeout_ms = 60000, .watchdog_s = 600};
	int nodes = parties + cfg.with_dealer;
	if (only && strstr(op_names[op], only) == NULL)
		return 0;
	double best = 1e30, peak = 0;
	uint64_t bytes = 0, rounds = 0;
	cur.op = op;
	cur.ring = r;
	cur.batch = batch;
	for (int rep = 0; rep < reps; rep++) {
		mpc_local_result res[17];
		if (mpc_local_run(&cfg, timed, NULL, res) != MPC_OK) {
			fprintf(stderr, "bench: %s\n", mpc_error_detail());
			return -1;
		}
		double worst = 0;
		int ok = 1;
		for (int i = 0; i < parties; i++) {
			measure m;
			if (res[i].err != MPC_OK || res[i].out_len != sizeof(m)) {
				fprintf(stderr, "bench: party %d: %s: %s\n", i, mpc_strerror(res[i].err),
					res[i].detail);
				ok = 0;
				continue;
			}
			memcpy(&m, res[i].out, sizeof(m));
			/* the dealer's rate is what the party receiving corrections sees */
			if (op == OP_TRIPLES && i != parties - 1)
				continue;
			if (m.seconds > worst)
				worst = m.seconds;
			if (m.bytes > bytes)
				bytes = m.bytes;
			rounds = m.rounds;
			if (m.peak_mib > peak)
				peak = m.peak_mib;
		}
		/* the dealer's row counts what the dealer sends */
		if (op == OP_TRIPLES)
			bytes = res[parties].bytes_sent;
		mpc_local_results_fini(res, nodes);
		if (!ok)
			return -1;
		if (worst < best)
			best = worst;
	}
	double ops = (double)batch / best;
	double per = (double)bytes / (double)batch;
	printf("%-15s %-5s Z_2^%-4u %7d %10zu %9.4f %14.0f %12.1f %7llu %9.0f\n", op_names[op],
	       tls ? "tls" : "plain", mpc_ring_bits(r), parties, batch, best, ops, per,
	       (unsigned long long)rounds, peak);
	fflush(stdout);
	if (json)
		fprintf(json,
			"{\"op\":\"%s\",\"transport\":\"%s\",\"ring\":%u,\"parties\":%d,\"batch\":%zu,\"seconds\":%.6f,"
			"\"ops_per_s\":%.0f,\"bytes_sent_per_party\":%llu,\"bytes_per_op\":%.2f,"
			"\"rounds\":%llu,\"peak_rss_mib\":%.0f}\n",
			op_names[op], tls ? "tls" : "plaintext", mpc_ring_bits(r), parties, batch, best, ops,
			(unsigned long long)bytes, per, (unsigned long long)rounds, peak);
	return 0;
}

static void machine(void)
{
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

int main(int argc, char **argv)
{
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
			fprintf(stderr, "usage: bench_mpc [--json FILE] [--quick] [--only OP]\n");
			return 1;
		}
	}
	size_t big = quick ? 100000 : 1000000;
	int reps = quick ? 1 : 3;
	machine();
	printf("online phase unless noted; loopback tcp; dealer preprocessing; best of %d\n", reps);
	printf("%-15s %-5s %-9s %7s %10s %9s %14s %12s %7s %9s\n", "op", "link", "ring", "parties",
	       "batch",
	       "seconds", "ops/s", "bytes/op/pty", "rounds", "peak MiB");
	static const mpc_ring rings[2] = {MPC_Z64, MPC_Z128};
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |= bench(OP_MUL, rings[k], pr, big, reps, 0);
	/* the cost of TLS 1.3 on every link */
	fail |= bench(OP_MUL, MPC_Z64, 3, big, reps, 1);
	fail |= bench(OP_MUL, MPC_Z128, 3, big, reps, 1);
	fail |= bench(OP_DOT, MPC_Z64, 3, big, reps, 0);
	fail |= bench(OP_FIXMUL, MPC_Z128, 3, big, reps, 0);
	fail |= bench(OP_TRIPLES, MPC_Z64, 3, big, reps, 0);
	fail |= bench(OP_TRIPLES, MPC_Z128, 3, big, reps, 0);
	/* dealer-free preprocessing: triples per second and bytes per triple */
	size_t pre = quick ? 20000 : 200000;
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |= bench(OP_OT_TRIPLES, rings[k], pr, pre, reps, 0);
	fail |= bench(OP_OT_BIT_TRIPLES, MPC_Z64, 3, 64 * pre, reps, 0);
	fail |= bench(OP_OT_TRUNC, MPC_Z64, 3, pre / 4, reps, 0);
	fail |= bench(OP_OT_TRUNC, MPC_Z128, 3, pre / 8, reps, 0);
	for (int pr = 2; pr <= 3; pr++)
		for (int k = 0; k < 2; k++)
			fail |= bench(OP_PAILLIER_TRIPLES, rings[k], pr, quick ? 500 : 2000, 1, 0);
	/* AES-128 under MPC (Bristol circuit from ../shared), bit triples included */
	if (mpc_bristol_load("../shared/circuits/bristol/aes_128.txt", &aes_circuit) == MPC_OK) {
		fail |= bench(OP_AES, MPC_Z64, 3, 1000, reps, 0);
		mpc_bristol_free(aes_circuit);
	} else {
		printf("aes128_blocks: skipped (%s)\n", mpc_error_detail());
	}
	if (!quick)
		fail |= bench(OP_MUL, MPC_Z64, 3, 10 * big, 1, 0);
	if (json)
		fclose(json);
	return fail ? 1 : 0;
}
