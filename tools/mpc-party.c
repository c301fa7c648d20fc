/* mpc-party: the one program a partner runs. Subcommands: keygen, check, run,
 * preprocess, and for input parties submit and fetch.
 * Everything a run needs comes from the job file that every partner holds;
 * see `mpc-party --help` and the README's "Running a peer" section. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/mpc_kind.h"
#include "net/mpc_keys.h"
#include "net/mpc_peer.h"
#include "net/mpc_tls.h"
#include "protocols/preproc/mpc_dealer.h"
#include "tools/party.h"

static const char usage_text[] =
    "usage: mpc-party keygen --out DIR [--name NAME] [--days N] [--force]\n"
    "       mpc-party check --job JOB.ini --party NAME [--input FILE.csv] [--model FILE]\n"
    "                       [--format text|json] [options]\n"
    "       mpc-party run   --job JOB.ini --party NAME [--input FILE.csv] [--output FILE]\n"
    "                       [--format csv|json] [--model FILE] [--store DIR] [options]\n"
    "       mpc-party run   --job JOB.ini --party NAME --serve SOCKET [--stock N] [--window N]\n"
    "                       [--model FILE]\n"
    "                       [--policy FILE --quota FILE] [--store DIR] [options]\n"
    "       mpc-party preprocess --job JOB.ini --party NAME --for-job [--rows N] [--runs K]\n"
    "                       [--store DIR] [options]\n"
    "       mpc-party preprocess --job JOB.ini --party NAME [--triples N] [--trunc N]\n"
    "                       [--bits N] [--bit-triples N] [--target] [--store DIR] [options]\n"
    "       mpc-party preprocess --status --job JOB.ini --party NAME [--store DIR]\n"
    "       mpc-party preprocess --list [--store DIR]\n"
    "       mpc-party submit --job JOB.ini --party NAME --input FILE.csv [--wait S] [--keys DIR]\n"
    "       mpc-party fetch  --job JOB.ini --party NAME --output FILE [--format csv|json]\n"
    "                        [--wait S] [--keys DIR]\n"
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
    "        --serve SOCKET (fraud_score, for mpc-node): a standing scoring\n"
    "        service instead of one batch. The asker reads batches from the Unix\n"
    "        socket SOCKET (its node writes them), the session, the OT set-up and\n"
    "        --stock N rows' worth of material (refilled while idle) serve them all;\n"
    "        the model owner takes each batch from its quota journal (--quota) under\n"
    "        its policy's [quota fraud_score] limits (--policy). Ends on SIGTERM.\n"
    "        With --store DIR the stock is durable: made into the store DIR (kept\n"
    "        for the next service of the same parties, never served twice, across\n"
    "        restarts too) and --window W rows' worth of it (default: all N) held\n"
    "        in memory; without, all of it in memory, lost at the end.\n"
    "        With preprocessing = ot or paillier it takes material from the store\n"
    "        first and makes the rest on demand.\n"
    "        A job with input parties ([input NAME] sections): each compute party\n"
    "        first takes their submissions on its submit address until every input\n"
    "        party committed or input_deadline passed; the compute parties agree which\n"
    "        contributions every one of them holds, run over those (at least\n"
    "        min_inputs) and print the contributors by name; outputs for input parties\n"
    "        named in recipients are held until they fetch them (at most hold seconds).\n"
    "submit  an input party's rows into a job with input parties: its contribution\n"
    "        (aggregate_stats: the local aggregates of --input, never the rows) in\n"
    "        additive shares, one to each compute party, each acknowledged with a\n"
    "        receipt, then committed at all. Exit 0 only when every compute party\n"
    "        committed it. Compute parties not reachable yet are tried again for\n"
    "        --wait seconds (default 60). Needs no listening port.\n"
    "fetch   a recipient's outputs (--output, csv or json), held by the compute\n"
    "        parties: the same bytes from every one, waiting up to --wait seconds\n"
    "        (default 600) while the job runs.\n"
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
    "  --input-pg FILE        run, aggregate_stats: the rows from PostgreSQL instead of\n"
    "                         --input, as mpc-node passes them: a 0600 file of three\n"
    "                         lines (dataset NAME, the libpq conninfo, the query)\n"
    "\n"
    "exit codes: 0 ok, 1 usage or configuration (also: cannot listen on our own\n"
    "address), 2 input data, 3 network (peer unreachable, silent or gone), 4 protocol\n"
    "violation or failed check, 5 a peer aborted (its reason is printed), 6 internal,\n"
    "7 TLS (certificate or tampered channel), 8 stopped by SIGTERM or SIGINT (the peers\n"
    "were told; a second Ctrl-C quits at once).\n";

static int parse_args(int argc, char **argv, int first, opts *o) {
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
		                  : strcmp(a, "--stock") == 0       ? &o->stock
		                  : strcmp(a, "--window") == 0      ? &o->window
		                  : strcmp(a, "--wait") == 0        ? &o->wait_s
		                                                    : NULL;
		if (count) {
			char *end = NULL;
			unsigned long long x = v ? strtoull(v, &end, 10) : 0;
			if (v == NULL || end == v || *end != '\0' || x > (1ull << 40) ||
			    v[0] == '-') {
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
		else if (strcmp(a, "--serve") == 0)
			slot = &o->serve;
		else if (strcmp(a, "--input-pg") == 0)
			slot = &o->input_pg;
		else if (strcmp(a, "--policy") == 0)
			slot = &o->policy;
		else if (strcmp(a, "--quota") == 0)
			slot = &o->quota;
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
				fprintf(stderr,
				        "mpc-party: --log-level: debug, info, warn or error\n");
				return -1;
			}
			i++;
			continue;
		} else {
			fprintf(stderr, "mpc-party: unknown option '%s' (see mpc-party --help)\n",
			        a);
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

static int cmd_keygen(const opts *o) {
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
	       "  fingerprint = %s\nunder your [party NAME] section.\n",
	       text);
	return 0;
}
/* The pause a test asks for (tests/loopback/test_party_cli.c): here,
 * outside any round, so a test can kill or stall this party mid-job. */
