/* mpc-party: the one program a partner runs. Subcommands: keygen, check, run.
 * Everything a run needs comes from the job file that every partner holds;
 * see `mpc-party --help` and the README's "Running a peer" section. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jobs/mpc_job.h"
#include "net/mpc_keys.h"
#include "net/mpc_peer.h"
#include "net/mpc_tls.h"
#include "protocols/preproc/mpc_dealer.h"
#include "protocols/preproc/mpc_gen.h"
#include "protocols/apps/mpc_score.h"
#include "protocols/preproc/mpc_cross.h"
#include "protocols/preproc/mpc_store.h"
#include "protocols/preproc/mpc_store_backend.h"
#include "protocols/apps/mpc_stats.h"
#include "jobs/mpc_csv.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_wipe.h"
#include "tools/party_jobs.h"
#include "tools/party_plan.h"

static const char usage_text[] =
	"usage: mpc-party keygen --out DIR [--name NAME] [--days N] [--force]\n"
	"       mpc-party check --job JOB.ini --party NAME [--input FILE.csv] [--model FILE]\n"
	"                       [--format text|json] [options]\n"
	"       mpc-party run   --job JOB.ini --party NAME [--input FILE.csv] [--output FILE]\n"
	"                       [--format csv|json] [--model FILE] [--store DIR] [options]\n"
	"       mpc-party preprocess --job JOB.ini --party NAME --for-job [--rows N] [--runs K]\n"
	"                       [--store DIR] [options]\n"
	"       mpc-party preprocess --job JOB.ini --party NAME [--triples N] [--trunc N]\n"
	"                       [--bits N] [--bit-triples N] [--target] [--store DIR] [options]\n"
	"       mpc-party preprocess --status --job JOB.ini --party NAME [--store DIR]\n"
	"       mpc-party preprocess --list [--store DIR]\n"
	"\n"
	"keygen  makes this party's private key (DIR/key.pem, mode 0600) and a self-signed\n"
	"        certificate (DIR/cert.pem, valid --days, default 3650), and prints the\n"
	"        certificate's SHA-256 fingerprint for the job file. Run it again with\n"
	"        --force to renew (then send the partners the new fingerprint).\n"
	"check   before any data moves: reads the job file and the key, and validates\n"
	"        everything run would refuse with the same code run uses: the whole job\n"
	"        file, and this party's --input and --model files (a dry read: rows,\n"
	"        columns, ranges, with file:line), and prints the exact material the job\n"
	"        consumes, every kind in every ring (fraud_score: for the asker's --input,\n"
	"        or --rows N). Then it reaches every peer, verifies each one's certificate\n"
	"        against the job file, checks that every peer has the same job, and\n"
	"        measures round-trip time and throughput. Every partner runs it at about\n"
	"        the same time. One line per peer. --format json: one JSON object on\n"
	"        stdout (job, party, computation, ok, error, input, model, peers); the\n"
	"        human messages go to stderr.\n"
	"run     runs the job's computation with this party's input and writes the\n"
	"        outputs it may see. The party named 'dealer' runs the dealer service.\n"
	"        computation = aggregate_stats: statistics over every party's --input\n"
	"        (optionally per category, histogram, median, K, filter, differential\n"
	"        privacy; see the README). computation = fraud_score: the job's asker\n"
	"        scores its --input with the model owner's --model (logistic regression:\n"
	"        fed_avg's model file; or decision trees); only the asker receives the\n"
	"        scores and flags.\n"
	"        With preprocessing = ot or paillier it takes material from the store\n"
	"        first and makes the rest on demand.\n"
	"preprocess  makes material ahead of time, together with every other party\n"
	"        (all run it with the same arguments), into this party's store (default\n"
	"        ./mpc-store/JOBID-NAME, mode 0700). --for-job: tops the store up to\n"
	"        what the job consumes (--runs K: K runs' worth; fraud_score needs\n"
	"        --rows N, the asker's transactions). Or counts in the job's ring:\n"
	"        added, or with --target levels to top up to. --status shows what the\n"
	"        store holds, --list every store under --store DIR (default\n"
	"        ./mpc-store); neither needs keys or peers.\n"
	"\n"
	"options:\n"
	"  --keys DIR             this party's key.pem and cert.pem (default ./mpc-keys)\n"
	"  --listen URL           address to bind if it differs from the job file's (NAT,\n"
	"                         0.0.0.0); peers still connect to the job file's address\n"
	"  --insecure-plaintext   no TLS: only with 'transport = plaintext' in the job, for\n"
	"                         tests and benchmarks on loopback. Never across networks.\n"
	"  --trust-dealer         consent to 'preprocessing = dealer': the dealer makes every\n"
	"                         triple, so it can learn every input and output of the job.\n"
	"                         check and run refuse a dealer job without it.\n"
	"  --log-level LEVEL      debug, info, warn, error (default info)\n"
	"  --store DIR            the preprocessing store (default ./mpc-store/JOBID-NAME)\n"
	"\n"
	"exit codes: 0 ok, 1 usage or configuration (also: cannot listen on our own\n"
	"address), 2 input data, 3 network (peer unreachable, silent or gone), 4 protocol\n"
	"violation or failed check, 5 a peer aborted (its reason is printed), 6 internal,\n"
	"7 TLS (certificate or tampered channel), 8 stopped by SIGTERM or SIGINT (the peers\n"
	"were told; a second Ctrl-C quits at once).\n";

typedef struct {
	const char *job_path, *party, *keys, *listen, *input, *output, *format, *out_dir, *name;
	const char *model;
	const char *store;
	int insecure, force, days, status;
	int trust_dealer; /* --trust-dealer */
	int dry;          /* check: run's validation only, stop before connecting */
	uint64_t triples, trunc, bits, bit_triples; /* preprocess: how many to make */
	int for_job, target, list;  /* preprocess: the job's plan; levels, not amounts; list */
	uint64_t rows, runs;        /* the asker's transactions (fraud_score); runs to stock */
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
	/* fail(): an input error found before connecting; connect briefly to
	 * tell the peers, who would otherwise wait for us */
	int tell_peers;
} conn;

/* What check's dry read of this party's files found: run's own readers and
 * checks, stopped just before connecting (opts.dry). */
static struct {
	int input_read, model_read;
	size_t rows, columns;
	char model[160];
} dry;

