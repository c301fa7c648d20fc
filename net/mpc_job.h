/* The job file every partner of a joint computation holds (INI, read with
 * libinih). It names the computation and its parameters, the ring, the
 * parties with their addresses and certificate fingerprints, the dealer, the
 * timeouts and the transport. See the README for the format. */
#ifndef MPC_JOB_H
#define MPC_JOB_H

#include <stddef.h>
#include <stdint.h>
#include "../runtime/mpc_err.h"
#include "../runtime/mpc_ring.h"
#include "mpc_nodes.h"

#define MPC_JOB_MAX_PARTIES 16
#define MPC_JOB_MAX_PARAMS 32

typedef enum { MPC_JOB_DEALER, MPC_JOB_OT, MPC_JOB_PAILLIER } mpc_job_preproc;
typedef enum { MPC_JOB_TLS, MPC_JOB_PLAINTEXT } mpc_job_transport;

typedef struct {
	char name[33];
	char address[256];
	uint8_t fingerprint[32];
	int has_fingerprint;
	int line; /* of its section's first key (where libinih reports it) */
} mpc_job_node;

typedef struct {
	char key[64];
	char value[256];
	int line;
} mpc_job_param;

typedef struct mpc_job {
	char path[512];
	char id[65];
	char computation[64];
	mpc_ring ring;
	unsigned frac_bits;
	mpc_job_preproc preprocessing;
	double timeout_s, connect_timeout_s;
	mpc_job_transport transport;
	int n_parties;
	mpc_job_node parties[MPC_JOB_MAX_PARTIES];
	int has_dealer;
	mpc_job_node dealer;
	int n_params;
	mpc_job_param params[MPC_JOB_MAX_PARAMS];
} mpc_job;

/* Read and check a job file. MPC_EIO if it cannot be read, MPC_ECONFIG with
 * "FILE:LINE: [section] key: what was expected" otherwise. Caller frees. */
mpc_err mpc_job_load(const char *path, mpc_job **out) MPC_MUST_CHECK;
/* The same from memory; `name` is used in messages. */
mpc_err mpc_job_parse(const char *name, const char *text, size_t len, mpc_job **out) MPC_MUST_CHECK;
void mpc_job_free(mpc_job *job);

/* Index of the party called name, or -1. */
int mpc_job_party_index(const mpc_job *job, const char *name);
/* A parameter of the computation's section, or NULL. Borrowed. */
const char *mpc_job_param_get(const mpc_job *job, const char *key);
/* A numeric parameter in [lo, hi], dflt if absent; MPC_ECONFIG with file:line. */
mpc_err mpc_job_param_double(const mpc_job *job, const char *key, double dflt, double lo, double hi,
			     double *out) MPC_MUST_CHECK;
/* Canonical "key=value\n" text of everything all parties must agree on
 * (malloc'ed; caller frees). */
mpc_err mpc_job_canonical(const mpc_job *job, char **text, size_t *len) MPC_MUST_CHECK;
/* The first field (key) in which two canonical texts differ. */
mpc_err mpc_job_diff(const char *mine, size_t mine_len, const char *theirs, size_t theirs_len,
		     char *field, size_t field_size) MPC_MUST_CHECK;
/* The nodes (parties, then the dealer) for mpc_net. Caller calls mpc_nodes_fini. */
mpc_err mpc_job_nodes(const mpc_job *job, mpc_nodes *out) MPC_MUST_CHECK;

/* Parse "sha256:AB:CD:..." or 64 hex digits (colons optional, any case). */
mpc_err mpc_fingerprint_parse(const char *s, uint8_t fp[32]) MPC_MUST_CHECK;

#endif
