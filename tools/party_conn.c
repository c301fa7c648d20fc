/* mpc-party's connection to a job: everything before the network (job,
 * our node, transport, keys), opening it, agreeing the job with every peer,
 * measuring the links, and failing with a reason the peers hear. */
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/mpc_keys.h"
#include "net/mpc_peer.h"
#include "net/mpc_tls.h"
#include "tools/party.h"

party_dry_info party_dry;

/* Columns of a CSV file's header line (0 if it cannot be read). */
size_t party_csv_columns(const char *path) {
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	int ch, any = 0;
	if (fp == NULL)
		return 0;
	while ((ch = fgetc(fp)) != EOF && ch != '\n') {
		any |= ch != '\r';
		n += ch == ',';
	}
	fclose(fp);
	return any ? n + 1 : 0;
}

void party_conn_fini(conn *c) {
	mpc_job_free(c->job);
	mpc_nodes_fini(&c->nodes);
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	free(c->pins);
	memset(c, 0, sizeof(*c));
}

/* --keys (default ./mpc-keys), refused unless its certificate is the one the
 * job file pins for this party. */
mpc_err party_load_keys(const opts *o, const uint8_t pin[32], EVP_PKEY **key, X509 **cert) {
	const char *dir = o->keys ? o->keys : "mpc-keys";
	uint8_t mine[32];
	mpc_err err;
	if ((err = mpc_keys_load(dir, key, cert)) != MPC_OK ||
	    (err = mpc_tls_fingerprint(*cert, mine)) != MPC_OK)
		return err;
	if (CRYPTO_memcmp(mine, pin, 32) == 0)
		return MPC_OK;
	char have[MPC_TLS_FP_TEXT], want[MPC_TLS_FP_TEXT];
	mpc_tls_fingerprint_format(mine, have);
	mpc_tls_fingerprint_format(pin, want);
	return mpc_error(MPC_ECONFIG,
	                 "the certificate in %s has fingerprint %s, but %s "
	                 "lists %s for %s: wrong --keys directory, or the job file has an "
	                 "old fingerprint",
	                 dir, have, o->job_path, want, o->party);
}

