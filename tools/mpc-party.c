/* mpc-party: the one program a partner runs. Subcommands: keygen, check, run.
 * Everything a run needs comes from the job file that every partner holds;
 * see `mpc-party --help` and the README's "Running a peer" section. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "net/mpc_job.h"
#include "net/mpc_keys.h"
#include "net/mpc_peer.h"
#include "net/mpc_tls.h"
#include "protocols/mpc_dealer.h"
#include "protocols/mpc_gen.h"
#include "protocols/mpc_stats.h"
#include "runtime/mpc_csv.h"
#include "runtime/mpc_wipe.h"

static const char usage_text[] =
	"usage: mpc-party keygen --out DIR [--name NAME] [--days N] [--force]\n"
	"       mpc-party check --job JOB.ini --party NAME [options]\n"
	"       mpc-party run   --job JOB.ini --party NAME [--input FILE.csv] [--output FILE]\n"
	"                       [--format csv|json] [options]\n"
	"\n"
	"keygen  makes this party's private key (DIR/key.pem, mode 0600) and a self-signed\n"
	"        certificate (DIR/cert.pem, valid --days, default 3650), and prints the\n"
	"        certificate's SHA-256 fingerprint for the job file. Run it again with\n"
	"        --force to renew (then send the partners the new fingerprint).\n"
	"check   before any data moves: reads the job file and the key, reaches every peer,\n"
	"        verifies each one's certificate against the job file, checks that every\n"
	"        peer has the same job, and measures round-trip time and throughput.\n"
	"        Every partner runs it at about the same time. One line per peer.\n"
	"run     runs the job's computation with this party's input and writes the\n"
	"        outputs it may see. The party named 'dealer' runs the dealer service.\n"
	"\n"
	"options:\n"
	"  --keys DIR             this party's key.pem and cert.pem (default ./mpc-keys)\n"
	"  --listen URL           address to bind if it differs from the job file's (NAT,\n"
	"                         0.0.0.0); peers still connect to the job file's address\n"
	"  --insecure-plaintext   no TLS: only with 'transport = plaintext' in the job, for\n"
	"                         tests and benchmarks on loopback. Never across networks.\n"
	"  --log-level LEVEL      debug, info, warn, error (default info)\n"
	"\n"
	"exit codes: 0 ok, 1 usage or configuration, 2 input data, 3 network (peer\n"
	"unreachable, silent or gone), 4 protocol violation or failed check, 5 a peer\n"
	"aborted, 6 internal, 7 TLS (certificate or tampered channel).\n";

typedef struct {
	const char *job_path, *party, *keys, *listen, *input, *output, *format, *out_dir, *name;
	int insecure, force, days;
	mpc_log_level level;
} opts;

/* One node's connection to the job: its network and what it agreed. */
typedef struct {
	mpc_job *job;
	int self;          /* node index: parties 0..n-1, then the dealer */
	int is_dealer;
	mpc_nodes nodes;
	EVP_PKEY *key;
	X509 *cert;
	uint8_t (*pins)[32];
	mpc_net *net;
} conn;

static int parse_args(int argc, char **argv, int first, opts *o)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **slot = NULL;
		if (strcmp(a, "--insecure-plaintext") == 0) {
			o->insecure = 1;
			continue;
		}
		if (strcmp(a, "--force") == 0) {
			o->force = 1;
			continue;
		}
		if (strcmp(a, "--job") == 0)
			slot = &o->job_path;
		else if (strcmp(a, "--party") == 0)
			slot = &o->party;
		else if (strcmp(a, "--keys") == 0)
			slot = &o->keys;
		else if (strcmp(a, "--listen") == 0)
			slot = &o->listen;
		else if (strcmp(a, "--input") == 0)
			slot = &o->input;
		else if (strcmp(a, "--output") == 0)
			slot = &o->output;
		else if (strcmp(a, "--format") == 0)
			slot = &o->format;
		else if (strcmp(a, "--out") == 0)
			slot = &o->out_dir;
		else if (strcmp(a, "--name") == 0)
			slot = &o->name;
		else if (strcmp(a, "--days") == 0 && v) {
			o->days = atoi(v);
			if (o->days < 1 || o->days > 36500) {
				fprintf(stderr, "mpc-party: --days must be 1..36500\n");
				return -1;
			}
			i++;
			continue;
		} else if (strcmp(a, "--log-level") == 0 && v) {
			if (mpc_log_level_parse(v, &o->level) != MPC_OK) {
				fprintf(stderr, "mpc-party: --log-level: debug, info, warn or error\n");
				return -1;
			}
			i++;
			continue;
		} else {
			fprintf(stderr, "mpc-party: unknown option '%s' (see mpc-party --help)\n", a);
			return -1;
		}
		if (v == NULL) {
			fprintf(stderr, "mpc-party: %s needs a value\n", a);
			return -1;
		}
		*slot = v;
		i++;
	}
	return 0;
}

