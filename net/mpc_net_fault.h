/* Test-only fault injection for net/: make this node misbehave towards one
 * peer, so that tests can check that the peer detects it. Never used by the
 * programs. Each fault applies once, to the next DATA message (the next
 * non-empty send) towards that peer; the receiver reports MPC_EPROTO naming
 * this node and the step, except for FLIP which this layer cannot see, and
 * FLIP_RECORD (below). Defined in net/mpc_net_hooks.c, compiled only with
 * MPC_TEST_HOOKS: they are in libmpctest.a, never in libmpc.a. Not to be
 * installed (NOINST_HEADERS in the Makefile). */
#ifndef MPC_NET_FAULT_H
#define MPC_NET_FAULT_H

#include "net/mpc_net.h"
#include <stddef.h>
#include <stdint.h>

typedef enum {
	MPC_FAULT_NONE,
	/* The message's first chunk carries only half of its payload (rounded
	 * down) while its header announces all of it: a truncated chunk. */
	MPC_FAULT_TRUNCATE,
	/* Every chunk of the message carries step + 5: a skipped step. */
	MPC_FAULT_WRONG_STEP,
	/* Before the message, one chunk is sent again with the previous step
	 * (0 if there was none), the previous message's length and its first
	 * chunk's size; its payload is zeros (old payloads are not kept). */
	MPC_FAULT_REPLAY,
	/* Every chunk of the message carries a session id with one bit flipped. */
	MPC_FAULT_WRONG_SESSION,
	/* One bit of the first payload byte is flipped: a silently wrong payload
	 * at this layer (integrity is the job of the channel above). */
	MPC_FAULT_FLIP,
	/* With TLS: one bit of the next sealed DATA frame's ciphertext (the last
	 * byte before its last tag) is flipped; the receiver drops the frame
	 * and ends the round on the gap it leaves (MPC_EPROTO, or MPC_ETIMEDOUT
	 * if it was the message's last frame), naming the drop. Armed separately
	 * from the faults above (which, with TLS, apply to the message before
	 * it is sealed). No effect in plaintext. */
	MPC_FAULT_FLIP_RECORD
} mpc_net_fault;

/* Arm fault f (MPC_FAULT_NONE disarms) for the next DATA message to `peer`.
 * Replaces a fault armed earlier for that peer. Bad arguments are ignored. */
void mpc_net_set_fault(mpc_net *net, int peer, mpc_net_fault f);

/* Fuzzing: feed `data` to the wire decoder of a 3-node plaintext network
 * without sockets (node 0, session all zeros) as a sequence of messages,
 * each a 2-byte little-endian length then that many bytes. Returns how many
 * messages were handled before the first error. Never used by the programs. */
int mpc_net_fuzz_messages(const uint8_t *data, size_t len);

#endif
