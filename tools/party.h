/* mpc-party's modules (internal to tools/): the command line's options,
 * a node's connection to a job (tools/party_conn.c), check
 * (tools/party_check.c), preprocessing and the store
 * (tools/party_preprocess.c); run and main are in tools/mpc-party.c. */
#ifndef PARTY_H
#define PARTY_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jobs/mpc_job.h"
#include "jobs/mpc_kind.h"
#include "net/mpc_net.h"
#include "net/mpc_nodes.h"
#include "net/mpc_peer.h"
#include "protocols/core/mpc_party.h"
#include "protocols/preproc/mpc_pool.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_log.h"

typedef struct {
	const char *job_path, *party, *keys, *listen, *input, *output, *format, *out_dir, *name;
	const char *model;
	const char *store;
	int insecure, force, days, status;
	int trust_dealer; /* --trust-dealer */
	int dry;          /* check: run's validation only, stop before connecting */
	uint64_t triples, trunc, bits, bit_triples; /* preprocess: how many to make */
	int for_job, target, list; /* preprocess: the job's plan; levels, not amounts; list */
	uint64_t rows, runs;       /* the asker's transactions (fraud_score); runs to stock */
	const char *serve, *policy, *quota; /* run --serve SOCKET: a standing service */
	const char *input_pg;               /* run --input-pg FILE (the node's) */
	uint64_t stock;                     /* --stock: rows' worth of material kept ahead */
	uint64_t window;                    /* --window: of a stored stock, held in memory */
	uint64_t wait_s;                    /* submit, fetch: --wait seconds (0: default) */
	mpc_log_level level;
} opts;