/* Everything before the network: job, our node, transport, keys. */
mpc_err party_prepare(const opts *o, conn *c) {
	mpc_err err;
	memset(c, 0, sizeof(*c));
	c->self = -1;
	if (o->job_path == NULL || o->party == NULL)
		return mpc_error(MPC_ECONFIG, "--job and --party are required");
	if ((err = mpc_job_load(o->job_path, &c->job)) != MPC_OK)
		return err;
	const mpc_job *j = c->job;
	if (strcmp(o->party, "dealer") == 0) {
		if (!j->has_dealer)
			return mpc_error(MPC_ECONFIG, "%s has no [dealer] section", o->job_path);
		c->is_dealer = 1;
		c->self = j->n_parties;
	} else if ((c->self = mpc_job_party_index(j, o->party)) < 0) {
		return mpc_error(MPC_ECONFIG,
		                 "%s has no [party %s]; its parties are listed in "
		                 "[party NAME] sections",
		                 o->job_path, o->party);
	}
	if (j->transport == MPC_JOB_PLAINTEXT && !o->insecure)
		return mpc_error(
		    MPC_ECONFIG,
		    "%s says transport = plaintext: confirm with "
		    "--insecure-plaintext (loopback tests only: shares would travel in "
		    "clear)",
		    o->job_path);
	if (j->transport != MPC_JOB_PLAINTEXT && o->insecure)
		return mpc_error(MPC_ECONFIG,
		                 "--insecure-plaintext given, but %s requires TLS "
		                 "(transport = tls)",
		                 o->job_path);
	if ((err = mpc_job_nodes(j, &c->nodes)) != MPC_OK)
		return err;
	if (o->listen) {
		char *l = strdup(o->listen);
		if (l == NULL)
			return mpc_error(MPC_ENOMEM, "out of memory");
		free(c->nodes.addrs[c->self]);
		c->nodes.addrs[c->self] = l;
	}
	if (o->insecure) {
		mpc_warn("INSECURE: plaintext transport; anyone who can read the traffic learns "
		         "every input");
		return MPC_OK;
	}
	const mpc_job_node *me = c->is_dealer ? &j->dealer : &j->parties[c->self];
	if ((err = party_load_keys(o, me->fingerprint, &c->key, &c->cert)) != MPC_OK)
		return err;
	int n = c->nodes.n;
	if ((c->pins = calloc((size_t)n, sizeof(*c->pins))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		memcpy(c->pins[i],
		       i < j->n_parties ? j->parties[i].fingerprint : j->dealer.fingerprint, 32);
	return MPC_OK;
}

/* preprocessing = dealer hands the dealer every mask: only by this party's
 * own consent on its command line, never by the job file alone (whoever
 * writes the file could name itself, or a key it holds, the dealer). The
 * dealer itself needs none. */
mpc_err party_dealer_consent(const opts *o, const conn *c) {
	const mpc_job *j = c->job;
	if (j->preprocessing != MPC_JOB_DEALER || c->is_dealer || o->trust_dealer)
		return MPC_OK;
	return mpc_error(MPC_ECONFIG,
	                 "%s says preprocessing = dealer ([dealer] at %s, line %d): "
	                 "the dealer makes every Beaver triple, so it can undo every mask and "
	                 "learn every input and every output of this job. Confirm with "
	                 "--trust-dealer only if %s trusts whoever runs the dealer with all of "
	                 "that; otherwise use preprocessing = ot or paillier (the material is then "
	                 "made among the parties)",
	                 o->job_path, j->dealer.address, j->dealer.line, o->party);
}

/* Open a network among the nodes in mask (bit i: node i; this node among
 * them), TLS unless party_prepare() found --insecure-plaintext (then no key
 * was loaded), waiting up to connect_ms for the peers. Its session is the
 * job's, or with tag (not NULL) one derived from the job's id and the tag.
 * missing (may be NULL): on a set-up timeout, the nodes of mask that never
 * came, as node indices. */
static mpc_err open_among(conn *c, uint64_t mask, const char *tag, int connect_ms,
                          uint64_t *missing) {
	const mpc_job *j = c->job;
	const char *addrs[MPC_NET_MAX_NODES], *names[MPC_NET_MAX_NODES];
	uint8_t pins[MPC_NET_MAX_NODES][32];
	int idx[MPC_NET_MAX_NODES], n = 0, self = -1;
	uint64_t sub_missing = 0;
	char id[512];
	mpc_err err;

	for (int i = 0; i < c->nodes.n; i++) {
		if (!(mask >> i & 1))
			continue;
		self = i == c->self ? n : self;
		idx[n] = i;
		addrs[n] = c->nodes.addrs[i];
		names[n] = c->nodes.names[i];
		if (c->pins)
			memcpy(pins[n], c->pins[i], 32);
		n++;
	}
	mpc_net_tls tls = {.key = c->key, .cert = c->cert, .pins = (const uint8_t(*)[32])pins};
	mpc_net_config cfg = {
	    .id = self,
	    .n_nodes = n,
	    .addrs = addrs,
	    .names = names,
	    .timeout_ms = j->timeout_ms,
	    .connect_timeout_ms = connect_ms,
	    .tls = c->key ? &tls : NULL,
	    .missing = missing ? &sub_missing : NULL,
	};
	snprintf(id, sizeof(id), "%s%s%s", j->id, tag ? "\n" : "", tag ? tag : "");
	if ((err = mpc_session_derive(cfg.session, id)) != MPC_OK)
		return err;
	mpc_info("%s of job %s: %d parties%s, listening on %s%s", names[self], j->id, n,
	         j->has_dealer ? " and a dealer" : "", addrs[self],
	         c->key ? " (TLS 1.3, pinned certificates)" : " (PLAINTEXT)");
	err = mpc_net_open(&c->net, &cfg);
	if (missing) {
		*missing = 0;
		for (int k = 0; k < n; k++)
			*missing |= (sub_missing >> k & 1) << idx[k];
	}
	return err;
}

static mpc_err open_net(conn *c, int connect_ms) {
	uint64_t all = c->nodes.n >= 64 ? ~0ull : (1ull << c->nodes.n) - 1;
	return open_among(c, all, NULL, connect_ms, NULL);
}

mpc_err party_regroup(conn *c, uint64_t *alive, int attempt, int min_parties) {
	char tag[64], list[512];
	uint64_t missing = 0, mask = *alive;
	size_t len = 0;
	mpc_err err;

	mpc_net_abort(c->net, MPC_EPEER, "a party dropped out: meeting the others again");
	c->net = NULL;
	mpc_warn("meeting the parties again (up to %d s) to go on without those that dropped out",
	         c->job->connect_timeout_ms / 1000);
	snprintf(tag, sizeof(tag), "regroup %d probe %llx", attempt, (unsigned long long)mask);
	err = open_among(c, mask, tag, c->job->connect_timeout_ms, &missing);
	if (err == MPC_OK)
		return MPC_OK; /* everyone came back */
	if (err != MPC_ETIMEDOUT || missing == 0)
		return err;
	mask &= ~missing;
	list[0] = '\0';
	for (int i = 0; i < c->job->n_parties; i++)
		if (missing >> i & 1) {
			int w = snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "",
			                 c->job->parties[i].name);
			len = w > 0 && (size_t)w < sizeof(list) - len ? len + (size_t)w : len;
		}
	int left = __builtin_popcountll(mask);
	if (left < min_parties)
		return mpc_error(MPC_EPEER,
		                 "only %d of the job's %d parties are left (min_parties = %d): %s "
		                 "did not come back within %d s; the job ends here, nothing more "
		                 "is opened",
		                 left, c->job->n_parties, min_parties, list,
		                 c->job->connect_timeout_ms / 1000);
	mpc_warn("going on with %d parties without %s (did not come back)", left, list);
	*alive = mask;
	snprintf(tag, sizeof(tag), "regroup %d among %llx", attempt, (unsigned long long)mask);
	return open_among(c, mask, tag, c->job->connect_timeout_ms, NULL);
}

/* Open the network and agree the job: every node sends every other its
 * canonical job text (plus what it is about to do); any difference is
 * refused, naming the first differing field. */
mpc_err party_agree(conn *c, const char *mode) {
	const mpc_job *j = c->job;
	int n = c->nodes.n, self = c->self;
	char *canon = NULL, *text = NULL;
	size_t clen = 0;
	uint64_t *lens = NULL;
	char **theirs = NULL;
	mpc_err err;

	if ((err = open_net(c, j->connect_timeout_ms)) != MPC_OK)
		return err;
	if ((err = mpc_job_canonical(j, &canon, &clen)) != MPC_OK)
		goto out;
	size_t tlen = clen + strlen(mode) + 8;
	if ((text = malloc(tlen)) == NULL) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	tlen = (size_t)snprintf(text, tlen, "%smode=%s\n", canon, mode);
	lens = calloc((size_t)n, sizeof(*lens));
	theirs = calloc((size_t)n, sizeof(*theirs));
	if (!lens || !theirs) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	uint64_t mylen = tlen, all = (n >= 64 ? ~0ull : (1ull << n) - 1) & ~(1ull << self);
	if ((err = mpc_net_bcast(c->net, all, &mylen, all, lens, sizeof(mylen))) != MPC_OK)
		goto out;
	{
		const void *send[MPC_NET_MAX_NODES] = {0};
		void *recv[MPC_NET_MAX_NODES] = {0};
		size_t sl[MPC_NET_MAX_NODES] = {0}, rl[MPC_NET_MAX_NODES] = {0};
		for (int i = 0; i < n; i++) {
			if (i == self)
				continue;
			if (lens[i] > (1u << 20)) {
				err = mpc_error(MPC_EPROTO, "%s announced a job text of %llu bytes",
				                c->nodes.names[i], (unsigned long long)lens[i]);
				goto out;
			}
			if ((theirs[i] = malloc(lens[i] + 1)) == NULL) {
				err = mpc_error(MPC_ENOMEM, "out of memory");
				goto out;
			}
			send[i] = text;
			sl[i] = tlen;
			recv[i] = theirs[i];
			rl[i] = lens[i];
		}
		if ((err = mpc_net_exchange(c->net, send, sl, recv, rl)) != MPC_OK)
			goto out;
	}
	for (int i = 0; i < n; i++) {
		char field[128];
		if (i == self || (lens[i] == tlen && memcmp(theirs[i], text, tlen) == 0))
			continue;
		if (mpc_job_diff(text, tlen, theirs[i], lens[i], field, sizeof(field)) != MPC_OK)
			snprintf(field, sizeof(field), "(unknown)");
		err = mpc_error(MPC_ECONFIG,
		                "%s has a different job: its job file differs in "
		                "'%s'; every partner must use the same job file (and run the same "
		                "subcommand)",
		                c->nodes.names[i], field);
		goto out;
	}
	mpc_info("every peer has the same job (%s)", mode);
out:
	if (lens) {
		for (int i = 0; i < n && theirs; i++)
			free(theirs[i]);
	}
	free(theirs);
	free(lens);
	free(text);
	free(canon);
	return err;
}

double party_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Round-trip time and throughput to every peer, measured together. */
mpc_err party_measure(conn *c, double *rtt_ms, double *mbps) {
	int n = c->nodes.n, self = c->self, reps = 20;
	size_t big = 8u << 20;
	uint64_t all = (n >= 64 ? ~0ull : (1ull << n) - 1) & ~(1ull << self);
	uint8_t small[8] = {0}, sink[8 * MPC_NET_MAX_NODES];
	uint8_t *buf = calloc(1, big), *rbuf = malloc(big * (size_t)n);
	mpc_err err = MPC_OK;

	if (!buf || !rbuf) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto out;
	}
	double t0 = party_now();
	for (int r = 0; r < reps && err == MPC_OK; r++)
		err = mpc_net_bcast(c->net, all, small, all, sink, sizeof(small));
	*rtt_ms = (party_now() - t0) * 1000 / reps;
	if (err != MPC_OK)
		goto out;
	t0 = party_now();
	err = mpc_net_bcast(c->net, all, buf, all, rbuf, big);
	*mbps = big / 1e6 / (party_now() - t0);
out:
	free(buf);
	free(rbuf);
	return err;
}

