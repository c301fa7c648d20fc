/* The registry of computation kinds: one line per kind. */
#include "jobs/mpc_kind.h"

#include <string.h>

/* X(ops table): a new kind adds its line here. */
#define KINDS(X)                                                                                   \
	X(mpc_kind_stats) /* jobs/kind_stats.c: aggregate_stats */                                 \
	X(mpc_kind_score) /* jobs/kind_score.c: fraud_score */                                     \
	X(mpc_kind_avg)   /* jobs/kind_avg.c: model_average */                                     \
	X(mpc_kind_fed)   /* jobs/kind_fed.c: fed_train */

#define DECLARE(k) extern const mpc_kind k;
KINDS(DECLARE)
#define ENTRY(k) &k,
static const mpc_kind *const registry[] = {KINDS(ENTRY)};
#define N_KINDS (sizeof(registry) / sizeof(registry[0]))

const mpc_kind *mpc_kind_find(const char *name) {
	for (size_t i = 0; name && i < N_KINDS; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

const mpc_kind *mpc_kind_at(size_t i) {
	return i < N_KINDS ? registry[i] : NULL;
}

size_t mpc_kind_count(void) {
	return N_KINDS;
}
