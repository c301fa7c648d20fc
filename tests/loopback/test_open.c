/* mpc_open's two openings (protocols/core/mpc_share.h) on 2, 3, 4, 5 and 8
 * real processes, Z_2^64 and Z_2^128, for n = 0, 1, n < N, n not divisible
 * by N, and larger: all-to-all, the rotating king and AUTO each give the sum
 * of the parties' shares (computed here from the same seeds); each costs the
 * rounds stated (1; 2; what mpc_open_choice says) and exactly the bytes
 * stated, per party (the net layer's counter, less a per-message header
 * measured in the same run); AUTO picks by the stated rule, at its default
 * threshold and at one set on the party, with the threshold's edge exact;
 * parties that disagree on the rule fail the round with MPC_EPROTO. One
 * opening above MPC_OPEN_MAX_ELEMS goes in chunks, two rounds each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/core/mpc_share.h"
#include "tests/support/cluster.h"
#include "tests/support/mpc_local.h"

#define MAX_SIZES 8
#define N_MODES   3 /* all-to-all, king, AUTO */

static const mpc_open_mode modes[N_MODES] = {MPC_OPEN_ALL_TO_ALL, MPC_OPEN_KING, MPC_OPEN_AUTO};

/* The job, set in the parent before fork. */
static struct {
	mpc_ring ring;
	size_t sizes[MAX_SIZES];
	int n_sizes;
	size_t threshold; /* AUTO's threshold; 0: leave the party's default */
	unsigned seed;
	int disagree; /* 1: party 0 forces the king, the others all-to-all */
} job;

/* What a party measured about one opening. */
typedef struct {
	uint64_t rounds, bytes;
	int32_t choice; /* mpc_open_choice under the rule in force */
	int32_t pad;
} meas;

/* Party i's share of size index k: a seeded pseudo-random vector. */
static void share_of(int party, int k, uint8_t *buf, size_t n) {
	cluster_fill_random(buf, n * mpc_ring_bytes(job.ring),
	                    job.seed * 977u + (unsigned)k * 31u + (unsigned)party);
}

/* The header bytes the net layer adds to one message: one 1-byte message
 * to every peer, measured. */
static mpc_err header_bytes(mpc_party *p, uint64_t *hdr) {
	mpc_net *net = mpc_party_net(p);
	uint8_t b = 1, sink[64];
	uint64_t b0 = mpc_net_bytes_sent(net);
	mpc_err err = mpc_party_bcast(p, &b, sink, 1);
	*hdr = (mpc_net_bytes_sent(net) - b0) / (uint64_t)(mpc_party_size(p) - 1) - 1;
	return err;
}

/* For every size: the share, then one opening per mode into its own buffer
 * (all-to-all and AUTO out of place, the king in place, over a copy of the
 * share). Emits the header size, then per size N_MODES meas and N_MODES
 * opened vectors. */