/* Log the error and, when the network is open, send the peers a short
 * reason that names this party and the cause with its file:line or signal
 * ("bolt stopped: bad.csv:1235: column amount: ..."); error details never
 * hold secret values. */
int party_fail(conn *c, mpc_err err, const char *what) {
	const char *d = mpc_error_detail();
	const char *me = c->job == NULL || c->self < 0 ? "mpc-party"
	                 : c->is_dealer                ? "dealer"
	                                               : c->job->parties[c->self].name;
	char reason[512];
	mpc_logerr("%s: %s%s%s", what, mpc_strerror(err), *d ? ": " : "", d);
	if (err == MPC_ESTOPPED && *d) /* "NAME (party i) stopped by SIGTERM (round r)" */
		snprintf(reason, sizeof(reason), "%s", d);
	else
		snprintf(reason, sizeof(reason), "%s stopped: %s", me, *d ? d : mpc_strerror(err));
	if (c->net == NULL && c->tell_peers && c->job && mpc_net_stop_signal() == 0) {
		/* the peers wait for our HELLO and would blame a party that "never
		 * said hello": connect (at most 10 s) only to send the reason */
		int ms = c->job->connect_timeout_ms < 10000 ? c->job->connect_timeout_ms : 10000;
		mpc_info("telling the peers why (waiting up to %d s for them)", ms / 1000);
		if (open_net(c, ms) != MPC_OK)
			mpc_info("could not tell the peers: %s", mpc_error_detail());
	}
	if (c->net)
		mpc_net_abort(c->net, err, reason);
	c->net = NULL;
	return mpc_exit_code(err);
}

mpc_kind_io party_kind_io(const opts *o, const conn *c) {
	mpc_kind_io io = {.job = c->job,
	                  .self = c->self,
	                  .is_dealer = c->is_dealer,
	                  .party = o->party,
	                  .input = o->input,
	                  .input_pg = o->input_pg,
	                  .model = o->model,
	                  .output = o->output,
	                  .json = o->format && strcmp(o->format, "json") == 0,
	                  .dry = o->dry};
	return io;
}