static void test_pause(void) {
	const char *pause = getenv("MPC_TEST_PAUSE_MS");
	if (pause && atoi(pause) > 0) {
		mpc_warn("MPC_TEST_PAUSE_MS: pausing %d ms (test hook)", atoi(pause));
		struct timespec ts = {atoi(pause) / 1000, (long)(atoi(pause) % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

/* What a kind's run is handed (mpc_kind_session.host). */
typedef struct {
	const opts *o;
	conn *c;
	mpc_party *p; /* made by start_party, freed by run_kind */
} run_host;

/* mpc_kind_session.start: the party with the job's preprocessing, or the
 * dealer's service. */
static mpc_err start_party(mpc_kind_session *ks, const mpc_pool_plan *plan, mpc_party **p) {
	run_host *h = ks->host;
	const mpc_job *j = h->c->job;
	mpc_err err;

	*p = NULL;
	if (h->c->is_dealer) {
		uint64_t served;
		return mpc_dealer_serve(h->c->net, j->n_parties, j->timeout_ms * 20, &served);
	}
	if ((err = mpc_party_new(&h->p, h->c->net, j->n_parties)) == MPC_OK)
		err = party_install_preproc(h->o, h->c, h->p, plan);
	*p = h->p;
	return err;
}

/* mpc_kind_session.regroup (jobs/mpc_kind.h). */
static mpc_err regroup_party(mpc_kind_session *ks, uint64_t *alive, int attempt, int min_parties,
                             mpc_party **p) {
	run_host *h = ks->host;
	mpc_err err;
	*p = NULL;
	mpc_party_free(h->p);
	h->p = NULL;
	err = party_regroup(h->c, alive, attempt, min_parties);
	ks->net = h->c->net;
	if (err != MPC_OK)
		return err;
	if ((err = mpc_party_new(&h->p, h->c->net, __builtin_popcountll(*alive))) == MPC_OK)
		err = party_install_fresh(h->c, h->p);
	*p = h->p;
	return err;
}

/* The kind's steps from the network on: prepare, agree (and, with input
 * parties, which contributions count), run, note what it took. *bad_input:
 * the error is this party's input's. */
static mpc_err run_kind(const opts *o, conn *c, const mpc_kind *k, void *st, mpc_kind_io *io,
                        party_inbox *ib, int *bad_input) {
	run_host h = {.o = o, .c = c};
	mpc_err err;

	if ((err = k->prepare(st, io)) != MPC_OK || (err = party_agree(c, "run")) != MPC_OK)
		return err;
	test_pause();
	if (ib && (err = party_inbox_agree(ib, c, &io->contribs)) != MPC_OK)
		return err;
	mpc_kind_session ks = {.io = io,
	                       .net = c->net,
	                       .start = start_party,
	                       .regroup = c->job->has_dealer ? NULL : regroup_party,
	                       .host = &h};
	err = io->service ? k->serve(st, &ks) : k->run(st, &ks);
	*bad_input = ks.bad_input;
	if (err == MPC_OK && h.p)
		party_note_taken(h.p, c->job);
	mpc_party_free(h.p);
	return err;
}

/* run --serve: the kind's standing service, for fraud_score (the only kind
 * with one). */
static mpc_err start_service(const opts *o, conn *c, const mpc_kind *k, void *st, party_service *ps,
                             mpc_kind_service *svc) {
	if (k->serve == NULL || k != &mpc_kind_score)
		return mpc_error(MPC_ECONFIG,
		                 "%s: computation %s has no standing service (--serve)",
		                 o->job_path, k->name);
	if (c->is_dealer)
		return mpc_error(MPC_ECONFIG, "--serve: a service runs without a dealer");
	return party_service_open(o, c, st, ps, svc);
}

/* run (and check's dry run): the job's kind from the registry, through its
 * ops: parse, this party's files, the network, the outputs. */
int party_cmd_run(const opts *o) {
	conn c;
	const mpc_kind *k = NULL;
	void *st = NULL;
	party_service ps = {.lfd = -1, .cfd = -1};
	party_inbox *ib = NULL;
	mpc_kind_service svc;
	int json = o->format && strcmp(o->format, "json") == 0, code = 0, bad_input = 0;
	const char *cmd = o->dry ? "check" : "run";
	mpc_err err;

	if (o->format && !json && strcmp(o->format, "csv") != 0) {
		fprintf(stderr, "mpc-party run: --format csv or json\n");
		return MPC_EXIT_USAGE;
	}
	if ((err = party_prepare(o, &c)) != MPC_OK ||
	    (err = party_dealer_consent(o, &c)) != MPC_OK) {
		fprintf(stderr, "mpc-party %s: %s\n", cmd, mpc_error_detail());
		code = err == MPC_ECONFIG || err == MPC_EIO ? MPC_EXIT_USAGE : mpc_exit_code(err);
		goto out;
	}
	mpc_kind_io io = party_kind_io(o, &c);
	if ((k = mpc_kind_find(c.job->computation)) == NULL)
		err = mpc_error(MPC_ECONFIG, "%s: no computation %s here", o->job_path,
		                c.job->computation);
	else
		err = k->parse(c.job, &st);
	if (err == MPC_OK && o->serve && (err = start_service(o, &c, k, st, &ps, &svc)) == MPC_OK)
		io.service = &svc;
	if (err == MPC_OK)
		err = k->load_input(st, &io, &party_dry.s, &bad_input);
	if (err == MPC_ECONFIG && !bad_input) {
		fprintf(stderr, "mpc-party %s: %s\n", cmd, mpc_error_detail());
		code = MPC_EXIT_USAGE;
		goto out;
	}
	if (err == MPC_OK && o->dry && party_dry.s.input_read) /* check's summary only */
		party_dry.columns = party_csv_columns(o->input);
	if (err == MPC_OK && !o->dry && c.job->n_inputs > 0 && !c.is_dealer &&
	    (err = party_inbox_open(&c, k, st, &ib)) == MPC_OK)
		err = party_inbox_wait(ib);
	if (err != MPC_OK || o->dry ||
	    (err = run_kind(o, &c, k, st, &io, ib, &bad_input)) != MPC_OK)
		goto failed;
	mpc_info("job %s: %llu bytes sent to the peers in %llu rounds (what was handed to the "
	         "links: headers included, TLS records not)",
	         c.job->id, (unsigned long long)mpc_net_bytes_sent(c.net),
	         (unsigned long long)mpc_net_rounds(c.net));
	mpc_net_close(c.net);
	c.net = NULL;
	if (!c.is_dealer && !o->serve && c.job->parties[c.self].recipient &&
	    (err = k->write(st, &io)) != MPC_OK) {
		fprintf(stderr, "mpc-party run: %s\n", mpc_error_detail());
		code = err == MPC_EPROTO ? MPC_EXIT_PROTO : MPC_EXIT_INPUT;
	}
	if (!c.is_dealer && !o->serve && !c.job->parties[c.self].recipient)
		printf("job %s: done; %s is not among its recipients, so nothing is written here\n",
		       c.job->id, o->party);
	if (code == 0 && ib && (err = party_inbox_hold(ib, k, st, io)) != MPC_OK) {
		fprintf(stderr, "mpc-party run: holding the outputs: %s\n", mpc_error_detail());
		code = MPC_EXIT_INPUT;
	}
	goto out;
failed:
	if (err == MPC_OK)
		goto out;
	c.tell_peers = bad_input && !o->dry;
	party_inbox_fail(ib, mpc_error_detail());
	code = party_fail(&c, err, c.net ? k->doing : "preparing");
	if (bad_input)
		code = MPC_EXIT_INPUT;
out:
	party_inbox_close(ib);
	if (o->serve)
		party_service_close(&ps, o);
	if (k && st)
		k->free(st);
	party_conn_fini(&c);
	return code;
}

static void on_stop_signal(int signo) {
	mpc_net_stop(signo);
}

int main(int argc, char **argv) {
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
		return party_cmd_check(&o);
	if (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "preprocess") == 0 ||
	    strcmp(argv[1], "submit") == 0 || strcmp(argv[1], "fetch") == 0) {
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
		return party_cmd_run(&o);
	if (strcmp(argv[1], "preprocess") == 0)
		return party_cmd_preprocess(&o);
	if (strcmp(argv[1], "submit") == 0)
		return party_cmd_submit(&o);
	if (strcmp(argv[1], "fetch") == 0)
		return party_cmd_fetch(&o);
	fprintf(
	    stderr,
	    "mpc-party: unknown subcommand '%s' (keygen, check, run, preprocess, submit, fetch; "
	    "see --help)\n",
	    argv[1]);
	return MPC_EXIT_USAGE;
}
