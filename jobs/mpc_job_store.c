/* The binding of a preprocessing store to a job (jobs/mpc_job.h). */
#include "jobs/mpc_job.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

mpc_err mpc_job_store_binding(const mpc_job *j, uint8_t out[32]) {
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char head[160];
	unsigned len = 0;
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	int n = snprintf(head, sizeof(head),
	                 "mpc store binding v2\nparties %d\nring %u\nfrac %u\n"
	                 "engine %s\n",
	                 j->n_parties, mpc_ring_bits(j->ring), j->frac_bits,
	                 j->preprocessing == MPC_JOB_PAILLIER ? "paillier"
	                 : j->preprocessing == MPC_JOB_DEALER ? "dealer"
	                                                      : "ot");
	ok = ok && EVP_DigestUpdate(md, head, (size_t)n) == 1;
	/* without fingerprints (plaintext test jobs) the names stand for the
	 * identities */
	for (int i = 0; i < j->n_parties && ok; i++)
		ok = j->parties[i].has_fingerprint
		         ? EVP_DigestUpdate(md, j->parties[i].fingerprint, 32) == 1
		         : EVP_DigestUpdate(md, j->parties[i].name,
		                            strlen(j->parties[i].name) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(md);
	return ok ? MPC_OK : mpc_error(MPC_ECRYPTO, "SHA-256 failed (%s:%d)", __FILE__, __LINE__);
}
