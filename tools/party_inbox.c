/* A compute party's side of a job with input parties: the inbox that takes
 * their submissions (TLS over TCP on the party's `submit` address, each input
 * party pinned by its fingerprint; node/mpc_link.h without keep-alives), the
 * agreement among the compute parties on which contributions count, and the
 * outputs held for recipients that fetch them later.
 *
 * A contribution counts only if every compute party holds it, with the same
 * id, and at least one of them holds its commit: the input party sends the
 * commits only after every compute party has acknowledged its share
 * (tools/party_submit.c), so a submission cut short before its first commit
 * is counted by none, and one cut short during its commits is counted by
 * all. Each compute party states what it holds over the job's own network
 * (one round); all apply the same rule to the same tables. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "node/mpc_link.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"
#include "tools/party.h"

typedef struct {
	int state; /* 0 nothing, 1 share held (prepared), 2 committed */
	uint8_t id[PARTY_INBOX_ID_BYTES];
	uint8_t *share; /* len bytes */
	int fetched;    /* a recipient that fetched its outputs here */
} slot_t;

struct party_inbox {
	const mpc_job *job;
	int self;
	uint8_t hash[32];
	mpc_ring ring;
	size_t n, len; /* elements and bytes of one contribution */
	mpc_links *links;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	int open, committed, fetched, want; /* want: input parties among the recipients */
	slot_t *slot;                       /* job->n_inputs */
	int done;                           /* 0 running, 1 outputs held, -1 failed */
	char *out[2];                       /* csv, json */
	size_t out_len[2];
	char why[400];
	/* the agreed contributions (after party_inbox_agree) */
	uint8_t *shares;
	const char **names;
	size_t m;
	mpc_kind_contribs contribs;
};