static int cmd_keygen(const opts *o)
{
	uint8_t fp[32];
	char text[MPC_TLS_FP_TEXT];
	if (o->out_dir == NULL) {
		fprintf(stderr, "mpc-party keygen: --out DIR is required\n");
		return MPC_EXIT_USAGE;
	}
	mpc_err err = mpc_keys_generate(o->out_dir, o->name ? o->name : "mpc-party",
					o->days ? o->days : 3650, o->force, fp);
	if (err != MPC_OK) {
		fprintf(stderr, "mpc-party keygen: %s\n", mpc_error_detail());
		return mpc_exit_code(err);
	}
	mpc_tls_fingerprint_format(fp, text);
	printf("key:         %s/key.pem (keep it secret; mode 0600)\n", o->out_dir);
	printf("certificate: %s/cert.pem\n", o->out_dir);
	printf("fingerprint: %s\n", text);
	printf("Send the fingerprint to your partners: it goes in the job file as\n"
	       "  fingerprint = %s\nunder your [party NAME] section.\n", text);
	return 0;
}

static void conn_fini(conn *c)
{
	mpc_job_free(c->job);
	mpc_nodes_fini(&c->nodes);
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	free(c->pins);
	memset(c, 0, sizeof(*c));
}

/* Everything before the network: job, our node, transport, keys. */
static mpc_err prepare(const opts *o, conn *c)
{
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
		return mpc_error(MPC_ECONFIG, "%s has no [party %s]; its parties are listed in "
				 "[party NAME] sections", o->job_path, o->party);
	}
	if (j->transport == MPC_JOB_PLAINTEXT && !o->insecure)
		return mpc_error(MPC_ECONFIG, "%s says transport = plaintext: confirm with "
				 "--insecure-plaintext (loopback tests only: shares would travel in "
				 "clear)", o->job_path);
	if (j->transport != MPC_JOB_PLAINTEXT && o->insecure)
		return mpc_error(MPC_ECONFIG, "--insecure-plaintext given, but %s requires TLS "
				 "(transport = tls)", o->job_path);
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
	const char *dir = o->keys ? o->keys : "mpc-keys";
	if ((err = mpc_keys_load(dir, &c->key, &c->cert)) != MPC_OK)
		return err;
	uint8_t mine[32];
	const mpc_job_node *me = c->is_dealer ? &j->dealer : &j->parties[c->self];
	if ((err = mpc_tls_fingerprint(c->cert, mine)) != MPC_OK)
		return err;
	if (CRYPTO_memcmp(mine, me->fingerprint, 32) != 0) {
		char have[MPC_TLS_FP_TEXT], want[MPC_TLS_FP_TEXT];
		mpc_tls_fingerprint_format(mine, have);
		mpc_tls_fingerprint_format(me->fingerprint, want);
		return mpc_error(MPC_ECONFIG, "the certificate in %s has fingerprint %s, but %s "
				 "lists %s for %s: wrong --keys directory, or the job file has an "
				 "old fingerprint", dir, have, o->job_path, want, o->party);
	}
	int n = c->nodes.n;
	if ((c->pins = calloc((size_t)n, sizeof(*c->pins))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (int i = 0; i < n; i++)
		memcpy(c->pins[i], i < j->n_parties ? j->parties[i].fingerprint : j->dealer.fingerprint,
		       32);
	return MPC_OK;
}

/* Open the network and agree the job: every node sends every other its
 * canonical job text (plus what it is about to do); any difference is
 * refused, naming the first differing field. */
static mpc_err connect_and_agree(const opts *o, conn *c, const char *mode)
{
	const mpc_job *j = c->job;
	int n = c->nodes.n, self = c->self;
	char *canon = NULL, *text = NULL;
	size_t clen = 0;
	uint64_t *lens = NULL;
	char **theirs = NULL;
	mpc_err err;

	mpc_net_tls tls = {.key = c->key, .cert = c->cert, .pins = (const uint8_t(*)[32])c->pins};
	mpc_net_config cfg = {
		.id = self,
		.n_nodes = n,
		.addrs = (const char *const *)c->nodes.addrs,
		.names = (const char *const *)c->nodes.names,
		.timeout_ms = j->timeout_ms,
		.connect_timeout_ms = j->connect_timeout_ms,
		.tls = o->insecure ? NULL : &tls,
	};
	if ((err = mpc_session_derive(cfg.session, j->id)) != MPC_OK)
		return err;
	mpc_info("%s of job %s: %d parties%s, listening on %s%s", c->nodes.names[self], j->id,
		 j->n_parties, j->has_dealer ? " and a dealer" : "", c->nodes.addrs[self],
		 o->insecure ? " (PLAINTEXT)" : " (TLS 1.3, pinned certificates)");
	if ((err = mpc_net_open(&c->net, &cfg)) != MPC_OK)
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
		err = mpc_error(MPC_ECONFIG, "%s has a different job: its job file differs in "
				"'%s'; every partner must use the same job file (and run the same "
				"subcommand)", c->nodes.names[i], field);
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

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Round-trip time and throughput to every peer, measured together. */
static mpc_err measure(conn *c, double *rtt_ms, double *mbps)
{
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
	double t0 = now();
	for (int r = 0; r < reps && err == MPC_OK; r++)
		err = mpc_net_bcast(c->net, all, small, all, sink, sizeof(small));
	*rtt_ms = (now() - t0) * 1000 / reps;
	if (err != MPC_OK)
		goto out;
	t0 = now();
	err = mpc_net_bcast(c->net, all, buf, all, rbuf, big);
	*mbps = big / 1e6 / (now() - t0);
out:
	free(buf);
	free(rbuf);
	return err;
}

static int fail(conn *c, mpc_err err, const char *what)
{
	int code = mpc_exit_code(err);
	mpc_peer_fail(c->net, err, what);
	c->net = NULL;
	return code;
}

static int cmd_check(const opts *o)
{
	conn c;
	double rtt = 0, mbps = 0;
	mpc_err err = prepare(o, &c);
	int code;

	if (err != MPC_OK) {
		fprintf(stderr, "mpc-party check: %s\n", mpc_error_detail());
		code = err == MPC_ECONFIG || err == MPC_EIO ? MPC_EXIT_USAGE : mpc_exit_code(err);
		conn_fini(&c);
		return code;
	}
	printf("job %s: %s, %d parties%s, %s\n", c.job->id, c.job->computation, c.job->n_parties,
	       c.job->has_dealer ? " + dealer" : "", o->insecure ? "PLAINTEXT" : "TLS 1.3");
	if ((err = connect_and_agree(o, &c, "check")) != MPC_OK ||
	    (err = measure(&c, &rtt, &mbps)) != MPC_OK) {
		/* one line per peer: the one the error names, and the others */
		const char *d = mpc_error_detail();
		int named = 0;
		for (int i = 0; i < c.nodes.n; i++) {
			if (i == c.self)
				continue;
			int it = strstr(d, c.nodes.names[i]) != NULL;
			named |= it;
			printf("  %-20s %-28s %s\n", c.nodes.names[i], c.nodes.addrs[i],
			       it ? "FAILED (below)" : "not confirmed (the check stopped)");
		}
		printf("FAILED%s: %s: %s\n", named ? "" : " (all peers)", mpc_strerror(err), d);
		code = fail(&c, err, "check");
		conn_fini(&c);
		return code;
	}
	for (int i = 0; i < c.nodes.n; i++) {
		if (i == c.self)
			continue;
		printf("  %-20s %-28s OK  %s, same job\n", c.nodes.names[i], c.nodes.addrs[i],
		       o->insecure ? "reached (plaintext: identity NOT verified)"
				   : "identity verified");
	}
	printf("round trip (all peers at once): %.2f ms; throughput to each peer: %.0f MB/s\n",
	       rtt, mbps);
	mpc_net_close(c.net);
	c.net = NULL;
	conn_fini(&c);
	printf("ready: every peer is reachable, verified and has the same job.\n");
	return 0;
}

/* The job's preprocessing at a party: the dealer, or made among the parties. */
static mpc_err install_preproc(const opts *o, conn *c, mpc_party *p)
{
	const mpc_job *j = c->job;
	(void)o;
	switch (j->preprocessing) {
	case MPC_JOB_DEALER:
		return mpc_dealer_connect(p, j->n_parties);
	case MPC_JOB_OT:
		return mpc_gen_install(p, "ot", 0);
	case MPC_JOB_PAILLIER:
		return mpc_gen_install(p, "paillier", 0);
	}
	return mpc_error(MPC_ECONFIG, "%s: unknown preprocessing", j->path);
}

static mpc_err run_stats(const opts *o, conn *c, mpc_txns *t, mpc_stats_result *res,
			 int *bad_input)
{
	const mpc_job *j = c->job;
	mpc_stats_params sp;
	mpc_party *p = NULL;
	mpc_err err;

	mpc_stats_params_default(&sp);
	sp.frac = j->frac_bits;
	if ((err = mpc_job_param_double(j, "max_amount", sp.max_amount, 1e-9, 1e15,
					&sp.max_amount)) != MPC_OK ||
	    (err = mpc_job_param_double(j, "max_rows", sp.max_rows, 1, 1e12, &sp.max_rows)) != MPC_OK ||
	    (err = mpc_stats_check_params(&sp, j->n_parties)) != MPC_OK)
		return err;
	if (!c->is_dealer) {
		if (o->input == NULL)
			return mpc_error(MPC_ECONFIG, "--input FILE.csv is required for %s",
					 j->computation);
		/* all input is read and checked before the first byte moves; its
		 * errors are the input's (exit code 2), whatever their kind */
		if ((err = mpc_txns_read(o->input, sp.max_amount, t)) != MPC_OK ||
		    (err = mpc_stats_check_input(&sp, t, o->input)) != MPC_OK) {
			*bad_input = err != MPC_ENOMEM;
			return err;
		}
		mpc_info("read %zu transactions from %s", t->n, o->input);
	}
	if ((err = connect_and_agree(o, c, "run")) != MPC_OK)
		return err;
	/* Test hook (tests/loopback/test_party_cli.c): pause here, outside any
	 * round, so a test can kill or stall this party mid-job. */
	const char *pause = getenv("MPC_TEST_PAUSE_MS");
	if (pause && atoi(pause) > 0) {
		mpc_warn("MPC_TEST_PAUSE_MS: pausing %d ms (test hook)", atoi(pause));
		struct timespec ts = {atoi(pause) / 1000, (long)(atoi(pause) % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	if (c->is_dealer) {
		uint64_t served;
		return mpc_dealer_serve(c->net, j->n_parties, j->timeout_ms * 20, &served);
	}
	if ((err = mpc_party_new(&p, c->net, j->n_parties)) == MPC_OK &&
	    (err = install_preproc(o, c, p)) == MPC_OK)
		err = mpc_stats_run(p, &sp, t, res);
	mpc_party_free(p);
	return err;
}

static int cmd_run(const opts *o)
{
	conn c;
	mpc_txns t = {0};
	mpc_stats_result res;
	int json = o->format && strcmp(o->format, "json") == 0, code = 0;
	mpc_err err;

	if (o->format && !json && strcmp(o->format, "csv") != 0) {
		fprintf(stderr, "mpc-party run: --format csv or json\n");
		return MPC_EXIT_USAGE;
	}
	if ((err = prepare(o, &c)) != MPC_OK) {
		fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
		code = err == MPC_ECONFIG || err == MPC_EIO ? MPC_EXIT_USAGE : mpc_exit_code(err);
		goto out;
	}
	if (strcmp(c.job->computation, "aggregate_stats") != 0) {
		err = mpc_error(MPC_ECONFIG, "%s: this version runs computation = aggregate_stats",
				o->job_path);
		fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	int bad_input = 0;
	if ((err = run_stats(o, &c, &t, &res, &bad_input)) != MPC_OK) {
		code = fail(&c, err, c.net ? "computing" : "preparing");
		if (bad_input)
			code = MPC_EXIT_INPUT;
		goto out;
	}
	mpc_net_close(c.net);
	c.net = NULL;
	if (c.is_dealer)
		goto out;
	printf("job %s: joint statistics over %d parties (%s)\n", c.job->id, c.job->n_parties,
	       o->party);
	for (int i = 0; i < MPC_STATS_N; i++)
		printf("  %-11s %.6f\n", mpc_stats_names[i], res.v[i]);
	if (o->output && (err = mpc_stats_write(o->output, json, &res)) != MPC_OK) {
		fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
		code = MPC_EXIT_INPUT;
	}
out:
	mpc_txns_fini(&t);
	conn_fini(&c);
	return code;
}

int main(int argc, char **argv)
{
	opts o = {.level = MPC_LOG_INFO};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? MPC_EXIT_USAGE : 0;
	}
	if (parse_args(argc, argv, 2, &o) != 0)
		return MPC_EXIT_USAGE;
	char who[64];
	snprintf(who, sizeof(who), "%s", o.party ? o.party : "mpc-party");
	mpc_log_init(who, o.level, NULL);
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(&o);
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(&o);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(&o);
	fprintf(stderr, "mpc-party: unknown subcommand '%s' (keygen, check, run; see --help)\n",
		argv[1]);
	return MPC_EXIT_USAGE;
}