static mpc_err body(mpc_party *p, void *arg) {
	size_t eb = mpc_ring_bytes(job.ring), most = 0;
	mpc_net *net = mpc_party_net(p);
	uint8_t *share = NULL, *out = NULL;
	uint64_t hdr;
	mpc_err err;
	(void)arg;

	for (int k = 0; k < job.n_sizes; k++)
		most = job.sizes[k] > most ? job.sizes[k] : most;
	share = malloc(most * eb + 1);
	out = malloc(N_MODES * most * eb + 1);
	if (share == NULL || out == NULL) {
		err = mpc_error(MPC_ENOMEM, "test_open: out of memory");
		goto out;
	}
	if ((err = header_bytes(p, &hdr)) != MPC_OK || (err = mpc_local_emit(&hdr, 8)) != MPC_OK)
		goto out;
	if (mpc_party_set_open_rule(p, (mpc_open_mode)7, 0) != MPC_EINVAL) {
		err = mpc_error(MPC_ECHEAT, "an unknown open mode was accepted");
		goto out;
	}
	for (int k = 0; k < job.n_sizes; k++) {
		size_t n = job.sizes[k];
		meas m[N_MODES];
		share_of(mpc_party_id(p), k, share, n);
		for (int i = 0; i < N_MODES; i++) {
			uint8_t *o = out + (size_t)i * n * eb;
			size_t thr =
			    job.threshold ? job.threshold : MPC_OPEN_KING_THRESHOLD_DEFAULT;
			if ((err = mpc_party_set_open_rule(p, modes[i], thr)) != MPC_OK)
				goto out;
			if (modes[i] == MPC_OPEN_KING)
				memcpy(o, share, n * eb);
			m[i].choice = (int32_t)mpc_open_choice(p, job.ring, n);
			m[i].pad = 0;
			uint64_t r0 = mpc_net_rounds(net), b0 = mpc_net_bytes_sent(net);
			err = mpc_open(p, job.ring, modes[i] == MPC_OPEN_KING ? o : share, o, n);
			if (err != MPC_OK)
				goto out;
			m[i].rounds = mpc_net_rounds(net) - r0;
			m[i].bytes = mpc_net_bytes_sent(net) - b0;
		}
		if ((err = mpc_local_emit(m, sizeof(m))) != MPC_OK ||
		    (err = mpc_local_emit(out, N_MODES * n * eb)) != MPC_OK)
			goto out;
	}
out:
	free(share);
	free(out);
	return err;
}

/* Slice j of m elements among np parties, as the header states: contiguous,
 * the first m % np one longer. */
static size_t slice(size_t m, int np, int j) {
	return m / (size_t)np + ((size_t)j < m % (size_t)np ? 1 : 0);
}

/* The net layer's payload bytes per chunk (mpc_net_config.chunk_bytes left
 * 0: 1 MiB); every chunk of a message carries one header. */
#define NET_CHUNK ((uint64_t)1 << 20)

/* One message of len bytes into the counts (none for len 0: not sent). */
static void add_msg(uint64_t len, uint64_t times, uint64_t *payload, uint64_t *hdrs) {
	*payload += times * len;
	*hdrs += times * ((len + NET_CHUNK - 1) / NET_CHUNK);
}

/* What party `me` sends for one opening of n elements (chunks of
 * MPC_OPEN_MAX_ELEMS), payload and headers, by mode. */
static void expect_sent(mpc_open_mode mode, int np, int me, size_t n, size_t eb, uint64_t *payload,
                        uint64_t *hdrs) {
	*payload = *hdrs = 0;
	for (size_t off = 0; off < n; off += MPC_OPEN_MAX_ELEMS) {
		size_t m = n - off < MPC_OPEN_MAX_ELEMS ? n - off : MPC_OPEN_MAX_ELEMS;
		if (mode == MPC_OPEN_ALL_TO_ALL) {
			add_msg(m * eb, (uint64_t)(np - 1), payload, hdrs);
			continue;
		}
		for (int j = 0; j < np; j++) /* round 1: our share of j's slice */
			if (j != me)
				add_msg(slice(m, np, j) * eb, 1, payload, hdrs);
		/* round 2: our opened slice to every peer */
		add_msg(slice(m, np, me) * eb, (uint64_t)(np - 1), payload, hdrs);
	}
}

/* The rule, written out again: king iff N >= 3 and
 * ((N-1) - 2(N-1)/N) * n * eb > threshold. */
static mpc_open_mode expect_auto(int np, size_t n, size_t eb, size_t thr) {
	if (np < 3)
		return MPC_OPEN_ALL_TO_ALL;
	/* times N, in integers: (N-1)N - 2(N-1) = (N-1)(N-2) */
	mpc_u128 saved_n = (mpc_u128)(np - 1) * (mpc_u128)(np - 2) * n * eb;
	return saved_n > (mpc_u128)thr * (mpc_u128)np ? MPC_OPEN_KING : MPC_OPEN_ALL_TO_ALL;
}