static void hex(const uint8_t *b, size_t n, char *out) {
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* A receipt: what this compute party now holds of the submission. */
static mpc_err receipt(party_inbox *ib, int in, const char *what, char **resp, size_t *resp_len) {
	char idh[2 * PARTY_INBOX_ID_BYTES + 1], text[400];
	hex(ib->slot[in].id, PARTY_INBOX_ID_BYTES, idh);
	int n = snprintf(text, sizeof(text),
	                 "receipt: job %s, compute party %s %s contribution %s of %s (%zu bytes)\n",
	                 ib->job->id, ib->job->parties[ib->self].name, what, idh,
	                 ib->job->inputs[in].name, ib->len);
	if ((*resp = strdup(text)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	*resp_len = (size_t)n;
	return MPC_OK;
}

/* 'P': hold the share (replacing an uncommitted one of an earlier try). */
static mpc_err on_prepare(party_inbox *ib, int in, const uint8_t *b, size_t len, char **resp,
                          size_t *resp_len) {
	slot_t *s = &ib->slot[in];
	if (len != PARTY_INBOX_ID_BYTES + ib->len)
		return mpc_error(MPC_EPROTO,
		                 "a contribution of %zu bytes; this job's is %zu (%zu elements of "
		                 "Z_2^%u): is the job file the same?",
		                 len - (len >= PARTY_INBOX_ID_BYTES ? PARTY_INBOX_ID_BYTES : len),
		                 ib->len, ib->n, mpc_ring_bits(ib->ring));
	if (s->state == 2 && CRYPTO_memcmp(s->id, b, PARTY_INBOX_ID_BYTES) != 0)
		return mpc_error(MPC_EREFUSED,
		                 "%s has already contributed to job %s (committed); a contribution "
		                 "counts once",
		                 ib->job->inputs[in].name, ib->job->id);
	if (s->state == 2)
		return receipt(ib, in, "already holds the committed", resp, resp_len);
	uint8_t *copy = malloc(ib->len ? ib->len : 1);
	if (copy == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	memcpy(copy, b + PARTY_INBOX_ID_BYTES, ib->len);
	if (s->share)
		mpc_wipe_free(s->share, ib->len);
	s->share = copy;
	memcpy(s->id, b, PARTY_INBOX_ID_BYTES);
	s->state = 1;
	return receipt(ib, in, "holds its share of", resp, resp_len);
}

/* 'C': the input party saw every compute party hold its share. */
static mpc_err on_commit(party_inbox *ib, int in, const uint8_t *b, size_t len, char **resp,
                         size_t *resp_len) {
	slot_t *s = &ib->slot[in];
	if (len != PARTY_INBOX_ID_BYTES)
		return mpc_error(MPC_EPROTO, "a commit of %zu bytes", len);
	if (s->state == 0 || CRYPTO_memcmp(s->id, b, PARTY_INBOX_ID_BYTES) != 0)
		return mpc_error(MPC_EPROTO, "a commit of a contribution %s never sent here",
		                 s->state ? "other than the one" : "it");
	if (s->state == 1) {
		s->state = 2;
		ib->committed++;
		pthread_cond_broadcast(&ib->cv);
	}
	return receipt(ib, in, "committed", resp, resp_len);
}

/* 'F': the outputs, once held; "wait" before. */
static mpc_err on_fetch(party_inbox *ib, int in, const uint8_t *b, size_t len, char **resp,
                        size_t *resp_len) {
	if (len != 1 || (b[0] != 'c' && b[0] != 'j'))
		return mpc_error(MPC_EPROTO, "a fetch without a format");
	if (in < 0 || !ib->job->inputs[in].recipient)
		return mpc_error(MPC_EREFUSED, "not a recipient of job %s ([job] recipients)",
		                 ib->job->id);
	const char *head = ib->done == 0 ? "wait\n" : ib->done < 0 ? "failed\n" : "result\n";
	const char *body = ib->done < 0 ? ib->why : ib->done ? ib->out[b[0] == 'j'] : "";
	size_t hl = strlen(head), bl = ib->done > 0 ? ib->out_len[b[0] == 'j'] : strlen(body);
	if ((*resp = malloc(hl + bl + 1)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	memcpy(*resp, head, hl);
	memcpy(*resp + hl, body, bl);
	*resp_len = hl + bl;
	if (ib->done > 0 && !ib->slot[in].fetched) {
		ib->slot[in].fetched = 1;
		ib->fetched++;
		pthread_cond_broadcast(&ib->cv);
	}
	return MPC_OK;
}

/* The links' handler: op, the job's hash, the op's bytes. */
static mpc_err on_request(void *arg, const char *peer, const char *req, size_t len, char **resp,
                          size_t *resp_len) {
	party_inbox *ib = arg;
	const uint8_t *b = (const uint8_t *)req;
	int in = mpc_job_input_index(ib->job, peer);
	mpc_err err;
	if (len < 33 || in < 0)
		return mpc_error(MPC_EPROTO, "a request of %zu bytes", len);
	if (CRYPTO_memcmp(b + 1, ib->hash, 32) != 0)
		return mpc_error(
		    MPC_ECONFIG,
		    "your job file is not the one of job %s at %s (the canonical texts' "
		    "hashes differ): every party must use the same job file",
		    ib->job->id, ib->job->parties[ib->self].name);
	pthread_mutex_lock(&ib->mu);
	if (b[0] == PARTY_INBOX_FETCH)
		err = on_fetch(ib, in, b + 33, len - 33, resp, resp_len);
	else if (b[0] != PARTY_INBOX_PREPARE && b[0] != PARTY_INBOX_COMMIT)
		err = mpc_error(MPC_EPROTO, "a request of the unknown kind %u", b[0]);
	else if (!ib->open)
		err = mpc_error(MPC_EREFUSED,
		                "job %s takes no more contributions at %s: its input window closed "
		                "(input_deadline, or every input party committed)",
		                ib->job->id, ib->job->parties[ib->self].name);
	else if (b[0] == PARTY_INBOX_PREPARE)
		err = on_prepare(ib, in, b + 33, len - 33, resp, resp_len);
	else
		err = on_commit(ib, in, b + 33, len - 33, resp, resp_len);
	pthread_mutex_unlock(&ib->mu);
	if (err == MPC_OK && b[0] != PARTY_INBOX_FETCH)
		mpc_info("%s", *resp);
	return err;
}

mpc_err party_inbox_open(const conn *c, const mpc_kind *k, void *st, party_inbox **out) {
	const mpc_job *j = c->job;
	party_inbox *ib = calloc(1, sizeof(*ib));
	mpc_link_peer *peers = NULL;
	mpc_err err;
	*out = NULL;
	if (ib == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	pthread_mutex_init(&ib->mu, NULL);
	pthread_cond_init(&ib->cv, NULL);
	ib->job = j;
	ib->self = c->self;
	ib->open = 1;
	if ((err = mpc_job_hash(j, ib->hash)) != MPC_OK ||
	    (err = k->contrib_len(st, &ib->ring, &ib->n)) != MPC_OK)
		goto out;
	ib->len = ib->n * mpc_ring_bytes(ib->ring);
	if (c->key == NULL) {
		err =
		    mpc_error(MPC_ECONFIG, "input parties submit over TLS only: a job with [input "
		                           "NAME] sections cannot run with --insecure-plaintext");
		goto out;
	}
	if ((ib->slot = calloc((size_t)j->n_inputs, sizeof(*ib->slot))) == NULL ||
	    (peers = calloc((size_t)j->n_inputs, sizeof(*peers))) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < j->n_inputs; i++) {
		peers[i].name = j->inputs[i].name;
		memcpy(peers[i].pin, j->inputs[i].fingerprint, 32);
	}
	mpc_links_config lc = {.self = j->parties[c->self].name,
	                       .listen = j->parties[c->self].submit,
	                       .key = c->key,
	                       .cert = c->cert,
	                       .peers = peers,
	                       .n_peers = j->n_inputs,
	                       .no_keepalive = 1,
	                       .io_timeout_ms = j->timeout_ms,
	                       .max_message = 33 + PARTY_INBOX_ID_BYTES + ib->len + 64,
	                       .handler = on_request,
	                       .handler_arg = ib};
	if (lc.max_message < (1u << 20))
		lc.max_message = 1u << 20; /* the answers: held outputs */
	if ((err = mpc_links_start(&lc, &ib->links)) != MPC_OK)
		goto out;
	mpc_info("job %s: taking submissions of %d input parties on %s (%zu bytes each), for "
	         "up to %d s",
	         j->id, j->n_inputs, j->parties[c->self].submit, ib->len,
	         j->input_deadline_ms / 1000);
	*out = ib;
out:
	free(peers);
	if (err != MPC_OK)
		party_inbox_close(ib);
	return err;
}

/* Wait on cv until pred or the monotonic deadline; 0 when stopped by a
 * signal. Called with mu held. */
static int wait_until(party_inbox *ib, double deadline, int (*pred)(const party_inbox *)) {
	while (!pred(ib) && party_now() < deadline) {
		if (mpc_net_stop_signal())
			return 0;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ib->cv, &ib->mu, &ts);
	}
	return !mpc_net_stop_signal();
}

static int all_committed(const party_inbox *ib) {
	return ib->committed == ib->job->n_inputs;
}

static int all_fetched(const party_inbox *ib) {
	return ib->fetched >= ib->want;
}

mpc_err party_inbox_wait(party_inbox *ib) {
	double deadline = party_now() + ib->job->input_deadline_ms / 1000.0;
	pthread_mutex_lock(&ib->mu);
	int ok = wait_until(ib, deadline, all_committed);
	int got = ib->committed;
	pthread_mutex_unlock(&ib->mu);
	if (!ok)
		return mpc_error(MPC_ESTOPPED, "stopped by signal %d while taking submissions",
		                 mpc_net_stop_signal());
	mpc_info("job %s: %d of %d input parties committed here%s", ib->job->id, got,
	         ib->job->n_inputs, got < ib->job->n_inputs ? " by the input deadline" : "");
	return MPC_OK;
}

/* The names of the input parties not counted, for the message. */
static void missing_list(const party_inbox *ib, const uint8_t *counted, char *out, size_t cap) {
	size_t used = 0;
	int shown = 0, more = 0;
	out[0] = '\0';
	for (int i = 0; i < ib->job->n_inputs; i++) {
		if (counted[i])
			continue;
		if (shown == 12) {
			more++;
			continue;
		}
		int w = snprintf(out + used, cap - used, "%s%s", shown ? ", " : "",
		                 ib->job->inputs[i].name);
		if (w > 0 && (size_t)w < cap - used)
			used += (size_t)w;
		shown++;
	}
	if (more)
		snprintf(out + used, cap - used, " and %d more", more);
}

mpc_err party_inbox_agree(party_inbox *ib, conn *c, const mpc_kind_contribs **out) {
	const mpc_job *j = ib->job;
	int np = j->n_parties, ni = j->n_inputs;
	size_t row = 1 + PARTY_INBOX_ID_BYTES, tl = (size_t)ni * row;
	uint8_t *mine = calloc(tl, 1), *all = calloc(tl * (size_t)np, 1),
	        *counted = calloc((size_t)ni, 1);
	mpc_err err = MPC_OK;
	*out = NULL;
	if (!mine || !all || !counted) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&ib->mu);
	ib->open = 0; /* from here on the tables cannot change */
	for (int i = 0; i < ni; i++) {
		mine[(size_t)i * row] = (uint8_t)ib->slot[i].state;
		memcpy(mine + (size_t)i * row + 1, ib->slot[i].id, PARTY_INBOX_ID_BYTES);
	}
	pthread_mutex_unlock(&ib->mu);
	uint64_t peers = ((1ull << np) - 1) & ~(1ull << c->self);
	memcpy(all + (size_t)c->self * tl, mine, tl);
	if ((err = mpc_net_bcast(c->net, peers, mine, peers, all, tl)) != MPC_OK)
		goto out;
	for (int i = 0; i < ni; i++) {
		int held = 1, commit = 0;
		const uint8_t *r0 = all + (size_t)i * row;
		for (int p = 0; p < np; p++) {
			const uint8_t *r = all + (size_t)p * tl + (size_t)i * row;
			held &= r[0] >= 1 && r[0] <= 2 &&
			        memcmp(r + 1, r0 + 1, PARTY_INBOX_ID_BYTES) == 0;
			commit |= r[0] == 2;
		}
		counted[i] = (uint8_t)(held && commit);
		ib->m += counted[i];
	}
	if (ib->m < (size_t)j->min_inputs) {
		char miss[600];
		missing_list(ib, counted, miss, sizeof(miss));
		err =
		    mpc_error(MPC_EREFUSED,
		              "job %s: %zu contributions reached every compute party by the input "
		              "deadline, min_inputs is %d (not counted: %s); run it again once "
		              "more input parties submit",
		              j->id, ib->m, j->min_inputs, miss);
		goto out;
	}
	if ((ib->shares = malloc(ib->m * ib->len + 1)) == NULL ||
	    (ib->names = calloc(ib->m + 1, sizeof(*ib->names))) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0, k = 0; i < ni; i++) {
		if (counted[i]) {
			memcpy(ib->shares + (size_t)k * ib->len, ib->slot[i].share, ib->len);
			ib->names[k++] = j->inputs[i].name;
		}
		if (ib->slot[i].share) /* the window is closed: one copy of a share is enough */
			mpc_wipe_free(ib->slot[i].share, ib->len);
		ib->slot[i].share = NULL;
	}
	if (ib->m < (size_t)ni) {
		char miss[600];
		missing_list(ib, counted, miss, sizeof(miss));
		mpc_warn("job %s: not counted (absent, or not held by every compute party): %s",
		         j->id, miss);
	}
	printf("job %s: %zu of %d input parties contributed:", j->id, ib->m, ni);
	for (size_t k = 0; k < ib->m; k++)
		printf("%s%s", k ? ", " : " ", ib->names[k]);
	printf("\n");
	fflush(stdout);
	ib->contribs = (mpc_kind_contribs){
	    .m = ib->m, .n = ib->n, .ring = ib->ring, .shares = ib->shares, .names = ib->names};
	*out = &ib->contribs;
out:
	free(mine);
	free(all);
	free(counted);
	return err;
}

/* Read a file the kind wrote, for the recipients. */
static mpc_err take_file(const char *path, char **buf, size_t *len) {
	mpc_err err = mpc_file_read_all(path, 64u << 20, buf, len);
	(void)!remove(path);
	return err;
}

mpc_err party_inbox_hold(party_inbox *ib, const mpc_kind *k, void *st, mpc_kind_io io) {
	const mpc_job *j = ib->job;
	int want = 0;
	mpc_err err = MPC_OK;
	for (int i = 0; i < j->n_inputs; i++)
		want += j->inputs[i].recipient;
	if (want == 0)
		return MPC_OK;
	ib->want = want;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[2][512];
	char *buf[2] = {0};
	size_t len[2] = {0};
	io.quiet = 1;
	for (int f = 0; f < 2 && err == MPC_OK; f++) {
		snprintf(path[f], sizeof(path[f]), "%s/mpc-held-%s-%d.%s", tmp, j->id,
		         (int)getpid(), f ? "json" : "csv");
		io.output = path[f];
		io.json = f;
		if ((err = k->write(st, &io)) == MPC_OK)
			err = take_file(path[f], &buf[f], &len[f]);
	}
	pthread_mutex_lock(&ib->mu);
	if (err != MPC_OK) {
		ib->done = -1;
		snprintf(ib->why, sizeof(ib->why), "%s", mpc_error_detail());
	} else {
		for (int f = 0; f < 2; f++) {
			ib->out[f] = buf[f];
			ib->out_len[f] = len[f];
			buf[f] = NULL;
		}
		ib->done = 1;
	}
	pthread_mutex_unlock(&ib->mu);
	free(buf[0]);
	free(buf[1]);
	if (err != MPC_OK)
		return err;
	mpc_info("job %s: outputs held for %d recipient%s until fetched, at most %d s", j->id, want,
	         want == 1 ? "" : "s", j->hold_ms / 1000);
	pthread_mutex_lock(&ib->mu);
	(void)wait_until(ib, party_now() + j->hold_ms / 1000.0, all_fetched); /* a signal ends it */
	int got = ib->fetched;
	pthread_mutex_unlock(&ib->mu);
	if (got < want)
		mpc_warn("job %s: %d of %d recipients fetched their outputs before the hold ended",
		         j->id, got, want);
	else
		mpc_info("job %s: every recipient fetched its outputs", j->id);
	return MPC_OK;
}

void party_inbox_fail(party_inbox *ib, const char *why) {
	if (ib == NULL)
		return;
	pthread_mutex_lock(&ib->mu);
	ib->done = -1;
	snprintf(ib->why, sizeof(ib->why), "%s", why);
	pthread_mutex_unlock(&ib->mu);
}

void party_inbox_close(party_inbox *ib) {
	if (ib == NULL)
		return;
	mpc_links_stop(ib->links);
	for (int i = 0; ib->slot && i < ib->job->n_inputs; i++)
		if (ib->slot[i].share)
			mpc_wipe_free(ib->slot[i].share, ib->len);
	free(ib->slot);
	if (ib->shares)
		mpc_wipe_free(ib->shares, ib->m * ib->len + 1);
	free(ib->names);
	free(ib->out[0]);
	free(ib->out[1]);
	pthread_cond_destroy(&ib->cv);
	pthread_mutex_destroy(&ib->mu);
	free(ib);
}
