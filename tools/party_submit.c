/* An input party's side of a job (mpc-party submit) and a recipient's
 * (mpc-party fetch). Both only connect out: to each compute party's
 * `submit` address, over TLS 1.3 with this party's key, the compute party
 * pinned by the job file's fingerprint (node/mpc_link.h as a client).
 *
 * submit: the kind's contribution from --input (aggregate_stats: the local
 * aggregates of the rows, never the rows), split into additive shares, one
 * per compute party; every compute party is sent its share (PREPARE) and
 * answers with a receipt; only when all did are the COMMITs sent. Exit 0
 * once every compute party has committed it. Stopped before the first
 * commit, nothing counts (tools/party_inbox.c's rule).
 *
 * fetch: the outputs held for this recipient, from every compute party,
 * accepted only when all of them sent the same bytes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/mpc_link.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_prg.h"
#include "runtime/mpc_wipe.h"
#include "tools/party.h"

/* A client of the job's compute parties. */
typedef struct {
	mpc_job *job;
	const mpc_job_node *me;
	uint8_t hash[32];
	EVP_PKEY *key;
	X509 *cert;
	mpc_links *links;
	double deadline; /* monotonic: retries of unreachable compute parties end here */
} client;

static void client_fini(client *cl) {
	mpc_links_stop(cl->links);
	EVP_PKEY_free(cl->key);
	X509_free(cl->cert);
	mpc_job_free(cl->job);
	memset(cl, 0, sizeof(*cl));
}

/* The job, this input party's entry, its key matching the job's
 * fingerprint, and the links (a client of every compute party). */
static mpc_err client_open(const opts *o, const char *cmd, double wait_s, client *cl) {
	mpc_err err;
	memset(cl, 0, sizeof(*cl));
	if (o->job_path == NULL || o->party == NULL)
		return mpc_error(MPC_ECONFIG, "--job and --party are required");
	if ((err = mpc_job_load(o->job_path, &cl->job)) != MPC_OK)
		return err;
	const mpc_job *j = cl->job;
	int in = mpc_job_input_index(j, o->party);
	if (in < 0)
		return mpc_error(MPC_ECONFIG,
		                 "%s has no [input %s]: %s is for input parties (compute parties "
		                 "run `mpc-party run`)",
		                 o->job_path, o->party, cmd);
	cl->me = &j->inputs[in];
	if ((err = mpc_job_hash(j, cl->hash)) != MPC_OK ||
	    (err = party_load_keys(o, cl->me->fingerprint, &cl->key, &cl->cert)) != MPC_OK)
		return err;
	mpc_link_peer peers[MPC_JOB_MAX_COMPUTE];
	for (int i = 0; i < j->n_parties; i++) {
		peers[i].name = j->parties[i].name;
		peers[i].address = j->parties[i].submit;
		memcpy(peers[i].pin, j->parties[i].fingerprint, 32);
	}
	mpc_links_config lc = {.self = o->party,
	                       .listen = NULL,
	                       .key = cl->key,
	                       .cert = cl->cert,
	                       .peers = peers,
	                       .n_peers = j->n_parties,
	                       .no_keepalive = 1,
	                       .io_timeout_ms = j->timeout_ms,
	                       .max_message = 64u << 20};
	cl->deadline = party_now() + wait_s;
	return mpc_links_start(&lc, &cl->links);
}

/* One request to compute party p, tried again while it cannot be reached
 * (not started yet, or busy) until the deadline. */
