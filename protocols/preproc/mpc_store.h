/* The per-job, per-party store of preprocessing material on disk.
 *
 * `mpc-party preprocess` makes material ahead of time and adds it here in
 * batches; runs take it from here. Material is this party's secret shares
 * and must never be used twice, even across crashes: a triple or a mask
 * used twice reveals the difference of two secrets (x - x'). Never restore,
 * copy or clone a store (backups, VM snapshots, cp -r): an old copy serves
 * again what the live one already handed out, and no check can tell.
 *
 *   DIR/STORE            which job (id and hash), party index and party count
 *   DIR/LOCK             the pid of the process that holds the store
 *   DIR/<type>-<seq>.bat one batch: magic, type, count, first sequence number,
 *                        the batch id the parties agreed, SHA-256 of all that
 *                        and the payload, then the payload
 *   DIR/journal          consumption records (type, consumed up to sequence
 *                        number, digest of what is left of that batch), 80
 *                        bytes each, numbered and checksummed
 *
 * One process at a time: open takes an exclusive flock on LOCK for the
 * handle's lifetime (a second open, in any process, is refused naming the
 * holder's pid). A batch is written to a temporary file (mode 0600),
 * fsynced, renamed into place and the directory fsynced: a crash leaves the
 * whole batch or none. A take reads and checks the material, appends a
 * journal record and fsyncs it, overwrites the material in its batch file
 * with zeros (fsynced), and only then hands it out: a crash wastes material,
 * never hands it out twice. Fully consumed batch files are zeroed, then
 * deleted. Open replays and checks every record: a torn last record (a crash
 * or a full disk inside an append; nothing was handed out under it) is cut
 * off before anything is appended; a damaged or out-of-order record followed
 * by anything is corruption, and the store refuses to serve (MPC_EIO) rather
 * than skip records that may say more was consumed. The directory must be
 * owned by this user and not writable by group or others (mode 0700 when
 * created). */
#ifndef MPC_STORE_H
#define MPC_STORE_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

typedef enum {
	MPC_MAT_TRIPLES = 1,
	MPC_MAT_TRUNC = 2,
	MPC_MAT_BITS = 3,
	MPC_MAT_BIT_TRIPLES = 4,
} mpc_mat_kind;

typedef struct {
	mpc_mat_kind kind;
	unsigned ring_bits; /* 64 or 128; 1 for bit triples */
	unsigned f;         /* truncation pairs only, else 0 */
} mpc_mat_type;

/* Bytes of one element: a triple a|b|c (3 ring elements), a truncation pair
 * r|r_hi (2), a bit (1), a word of 64 bit triples a|b|c (24 bytes). 0 for an
 * invalid type. */
size_t mpc_mat_elem_bytes(mpc_mat_type t);
/* "triples Z_2^64", "truncation pairs Z_2^128 f=16", "bits Z_2^64",
 * "bit triples (words of 64)". Returns buf. */
const char *mpc_mat_name(mpc_mat_type t, char *buf, size_t len);

typedef struct mpc_store mpc_store;

/* Open (creating it, mode 0700) the store in dir for job `job_id` with hash
 * job_hash, as party `party` of n_parties, and lock it until
 * mpc_store_close. A store of another job, party or party count is refused
 * (MPC_ECONFIG, saying what differs and what to do), as is a directory owned
 * by someone else or writable by group or others, and a store another handle
 * holds (MPC_ECONFIG naming its pid). A corrupt journal is MPC_EIO (the file,
 * the byte offset, what to do). */
mpc_err mpc_store_open(mpc_store **out, const char *dir, const char *job_id,
                       const uint8_t job_hash[32], int party, int n_parties) MPC_MUST_CHECK;
void mpc_store_close(mpc_store *s);
/* What the store in dir was made for (its STORE file), without opening or
 * locking it: 0, or -1 if dir holds no store of this format. For listings. */
int mpc_store_identity(const char *dir, char job_id[65], uint8_t hash[32], int *party,
                       int *n_parties);
const char *mpc_store_dir(const mpc_store *s);

/* Add one batch of count elements (mpc_mat_elem_bytes(t) each) under the
 * batch id the parties agreed. Durable and atomic (see above). */
mpc_err mpc_store_add(mpc_store *s, mpc_mat_type t, const uint8_t batch_id[16], size_t count,
                      const void *data) MPC_MUST_CHECK;

/* Elements of type t not yet consumed. */
uint64_t mpc_store_available(mpc_store *s, mpc_mat_type t);

/* The next element of type t: its sequence number (elements of this type
 * ever consumed), and the batch holding it (zero id when the store has none
 * left). Parties compare these before taking. */
typedef struct {
	uint64_t seq;
	uint8_t batch_id[16];
	uint64_t offset;
} mpc_store_pos;
mpc_err mpc_store_position(mpc_store *s, mpc_mat_type t, mpc_store_pos *pos) MPC_MUST_CHECK;

/* Record everything before seq as consumed and overwrite it (forward only:
 * a lower seq is MPC_EINVAL). Used when parties are out of step. */
mpc_err mpc_store_skip_to(mpc_store *s, mpc_mat_type t, uint64_t seq) MPC_MUST_CHECK;

/* Take up to n elements into out: reads and verifies them, records the
 * consumption durably, overwrites them on disk. *got: how many (fewer when
 * the store runs short). A batch whose checksum fails is refused (MPC_EIO,
 * naming the file); a journal write that fails (full disk) is MPC_EIO, hands
 * nothing out and leaves this handle unable to take more; on error out holds
 * no material and *got is 0. */
mpc_err mpc_store_take(mpc_store *s, mpc_mat_type t, size_t n, void *out,
                       size_t *got) MPC_MUST_CHECK;

/* One line per type in the store: available count and bytes on disk. */
mpc_err mpc_store_describe(mpc_store *s, char *buf, size_t len);

#endif
