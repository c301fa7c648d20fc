/* Placeholder until the Paillier engine lands. */
#include "mpc_cross.h"

mpc_err mpc_cross_paillier_new(mpc_cross *out, struct mpc_party *p, unsigned modulus_bits)
{
	(void)p;
	(void)modulus_bits;
	*out = (mpc_cross){0};
	return mpc_error(MPC_EINVAL, "the Paillier engine is not built yet");
}