static mpc_err call(client *cl, int p, const uint8_t *req, size_t len, char **resp,
                    size_t *resp_len) {
	const char *name = cl->job->parties[p].name;
	for (int tries = 1;; tries++) {
		mpc_err err = mpc_links_call(cl->links, name, req, len, resp, resp_len, 0);
		if ((err != MPC_ENET && err != MPC_ETIMEDOUT) || party_now() >= cl->deadline ||
		    mpc_net_stop_signal())
			return err;
		if (tries == 1 || tries % 20 == 0)
			mpc_info("compute party %s: %s; trying again", name, mpc_error_detail());
		struct timespec ts = {0, 250 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* op, the job's hash, then body. */
static uint8_t *request(const client *cl, int op, const void *body, size_t blen, size_t *len) {
	uint8_t *r = malloc(33 + blen);
	if (r == NULL)
		return NULL;
	r[0] = (uint8_t)op;
	memcpy(r + 1, cl->hash, 32);
	if (blen)
		memcpy(r + 33, body, blen);
	*len = 33 + blen;
	return r;
}

/* MPC_TEST_SUBMIT_KILL_AFTER=N (tests/loopback/test_inputs.c): SIGKILL this
 * process right after the N-th compute party acknowledged its share, so a
 * test can cut a submission short at a known point. */
static void test_kill(int acked) {
	const char *k = getenv("MPC_TEST_SUBMIT_KILL_AFTER");
	if (k && atoi(k) == acked) {
		mpc_warn("MPC_TEST_SUBMIT_KILL_AFTER: killed after %d share(s) (test hook)", acked);
		raise(SIGKILL);
	}
}

/* The contribution in additive shares: share[p] for compute party p, each
 * after the id, ready to send (len bytes each). */
static mpc_err make_shares(const client *cl, mpc_ring r, const void *vec, size_t n,
                           const uint8_t id[PARTY_INBOX_ID_BYTES], uint8_t **share, size_t *len) {
	int k = cl->job->n_parties;
	size_t bytes = n * mpc_ring_bytes(r);
	uint8_t seed[MPC_SEED_BYTES];
	mpc_prg *prg = NULL;
	mpc_err err;
	*len = PARTY_INBOX_ID_BYTES + bytes;
	for (int p = 0; p < k; p++)
		if ((share[p] = calloc(1, *len + 1)) == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = mpc_seed_random(seed)) != MPC_OK || (err = mpc_prg_new(&prg, seed)) != MPC_OK)
		goto out;
	uint8_t *last = share[k - 1] + PARTY_INBOX_ID_BYTES;
	memcpy(last, vec, bytes);
	for (int p = 0; p < k - 1 && err == MPC_OK; p++)
		if ((err = mpc_prg_fill(prg, share[p] + PARTY_INBOX_ID_BYTES, bytes)) == MPC_OK)
			mpc_ring_sub(r, last, last, share[p] + PARTY_INBOX_ID_BYTES, n);
	for (int p = 0; p < k; p++)
		memcpy(share[p], id, PARTY_INBOX_ID_BYTES);
out:
	mpc_prg_free(prg);
	mpc_wipe(seed, sizeof(seed));
	return err;
}

/* Send every share, then every commit; receipts on stdout. */
static mpc_err submit_all(client *cl, uint8_t **share, size_t slen) {
	const mpc_job *j = cl->job;
	mpc_err err = MPC_OK;
	for (int op = 0; op < 2 && err == MPC_OK; op++)
		for (int p = 0; p < j->n_parties && err == MPC_OK; p++) {
			size_t rl = 0, al = 0;
			char *ans = NULL;
			uint8_t *req = request(cl, op ? PARTY_INBOX_COMMIT : PARTY_INBOX_PREPARE,
			                       share[p], op ? PARTY_INBOX_ID_BYTES : slen, &rl);
			if (req == NULL)
				return mpc_error(MPC_ENOMEM, "out of memory");
			err = call(cl, p, req, rl, &ans, &al);
			mpc_wipe_free(req, rl);
			if (err != MPC_OK) {
				char why[400];
				snprintf(why, sizeof(why), "%s", mpc_error_detail());
				err = mpc_error(
				    err, "%s: %s%s", j->parties[p].name, why,
				    op == 0 ? "; no commit was sent, so no compute party counts "
				              "this contribution: submit again"
				            : "; the contribution counts if any compute party "
				              "holds its commit: the job's list of contributors "
				              "says whether it did");
			} else {
				fputs(ans, stdout);
				if (op == 0)
					test_kill(p + 1);
			}
			free(ans);
		}
	return err;
}

int party_cmd_submit(const opts *o) {
	client cl;
	const mpc_kind *k = NULL;
	void *st = NULL, *vec = NULL;
	uint8_t *share[MPC_JOB_MAX_COMPUTE] = {0}, id[PARTY_INBOX_ID_BYTES];
	size_t n = 0, slen = 0, vlen = 0;
	mpc_ring ring = MPC_Z128;
	int bad_input = 0, code = 0;
	mpc_err err = client_open(o, "submit", o->wait_s ? (double)o->wait_s : 60, &cl);

	if (err == MPC_OK && o->input == NULL)
		err = mpc_error(MPC_ECONFIG, "--input FILE.csv is required for submit");
	if (err == MPC_OK && (k = mpc_kind_find(cl.job->computation)) != NULL) {
		mpc_kind_io io = {.job = cl.job, .self = -1, .party = o->party, .input = o->input};
		if ((err = k->parse(cl.job, &st)) == MPC_OK &&
		    (err = k->contrib_len(st, &ring, &n)) == MPC_OK)
			err = k->contribute(st, &io, &vec, &vlen, &bad_input);
		if (err == MPC_OK && vlen != n)
			err = mpc_error(MPC_EINVAL, "contribution of %zu elements, expected %zu",
			                vlen, n);
	}
	if (err == MPC_OK && (err = mpc_seed_random(id)) == MPC_OK &&
	    (err = make_shares(&cl, ring, vec, n, id, share, &slen)) == MPC_OK &&
	    (err = submit_all(&cl, share, slen)) == MPC_OK)
		printf("submitted: every one of the %d compute parties of job %s committed %s's "
		       "contribution\n",
		       cl.job->n_parties, cl.job->id, o->party);
	if (err != MPC_OK) {
		fprintf(stderr, "mpc-party submit: %s\n", mpc_error_detail());
		code = bad_input                                   ? MPC_EXIT_INPUT
		       : err == MPC_ECONFIG && cl.links == NULL    ? MPC_EXIT_USAGE
		       : err == MPC_EREFUSED || err == MPC_ECONFIG ? MPC_EXIT_PROTO
		                                                   : mpc_exit_code(err);
	}
	for (int p = 0; p < MPC_JOB_MAX_COMPUTE; p++)
		if (share[p])
			mpc_wipe_free(share[p], slen + 1);
	if (vec)
		mpc_wipe_free(vec, n * mpc_ring_bytes(ring));
	if (k && st)
		k->free(st);
	client_fini(&cl);
	return code;
}

/* The outputs from compute party p, waiting while it computes. */
static mpc_err fetch_one(client *cl, int p, char fmt, char **body, size_t *blen) {
	size_t rl = 0;
	uint8_t *req = request(cl, PARTY_INBOX_FETCH, &fmt, 1, &rl);
	mpc_err err = MPC_OK;
	if (req == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (int tries = 1;; tries++) {
		char *ans = NULL;
		size_t al = 0;
		if ((err = call(cl, p, req, rl, &ans, &al)) != MPC_OK)
			break;
		if (al >= 7 && memcmp(ans, "result\n", 7) == 0) {
			memmove(ans, ans + 7, al - 7);
			*body = ans;
			*blen = al - 7;
			break;
		}
		if (al >= 7 && memcmp(ans, "failed\n", 7) == 0) {
			err = mpc_error(MPC_EPEER, "job %s failed: %s", cl->job->id, ans + 7);
			free(ans);
			break;
		}
		free(ans);
		if (party_now() >= cl->deadline) {
			err = mpc_error(MPC_ETIMEDOUT,
			                "%s: no outputs yet (the job is still running)",
			                cl->job->parties[p].name);
			break;
		}
		if (tries == 1)
			mpc_info("%s: the job is still running; waiting", cl->job->parties[p].name);
		struct timespec ts = {0, 300 * 1000000L};
		nanosleep(&ts, NULL);
	}
	free(req);
	return err;
}

int party_cmd_fetch(const opts *o) {
	client cl;
	char *body[MPC_JOB_MAX_COMPUTE] = {0};
	size_t blen[MPC_JOB_MAX_COMPUTE] = {0};
	int json = o->format && strcmp(o->format, "json") == 0, code = 0;
	mpc_err err = client_open(o, "fetch", o->wait_s ? (double)o->wait_s : 600, &cl);

	if (err == MPC_OK && o->output == NULL)
		err = mpc_error(MPC_ECONFIG, "--output FILE is required for fetch");
	if (err == MPC_OK && !cl.me->recipient)
		err = mpc_error(MPC_ECONFIG,
		                "%s is not among the recipients of job %s ([job] "
		                "recipients)",
		                o->party, cl.job->id);
	for (int p = 0; err == MPC_OK && p < cl.job->n_parties; p++) {
		if ((err = fetch_one(&cl, p, json ? 'j' : 'c', &body[p], &blen[p])) != MPC_OK)
			break;
		if (p > 0 && (blen[p] != blen[0] || memcmp(body[p], body[0], blen[0]) != 0))
			err =
			    mpc_error(MPC_ECHEAT,
			              "compute parties %s and %s sent different outputs: not "
			              "written; tell the operators of job %s",
			              cl.job->parties[0].name, cl.job->parties[p].name, cl.job->id);
	}
	if (err == MPC_OK &&
	    (err = mpc_file_write_atomic(o->output, body[0], blen[0], 0600)) == MPC_OK)
		printf("fetched: job %s's outputs for %s, the same from all %d compute parties, "
		       "written to %s\n",
		       cl.job->id, o->party, cl.job->n_parties, o->output);
	if (err != MPC_OK) {
		fprintf(stderr, "mpc-party fetch: %s\n", mpc_error_detail());
		code = err == MPC_ECONFIG && cl.links == NULL ? MPC_EXIT_USAGE : mpc_exit_code(err);
	}
	for (int p = 0; p < MPC_JOB_MAX_COMPUTE; p++)
		free(body[p]);
	client_fini(&cl);
	return code;
}
