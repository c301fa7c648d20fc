/* A journal on disk: one file of fixed 256-byte records, numbered from 0
 * and checked with SHA-256 over a random journal id and the record (so a
 * record copied from another journal is damage), shared by the privacy
 * budget ledger (node/mpc_ledger.h) and the scoring quotas
 * (node/mpc_quota.h). The caller decodes its own record kinds; the journal
 * keeps the file safe:
 *  - the directory must not be writable by group or others, the file must
 *    be a regular file of this user, not writable by group or others;
 *  - one process at a time: an exclusive flock on PATH.lock (holding the
 *    holder's pid) for the handle's lifetime;
 *  - the file is created whole with its header record (PATH.new, fsynced,
 *    linked into place, the directory fsynced), and may be rewritten whole
 *    (renamed into place);
 *  - open replays every record through a callback; a torn last append is cut
 *    off (fsynced); any other damage refuses the open (MPC_EIO naming the
 *    file, the record and its byte);
 *  - an append is written and fsynced before it returns; a failed write
 *    leaves the handle broken (it appends nothing more).
 *
 * Record layout, integers little-endian:
 *   0 magic 8 | 8 number 8 | 16 kind 4 | 20 format version 4 | 24 unix time 8
 *  32 the caller's bytes, to 224 | 224 SHA-256 of (journal id | bytes 0..224)
 * Record 0 is the header (kind MPC_JOURNAL_K_HEADER) and holds the journal
 * id at MPC_JOURNAL_O_ID; its other bytes from 32 are the caller's. */
#ifndef MPC_JOURNAL_H
#define MPC_JOURNAL_H

#include "runtime/mpc_err.h"
#include <stddef.h>
#include <stdint.h>

#define MPC_JOURNAL_REC      256 /* bytes of one record */
#define MPC_JOURNAL_HASHED   224 /* the record bytes its checksum covers */
#define MPC_JOURNAL_IDLEN    16  /* bytes of the journal id */
#define MPC_JOURNAL_O_ID     56  /* where the header holds the journal id */
#define MPC_JOURNAL_K_HEADER 1u  /* the kind of record 0 */
#define MPC_JOURNAL_PATH_MAX 480 /* longest path */

typedef struct mpc_journal mpc_journal;

/* Called on replay for every intact record in order, number 0 (the header,
 * already checked) included: decode it, or refuse it with
 * mpc_journal_corrupt. The journal has checked its number and version; the
 * kind is the caller's to check. */
typedef mpc_err (*mpc_journal_replay_fn)(void *ctx, mpc_journal *j, uint64_t number,
                                         const uint8_t rec[MPC_JOURNAL_REC]);

/* Called when the file is written whole, for each record: number 0 is the
 * header, already started (add the caller's fields); any other is zeros,
 * to fill from mpc_journal_rec_start on. The journal seals it. */
typedef mpc_err (*mpc_journal_fill_fn)(void *ctx, mpc_journal *j, uint64_t number,
                                       uint8_t rec[MPC_JOURNAL_REC]);

/* What one kind of journal is called and how its records begin. The words
 * go into the messages: "<title>: ...", "is not a <kind>", "use a <noun> of
 * your own". Static; borrowed for the handle's lifetime. */
typedef struct {
	const char *title;  /* "privacy budget ledger": begins every message */
	const char *noun;   /* "ledger": one file, in advice */
	const char *kind;   /* "ledger": in "is not a ..." and "no ... magic" */
	const char *shared; /* why one process: "spend the same budget" */
	const char *loss;   /* what corruption means: "Charges may be missing, ..." */
	char magic[9];      /* 8 characters */
	uint32_t version;   /* the format version this build reads and writes */
	mpc_journal_replay_fn replay;
	mpc_journal_fill_fn fill; /* NULL: a header with the id only */
} mpc_journal_spec;

/* Open the journal at path, creating it (mode 0600, its header alone) when
 * absent, replay it through spec->replay with ctx, and hold it until
 * mpc_journal_close. Errors: MPC_ECONFIG for a directory writable by group
 * or others, a file of another user or writable by group or others, a
 * journal another handle holds (naming its pid), another format version;
 * MPC_EIO for a file that is no journal of this kind or a corrupt one;
 * MPC_EINVAL for an empty or overlong path; whatever replay returns. *out is
 * the caller's to close, NULL on error. */
mpc_err mpc_journal_open(const mpc_journal_spec *spec, const char *path, void *ctx,
                         mpc_journal **out) MPC_MUST_CHECK;

/* Close the file and release the lock. NULL is fine. */
void mpc_journal_close(mpc_journal *j);

/* The path opened. Borrowed; valid until close. */
const char *mpc_journal_path(const mpc_journal *j);

/* Good records in the file: the number the next append gets. */
uint64_t mpc_journal_records(const mpc_journal *j);

/* Records appended since the file was last written whole. */
uint64_t mpc_journal_appended(const mpc_journal *j);

/* During replay of the header: the file was written whole with n records
 * (n >= 1; 1 unless said), so damage among them is corruption, never a torn
 * append. */
void mpc_journal_set_whole(mpc_journal *j, uint64_t n);

/* Whether a write failed on this handle: it appends nothing more. */
int mpc_journal_broken(const mpc_journal *j);

/* Start record number of kind in rec: zeros, the magic, number, kind, the
 * format version, the time now. */
void mpc_journal_rec_start(const mpc_journal *j, uint8_t rec[MPC_JOURNAL_REC], uint64_t number,
                           uint32_t kind);

/* Seal rec (numbered mpc_journal_records) with the journal id and append it:
 * written and fsynced before MPC_OK. MPC_ECRYPTO when SHA-256 fails (nothing
 * written); MPC_EIO when the write or fsync fails: what was written is cut
 * off and the handle is broken. */
mpc_err mpc_journal_append(mpc_journal *j, uint8_t rec[MPC_JOURNAL_REC]) MPC_MUST_CHECK;

/* Write the journal anew with n records (n >= 1) from spec->fill under a
 * fresh id, renamed over the old file, the directory fsynced: the file is
 * whole at every moment, the old or the new. Any failure leaves the handle
 * broken. */
mpc_err mpc_journal_rewrite(mpc_journal *j, uint64_t n) MPC_MUST_CHECK;

/* The refusal of a corrupt journal at record number (MPC_EIO naming the
 * file, the record, its byte and the file's size at open): what says what
 * is wrong. */
mpc_err mpc_journal_corrupt(const mpc_journal *j, uint64_t number, const char *what);

#endif