/* Run the job on np parties and check every party's every opening. */
static void run_job(int np) {
	mpc_local_config cfg = {
	    .n_parties = np, .use_tcp = np > 4, .timeout_ms = 60000, .watchdog_s = 120};
	mpc_local_result res[17];
	size_t eb = mpc_ring_bytes(job.ring), most = 0;
	size_t thr = job.threshold ? job.threshold : MPC_OPEN_KING_THRESHOLD_DEFAULT;

	for (int k = 0; k < job.n_sizes; k++)
		most = job.sizes[k] > most ? job.sizes[k] : most;
	uint8_t *want = malloc(most * eb + 1), *sh = malloc(most * eb + 1);
	assert_non_null(want);
	assert_non_null(sh);
	assert_int_equal(mpc_local_run(&cfg, body, NULL, res), MPC_OK);
	cluster_expect_ok(res, np);
	for (int i = 0; i < np; i++) {
		const uint8_t *at = res[i].out, *end = res[i].out + res[i].out_len;
		uint64_t hdr;
		assert_true(end - at >= 8);
		memcpy(&hdr, at, 8);
		at += 8;
		assert_true(hdr > 0 && hdr < 1024);
		for (int k = 0; k < job.n_sizes; k++) {
			size_t n = job.sizes[k];
			meas m[N_MODES];
			/* the secret: the sum of every party's share */
			memset(want, 0, n * eb);
			for (int j = 0; j < np; j++) {
				share_of(j, k, sh, n);
				mpc_ring_add(job.ring, want, want, sh, n);
			}
			assert_true((size_t)(end - at) >= sizeof(m) + N_MODES * n * eb);
			memcpy(m, at, sizeof(m));
			at += sizeof(m);
			mpc_open_mode autom = expect_auto(np, n, eb, thr);
			for (int md = 0; md < N_MODES; md++, at += n * eb) {
				mpc_open_mode used = modes[md] == MPC_OPEN_AUTO ? autom : modes[md];
				uint64_t payload, hdrs;
				if (memcmp(at, want, n * eb) != 0)
					print_error("party %d, n %zu, mode %d: wrong value\n", i, n,
					            (int)modes[md]);
				assert_memory_equal(at, want, n * eb);
				assert_int_equal(m[md].choice, used);
				expect_sent(used, np, i, n, eb, &payload, &hdrs);
				if (m[md].bytes != payload + hdrs * hdr)
					print_error(
					    "party %d of %d, n %zu, mode %d: %llu bytes, want "
					    "%llu + %llu headers of %llu\n",
					    i, np, n, (int)used, (unsigned long long)m[md].bytes,
					    (unsigned long long)payload, (unsigned long long)hdrs,
					    (unsigned long long)hdr);
				assert_int_equal(m[md].bytes, payload + hdrs * hdr);
				size_t chunks = (n + MPC_OPEN_MAX_ELEMS - 1) / MPC_OPEN_MAX_ELEMS;
				assert_int_equal(m[md].rounds,
				                 chunks * (used == MPC_OPEN_KING ? 2 : 1));
			}
		}
		assert_true(at == end);
	}
	mpc_local_results_fini(res, np);
	free(want);
	free(sh);
}

static void set_job(mpc_ring r, unsigned seed, size_t threshold, const size_t *sizes, int k) {
	memset(&job, 0, sizeof(job));
	job.ring = r;
	job.seed = seed;
	job.threshold = threshold;
	job.n_sizes = k;
	memcpy(job.sizes, sizes, (size_t)k * sizeof(size_t));
}

