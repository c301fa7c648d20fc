/* Test hooks of net/ (mpc_net_fault.h), compiled only with MPC_TEST_HOOKS
 * (into libmpctest.a, never into libmpc.a): the fault injection behind
 * mpc_net_set_fault, which the send path of mpc_send.c calls at the points
 * it marks, and the fuzz entry mpc_net_fuzz_messages. */
#ifdef MPC_TEST_HOOKS
#include "net/mpc_net_internal.h"

#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>

#include "runtime/mpc_wipe.h"

void mpc_net_set_fault(mpc_net *net, int peer_id, mpc_net_fault f) {
	if (net == NULL || peer_id < 0 || peer_id >= net->n || peer_id == net->id ||
	    (unsigned)f > MPC_FAULT_FLIP_RECORD)
		return;
	if (f == MPC_FAULT_FLIP_RECORD)
		net->peers[peer_id].fault.flip_record = 1;
	else
		net->peers[peer_id].fault.armed = f;
}

/* Called before the new message replaces the previous one in pr: REPLAY
 * needs the previous message's length and first chunk size. */
void mpc_fault_start(mpc_net *net, peer *pr) {
	link_fault *f = &pr->fault;
	f->prev_total = pr->tx_len;
	f->prev_plen = (uint32_t)(pr->tx_len > net->chunk ? net->chunk : pr->tx_len);
	f->tx = f->armed;
	f->armed = MPC_FAULT_NONE;
	f->replay = f->tx == MPC_FAULT_REPLAY;
}

mpc_err mpc_fault_build_chunk(mpc_net *net, int p) {
	peer *pr = &net->peers[p];
	link_fault *f = &pr->fault;
	wire_hdr h;
	size_t plen, wire_plen;
	uint8_t *msg;

	if (f->replay) {
		/* the previous step again, zeros for its payload */
		plen = f->prev_plen ? f->prev_plen : 1;
		init_hdr(net, p, T_DATA, &h);
		h.step = pr->tx_steps - 1;
		h.total = f->prev_total ? f->prev_total : plen;
		h.plen = (uint32_t)plen;
		wire_plen = plen;
	} else {
		plen = chunk_len(net, pr);
		data_hdr(net, p, plen, &h);
		wire_plen = f->tx == MPC_FAULT_TRUNCATE && pr->tx_off == 0 ? plen / 2 : plen;
		if (f->tx == MPC_FAULT_WRONG_STEP)
			h.step += 5;
		if (f->tx == MPC_FAULT_WRONG_SESSION)
			h.session[0] ^= 0x01;
	}
	msg = nn_allocmsg(HDR_BYTES + wire_plen, 0);
	if (msg == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory for a message to %s", pr->name);
	encode_hdr(msg, &h);
	if (f->replay) {
		memset(msg + HDR_BYTES, 0, wire_plen);
	} else {
		memcpy(msg + HDR_BYTES, pr->tx_buf + pr->tx_off, wire_plen);
		if (f->tx == MPC_FAULT_FLIP && pr->tx_off == 0)
			msg[HDR_BYTES] ^= 0x01;
	}
	pr->tx_msg = msg;
	pr->tx_msg_bytes = HDR_BYTES + wire_plen;
	pr->tx_msg_plen = f->replay ? 0 : plen; /* a replayed chunk is not part of the message */
	f->replay = 0;
	return MPC_OK;
}

/* The chunk is built in full first, as without TLS, then sealed and wiped. */
mpc_err mpc_fault_seal_chunk(mpc_net *net, int p) {
	peer *pr = &net->peers[p];
	mpc_err err;

	if ((err = mpc_fault_build_chunk(net, p)) != MPC_OK)
		return err;
	err = mpc_send_seal(net, p, pr->tx_msg, (uint8_t *)pr->tx_msg + HDR_BYTES,
	                    pr->tx_msg_bytes - HDR_BYTES);
	mpc_wipe(pr->tx_msg, pr->tx_msg_bytes);
	nn_freemsg(pr->tx_msg);
	pr->tx_msg = NULL;
	if (err != MPC_OK)
		return err;
	pr->tx_off += pr->tx_msg_plen;
	return MPC_OK;
}

void mpc_fault_flip_record(peer *pr, const uint8_t *hdr, uint8_t *m, size_t len) {
	if (pr->fault.flip_record && hdr[5] == T_DATA) {
		m[len - MPC_FRAME_TAG - 1] ^= 0x01; /* the last record's last ciphertext byte */
		pr->fault.flip_record = 0;
	}
}

/* Fuzzing: a 3-node plaintext network without sockets, as node 0, fed the
 * messages in data. */
int mpc_net_fuzz_messages(const uint8_t *data, size_t len) {
	static const char *const addrs[3] = {"ipc:///fuzz-0", "ipc:///fuzz-1", "ipc:///fuzz-2"};
	mpc_net_config cfg = {.id = 0, .n_nodes = 3, .addrs = addrs};
	mpc_net *net = calloc(1, sizeof(*net));
	int handled = 0;

	if (net == NULL)
		return 0;
	if (mpc_link_config(net, &cfg) == MPC_OK) {
		while (len >= 2) {
			size_t m = (size_t)data[0] | (size_t)data[1] << 8;
			data += 2;
			len -= 2;
			if (m > len)
				m = len;
			void *msg = nn_allocmsg(m ? m : 1, 0);
			if (msg == NULL)
				break;
			memcpy(msg, data, m);
			data += m;
			len -= m;
			handled++;
			if (mpc_recv_dispatch(net, msg, m, now_ms()) != MPC_OK)
				break;
		}
	}
	mpc_link_destroy(net);
	return handled;
}
#endif