/* Columns of a CSV file's header line (0 if it cannot be read). */
static size_t csv_columns(const char *path)
{
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

static int parse_args(int argc, char **argv, int first, opts *o)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **slot = NULL;
		if (strcmp(a, "--insecure-plaintext") == 0) {
			o->insecure = 1;
			continue;
		}
		if (strcmp(a, "--trust-dealer") == 0) {
			o->trust_dealer = 1;
			continue;
		}
		if (strcmp(a, "--force") == 0) {
			o->force = 1;
			continue;
		}
		if (strcmp(a, "--status") == 0) {
			o->status = 1;
			continue;
		}
		int *flag = strcmp(a, "--for-job") == 0  ? &o->for_job
			    : strcmp(a, "--target") == 0 ? &o->target
			    : strcmp(a, "--list") == 0   ? &o->list
							 : NULL;
		if (flag) {
			*flag = 1;
			continue;
		}
		uint64_t *count = strcmp(a, "--triples") == 0       ? &o->triples
				  : strcmp(a, "--rows") == 0        ? &o->rows
				  : strcmp(a, "--runs") == 0        ? &o->runs
				  : strcmp(a, "--trunc") == 0       ? &o->trunc
				  : strcmp(a, "--bits") == 0        ? &o->bits
				  : strcmp(a, "--bit-triples") == 0 ? &o->bit_triples
								    : NULL;
		if (count) {
			char *end = NULL;
			unsigned long long x = v ? strtoull(v, &end, 10) : 0;
			if (v == NULL || end == v || *end != '\0' || x > (1ull << 40) || v[0] == '-') {
				fprintf(stderr, "mpc-party: %s needs a count from 0 to 2^40\n", a);
				return -1;
			}
			*count = x;
			i++;
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
		else if (strcmp(a, "--model") == 0)
			slot = &o->model;
		else if (strcmp(a, "--format") == 0)
			slot = &o->format;
		else if (strcmp(a, "--out") == 0)
			slot = &o->out_dir;
		else if (strcmp(a, "--name") == 0)
			slot = &o->name;
		else if (strcmp(a, "--store") == 0)
			slot = &o->store;
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

/* preprocessing = dealer hands the dealer every mask: only by this party's
 * own consent on its command line, never by the job file alone (whoever
 * writes the file could name itself, or a key it holds, the dealer). The
 * dealer itself needs none. */
static mpc_err dealer_consent(const opts *o, const conn *c)
{
	const mpc_job *j = c->job;
	if (j->preprocessing != MPC_JOB_DEALER || c->is_dealer || o->trust_dealer)
		return MPC_OK;
	return mpc_error(MPC_ECONFIG, "%s says preprocessing = dealer ([dealer] at %s, line %d): "
			 "the dealer makes every Beaver triple, so it can undo every mask and "
			 "learn every input and every output of this job. Confirm with "
			 "--trust-dealer only if %s trusts whoever runs the dealer with all of "
			 "that; otherwise use preprocessing = ot or paillier (the material is then "
			 "made among the parties)", o->job_path, j->dealer.address, j->dealer.line,
			 o->party);
}

/* Open the network (TLS unless prepare() found --insecure-plaintext: then
 * no key was loaded), waiting up to connect_ms for the peers. */
static mpc_err open_net(conn *c, int connect_ms)
{
	const mpc_job *j = c->job;
	int self = c->self;
	mpc_err err;

	mpc_net_tls tls = {.key = c->key, .cert = c->cert, .pins = (const uint8_t(*)[32])c->pins};
	mpc_net_config cfg = {
		.id = self,
		.n_nodes = c->nodes.n,
		.addrs = (const char *const *)c->nodes.addrs,
		.names = (const char *const *)c->nodes.names,
		.timeout_ms = j->timeout_ms,
		.connect_timeout_ms = connect_ms,
		.tls = c->key ? &tls : NULL,
	};
	if ((err = mpc_session_derive(cfg.session, j->id)) != MPC_OK)
		return err;
	mpc_info("%s of job %s: %d parties%s, listening on %s%s", c->nodes.names[self], j->id,
		 j->n_parties, j->has_dealer ? " and a dealer" : "", c->nodes.addrs[self],
		 c->key ? " (TLS 1.3, pinned certificates)" : " (PLAINTEXT)");
	return mpc_net_open(&c->net, &cfg);
}

/* Open the network and agree the job: every node sends every other its
 * canonical job text (plus what it is about to do); any difference is
 * refused, naming the first differing field. */
static mpc_err connect_and_agree(conn *c, const char *mode)
{
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

/* Log the error and, when the network is open, send the peers a short
 * reason that names this party and the cause with its file:line or signal
 * ("bolt stopped: bad.csv:1235: column amount: ..."); error details never
 * hold secret values. */
static int fail(conn *c, mpc_err err, const char *what)
{
	const char *d = mpc_error_detail();
	const char *me = c->job == NULL || c->self < 0 ? "mpc-party"
			 : c->is_dealer			 ? "dealer"
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

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* check: the material line print_material printed, for the JSON. */
static char material_line[1024];

/* check --format json: one object on stdout. peer_state[i]: 1 confirmed, 0
 * not confirmed, -1 the one the error names; NULL: no peers reached. */
static void check_json(const opts *o, const conn *c, int code, const char *error,
		       const int *peer_state, double rtt, double mbps)
{
	FILE *f = stdout;
	fputs("{\"job\":", f);
	json_str(f, c && c->job ? c->job->id : NULL);
	fputs(",\"party\":", f);
	json_str(f, o->party);
	fputs(",\"computation\":", f);
	json_str(f, c && c->job ? c->job->computation : NULL);
	fprintf(f, ",\"ok\":%s,\"exit_code\":%d,\"error\":", code == 0 ? "true" : "false", code);
	json_str(f, code == 0 ? NULL : error);
	fputs(",\"input\":", f);
	if (dry.input_read) {
		fputs("{\"file\":", f);
		json_str(f, o->input);
		fprintf(f, ",\"rows\":%zu,\"columns\":%zu}", dry.rows, dry.columns);
	} else {
		fputs("null", f);
	}
	fputs(",\"model\":", f);
	if (dry.model_read) {
		fputs("{\"file\":", f);
		json_str(f, o->model);
		fputs(",\"summary\":", f);
		json_str(f, dry.model);
		fputs("}", f);
	} else {
		fputs("null", f);
	}
	fputs(",\"material\":", f);
	json_str(f, material_line[0] ? material_line : NULL);
	fputs(",\"peers\":[", f);
	for (int i = 0, k = 0; peer_state && c && i < c->nodes.n; i++) {
		if (i == c->self)
			continue;
		fprintf(f, "%s{\"name\":", k++ ? "," : "");
		json_str(f, c->nodes.names[i]);
		fputs(",\"address\":", f);
		json_str(f, c->nodes.addrs[i]);
		fprintf(f, ",\"ok\":%s,\"named_in_error\":%s}", peer_state[i] > 0 ? "true" : "false",
			peer_state[i] < 0 ? "true" : "false");
	}
	fputs("]", f);
	if (peer_state && code == 0)
		fprintf(f, ",\"round_trip_ms\":%.3f,\"throughput_mb_s\":%.1f", rtt, mbps);
	fputs("}\n", f);
	fflush(f);
}

static int cmd_run(const opts *o);


/* ------------------------------------------------ material plans (exact) */

/* The kinds of a plan as store types, in a fixed order: triples (Z_2^64,
 * Z_2^128), truncation pairs in plan order, bits (Z_2^64, Z_2^128), words of
 * bit triples. Kinds with no elements are kept (the order must not depend on
 * counts when parties compare vectors). */
typedef struct {
	mpc_mat_type t;
	uint64_t n;
} kind_n;
#define PLAN_KINDS (5 + MPC_POOL_TRUNC_KINDS)

static int plan_kinds(const mpc_pool_plan *pl, kind_n *k)
{
	int m = 0;
	for (int i = 0; i < 2; i++)
		k[m++] = (kind_n){{MPC_MAT_TRIPLES, i ? 128 : 64, 0}, pl->triples[i]};
	for (uint32_t i = 0; i < pl->n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		k[m++] = (kind_n){{MPC_MAT_TRUNC, pl->trunc[i].ring_bits, pl->trunc[i].f},
				  pl->trunc[i].n};
	for (int i = 0; i < 2; i++)
		k[m++] = (kind_n){{MPC_MAT_BITS, i ? 128 : 64, 0}, pl->bits[i]};
	k[m++] = (kind_n){{MPC_MAT_BIT_TRIPLES, 1, 0}, pl->bit_triple_words};
	return m;
}

/* The plan with the kinds of `shape` and the counts n[] (in plan_kinds order). */
static mpc_pool_plan plan_with(const mpc_pool_plan *shape, const uint64_t *n)
{
	mpc_pool_plan o = *shape;
	int m = 0;
	for (int i = 0; i < 2; i++)
		o.triples[i] = n[m++];
	for (uint32_t i = 0; i < o.n_trunc && i < MPC_POOL_TRUNC_KINDS; i++)
		o.trunc[i].n = n[m++];
	for (int i = 0; i < 2; i++)
		o.bits[i] = n[m++];
	o.bit_triple_words = n[m];
	return o;
}

/* Everything a plan needs from the job (parsed sections, borrowed by pj). */
typedef struct {
	pj_agg agg;
	pj_score sc;
	pp_job pj;
} plan_ctx;

/* Parse the job's computation for its plan. rows: the asker's transactions
 * (fraud_score; 0: not known yet). */
static mpc_err plan_ctx_init(plan_ctx *pc, const mpc_job *j, uint64_t rows)
{
	mpc_err err;
	memset(pc, 0, sizeof(*pc));
	pc->pj.job = j;
	if (strcmp(j->computation, "aggregate_stats") == 0) {
		if ((err = pj_agg_parse(j, &pc->agg)) != MPC_OK)
			return err;
		pc->pj.agg = &pc->agg;
		pc->pj.kind = pc->agg.legacy ? PP_STATS : PP_AGG;
		if (!pc->agg.legacy && (err = mpc_agg_check_spec(&pc->agg.spec, j->n_parties)) != MPC_OK) {
			char why[400];
			snprintf(why, sizeof(why), "%s", mpc_error_detail());
			return mpc_error(MPC_ECONFIG, "%s: [%s]: %s", j->path, j->computation, why);
		}
		return MPC_OK;
	}
	if (strcmp(j->computation, "fraud_score") == 0) {
		if ((err = pj_score_parse(j, &pc->sc)) != MPC_OK)
			return err;
		pc->pj.sc = &pc->sc;
		pc->pj.kind = PP_SCORE;
		pc->pj.rows = rows;
		return MPC_OK;
	}
	return mpc_error(MPC_ECONFIG, "%s: this version runs computation = aggregate_stats or "
			 "fraud_score", j->path);
}

/* The asker's row count where this party can know it before a run: --rows,
 * or the asker's own --input. 0: unknown. */
static mpc_err plan_rows(const opts *o, const conn *c, const pj_score *sc, uint64_t *rows)
{
	double *x = NULL;
	char(*ids)[40] = NULL;
	size_t n = 0;
	mpc_err err;

	*rows = o->rows;
	if (o->rows || c->is_dealer || c->self != sc->asker || o->input == NULL)
		return MPC_OK;
	if ((err = pj_read_features(o->input, sc, c->self, &x, &n, &ids)) != MPC_OK)
		return err;
	size_t q = 0;
	for (size_t k = 0; k < sc->d; k++)
		q += sc->holder[k] == c->self;
	if (x)
		mpc_wipe(x, n * q * sizeof(double));
	free(x);
	mpc_wipe_free(ids, n * sizeof(*ids));
	*rows = n;
	return MPC_OK;
}

/* The exact material the job consumes (no network), for check and
 * preprocess --for-job. fraud_score: where the asker's row count is not known
 * here, the plan is for assume_rows transactions and *assumed is set (0:
 * refused, MPC_ECONFIG). *upper: a suppressed cohort would take less. */
static mpc_err material_plan(const opts *o, const conn *c, uint64_t assume_rows,
			     mpc_pool_plan *plan, int *assumed, int *upper)
{
	plan_ctx *pc = calloc(1, sizeof(*pc));
	uint64_t rows = 0;
	mpc_err err;

	*assumed = *upper = 0;
	*plan = (mpc_pool_plan){0};
	if (pc == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = plan_ctx_init(pc, c->job, 0)) != MPC_OK)
		goto out;
	if (pc->pj.kind == PP_SCORE) {
		if ((err = plan_rows(o, c, &pc->sc, &rows)) != MPC_OK)
			goto out;
		*assumed = rows == 0;
		if (rows == 0 && assume_rows == 0) {
			err = mpc_error(MPC_ECONFIG, "%s is a fraud_score job: its material depends "
					"on the asker's transaction count; say it with --rows N (every "
					"party the same)", o->job_path);
			goto out;
		}
		pc->pj.rows = rows ? rows : assume_rows;
	}
	*upper = pc->pj.kind == PP_AGG;
	err = pp_plan(&pc->pj, plan);
out:
	free(pc);
	return err;
}

/* check: the exact material the job consumes, before any data moves, to
 * out; the line is kept for check --format json. */

static mpc_err print_material(const opts *o, const conn *c, FILE *out)
{
	mpc_pool_plan plan;
	char *line = material_line;
	int assumed, upper;
	mpc_err err;

	line[0] = '\0';
	if ((err = material_plan(o, c, 1000, &plan, &assumed, &upper)) != MPC_OK)
		return err;
	mpc_plan_format(&plan, line, sizeof(material_line));
	if (assumed)
		fprintf(out, "this job consumes, for 1,000 transactions of the asker (its row count "
			"decides; --rows N for another): %s\n", line);
	else
		fprintf(out, "this job consumes%s: %s\n", c->job->preprocessing == MPC_JOB_DEALER ?
			" (served by the dealer)" : "", line);
	if (upper)
		fprintf(out, "  (when no cohort is suppressed; a suppressed cohort skips its share)\n");
	fflush(out);
	return MPC_OK;
}

/* The backend that stands for the store during a run (borrowed by the pool
 * that wraps it), for what it took from where. */
static mpc_preproc run_stored;

/* After a run: what it took, of every kind, and from where. */
static void note_taken(mpc_party *p, const mpc_job *j)
{
	mpc_preproc *pre = mpc_party_preproc(p);
	mpc_pool_plan took;
	char line[1024];
	const mpc_store_backend_stats *ss =
	    run_stored.ops ? mpc_store_backend_get_stats(&run_stored) : NULL;
	const mpc_pool_stats *ps = mpc_pool_get_stats(pre);

	if (ps == NULL || mpc_pool_plan_get(pre, &took) != MPC_OK) {
		mpc_error_clear();
		return;
	}
	mpc_plan_format(&took, line, sizeof(line));
	if (j->preprocessing == MPC_JOB_DEALER)
		mpc_info("this run took: %s; served by the dealer", line);
	else
		mpc_info("this run took: %s; %llu from the store, %llu made now", line,
			 (unsigned long long)(ss ? ss->from_store : 0),
			 (unsigned long long)(ss ? ss->made : ps->passed));
}

static int cmd_check(const opts *o)
{
	conn c;
	double rtt = 0, mbps = 0;
	int json = o->format && strcmp(o->format, "json") == 0, code;
	int state[MPC_NET_MAX_NODES] = {0};
	char error[1024];

	if (o->format && !json && strcmp(o->format, "text") != 0) {
		fprintf(stderr, "mpc-party check: --format text or json\n");
		return MPC_EXIT_USAGE;
	}
	FILE *hum = json ? stderr : stdout; /* stdout holds only the JSON object */
	memset(&dry, 0, sizeof(dry));
	mpc_err err = prepare(o, &c);
	if (err == MPC_OK)
		err = dealer_consent(o, &c);
	if (err != MPC_OK) {
		fprintf(stderr, "mpc-party check: %s\n", mpc_error_detail());
		code = err == MPC_ECONFIG || err == MPC_EIO ? MPC_EXIT_USAGE : mpc_exit_code(err);
		if (json)
			check_json(o, &c, code, mpc_error_detail(), NULL, 0, 0);
		conn_fini(&c);
		return code;
	}
	/* everything run would refuse before connecting, by run's own code:
	 * the computation's parameters and this party's files */
	opts d = *o;
	d.dry = 1;
	d.format = NULL;
	if ((code = cmd_run(&d)) != 0) {
		snprintf(error, sizeof(error), "%s", mpc_error_detail());
		fprintf(hum, "FAILED: %s\n", error);
		if (json)
			check_json(o, &c, code, error, NULL, 0, 0);
		conn_fini(&c);
		return code;
	}
	fprintf(hum, "job %s: %s, %d parties%s, %s\n", c.job->id, c.job->computation,
		c.job->n_parties, c.job->has_dealer ? " + dealer" : "",
		o->insecure ? "PLAINTEXT" : "TLS 1.3");
	if (dry.input_read)
		fprintf(hum, "  input %s: %zu rows, %zu columns: OK\n", o->input, dry.rows,
			dry.columns);
	else if (o->input == NULL && !c.is_dealer)
		fprintf(hum, "  input: not checked (give --input FILE.csv to check it too)\n");
	if (dry.model_read)
		fprintf(hum, "  model %s: %s: OK\n", o->model, dry.model);
	if ((err = print_material(o, &c, hum)) != MPC_OK) {
		snprintf(error, sizeof(error), "%s", mpc_error_detail());
		fprintf(hum, "FAILED: %s\n", error);
		code = mpc_exit_code(err);
		if (json)
			check_json(o, &c, code, error, NULL, 0, 0);
		conn_fini(&c);
		return code;
	}
	fflush(hum);
	if ((err = connect_and_agree(&c, "check")) != MPC_OK ||
	    (err = measure(&c, &rtt, &mbps)) != MPC_OK) {
		/* one line per peer: the one the error names, and the others */
		const char *dd = mpc_error_detail();
		int named = 0;
		snprintf(error, sizeof(error), "%s: %s", mpc_strerror(err), dd);
		for (int i = 0; i < c.nodes.n; i++) {
			if (i == c.self)
				continue;
			int it = strstr(error, c.nodes.names[i]) != NULL;
			named |= it;
			state[i] = it ? -1 : 0;
			fprintf(hum, "  %-20s %-28s %s\n", c.nodes.names[i], c.nodes.addrs[i],
				it ? "FAILED (below)" : "not confirmed (the check stopped)");
		}
		fprintf(hum, "FAILED%s: %s\n", named ? "" : " (all peers)", error);
		code = fail(&c, err, "check");
		if (json)
			check_json(o, &c, code, error, state, 0, 0);
		conn_fini(&c);
		return code;
	}
	for (int i = 0; i < c.nodes.n; i++) {
		if (i == c.self)
			continue;
		state[i] = 1;
		fprintf(hum, "  %-20s %-28s OK  %s, same job\n", c.nodes.names[i], c.nodes.addrs[i],
			o->insecure ? "reached (plaintext: identity NOT verified)"
				    : "identity verified");
	}
	fprintf(hum, "round trip (all peers at once): %.2f ms; throughput to each peer: %.0f MB/s\n",
		rtt, mbps);
	mpc_net_close(c.net);
	c.net = NULL;
	fprintf(hum, "ready: every peer is reachable, verified and has the same job.\n");
	if (json)
		check_json(o, &c, 0, NULL, state, rtt, mbps);
	conn_fini(&c);
	return 0;
}

static void store_path(const opts *o, const mpc_job *j, char *buf, size_t len)
{
	if (o->store)
		snprintf(buf, len, "%s", o->store);
	else
		snprintf(buf, len, "mpc-store/%s-%s", j->id, o->party);
}

/* Open party `self`'s store of job j; create: make it (and ./mpc-store) if
 * absent, otherwise *st stays NULL when there is none. The store is bound to
 * what determines its material (pp_store_binding), not to the job file's
 * bytes, and to the job id that names it. */
static mpc_err open_store_of(const opts *o, const mpc_job *j, int self, int create,
			     mpc_store **st)
{
	char dir[600];
	uint8_t hash[32];
	struct stat sb;
	mpc_err err;

	*st = NULL;
	store_path(o, j, dir, sizeof(dir));
	if (!create && stat(dir, &sb) != 0)
		return MPC_OK;
	if (create && o->store == NULL && mkdir("mpc-store", 0700) != 0 && errno != EEXIST)
		return mpc_error(MPC_EIO, "cannot create mpc-store: %s", strerror(errno));
	if ((err = pp_store_binding(j, hash)) != MPC_OK)
		return err;
	return mpc_store_open(st, dir, j->id, hash, self, j->n_parties);
}

static mpc_err open_store(const opts *o, const conn *c, int create, mpc_store **st)
{
	return open_store_of(o, c->job, c->self, create, st);
}

static const char *engine_name(const mpc_job *j)
{
	return j->preprocessing == MPC_JOB_PAILLIER ? "paillier" : "ot";
}

/* Triples per second the last `preprocess` measured (0: unknown). */
static double stored_rate(const mpc_store *st)
{
	char path[700];
	double r = 0;
	snprintf(path, sizeof(path), "%s/RATE", mpc_store_dir(st));
	FILE *fp = fopen(path, "r");
	if (fp) {
		if (fscanf(fp, "triples_per_s %lf", &r) != 1)
			r = 0;
		fclose(fp);
	}
	return r;
}

/* What of plan is missing from the store (all of it without a store). */
static mpc_pool_plan plan_missing(mpc_store *st, const mpc_pool_plan *plan)
{
	kind_n k[PLAN_KINDS];
	uint64_t n[PLAN_KINDS];
	int m = plan_kinds(plan, k);
	for (int i = 0; i < m; i++) {
		uint64_t have = st ? mpc_store_available(st, k[i].t) : 0;
		n[i] = k[i].n > have ? k[i].n - have : 0;
	}
	return plan_with(plan, n);
}

/* Estimated bytes this party sends to make plan with the generator. */
static double plan_bytes(const mpc_pool_plan *plan, const mpc_preproc *gen, int np)
{
	kind_n k[PLAN_KINDS];
	double b = 0;
	int m = plan_kinds(plan, k);
	for (int i = 0; i < m; i++)
		b += (double)k[i].n * mpc_gen_bytes_per(gen, np, (int)k[i].t.kind,
							k[i].t.ring_bits == 128 ? MPC_Z128 : MPC_Z64);
	return b;
}

/* Before a run: what the job consumes (plan), what of it is missing from the
 * store and will be made now, the bytes that takes. */
static void note_consumption(mpc_store *st, const mpc_preproc *gen, int np,
			     const mpc_pool_plan *plan)
{
	mpc_pool_plan make = plan_missing(st, plan);
	char line[1024];
	double rate = st ? stored_rate(st) : 0;
	char when[96] = "";
	if (make.triples[0] + make.triples[1] > 0 && rate > 0)
		snprintf(when, sizeof(when), "; triples at the measured %.0f/s", rate);
	mpc_plan_format(&make, line, sizeof(line));
	if (mpc_plan_equal(&make, &(mpc_pool_plan){0}))
		mpc_info("the store holds all of it");
	else
		mpc_info("to make now (missing from the store): %s (about %.1f kB to send%s)", line,
			 plan_bytes(&make, gen, np) / 1e3, when);
}

/* The job's preprocessing at a party: the dealer, or made among the parties
 * (from the store first when there is one), wrapped in a recording pool so
 * that note_taken can say what the run took. States what the job consumes
 * (its plan, counted before the network was opened: see mpc_plan.h). */
static mpc_err install_preproc(const opts *o, conn *c, mpc_party *p, const mpc_pool_plan *plan)
{
	const mpc_job *j = c->job;
	mpc_preproc gen, pre;
	mpc_store *st = NULL;
	char line[1024];
	mpc_err err;

	run_stored = (mpc_preproc){0};
	mpc_info("this job consumes: %s", mpc_plan_format(plan, line, sizeof(line)));
	if (j->preprocessing == MPC_JOB_DEALER) {
		if ((err = mpc_dealer_connect(p, j->n_parties)) != MPC_OK)
			return err;
		return mpc_pool_install(p);
	}
	if ((err = open_store(o, c, 0, &st)) != MPC_OK)
		return err;
	if ((err = mpc_gen_new(&gen, p, engine_name(j), 0)) != MPC_OK) {
		mpc_store_close(st);
		return err;
	}
	note_consumption(st, &gen, j->n_parties, plan);
	if (st == NULL) {
		mpc_party_set_preproc(p, gen);
		return mpc_pool_install(p);
	}
	if ((err = mpc_store_backend(&pre, st, gen)) != MPC_OK)
		return err;
	mpc_party_set_preproc(p, pre);
	run_stored = pre;
	return mpc_pool_install(p);
}

static mpc_err run_stats(const opts *o, conn *c, const pj_agg *agg, mpc_txns *t,
			 mpc_stats_result *res, int *bad_input)
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
	if (!c->is_dealer && !(o->dry && o->input == NULL)) {
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
		dry.input_read = 1;
		dry.rows = t->n;
		if (o->dry) /* check's summary only */
			dry.columns = csv_columns(o->input);
	}
	if (o->dry)
		return MPC_OK;
	/* the plan before the network is opened (nanomsg does not survive the
	 * simulation's fork) */
	mpc_pool_plan plan;
	pp_job pj = {.job = j, .kind = PP_STATS, .agg = agg};
	if (!c->is_dealer && (err = pp_plan(&pj, &plan)) != MPC_OK)
		return err;
	if ((err = connect_and_agree(c, "run")) != MPC_OK)
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
	    (err = install_preproc(o, c, p, &plan)) == MPC_OK &&
	    (err = mpc_stats_run(p, &sp, t, res)) == MPC_OK)
		note_taken(p, j);
	mpc_party_free(p);
	return err;
}

/* Print the budget split of a DP job, before anything is sent. */
static void print_dp_plan(const mpc_agg_spec *s)
{
	mpc_agg_dp_plan plan;
	if (s->dp == 0 || mpc_agg_dp_plan_make(s, &plan) != MPC_OK)
		return;
	if (s->dp == MPC_DP_GAUSSIAN)
		printf("differential privacy: discrete Gaussian noise made jointly under MPC, "
		       "(epsilon %g, delta %g) split over %zu released aggregates (zCDP):\n",
		       s->dp_epsilon, s->dp_delta, plan.n);
	else
		printf("differential privacy: discrete Laplace noise made jointly under MPC, "
		       "epsilon %g split over %zu released aggregates:\n", s->dp_epsilon, plan.n);
	for (size_t i = 0; i < plan.n; i++)
		printf("  %s\n", plan.item[i].line);
	fflush(stdout);
}

/* computation = aggregate_stats with the mpc_agg parameters (see
 * tools/party_jobs.h). */
static mpc_err run_agg(const opts *o, conn *c, const pj_agg *a, mpc_txns *t, mpc_agg_result *res,
		       int *bad_input)
{
	const mpc_job *j = c->job;
	const mpc_agg_spec *s = &a->spec;
	mpc_party *p = NULL;
	double *fraud = NULL;
	uint32_t *group = NULL;
	mpc_agg_rows rows;
	mpc_err err;

	memset(res, 0, sizeof(*res));
	if ((err = mpc_agg_check_spec(s, j->n_parties)) != MPC_OK) {
		const mpc_job_param *sp = pj_param(j, "statistics");
		char why[400];
		snprintf(why, sizeof(why), "%s", mpc_error_detail());
		if (sp)
			return mpc_error(MPC_ECONFIG, "%s:%d: [%s] statistics: %s", j->path, sp->line,
					 j->computation, why);
		return mpc_error(MPC_ECONFIG, "%s: [%s]: %s", j->path, j->computation, why);
	}
	if (!c->is_dealer && !(o->dry && o->input == NULL)) {
		if (o->input == NULL)
			return mpc_error(MPC_ECONFIG, "--input FILE.csv is required for %s",
					 j->computation);
		if ((err = mpc_txns_read(o->input, a->max_amount, t)) != MPC_OK) {
			*bad_input = err != MPC_ENOMEM;
			return err;
		}
		if ((fraud = calloc(t->n + 1, sizeof(double))) == NULL ||
		    (group = calloc(t->n + 1, sizeof(uint32_t))) == NULL) {
			free(fraud);
			return mpc_error(MPC_ENOMEM, "out of memory");
		}
		mpc_agg_rows_from_txns(t, a->groups, s->n_groups, fraud, group, &rows);
		if ((err = mpc_agg_check_rows(s, &rows, o->input)) != MPC_OK) {
			*bad_input = 1;
			goto out;
		}
		mpc_info("read %zu transactions from %s", t->n, o->input);
		dry.input_read = 1;
		dry.rows = t->n;
		if (o->dry) /* check's summary only */
			dry.columns = csv_columns(o->input);
		if (!o->dry)
			print_dp_plan(s);
	}
	if (o->dry)
		goto out;
	/* the plan before the network is opened (see run_stats) */
	mpc_pool_plan plan;
	pp_job pj = {.job = j, .kind = PP_AGG, .agg = a};
	if (!c->is_dealer && (err = pp_plan(&pj, &plan)) != MPC_OK)
		goto out;
	if ((err = connect_and_agree(c, "run")) != MPC_OK)
		goto out;
	if (c->is_dealer) {
		uint64_t served;
		err = mpc_dealer_serve(c->net, j->n_parties, j->timeout_ms * 20, &served);
		goto out;
	}
	if ((err = mpc_party_new(&p, c->net, j->n_parties)) == MPC_OK &&
	    (err = install_preproc(o, c, p, &plan)) == MPC_OK &&
	    (err = mpc_agg_run(p, s, &rows, res)) == MPC_OK)
		note_taken(p, j);
	mpc_party_free(p);
out:
	if (fraud)
		mpc_wipe(fraud, (t->n + 1) * sizeof(double));
	free(fraud);
	mpc_wipe_free(group, (t->n + 1) * sizeof(uint32_t)); /* row -> group is private */
	return err;
}

static void print_cohort(const mpc_agg_spec *s, const char *name, const mpc_agg_stats *st)
{
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

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Vertical scoring at a holder: every one of the asker's n keys must be
 * among this party's rows. MPC_EINVAL names the file, how many are missing
 * and the first by the asker's row number (never a key's value). */
static mpc_err holder_rows_cover(const char *path, const char *asker, const char **keys, size_t n,
				 const char **mine, size_t my_n)
{
	const char **sorted = my_n ? malloc(my_n * sizeof(*sorted)) : NULL;
	size_t missing = 0, first = 0;
	if (my_n && sorted == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if (my_n)
		memcpy(sorted, mine, my_n * sizeof(*sorted));
	if (my_n)
		qsort(sorted, my_n, sizeof(*sorted), cmp_key);
	for (size_t i = 0; i < n; i++)
		if (my_n == 0 || bsearch(&keys[i], sorted, my_n, sizeof(*sorted), cmp_key) == NULL)
			if (missing++ == 0)
				first = i;
	free(sorted);
	if (missing)
		return mpc_error(MPC_EINVAL, "%s: %zu of the %zu transactions of the asker (%s) have "
				 "no row here (the first is the asker's row %zu): a holder needs a row "
				 "for every transaction the asker scores", path, missing, n, asker,
				 first + 1);
	return MPC_OK;
}

/* computation = fraud_score: the asker's transactions scored with the
 * model owner's logistic regression or trees (tools/party_jobs.h). Only the asker
 * receives scores and flags; it writes them to --output. */
static int cmd_run_score(const opts *o, conn *c)
{
	const mpc_job *j = c->job;
	pj_score sc;
	mpc_party *p = NULL;
	mpc_cross cross = {0};
	double *x = NULL, *w = NULL, b = 0, *score = NULL, *tthr = NULL, *tleaf = NULL;
	uint32_t *tf = NULL;
	uint8_t *flag = NULL;
	char(*ids)[40] = NULL, (*keybuf)[40] = NULL;
	const char **keys = NULL, **my_keys = NULL;
	size_t n = 0, xlen = 0;
	int code = 0, bad_input = 0;
	mpc_plan_ahead ahead = {.pid = -1, .to = -1, .from = -1};
	mpc_pool_plan plan;
	pp_job pj = {.job = j, .kind = PP_SCORE, .sc = &sc};
	mpc_err err;

	if ((err = pj_score_parse(j, &sc)) != MPC_OK) {
		fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
		return MPC_EXIT_USAGE;
	}
	int me = c->is_dealer ? -1 : c->self;
	size_t q = 0, my_n = 0;
	for (size_t k = 0; k < sc.d; k++)
		q += sc.holder[k] == me;
	if ((me == sc.asker || q > 0) && !(o->dry && o->input == NULL)) {
		if (o->input == NULL) {
			(void)mpc_error(MPC_ECONFIG, "%s is the %s of %s: --input FILE.csv is required",
					o->party, me == sc.asker ? "asker" : "holder of features", j->path);
			fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
			return MPC_EXIT_USAGE;
		}
		if ((err = pj_read_features(o->input, &sc, me, &x, &my_n, &ids)) != MPC_OK) {
			bad_input = err != MPC_ENOMEM;
			goto fail;
		}
		xlen = my_n * q;
		mpc_info("read %zu transactions (%zu of the %zu features) from %s", my_n, q, sc.d,
			 o->input);
		dry.input_read = 1;
		dry.rows = my_n;
		if (o->dry) /* check's summary only */
			dry.columns = csv_columns(o->input);
		if (me == sc.asker)
			n = my_n;
	} else if (o->input) {
		mpc_warn("--input %s ignored: this party holds no features of the job", o->input);
	}
	if (me == sc.owner && !(o->dry && o->model == NULL)) {
		if (o->model == NULL) {
			(void)mpc_error(MPC_ECONFIG, "%s is the model owner of %s: --model FILE is "
					"required", o->party, j->path);
			fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
			code = MPC_EXIT_USAGE;
			goto out;
		}
		if (sc.model == PJ_TREE) {
			size_t nodes = sc.trees * (((size_t)1 << sc.depth) - 1);
			size_t leaves = sc.trees * ((size_t)1 << sc.depth);
			if ((tf = calloc(nodes, sizeof(uint32_t))) == NULL ||
			    (tthr = calloc(nodes, sizeof(double))) == NULL ||
			    (tleaf = calloc(leaves, sizeof(double))) == NULL) {
				err = mpc_error(MPC_ENOMEM, "out of memory");
				goto fail;
			}
			if ((err = pj_read_tree(o->model, &sc, tf, tthr, tleaf, &b)) != MPC_OK) {
				bad_input = err != MPC_ENOMEM;
				goto fail;
			}
			mpc_info("read the model (%zu trees of depth %zu) from %s", sc.trees, sc.depth,
				 o->model);
			snprintf(dry.model, sizeof(dry.model), "%zu trees of depth %zu", sc.trees,
				 sc.depth);
		} else {
			if ((w = calloc(sc.d, sizeof(double))) == NULL) {
				err = mpc_error(MPC_ENOMEM, "out of memory");
				goto fail;
			}
			if ((err = pj_read_logreg(o->model, &sc, w, &b)) != MPC_OK) {
				bad_input = err != MPC_ENOMEM;
				goto fail;
			}
			mpc_info("read the model (%zu weights and the intercept) from %s", sc.d,
				 o->model);
			snprintf(dry.model, sizeof(dry.model), "logistic regression, %zu weights and "
				 "the intercept", sc.d);
		}
		dry.model_read = 1;
	}
	if (o->dry)
		goto out;
	/* the plan depends on n, known once the asker announces it; its
	 * simulation is forked now, before the network is opened (mpc_plan.h) */
	if (!c->is_dealer && (err = mpc_plan_ahead_start(&ahead, j->n_parties, pp_sim_score, &pj,
							 &pj.rows)) != MPC_OK)
		goto fail;
	if ((err = connect_and_agree(c, "run")) != MPC_OK)
		goto fail;
	/* n is public: the asker announces it */
	{
		int nn = c->nodes.n;
		uint64_t all = (nn >= 64 ? ~0ull : (1ull << nn) - 1) & ~(1ull << c->self);
		uint64_t mine = n, got[MPC_NET_MAX_NODES] = {0};
		if ((err = mpc_net_bcast(c->net, all, &mine, all, got, sizeof(mine))) != MPC_OK)
			goto fail;
		if (me != sc.asker)
			n = got[sc.asker];
		if ((double)n > sc.max_rows) {
			err = mpc_error(MPC_EPROTO, "the asker announced %llu transactions, above "
					"max_rows", (unsigned long long)n);
			goto fail;
		}
	}
	/* vertical: the asker's keys, in its order, are the job's public list */
	if (sc.vertical && !c->is_dealer) {
		const void *sp[MPC_NET_MAX_NODES] = {0};
		void *rp[MPC_NET_MAX_NODES] = {0};
		size_t sl[MPC_NET_MAX_NODES] = {0}, rl[MPC_NET_MAX_NODES] = {0};
		if ((keys = calloc(n + 1, sizeof(*keys))) == NULL ||
		    (my_keys = calloc(my_n + 1, sizeof(*my_keys))) == NULL ||
		    (me != sc.asker && (keybuf = calloc(n + 1, sizeof(*keybuf))) == NULL)) {
			err = mpc_error(MPC_ENOMEM, "out of memory");
			goto fail;
		}
		for (int i = 0; i < j->n_parties; i++) {
			if (me == sc.asker && i != me) {
				sp[i] = ids;
				sl[i] = n * sizeof(*ids);
			}
			if (me != sc.asker && i == sc.asker) {
				rp[i] = keybuf;
				rl[i] = n * sizeof(*keybuf);
			}
		}
		if (n && (err = mpc_net_exchange(c->net, sp, sl, rp, rl)) != MPC_OK)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			char *k = me == sc.asker ? ids[i] : keybuf[i];
			k[39] = '\0';
			keys[i] = k;
		}
		for (size_t i = 0; i < my_n; i++)
			my_keys[i] = ids[i];
		/* only now can a holder see whether its file has a row for every
		 * transaction of the asker: an input error found after connecting,
		 * which the peers hear with its reason (fail) */
		if (me != sc.asker && q > 0 &&
		    (err = holder_rows_cover(o->input, j->parties[sc.asker].name, keys, n, my_keys,
					     my_n)) != MPC_OK) {
			bad_input = err != MPC_ENOMEM;
			goto fail;
		}
	}
	if (c->is_dealer) {
		uint64_t served;
		if ((err = mpc_dealer_serve(c->net, j->n_parties, j->timeout_ms * 20, &served)) != MPC_OK)
			goto fail;
		goto done;
	}
	if (me == sc.asker && n > 0 &&
	    ((score = calloc(n, sizeof(double))) == NULL || (flag = calloc(n, 1)) == NULL)) {
		err = mpc_error(MPC_ENOMEM, "out of memory");
		goto fail;
	}
	mpc_info("scoring %zu transactions of %s with the %s of %s (threshold %g)", n,
		 j->parties[sc.asker].name, sc.model == PJ_TREE ? "decision trees" : "logistic regression",
		 j->parties[sc.owner].name, sc.threshold);
	double t0 = now();
	if ((err = mpc_plan_ahead_get(&ahead, n, &plan)) != MPC_OK ||
	    (err = mpc_party_new(&p, c->net, j->n_parties)) != MPC_OK ||
	    (err = install_preproc(o, c, p, &plan)) != MPC_OK)
		goto fail;
	/* products of the owner's weights with the asker's features: Gilboa
	 * cross products over OT, unless a dealer serves Beaver triples */
	if (j->preprocessing != MPC_JOB_DEALER && (err = mpc_cross_ot_new(&cross, p)) != MPC_OK)
		goto fail;
	mpc_score_opts so = {.asker = sc.asker, .cross = cross.ops ? &cross : NULL};
	mpc_score_data sd = {.n = n, .d = sc.d, .holder = sc.asker, .x = x,
			     .x_max = sc.max_feature};
	if (sc.vertical) {
		sd.col_holder = sc.holder;
		sd.keys = keys;
		sd.my_keys = my_keys;
		sd.my_n = my_n;
	}
	if (sc.model == PJ_TREE) {
		mpc_score_tree_model tm = {.owner = sc.owner, .n_trees = sc.trees, .depth = sc.depth,
					   .feature = tf, .thr = tthr, .leaf = tleaf, .base = b,
					   .v_max = sc.max_weight, .threshold = sc.threshold};
		err = mpc_score_tree(p, &so, &sd, &tm, score, flag);
	} else {
		mpc_score_logreg_model m = {.owner = sc.owner, .w = w, .b = b,
					    .w_max = sc.max_weight, .threshold = sc.threshold};
		err = mpc_score_logreg(p, &so, &sd, &m, score, flag);
	}
	if (err != MPC_OK)
		goto fail;
	note_taken(p, j);
	double el = now() - t0;
	mpc_cross_free(&cross);
	memset(&cross, 0, sizeof(cross));
	mpc_party_free(p);
	p = NULL;
	mpc_net_close(c->net);
	c->net = NULL;
	if (me != sc.asker) {
		printf("job %s: %zu transactions of %s scored in %.2f s; this party (%s) receives "
		       "nothing: only the asker gets the scores\n", j->id, n,
		       j->parties[sc.asker].name, el, o->party);
		goto out;
	}
	size_t flagged = 0;
	for (size_t i = 0; i < n; i++)
		flagged += flag[i];
	printf("job %s: %zu transactions scored in %.2f s with the model of %s: %zu flagged "
	       "(score > %g)\n", j->id, n, el, j->parties[sc.owner].name, flagged, sc.threshold);
	if (o->output) {
		size_t cap = 64 + n * 80, len = 0;
		char *buf = malloc(cap);
		if (buf == NULL) {
			err = mpc_error(MPC_ENOMEM, "out of memory");
			fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
			code = MPC_EXIT_INPUT;
			goto out;
		}
		len += (size_t)snprintf(buf + len, cap - len, "row,%sscore,flag\n", ids ? "txn_id," : "");
		for (size_t i = 0; i < n && err == MPC_OK; i++) {
			/* an honest score is in [0, 1]; wrong shares from a peer can decode
			 * to anything, which must be an error, not an overrun */
			int k = snprintf(buf + len, cap - len, "%zu,%s%s%.9f,%d\n", i + 1,
					 ids ? ids[i] : "", ids ? "," : "", score[i], flag[i]);
			if (k < 0 || (size_t)k >= cap - len)
				err = mpc_error(MPC_EPROTO, "the score of row %zu is out of range: "
						"a peer sent malformed shares", i + 1);
			else
				len += (size_t)k;
		}
		if (err == MPC_OK)
			err = mpc_file_write_atomic(o->output, buf, len, 0600);
		mpc_wipe(buf, cap);
		free(buf);
		if (err != MPC_OK) {
			fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
			code = err == MPC_EPROTO ? MPC_EXIT_PROTO : MPC_EXIT_INPUT;
		}
	}
	goto out;
fail:
	mpc_cross_free(&cross);
	mpc_party_free(p);
	p = NULL;
	c->tell_peers = bad_input && !o->dry;
	code = fail(c, err, c->net ? "scoring" : "preparing");
	if (bad_input)
		code = MPC_EXIT_INPUT;
	goto out;
done:
	mpc_net_close(c->net);
	c->net = NULL;
out:
	if (x)
		mpc_wipe(x, xlen * sizeof(double));
	free(keys);
	free(my_keys);
	free(keybuf);
	if (w)
		mpc_wipe(w, sc.d * sizeof(double));
	if (tthr) {
		mpc_wipe(tf, sc.trees * (((size_t)1 << sc.depth) - 1) * sizeof(uint32_t));
		mpc_wipe(tthr, sc.trees * (((size_t)1 << sc.depth) - 1) * sizeof(double));
	}
	if (tleaf)
		mpc_wipe(tleaf, sc.trees * ((size_t)1 << sc.depth) * sizeof(double));
	free(tf);
	free(tthr);
	free(tleaf);
	if (score)
		mpc_wipe(score, n * sizeof(double));
	if (flag)
		mpc_wipe(flag, n);
	free(x);
	free(w);
	free(score);
	free(flag);
	mpc_wipe_free(ids, my_n * sizeof(*ids)); /* the asker's transaction ids */
	mpc_plan_ahead_cancel(&ahead);
	return code;
}

static int cmd_run(const opts *o)
{
	conn c;
	mpc_txns t = {0};
	mpc_stats_result res;
	static pj_agg agg;
	mpc_agg_result ares;
	int have_ares = 0;
	int json = o->format && strcmp(o->format, "json") == 0, code = 0;
	mpc_err err;

	if (o->format && !json && strcmp(o->format, "csv") != 0) {
		fprintf(stderr, "mpc-party run: --format csv or json\n");
		return MPC_EXIT_USAGE;
	}
	if ((err = prepare(o, &c)) != MPC_OK || (err = dealer_consent(o, &c)) != MPC_OK) {
		fprintf(stderr, "mpc-party %s: %s\n", o->dry ? "check" : "run", mpc_error_detail());
		code = err == MPC_ECONFIG || err == MPC_EIO ? MPC_EXIT_USAGE : mpc_exit_code(err);
		goto out;
	}
	if (strcmp(c.job->computation, "fraud_score") == 0) {
		code = cmd_run_score(o, &c);
		goto out;
	}
	if (strcmp(c.job->computation, "aggregate_stats") != 0) {
		err = mpc_error(MPC_ECONFIG, "%s: this version runs computation = aggregate_stats "
				"or fraud_score", o->job_path);
		fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	if ((err = pj_agg_parse(c.job, &agg)) != MPC_OK) {
		fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	int bad_input = 0;
	err = agg.legacy ? run_stats(o, &c, &agg, &t, &res, &bad_input)
			 : run_agg(o, &c, &agg, &t, &ares, &bad_input);
	if (err != MPC_OK) {
		c.tell_peers = bad_input && !o->dry;
		code = fail(&c, err, c.net ? "computing" : "preparing");
		if (bad_input)
			code = MPC_EXIT_INPUT;
		goto out;
	}
	if (o->dry)
		goto out;
	mpc_net_close(c.net);
	c.net = NULL;
	if (c.is_dealer)
		goto out;
	if (!agg.legacy) {
		have_ares = 1;
		printf("job %s: joint statistics over %d parties (%s)%s\n", c.job->id,
		       c.job->n_parties, o->party, agg.spec.dp ? ", with differential privacy" : "");
		print_cohort(&agg.spec, "all", &ares.all);
		for (size_t g = 0; g < ares.n_groups; g++)
			print_cohort(&agg.spec, agg.groups[g], &ares.group[g]);
		if (o->output && (err = mpc_agg_write(o->output, json, &agg.spec, agg.groups,
						      &ares)) != MPC_OK) {
			fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
			code = MPC_EXIT_INPUT;
		}
		goto out;
	}
	printf("job %s: joint statistics over %d parties (%s)\n", c.job->id, c.job->n_parties,
	       o->party);
	for (int i = 0; i < MPC_STATS_N; i++)
		printf("  %-11s %.6f\n", mpc_stats_names[i], res.v[i]);
	if (o->output && (err = mpc_stats_write(o->output, json, &res)) != MPC_OK) {
		fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
		code = MPC_EXIT_INPUT;
	}
out:
	if (have_ares)
		mpc_agg_result_fini(&ares);
	mpc_txns_fini(&t);
	conn_fini(&c);
	return code;
}

/* Progress of one kind of material: on a terminal a line rewritten in
 * place, in the log every 10 s. */
typedef struct {
	char what[64];
	uint64_t total, done;
	double t0, last_log, last_tty;
	int tty;
} progress;

static void progress_show(progress *pg, int final)
{
	double t = now(), el = t - pg->t0, rate = el > 0 ? (double)pg->done / el : 0;
	double left = rate > 0 ? (double)(pg->total - pg->done) / rate : 0;
	if (pg->tty && (final || t - pg->last_tty >= 0.2)) {
		fprintf(stderr, "\r  %s: %llu / %llu (%.0f%%), %.0f/s, %.0f s left   %s", pg->what,
			(unsigned long long)pg->done, (unsigned long long)pg->total,
			100.0 * (double)pg->done / (double)pg->total, rate, left, final ? "\n" : "");
		pg->last_tty = t;
	}
	if (final || t - pg->last_log >= 10) {
		mpc_info("%s: %llu / %llu made, %.0f/s, %.0f s left", pg->what,
			 (unsigned long long)pg->done, (unsigned long long)pg->total, rate, left);
		pg->last_log = t;
	}
}

#define PRE_BATCH ((size_t)1 << 16)

/* Make `total` elements of type t with the generator, batch by batch into the
 * store. */
static mpc_err make_kind(mpc_party *p, const mpc_preproc *gen, mpc_store *st, mpc_mat_type t,
			 uint64_t total, double *rate)
{
	mpc_ring r = t.ring_bits == 128 ? MPC_Z128 : MPC_Z64;
	size_t eb = mpc_ring_bytes(r), elem = mpc_mat_elem_bytes(t);
	size_t batch = t.kind == MPC_MAT_BIT_TRIPLES ? PRE_BATCH / 8 : PRE_BATCH;
	mpc_vec v[3] = {{0}};
	uint8_t *buf = NULL;
	progress pg = {.total = total, .t0 = now(), .tty = isatty(2)};
	mpc_err err = MPC_OK;

	mpc_mat_name(t, pg.what, sizeof(pg.what));
	pg.last_log = pg.t0;
	if (total == 0)
		return MPC_OK;
	if ((buf = malloc(batch * elem)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (int q = 0; q < 3 && err == MPC_OK; q++)
		err = mpc_vec_init(&v[q], t.kind == MPC_MAT_BIT_TRIPLES ? MPC_Z64 : r, batch);
	while (err == MPC_OK && pg.done < total) {
		size_t n = total - pg.done < batch ? (size_t)(total - pg.done) : batch;
		uint8_t id[16];
		int parts = 1;
		if ((err = mpc_store_backend_batch_id(p, id)) != MPC_OK)
			break;
		switch (t.kind) {
		case MPC_MAT_TRIPLES:
			parts = 3;
			err = gen->ops->triples(gen->ctx, p, r, n, v[0].v, v[1].v, v[2].v);
			break;
		case MPC_MAT_TRUNC:
			parts = 2;
			err = gen->ops->trunc_pairs(gen->ctx, p, r, t.f, n, v[0].v, v[1].v);
			break;
		case MPC_MAT_BITS:
			err = gen->ops->bits(gen->ctx, p, r, n, v[0].v);
			break;
		case MPC_MAT_BIT_TRIPLES:
			parts = 3;
			eb = 8;
			err = gen->ops->bit_triples(gen->ctx, p, n, v[0].v, v[1].v, v[2].v);
			break;
		}
		if (err != MPC_OK)
			break;
		/* interleave: element e is part 0, part 1, ... */
		for (size_t e = 0; e < n; e++)
			for (int q = 0; q < parts; q++)
				memcpy(buf + (e * (size_t)parts + (size_t)q) * eb,
				       (uint8_t *)v[q].v + e * eb, eb);
		if ((err = mpc_store_add(st, t, id, n, buf)) != MPC_OK)
			break;
		pg.done += n;
		progress_show(&pg, pg.done == total);
	}
	if (rate && pg.done == total)
		*rate = (double)total / (now() - pg.t0);
	mpc_wipe(buf, batch * elem);
	free(buf);
	for (int q = 0; q < 3; q++)
		mpc_vec_fini(&v[q]);
	return err;
}

/* preprocess --status: what the store holds, from the job file alone (no
 * keys, no network). */
static int preprocess_status(const opts *o)
{
	mpc_job *j = NULL;
	mpc_store *st = NULL;
	char desc[2048], dir[600];
	int code = 0, self;
	mpc_err err;

	if (o->job_path == NULL || o->party == NULL) {
		fprintf(stderr, "mpc-party preprocess --status: --job and --party are required\n");
		return MPC_EXIT_USAGE;
	}
	if ((err = mpc_job_load(o->job_path, &j)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		return MPC_EXIT_USAGE;
	}
	if ((self = mpc_job_party_index(j, o->party)) < 0) {
		fprintf(stderr, "mpc-party preprocess: %s has no [party %s]\n", o->job_path, o->party);
		code = MPC_EXIT_USAGE;
		goto out;
	}
	store_path(o, j, dir, sizeof(dir));
	if ((err = open_store_of(o, j, self, 0, &st)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	if (st == NULL) {
		printf("store %s (job %s, party %s): none yet (nothing made)\n", dir, j->id, o->party);
		goto out;
	}
	(void)mpc_store_describe(st, desc, sizeof(desc));
	printf("store %s (job %s, party %s):\n%s", mpc_store_dir(st), j->id, o->party, desc);
out:
	mpc_store_close(st);
	mpc_job_free(j);
	return code;
}

/* preprocess --list: every store under the store directory (--store DIR,
 * default ./mpc-store), with what it holds. No keys, no network. */
static int preprocess_list(const opts *o)
{
	const char *root = o->store ? o->store : "mpc-store";
	struct dirent **ents = NULL;
	int n = scandir(root, &ents, NULL, alphasort), found = 0;

	if (n < 0) {
		if (errno == ENOENT) {
			printf("no stores under %s (it does not exist)\n", root);
			return 0;
		}
		fprintf(stderr, "mpc-party preprocess --list: cannot read %s: %s\n", root,
			strerror(errno));
		return MPC_EXIT_INPUT;
	}
	for (int i = 0; i < n; i++) {
		char dir[700], job[65], desc[2048];
		uint8_t hash[32];
		int party, np;
		mpc_store *st = NULL;
		snprintf(dir, sizeof(dir), "%s/%s", root, ents[i]->d_name);
		if (ents[i]->d_name[0] == '.' || mpc_store_identity(dir, job, hash, &party, &np) != 0)
			continue;
		found++;
		if (mpc_store_open(&st, dir, job, hash, party, np) != MPC_OK) {
			printf("store %s (job %s, party %d of %d): cannot open: %s\n", dir, job, party + 1,
			       np, mpc_error_detail());
			continue;
		}
		(void)mpc_store_describe(st, desc, sizeof(desc));
		printf("store %s (job %s, party %d of %d):\n%s", dir, job, party + 1, np, desc);
		mpc_store_close(st);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (found == 0)
		printf("no stores under %s\n", root);
	return 0;
}

/* What preprocess is asked to have: the job's plan (--for-job, times --runs)
 * or the counts given, in the job's ring. Counted before any network. */
static mpc_err preprocess_want(const opts *o, const conn *c, mpc_pool_plan *want)
{
	const mpc_job *j = c->job;
	mpc_err err;

	*want = (mpc_pool_plan){0};
	if (!o->for_job) {
		int rb = mpc_ring_bits(j->ring) == 128;
		want->triples[rb] = o->triples;
		want->bits[rb] = o->bits;
		want->bit_triple_words = (o->bit_triples + 63) / 64;
		if (j->frac_bits && o->trunc) {
			want->n_trunc = 1;
			want->trunc[0].ring_bits = mpc_ring_bits(j->ring);
			want->trunc[0].f = j->frac_bits;
			want->trunc[0].n = o->trunc;
		}
		return MPC_OK;
	}
	int assumed, upper;
	if ((err = material_plan(o, c, 0, want, &assumed, &upper)) != MPC_OK)
		return err;
	return mpc_pool_plan_scale(want, o->runs ? o->runs : 1);
}

/* Every party's missing counts, and the largest of each kind: what all make
 * together (a party that holds more keeps the surplus for later). */
static mpc_err agree_missing(conn *c, const mpc_pool_plan *want, const mpc_pool_plan *mine,
			     mpc_pool_plan *make)
{
	kind_n k[PLAN_KINDS];
	uint64_t v[PLAN_KINDS] = {0}, *all = NULL;
	int m = plan_kinds(mine, k), n = c->nodes.n;
	uint64_t mask = (n >= 64 ? ~0ull : (1ull << n) - 1) & ~(1ull << c->self);
	mpc_err err;

	for (int i = 0; i < m; i++)
		v[i] = k[i].n;
	if ((all = calloc((size_t)n, sizeof(v))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = mpc_net_bcast(c->net, mask, v, mask, all, sizeof(v))) == MPC_OK)
		for (int q = 0; q < n; q++)
			for (int i = 0; i < m && q != c->self; i++)
				if (all[(size_t)q * PLAN_KINDS + (size_t)i] > v[i])
					v[i] = all[(size_t)q * PLAN_KINDS + (size_t)i];
	free(all);
	for (int i = 0; i < m && err == MPC_OK; i++)
		if (v[i] > (1ull << 40))
			err = mpc_error(MPC_EPROTO, "a peer asked to make %llu elements of one kind",
					(unsigned long long)v[i]);
	*make = plan_with(want, v);
	return err;
}

static int cmd_preprocess(const opts *o)
{
	conn c;
	mpc_store *st = NULL;
	mpc_party *p = NULL;
	mpc_preproc gen = {0};
	mpc_pool_plan want, mine, make;
	kind_n k[PLAN_KINDS];
	char mode[1200], desc[2048], line[1024];
	int code = 0;
	mpc_err err;

	if (o->list)
		return preprocess_list(o);
	if (o->status)
		return preprocess_status(o);
	if ((err = prepare(o, &c)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		code = err == MPC_ECONFIG || err == MPC_EIO ? MPC_EXIT_USAGE : mpc_exit_code(err);
		goto out;
	}
	const mpc_job *j = c.job;
	if (c.is_dealer || j->preprocessing == MPC_JOB_DEALER) {
		fprintf(stderr, "mpc-party preprocess: %s has preprocessing = dealer: the dealer "
			"serves material during the run; nothing to make ahead\n", o->job_path);
		code = MPC_EXIT_USAGE;
		goto out;
	}
	uint64_t counts = o->triples + o->trunc + o->bits + o->bit_triples;
	if (o->for_job ? counts != 0 : counts == 0) {
		fprintf(stderr, "mpc-party preprocess: say what to make: --for-job (what the job "
			"consumes), or --triples N, --trunc N, --bits N, --bit-triples N\n");
		code = MPC_EXIT_USAGE;
		goto out;
	}
	if ((err = preprocess_want(o, &c, &want)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		code = mpc_exit_code(err);
		goto out;
	}
	if ((err = open_store(o, &c, 1, &st)) != MPC_OK) {
		fprintf(stderr, "mpc-party preprocess: %s\n", mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	/* --for-job and --target: levels to top up to; otherwise amounts to add */
	int level = o->for_job || o->target;
	mine = level ? plan_missing(st, &want) : want;
	/* what is wanted is part of what the nodes agree on */
	snprintf(mode, sizeof(mode), "preprocess %s %s", level ? "up to" : "add",
		 mpc_plan_format(&want, line, sizeof(line)));
	if ((err = connect_and_agree(&c, mode)) != MPC_OK ||
	    (err = agree_missing(&c, &want, &mine, &make)) != MPC_OK) {
		code = fail(&c, err, "setting up preprocessing");
		goto out;
	}
	if (mpc_plan_equal(&make, &(mpc_pool_plan){0})) {
		printf("nothing to make: every party's store %s already holds %s\n",
		       mpc_store_dir(st), line);
		mpc_net_close(c.net);
		c.net = NULL;
		goto out;
	}
	if ((err = mpc_party_new(&p, c.net, j->n_parties)) != MPC_OK ||
	    (err = mpc_gen_new(&gen, p, engine_name(j), 0)) != MPC_OK) {
		code = fail(&c, err, "setting up preprocessing");
		goto out;
	}
	mpc_info("making %s by %s: about %.1f MB to send from this party",
		 mpc_plan_format(&make, line, sizeof(line)), engine_name(j),
		 plan_bytes(&make, &gen, j->n_parties) / 1e6);
	double t0 = now(), rate = 0;
	uint64_t b0 = mpc_net_bytes_sent(c.net);
	int m = plan_kinds(&make, k);
	for (int i = 0; i < m && err == MPC_OK; i++) {
		int job_triples = k[i].t.kind == MPC_MAT_TRIPLES &&
				  k[i].t.ring_bits == mpc_ring_bits(j->ring);
		err = make_kind(p, &gen, st, k[i].t, k[i].n, job_triples ? &rate : NULL);
	}
	if (err != MPC_OK) {
		code = fail(&c, err, "preprocessing");
		goto out;
	}
	if (rate > 0) {
		char path[700], text[64];
		snprintf(path, sizeof(path), "%s/RATE", mpc_store_dir(st));
		int len = snprintf(text, sizeof(text), "triples_per_s %.0f\n", rate);
		if (mpc_file_write_atomic(path, text, (size_t)len, 0600) != MPC_OK)
			mpc_warn("could not record the rate: %s", mpc_error_detail());
	}
	printf("made %s in %.2f s, %.1f MB sent; store %s now holds:\n", line, now() - t0,
	       (double)(mpc_net_bytes_sent(c.net) - b0) / 1e6, mpc_store_dir(st));
	(void)mpc_store_describe(st, desc, sizeof(desc));
	fputs(desc, stdout);
	mpc_party_free(p);
	p = NULL;
	mpc_net_close(c.net);
	c.net = NULL;
out:
	if (gen.ops)
		gen.ops->free(gen.ctx);
	mpc_party_free(p);
	mpc_store_close(st);
	conn_fini(&c);
	return code;
}

static void on_stop_signal(int signo) { mpc_net_stop(signo); }

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
	if (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "preprocess") == 0) {
		/* SIGTERM and SIGINT end the round under way (MPC_ESTOPPED) and the
		 * peers are told why (fail); no SA_RESTART, so a wait is cut short.
		 * SA_RESETHAND on SIGINT: a second Ctrl-C quits at once. */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop_signal;
		sigemptyset(&sa.sa_mask);
		(void)sigaction(SIGTERM, &sa, NULL);
		sa.sa_flags = SA_RESETHAND;
		(void)sigaction(SIGINT, &sa, NULL);
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(&o);
	if (strcmp(argv[1], "preprocess") == 0)
		return cmd_preprocess(&o);
	fprintf(stderr, "mpc-party: unknown subcommand '%s' (keygen, check, run, preprocess; see --help)\n",
		argv[1]);
	return MPC_EXIT_USAGE;
}
