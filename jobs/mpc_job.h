/* The job file every partner of a joint computation holds (INI, read with
 * net/mpc_ini). It names the computation and its parameters, the ring, the
 * parties with their addresses and certificate fingerprints, the dealer, the
 * timeouts and the transport:
 *
 *   [job]                    id, computation (required); ring = 64|128 (128);
 *                            frac_bits = 0..40 (16); preprocessing =
 *                            dealer|ot|paillier (ot); timeout and
 *                            connect_timeout = seconds in (0, 86400], at most
 *                            3 decimals (30, 60); transport = tls|plaintext (tls)
 *   [COMPUTATION]            the computation's parameters ([aggregate_stats] or
 *                            [fraud_score]): [a-z0-9_]+ = value
 *   [party NAME]             2..16, in file order = party index: address,
 *                            fingerprint (required unless transport = plaintext)
 *   [dealer]                 address, fingerprint; iff preprocessing = dealer
 *   [input NAME]             0..MPC_JOB_MAX_INPUTS input parties: fingerprint
 *                            (required: they submit over TLS only). They hold
 *                            no address: they connect out to the compute
 *                            parties' `submit` addresses. With any of them the
 *                            [party NAME] sections (the compute parties, 2..5)
 *                            need submit = HOST:PORT, and [job] takes
 *                            min_inputs = 1..inputs (all), input_deadline =
 *                            seconds (600) and hold = seconds (3600)
 *   recipients               [job], any job: NAME, NAME (parties or inputs)
 *                            who receive the outputs (default: every party)
 *
 * Lines hold at most MPC_JOB_MAX_LINE characters; ';' and '#' start comments,
 * and ';' after a blank ends a value; indentation is ignored. Every section
 * appears at most once, every key at most once per section. No two entries
 * (parties or the dealer) share an address or a fingerprint: the error names
 * both entries and their lines. */
#ifndef MPC_JOB_H
#define MPC_JOB_H

#include "net/mpc_keys.h"
#include "net/mpc_nodes.h"
#include "runtime/mpc_err.h"
#include "runtime/mpc_ring.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_JOB_MAX_PARTIES 16
#define MPC_JOB_MAX_PARAMS  32
#define MPC_JOB_MAX_INPUTS  1000 /* [input NAME] sections */
#define MPC_JOB_MAX_COMPUTE 5    /* parties of a job with input parties */
#define MPC_JOB_MAX_LINE    198  /* characters of one line (the limit job files have always had) */

typedef enum { MPC_JOB_DEALER, MPC_JOB_OT, MPC_JOB_PAILLIER } mpc_job_preproc;
typedef enum { MPC_JOB_TLS, MPC_JOB_PLAINTEXT } mpc_job_transport;

/* A party or the dealer. */
typedef struct {
	char name[33];           /* [A-Za-z0-9._-]{1,32}; "dealer" for the dealer */
	char address[256];       /* tcp://HOST:PORT or ipc:///PATH */
	uint8_t fingerprint[32]; /* SHA-256 of its certificate (DER), if has_fingerprint */
	int has_fingerprint;
	int line;        /* of its section header */
	char submit[64]; /* a compute party of a job with inputs: HOST:PORT of its submission
	                    listener (TLS over TCP); "" otherwise */
	int recipient;   /* receives the job's outputs */
} mpc_job_node;

/* One parameter of the computation, in file order. */
typedef struct {
	char key[64];
	char value[256];
	int line;
} mpc_job_param;

typedef struct mpc_job {
	char path[512]; /* the name the job was read under (for messages) */
	char id[65];    /* [A-Za-z0-9._-]{1,64} */
	char computation[64];
	mpc_ring ring;
	unsigned frac_bits;
	mpc_job_preproc preprocessing;
	double timeout_s, connect_timeout_s; /* = the _ms fields / 1000 */
	int timeout_ms, connect_timeout_ms;  /* exact */
	mpc_job_transport transport;
	int n_parties;
	mpc_job_node parties[MPC_JOB_MAX_PARTIES];
	int has_dealer;
	mpc_job_node dealer;
	int n_params;
	mpc_job_param params[MPC_JOB_MAX_PARAMS];
	/* input parties ([input NAME] in file order; no address); NULL when none */
	int n_inputs;
	mpc_job_node *inputs;
	int min_inputs;                 /* contributions needed to run (n_inputs if not given) */
	int input_deadline_ms, hold_ms; /* with inputs: see above */
	int has_recipients;             /* [job] recipients given */
} mpc_job;

