/* A man in the middle on loopback, for tests: a TCP relay that forwards
 * everything between a listening port and a target port and flips one byte
 * of the client-to-server stream at a given offset. */
#ifndef MPC_TEST_MITM_H
#define MPC_TEST_MITM_H

#include <stddef.h>
#include <sys/types.h>

/* Fork the relay: listen on 127.0.0.1:listen_port, relay each connection to
 * 127.0.0.1:target_port, flip (xor 0x01) the byte at offset flip_at of the
 * first connection's client-to-server stream (never if flip_at is (size_t)-1).
 * Returns the child's pid (kill it with SIGKILL when done), or -1. */
pid_t mitm_start(int listen_port, int target_port, size_t flip_at);

/* The same relay, changing nothing, that sends each whole nanomsg message
 * of the client-to-server streams (up to 64 KiB) as one datagram on tap
 * (best effort, never blocking). */
pid_t mitm_tap_start(int listen_port, int target_port, int tap);

#endif