/* One node's connection to the job: its network and what it agreed. */
typedef struct {
	mpc_job *job;
	int self; /* node index: parties 0..n-1, then the dealer */
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
typedef struct {
	mpc_kind_summary s;
	size_t columns;
} party_dry_info;
extern party_dry_info party_dry;

/* ---- tools/party_conn.c ---- */

/* Columns of a CSV file's header line (0 if it cannot be read). */
size_t party_csv_columns(const char *path);
/* Load --keys (default ./mpc-keys) into *key and *cert (caller frees, also
 * on error); MPC_ECONFIG naming both fingerprints unless the certificate
 * hashes to pin, the job file's for this party. */
mpc_err party_load_keys(const opts *o, const uint8_t pin[32], EVP_PKEY **key,
                        X509 **cert) MPC_MUST_CHECK;
/* Everything before the network: job, our node, transport, keys. Caller
 * calls party_conn_fini (also on error). */
mpc_err party_prepare(const opts *o, conn *c) MPC_MUST_CHECK;
void party_conn_fini(conn *c);
/* preprocessing = dealer only by this party's consent (--trust-dealer). */
mpc_err party_dealer_consent(const opts *o, const conn *c) MPC_MUST_CHECK;
/* After a failure with some parties (fed_train's min_parties): leave the
 * network (telling the peers), meet the parties in *alive again under a
 * session derived from the job's and attempt, and open a network among
 * those that come within the job's connect_timeout (*alive becomes them,
 * bit i: party i). MPC_EPEER naming those that did not come when fewer than
 * min_parties are left. No dealer. */
mpc_err party_regroup(conn *c, uint64_t *alive, int attempt, int min_parties) MPC_MUST_CHECK;
/* Open the network and agree the job (and `mode`) with every node. */
mpc_err party_agree(conn *c, const char *mode) MPC_MUST_CHECK;
/* Round-trip time and throughput to every peer, measured together. */
mpc_err party_measure(conn *c, double *rtt_ms, double *mbps) MPC_MUST_CHECK;
/* Log err, tell the peers why (see party_conn.c); the exit code. */
int party_fail(conn *c, mpc_err err, const char *what);
double party_now(void);
/* The kind's view of this node and its files. */
mpc_kind_io party_kind_io(const opts *o, const conn *c);

/* ---- tools/party_preprocess.c ---- */

/* The exact material the job consumes (no network), for check and
 * preprocess --for-job. A kind whose plan depends on the asker's row count:
 * where it is not known here, the plan is for assume_rows transactions and
 * *assumed is set (0: refused, MPC_ECONFIG). *upper: a suppressed cohort
 * would take less. */
mpc_err party_material_plan(const opts *o, const conn *c, uint64_t assume_rows, mpc_pool_plan *plan,
                            int *assumed, int *upper) MPC_MUST_CHECK;
/* The job's preprocessing at a party, from the store first when there is
 * one, wrapped in a recording pool; states what the job consumes. */
mpc_err party_install_preproc(const opts *o, conn *c, mpc_party *p,
                              const mpc_pool_plan *plan) MPC_MUST_CHECK;
/* Material made during the run among p's parties only (after a regroup:
 * never a store's or a dealer's, whose shares belong to the job's whole
 * party set). */
mpc_err party_install_fresh(const conn *c, mpc_party *p) MPC_MUST_CHECK;
/* After a run: what it took, of every kind, and from where. */
void party_note_taken(mpc_party *p, const mpc_job *j);
int party_cmd_preprocess(const opts *o);

/* A standing service's durable stock (run --serve with --store DIR): the
 * store is opened (made if absent) under this name, not the job's id, so
 * that the next service of the same parties takes what this one left.
 * party_stock_rows: rows' worth of `one` row's material the store holds;
 * party_stock_make: make plan with the job's engine into the store
 * (collective, quiet); party_stock_report: the store's and the memory's
 * counts per kind, for the node's metrics, in DIR/LEVEL (lines "store|memory
 * TAB kind TAB count"). No store: 0, MPC_EINVAL, nothing written. */
#define PARTY_STOCK_ID "stock"
uint64_t party_stock_rows(const mpc_pool_plan *one);
mpc_err party_stock_make(mpc_party *p, const mpc_pool_plan *plan) MPC_MUST_CHECK;
void party_stock_report(mpc_party *p, const mpc_pool_plan *one);

/* ---- tools/party_serve.c ---- */

/* The host's side of a kind's standing service (run --serve). */
typedef struct party_service {
	int lfd, cfd; /* the asker's: listening socket, the node's connection */
	size_t d;     /* features a row */
	double *x;    /* the batch */
	uint32_t last_n;
	char computation[64];
	struct mpc_policy *policy; /* the model owner's, with --policy and --quota */
	struct mpc_quota *quota;
} party_service;
/* Set up ps and svc for this party of the job (kind_state: fraud_score's).
 * Caller calls party_service_close (also on error). */
mpc_err party_service_open(const opts *o, const conn *c, void *kind_state, party_service *ps,
                           mpc_kind_service *svc) MPC_MUST_CHECK;
void party_service_close(party_service *ps, const opts *o);

/* ---- tools/party_inbox.c: a compute party's side of input parties ---- */

/* Requests to a compute party's inbox (node/mpc_link.h frames): the op byte,
 * the SHA-256 of the job's canonical text, then the op's bytes: PREPARE a
 * contribution id and this compute party's share; COMMIT the id; FETCH 'c'
 * (CSV) or 'j' (JSON). Answers are text: a receipt; for FETCH "wait\n",
 * "result\n" and the output's bytes, or "failed\n" and why. */
#define PARTY_INBOX_PREPARE  'P'
#define PARTY_INBOX_COMMIT   'C'
#define PARTY_INBOX_FETCH    'F'
#define PARTY_INBOX_ID_BYTES 16

typedef struct party_inbox party_inbox;
/* Take submissions on this compute party's submit address (k's
 * contribution length). Caller calls party_inbox_close (also on error). */
mpc_err party_inbox_open(const conn *c, const mpc_kind *k, void *st,
                         party_inbox **out) MPC_MUST_CHECK;
/* Until every input party committed here, the input deadline, or a stop
 * signal (MPC_ESTOPPED). */
mpc_err party_inbox_wait(party_inbox *ib) MPC_MUST_CHECK;
/* On the job's network: close the window, agree with every compute party
 * which contributions count (held by all with one id, committed at one at
 * least), print the contributors by name. MPC_EREFUSED naming the missing
 * ones when fewer than min_inputs count. *out is the inbox's. */
mpc_err party_inbox_agree(party_inbox *ib, conn *c, const mpc_kind_contribs **out) MPC_MUST_CHECK;
/* After the run: the outputs (k->write, quietly, CSV and JSON) held for the
 * input parties named recipients until each fetched them here or hold ends. */
mpc_err party_inbox_hold(party_inbox *ib, const mpc_kind *k, void *st,
                         mpc_kind_io io) MPC_MUST_CHECK;
/* Fetches are answered with this reason from now on. */
void party_inbox_fail(party_inbox *ib, const char *why);
void party_inbox_close(party_inbox *ib);

/* ---- tools/party_submit.c: an input party's and a recipient's side ---- */
int party_cmd_submit(const opts *o);
int party_cmd_fetch(const opts *o);

/* ---- tools/party_check.c, tools/mpc-party.c ---- */
int party_cmd_check(const opts *o);
int party_cmd_run(const opts *o);

#endif