/* Read and check a job file. MPC_EIO (with strerror) if it cannot be read,
 * MPC_ECONFIG with "FILE:LINE: [section] key: what was expected" for any
 * mistake. On error *out is NULL. Caller frees with mpc_job_free. */
mpc_err mpc_job_load(const char *path, mpc_job **out) MPC_MUST_CHECK;
/* The same from memory (len bytes, NUL not needed); `name` is used in
 * messages. */
mpc_err mpc_job_parse(const char *name, const char *text, size_t len, mpc_job **out) MPC_MUST_CHECK;
/* NULL does nothing. */
void mpc_job_free(mpc_job *job);

/* 1: s is 1 to max characters of [A-Za-z0-9._-] (the names of parties,
 * jobs, datasets and askers, everywhere they are read); 0 otherwise, and
 * for NULL. */
int mpc_job_name_ok(const char *s, size_t max);
/* Index of the party called name, or -1. */
int mpc_job_party_index(const mpc_job *job, const char *name);
/* Index of the input party called name, or -1. */
int mpc_job_input_index(const mpc_job *job, const char *name);
/* "dealer", "ot", "paillier"; "tls", "plaintext". */
const char *mpc_job_preproc_name(mpc_job_preproc p);
const char *mpc_job_transport_name(mpc_job_transport t);
/* A parameter of the computation's section, or NULL. Borrowed. */
const char *mpc_job_param_get(const mpc_job *job, const char *key);
/* A numeric parameter in [lo, hi], dflt if absent. MPC_ECONFIG naming the
 * file:line of the parameter if it is not a finite decimal number in range. */
mpc_err mpc_job_param_double(const mpc_job *job, const char *key, double dflt, double lo, double hi,
                             double *out) MPC_MUST_CHECK;

/* Canonical "key=value\n" text of everything all parties must agree on:
 * format version, job.* settings (parsed values, defaults filled in),
 * param.<key> sorted by key, parties, party.<i>.name/address/fingerprint
 * (lowercase hex, "none" if absent), dealer.address/fingerprint. Comments,
 * spacing and the order of keys within a section do not show. Caller frees
 * *text (NUL-terminated; *len excludes the NUL). MPC_ENOMEM. */
mpc_err mpc_job_canonical(const mpc_job *job, char **text, size_t *len) MPC_MUST_CHECK;
/* SHA-256 of the canonical text. MPC_ENOMEM, MPC_ECRYPTO. */
mpc_err mpc_job_hash(const mpc_job *job, uint8_t out[32]) MPC_MUST_CHECK;
/* Name the first field (in the order of `mine`) whose value differs in
 * `theirs` or is missing there, then any field only `theirs` has, else
 * "(fields differ in number)" or "(fields differ in order)"; "" if the texts
 * are equal. Always NUL-terminates field (field_size >= 1). MPC_EPROTO (and
 * field "(malformed job text)") if a text is not key=value lines; MPC_EINVAL
 * for NULL arguments. */
mpc_err mpc_job_diff(const char *mine, size_t mine_len, const char *theirs, size_t theirs_len,
                     char *field, size_t field_size) MPC_MUST_CHECK;
/* The nodes (parties in order, then the dealer) for mpc_net; names are
 * "NAME (party i)" and "dealer". MPC_ENOMEM. Caller calls mpc_nodes_fini. */
mpc_err mpc_job_nodes(const mpc_job *job, mpc_nodes *out) MPC_MUST_CHECK;

/* What determines a store's material, hashed: the parties' certificate
 * fingerprints in job order (material is shares among exactly those parties),
 * the ring, the fractional bits and the engine. Not the rest of the job file:
 * fixing a column name or a threshold keeps the store. The job id is bound
 * separately (protocols/preproc/mpc_store.h): it names the store's directory. */
mpc_err mpc_job_store_binding(const mpc_job *j, uint8_t out[32]) MPC_MUST_CHECK;

#endif