/* Every N and ring, the small and awkward sizes, the default threshold. */
static void test_modes_agree(void **s) {
	(void)s;
	static const int nps[] = {2, 3, 4, 5, 8};
	static const mpc_ring rings[2] = {MPC_Z64, MPC_Z128};
	for (size_t a = 0; a < sizeof(nps) / sizeof(nps[0]); a++)
		for (int b = 0; b < 2; b++) {
			int np = nps[a];
			size_t sizes[] = {0, 1, (size_t)np - 1, (size_t)np + 1, 1000, 4096};
			set_job(rings[b], 7u * (unsigned)np + (unsigned)b, 0, sizes, 6);
			run_job(np);
		}
}

/* AUTO at the default threshold on each side of it: N = 3, Z_2^64 saves
 * 16/3 bytes an element, so 196608 elements save exactly 1 MiB (stays
 * all-to-all: the rule is "exceeds") and 196609 pick the king; N = 2 never
 * picks it. */
static void test_auto_default(void **s) {
	(void)s;
	assert_int_equal(MPC_OPEN_KING_THRESHOLD_DEFAULT, (size_t)1 << 20);
	size_t sizes[] = {196608, 196609};
	set_job(MPC_Z64, 5, 0, sizes, 2);
	run_job(3);
	set_job(MPC_Z128, 6, 0, sizes, 2);
	run_job(2);
}

/* A threshold set on the party: N = 3, Z_2^64, threshold 16000 bytes;
 * 3000 elements save exactly 16000 (all-to-all), 3001 save more (king);
 * N = 5, Z_2^128, threshold 1 byte: any n >= 1 picks the king. */
static void test_auto_threshold(void **s) {
	(void)s;
	size_t sizes3[] = {2999, 3000, 3001};
	set_job(MPC_Z64, 8, 16000, sizes3, 3);
	run_job(3);
	size_t sizes5[] = {1, 4, 6};
	set_job(MPC_Z128, 9, 1, sizes5, 3);
	run_job(5);
}

/* Above MPC_OPEN_MAX_ELEMS: two chunks, each opened by the chosen mode. */
static void test_chunks(void **s) {
	(void)s;
	size_t sizes[] = {MPC_OPEN_MAX_ELEMS + 5};
	set_job(MPC_Z64, 10, 0, sizes, 1);
	run_job(3);
}

/* Party 0 forces the king, the others all-to-all: the lengths differ and the
 * round fails with MPC_EPROTO, never a wrong value. */
static mpc_err body_disagree(mpc_party *p, void *arg) {
	uint64_t v[6] = {1, 2, 3, 4, 5, 6}, o[6];
	mpc_err err;
	(void)arg;
	err = mpc_party_set_open_rule(p, mpc_party_id(p) == 0 ? MPC_OPEN_KING : MPC_OPEN_ALL_TO_ALL,
	                              0);
	if (err == MPC_OK)
		err = mpc_open(p, MPC_Z64, v, o, 6);
	return err;
}

static void test_disagree(void **s) {
	(void)s;
	mpc_local_config cfg = {.n_parties = 3, .timeout_ms = 20000, .watchdog_s = 60};
	mpc_local_result res[17];
	int protos = 0;
	assert_int_equal(mpc_local_run(&cfg, body_disagree, NULL, res), MPC_OK);
	for (int i = 0; i < 3; i++) {
		print_message("    party %d: %s\n", i, res[i].detail);
		if (res[i].err != MPC_EPROTO && res[i].err != MPC_EPEER)
			print_error("party %d: %s: %s\n", i, mpc_strerror(res[i].err),
			            res[i].detail);
		assert_true(res[i].err == MPC_EPROTO || res[i].err == MPC_EPEER);
		protos += res[i].err == MPC_EPROTO;
	}
	/* whoever sees a wrong length first says so; the others may hear of it
	 * from its abort first */
	assert_true(protos >= 1);
	mpc_local_results_fini(res, 3);
}

int main(void) {
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_modes_agree),    cmocka_unit_test(test_auto_default),
	    cmocka_unit_test(test_auto_threshold), cmocka_unit_test(test_chunks),
	    cmocka_unit_test(test_disagree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
