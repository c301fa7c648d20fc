/* The preprocessing store on disk (see mpc_store.h for the layout and the
 * rules that keep material from ever being handed out twice). */
#include "protocols/preproc/mpc_store.h"
#include "runtime/mpc_bytes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#define MAX_TYPES   32
#define MAX_BATCHES 4096
#define STORE_V     "mpc preprocessing store v2"
#define BAT_MAGIC   "MPCBAT02"
#define BAT_HDR     80 /* magic 8, kind/ring/f 12, pad 4, count 8, first 8, id 16, digest 24 */
#define BAT_HASHED  56 /* the header bytes every digest of the batch covers */
#define DIG         24
#define J_MAGIC     "MPCJRN02"
#define JREC        80  /* magic 8, number 8, kind/ring/f 12, pad 4, seq 8, mark 24, check 16 */
#define JBLOCK      512 /* journal records read at a time on open */
#define ZBLOCK      16384

typedef struct {
	uint64_t first, count;
	uint8_t id[16];
	char name[64];
} batch;

typedef struct {
	mpc_mat_type t;
	uint64_t consumed;
	/* digest of the rest of the batch from `consumed` on, as the last
	 * journal record says (zeros when consumed is at a batch's start) */
	uint8_t mark[DIG];
	batch *b; /* sorted by first */
	int nb;
} type_state;

struct mpc_store {
	char dir[512];
	int lock_fd, journal_fd;
	uint64_t jrecs;  /* good records; the journal is jrecs * JREC bytes long */
	int broken;      /* a journal write failed: this handle takes nothing more */
	uint8_t tag[32]; /* SHA-256 of the STORE text: records are bound to this store */
	type_state ty[MAX_TYPES];
	int nt;
};

size_t mpc_mat_elem_bytes(mpc_mat_type t) {
	size_t rb = t.ring_bits == 64 ? 8 : t.ring_bits == 128 ? 16 : 0;
	switch (t.kind) {
	case MPC_MAT_TRIPLES:
		return 3 * rb;
	case MPC_MAT_TRUNC:
		return 2 * rb;
	case MPC_MAT_BITS:
		return rb;
	case MPC_MAT_BIT_TRIPLES:
		return t.ring_bits == 1 ? 24 : 0;
	}
	return 0;
}

const char *mpc_mat_name(mpc_mat_type t, char *buf, size_t len) {
	switch (t.kind) {
	case MPC_MAT_TRIPLES:
		snprintf(buf, len, "triples Z_2^%u", t.ring_bits);
		break;
	case MPC_MAT_TRUNC:
		snprintf(buf, len, "truncation pairs Z_2^%u f=%u", t.ring_bits, t.f);
		break;
	case MPC_MAT_BITS:
		snprintf(buf, len, "bits Z_2^%u", t.ring_bits);
		break;
	case MPC_MAT_BIT_TRIPLES:
		snprintf(buf, len, "bit triples (words of 64)");
		break;
	default:
		snprintf(buf, len, "material of kind %d", (int)t.kind);
	}
	return buf;
}

/* SHA-256 of a | b | c (any of them may be empty). */
static int sha256(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                  size_t clen, uint8_t out[32]) {
	unsigned len = 0;
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	int ok = x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) == 1 &&
	         (alen == 0 || EVP_DigestUpdate(x, a, alen) == 1) &&
	         (blen == 0 || EVP_DigestUpdate(x, b, blen) == 1) &&
	         (clen == 0 || EVP_DigestUpdate(x, c, clen) == 1) &&
	         EVP_DigestFinal_ex(x, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(x);
	return ok;
}

static int same(mpc_mat_type a, mpc_mat_type b) {
	return a.kind == b.kind && a.ring_bits == b.ring_bits && a.f == b.f;
}

static type_state *state(mpc_store *s, mpc_mat_type t, int create) {
	for (int i = 0; i < s->nt; i++)
		if (same(s->ty[i].t, t))
			return &s->ty[i];
	if (!create || s->nt == MAX_TYPES)
		return NULL;
	s->ty[s->nt] = (type_state){.t = t};
	return &s->ty[s->nt++];
}

static mpc_err sys_err(const char *what, const char *path) {
	return mpc_error(MPC_EIO, "preprocessing store: %s %s: %s", what, path, strerror(errno));
}

static mpc_err fsync_dir(const char *dir) {
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_err("cannot open", dir);
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? MPC_OK : sys_err("cannot fsync", dir);
}

/* pwrite all of buf at off; a short write (full disk, file size limit) is
 * retried, and the error of the write that failed is reported. */
static mpc_err pwrite_all(int fd, const void *buf, size_t len, uint64_t off, const char *path) {
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t r = pwrite(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ENOSPC;
			return sys_err("cannot write", path);
		}
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return MPC_OK;
}

static mpc_err pread_all(int fd, void *buf, size_t len, uint64_t off, const char *path) {
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sys_err("cannot read", path);
		if (r == 0)
			return mpc_error(
			    MPC_EIO,
			    "preprocessing store: %s is truncated; delete the "
			    "store at every party and run `mpc-party preprocess` again",
			    path);
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return MPC_OK;
}

/* ---------------------------------------------------------------- directory, lock */

static mpc_err check_dir(const char *dir) {
	struct stat st;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return sys_err("cannot create", dir);
	if (stat(dir, &st) != 0)
		return sys_err("cannot stat", dir);
	if (!S_ISDIR(st.st_mode))
		return mpc_error(MPC_ECONFIG, "preprocessing store: %s is not a directory", dir);
	if (st.st_uid != geteuid())
		return mpc_error(MPC_ECONFIG,
		                 "preprocessing store: %s belongs to another user (uid "
		                 "%u); it holds secret shares: use a directory of your own",
		                 dir, (unsigned)st.st_uid);
	if (st.st_mode & 022)
		return mpc_error(MPC_ECONFIG,
		                 "preprocessing store: %s is writable by group or others "
		                 "(mode %03o); it holds secret shares: chmod 700 %s",
		                 dir, (unsigned)(st.st_mode & 0777), dir);
	return MPC_OK;
}

int mpc_store_identity(const char *dir, char job_id[65], uint8_t hash[32], int *party,
                       int *n_parties) {
	char path[600], hex[65], text[400] = {0};
	snprintf(path, sizeof(path), "%s/STORE", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (r <= 0 ||
	    sscanf(text, STORE_V "\njob %64s\nhash %64s\nparty %d\nparties %d", job_id, hex, party,
	           n_parties) != 4 ||
	    strlen(hex) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned b;
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		hash[i] = (uint8_t)b;
	}
	return 0;
}

static mpc_err header(mpc_store *s, const char *job_id, const uint8_t hash[32], int party, int np) {
	char path[600], want[400], got[400] = {0};
	int n = 0;
	snprintf(path, sizeof(path), "%s/STORE", s->dir);
	n += snprintf(want + n, sizeof(want) - (size_t)n, STORE_V "\njob %s\nhash ", job_id);
	for (int i = 0; i < 32; i++)
		n += snprintf(want + n, sizeof(want) - (size_t)n, "%02x", hash[i]);
	snprintf(want + n, sizeof(want) - (size_t)n, "\nparty %d\nparties %d\n", party, np);
	if (!sha256(want, strlen(want), NULL, 0, NULL, 0, s->tag))
		return mpc_error(MPC_ECRYPTO, "preprocessing store: SHA-256 failed");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		char tmp[640];
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return sys_err("cannot create", tmp);
		mpc_err err = pwrite_all(fd, want, strlen(want), 0, tmp);
		if (err == MPC_OK && fsync(fd) != 0)
			err = sys_err("cannot fsync", tmp);
		close(fd);
		if (err == MPC_OK && rename(tmp, path) != 0)
			err = sys_err("cannot rename", tmp);
		return err == MPC_OK ? fsync_dir(s->dir) : err;
	}
	if (fd < 0)
		return sys_err("cannot open", path);
	ssize_t r = read(fd, got, sizeof(got) - 1);
	close(fd);
	if (r < 0)
		return sys_err("cannot read", path);
	if (strcmp(got, want) != 0) {
		/* say what differs: the first line that does */
		static const char *const what_line[] = {
		    "format", "job id",
		    "set of parties, ring, fractional bits or engine (binding hash)", "party",
		    "party count"};
		const char *g = got, *w = want, *what = "format";
		for (int line = 0; line < 5; line++) {
			size_t gl = strcspn(g, "\n"), wl = strcspn(w, "\n");
			if (gl != wl || strncmp(g, w, gl) != 0) {
				what = what_line[line];
				break;
			}
			g += gl + (g[gl] != '\0');
			w += wl + (w[wl] != '\0');
		}
		return mpc_error(
		    MPC_ECONFIG,
		    "preprocessing store %s was made for another %s; its "
		    "material cannot serve this job: point --store elsewhere, or delete "
		    "it and run `mpc-party preprocess` again",
		    s->dir, what);
	}
	return MPC_OK;
}

/* One process at a time: two would each hand out the same material. A
 * flock belongs to the open file description, so a second open in this
 * process is refused too, and it dies with the process: a crash leaves no
 * stale lock. The holder writes its pid into LOCK so the refusal can name it. */
static mpc_err lock_store(mpc_store *s) {
	char path[600], who[160] = "";
	snprintf(path, sizeof(path), "%s/LOCK", s->dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0)
		return sys_err("cannot open", path);
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		char host[64] = "";
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "this host");
		host[sizeof(host) - 1] = '\0';
		int n = snprintf(who, sizeof(who), "pid %ld on %s\n", (long)getpid(), host);
		if (ftruncate(s->lock_fd, 0) != 0)
			return sys_err("cannot write", path);
		return pwrite_all(s->lock_fd, who, (size_t)n, 0, path);
	}
	if (errno != EWOULDBLOCK)
		return sys_err("cannot lock", path);
	ssize_t r = pread(s->lock_fd, who, sizeof(who) - 1, 0);
	who[r > 0 ? r : 0] = '\0';
	who[strcspn(who, "\n")] = '\0';
	return mpc_error(MPC_ECONFIG,
	                 "preprocessing store %s is in use by %s (it holds %s): a "
	                 "store serves one process at a time, or both would hand out the same "
	                 "material; wait for that process to finish or stop it, then try again",
	                 s->dir, who[0] ? who : "another process (pid not yet written)", path);
}

/* ---------------------------------------------------------------- journal
 *
 * Fixed-size records, each with the store's tag in its checksum and its own
 * number, written at the end of the last good record and fsynced before
 * anything is handed out under it. Appends are the only writes, one record
 * at a time, so a crash or a full disk can damage only the last record; a
 * damaged record with anything after it is therefore not a crash but
 * corruption, and the records after it (which may say more was consumed)
 * cannot be trusted to be all there is: the store refuses to serve. */

static int jrec_make(const mpc_store *s, uint8_t rec[JREC], uint64_t number, mpc_mat_type t,
                     uint64_t seq, const uint8_t mark[DIG]) {
	uint8_t d[32];
	memset(rec, 0, JREC);
	memcpy(rec, J_MAGIC, 8);
	mpc_put64(rec + 8, number);
	mpc_put32(rec + 16, (uint32_t)t.kind);
	mpc_put32(rec + 20, t.ring_bits);
	mpc_put32(rec + 24, t.f);
	mpc_put64(rec + 32, seq);
	memcpy(rec + 40, mark, DIG);
	if (!sha256(s->tag, 32, rec, 64, NULL, 0, d))
		return 0;
	memcpy(rec + 64, d, 16);
	return 1;
}

static int jrec_intact(const mpc_store *s, const uint8_t rec[JREC]) {
	uint8_t d[32];
	return memcmp(rec, J_MAGIC, 8) == 0 && sha256(s->tag, 32, rec, 64, NULL, 0, d) &&
	       CRYPTO_memcmp(d, rec + 64, 16) == 0;
}

static mpc_err journal_corrupt(const char *path, uint64_t at, uint64_t size, const char *what) {
	return mpc_error(MPC_EIO,
	                 "preprocessing store: %s is corrupt at byte %" PRIu64 " of %" PRIu64
	                 " (%s): the records after it cannot be trusted to be complete, and "
	                 "serving from it could hand out material twice, so this store serves "
	                 "nothing. Delete the store at every party and run `mpc-party preprocess` "
	                 "again; never edit, restore or copy a journal",
	                 path, at, size, what);
}

/* Replay the records from the start; *good: how many are intact and in
 * order before the first damaged one (or all of them). */
static mpc_err journal_replay(mpc_store *s, const char *path, uint64_t size, uint64_t *good) {
	uint64_t n_full = size / JREC, g;
	uint8_t *blk = malloc(JBLOCK * JREC);
	mpc_err err = MPC_OK;

	if (blk == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	for (g = 0; g < n_full; g++) {
		/* read in blocks: a journal holds one record per take */
		if (g % JBLOCK == 0) {
			uint64_t n = n_full - g < JBLOCK ? n_full - g : JBLOCK;
			if ((err = pread_all(s->journal_fd, blk, n * JREC, g * JREC, path)) !=
			    MPC_OK)
				break;
		}
		const uint8_t *rec = blk + (g % JBLOCK) * JREC;
		if (!jrec_intact(s, rec))
			break;
		mpc_mat_type t = {(mpc_mat_kind)mpc_get32(rec + 16), mpc_get32(rec + 20),
		                  mpc_get32(rec + 24)};
		uint64_t seq = mpc_get64(rec + 32);
		type_state *ts = mpc_mat_elem_bytes(t) > 0 ? state(s, t, 1) : NULL;
		/* intact but not the next record of this store: spliced or replayed */
		if (mpc_get64(rec + 8) != g || ts == NULL || seq < ts->consumed) {
			err = journal_corrupt(path, g * JREC, size, "a record out of order");
			break;
		}
		ts->consumed = seq;
		memcpy(ts->mark, rec + 40, DIG);
	}
	free(blk);
	*good = g;
	return err;
}

/* Replay every record; cut a torn last record off (fsynced) before anything
 * is appended; refuse a damaged or out-of-order record followed by more. */
static mpc_err journal_open(mpc_store *s) {
	char path[600];
	struct stat st;
	uint64_t good = 0;
	mpc_err err;

	snprintf(path, sizeof(path), "%s/journal", s->dir);
	s->journal_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->journal_fd < 0)
		return sys_err("cannot open", path);
	if (fstat(s->journal_fd, &st) != 0)
		return sys_err("cannot stat", path);
	uint64_t size = (uint64_t)st.st_size;
	if ((err = journal_replay(s, path, size, &good)) != MPC_OK)
		return err;
	if (good < size / JREC && size > (good + 1) * JREC)
		return journal_corrupt(path, good * JREC, size,
		                       "a damaged record followed by more");
	if (good * JREC < size) {
		/* a torn last record: its fsync never returned, so nothing was handed
		 * out under it */
		mpc_warn("preprocessing store: %s ends in a torn record (%" PRIu64 " bytes at byte "
		         "%" PRIu64 ", from a crash or a full disk inside an append): cut off",
		         path, size - good * JREC, good * JREC);
		if (ftruncate(s->journal_fd, (off_t)(good * JREC)) != 0 ||
		    fsync(s->journal_fd) != 0)
			return sys_err("cannot cut the torn record off", path);
	}
	s->jrecs = good;
	return MPC_OK;
}

static mpc_err journal_append(mpc_store *s, mpc_mat_type t, uint64_t seq, const uint8_t mark[DIG]) {
	uint8_t rec[JREC];
	char path[600];
	uint64_t at = s->jrecs * JREC;
	snprintf(path, sizeof(path), "%s/journal", s->dir);
	if (s->broken)
		return mpc_error(MPC_EIO,
		                 "preprocessing store: an earlier write to %s failed; this "
		                 "handle takes nothing more: close the store and open it again",
		                 path);
	if (!jrec_make(s, rec, s->jrecs, t, seq, mark))
		return mpc_error(MPC_ECRYPTO, "preprocessing store: SHA-256 failed");
	mpc_err err = pwrite_all(s->journal_fd, rec, JREC, at, path);
	if (err == MPC_OK && fsync(s->journal_fd) != 0)
		err = sys_err("cannot fsync", path);
	if (err == MPC_OK) {
		s->jrecs++;
		return MPC_OK;
	}
	/* nothing is handed out under this record. Cut what was written of it
	 * off; should that fail too, the next open finds a torn tail and does. */
	int saved = errno;
	if (ftruncate(s->journal_fd, (off_t)at) == 0)
		(void)fsync(s->journal_fd);
	errno = saved;
	s->broken = 1;
	return err;
}

/* ---------------------------------------------------------------- batches */

static int cmp_batch(const void *a, const void *b) {
	const batch *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

static uint64_t end_b(const batch *b) {
	return b->first + b->count;
}

/* The digest of a batch's elements from m on (element m is at `rest`): the
 * header's digest is this at m = first; the journal records it for a mark
 * inside a batch, so that what is left is checked without the consumed
 * elements, which are zeros by then. */
static int rest_digest(const uint8_t h[BAT_HDR], uint64_t m, const uint8_t *rest, size_t len,
                       uint8_t out[DIG]) {
	uint8_t mb[8], d[32];
	mpc_put64(mb, m);
	if (!sha256(h, BAT_HASHED, mb, 8, rest, len, d))
		return 0;
	memcpy(out, d, DIG);
	return 1;
}

/* Overwrite bytes [off, off + len) of path with zeros and fsync; with
 * check, blocks already zero are not rewritten. */
static mpc_err zero_range(const char *path, uint64_t off, uint64_t len, int check) {
	static const uint8_t zeros[ZBLOCK];
	uint8_t *buf = NULL;
	int wrote = 0;
	mpc_err err = MPC_OK;

	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sys_err("cannot open", path);
	if (check && (buf = malloc(ZBLOCK)) == NULL)
		err = mpc_error(MPC_ENOMEM, "out of memory");
	while (err == MPC_OK && len > 0) {
		size_t n = len < ZBLOCK ? (size_t)len : ZBLOCK;
		if (check && (err = pread_all(fd, buf, n, off, path)) == MPC_OK &&
		    memcmp(buf, zeros, n) == 0) {
			off += n;
			len -= n;
			continue;
		}
		if (err == MPC_OK)
			err = pwrite_all(fd, zeros, n, off, path);
		wrote = 1;
		off += n;
		len -= n;
	}
	if (err == MPC_OK && wrote && fsync(fd) != 0)
		err = sys_err("cannot fsync", path);
	close(fd);
	if (buf)
		mpc_wipe_free(buf, ZBLOCK);
	return err;
}

/* A batch file no longer needed: zeros over all of it (fsynced), then
 * unlink. A crash in between leaves a file whose magic is zeros, which
 * the next open retires again. The caller fsyncs the directory. */
static mpc_err retire_file(const char *path) {
	struct stat st;
	mpc_err err;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? MPC_OK : sys_err("cannot stat", path);
	if ((err = zero_range(path, 0, (uint64_t)st.st_size, 0)) != MPC_OK)
		return err;
	if (unlink(path) != 0)
		return sys_err("cannot delete", path);
	return MPC_OK;
}

static mpc_err bat_corrupt(const char *path, const char *what) {
	return mpc_error(MPC_EIO,
	                 "preprocessing store: %s is corrupt (%s); its material is not "
	                 "used: delete the store at every party and run `mpc-party preprocess` "
	                 "again",
	                 path, what);
}

/* One batch file found by scan: its header, checked against its size. */
static mpc_err scan_one(mpc_store *s, const char *name, int *retired) {
	char path[600];
	uint8_t h[BAT_HDR];
	static const uint8_t zeros[8];
	struct stat st;
	mpc_err err;

	*retired = 0;
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sys_err("cannot open", path);
	err = fstat(fd, &st) != 0 ? sys_err("cannot stat", path) : MPC_OK;
	if (err == MPC_OK && (uint64_t)st.st_size < 8)
		err = bat_corrupt(path, "shorter than a header");
	if (err == MPC_OK)
		err = pread_all(fd, h, (uint64_t)st.st_size < BAT_HDR ? 8 : BAT_HDR, 0, path);
	close(fd);
	if (err != MPC_OK)
		return err;
	if (memcmp(h, zeros, 8) == 0) {
		/* retired (zeroed) before a crash let it be deleted */
		*retired = 1;
		return retire_file(path);
	}
	if ((uint64_t)st.st_size < BAT_HDR || memcmp(h, BAT_MAGIC, 8) != 0)
		return mpc_error(MPC_EIO,
		                 "preprocessing store: %s is not a batch file of this "
		                 "format; delete it",
		                 path);
	mpc_mat_type t = {(mpc_mat_kind)mpc_get32(h + 8), mpc_get32(h + 12), mpc_get32(h + 16)};
	size_t eb = mpc_mat_elem_bytes(t);
	uint64_t count = mpc_get64(h + 24);
	if (eb == 0 || count == 0 || count > ((uint64_t)st.st_size - BAT_HDR) / eb ||
	    (uint64_t)st.st_size != BAT_HDR + count * eb)
		return bat_corrupt(path, "its size does not match its header");
	type_state *ts = state(s, t, 1);
	if (ts == NULL || ts->nb == MAX_BATCHES)
		return mpc_error(MPC_EIO, "preprocessing store %s: too many batches", s->dir);
	batch *nb = realloc(ts->b, (size_t)(ts->nb + 1) * sizeof(*nb));
	if (nb == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	ts->b = nb;
	batch *b = &ts->b[ts->nb++];
	b->count = count;
	b->first = mpc_get64(h + 32);
	memcpy(b->id, h + 40, 16);
	snprintf(b->name, sizeof(b->name), "%s", name);
	return MPC_OK;
}

/* Every batch file, and leftovers retired: zeroed batches a crash kept from
 * deletion, and temporary files of an add a crash interrupted. */
static mpc_err scan(mpc_store *s) {
	DIR *d = opendir(s->dir);
	struct dirent *e;
	mpc_err err = MPC_OK;
	int retired = 0;
	if (d == NULL)
		return sys_err("cannot list", s->dir);
	while (err == MPC_OK && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		int r = 0;
		if (l >= 64)
			continue;
		if (l > 8 && strcmp(e->d_name + l - 8, ".bat.tmp") == 0) {
			char path[600];
			snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
			err = retire_file(path);
			r = 1;
		} else if (l > 4 && strcmp(e->d_name + l - 4, ".bat") == 0) {
			err = scan_one(s, e->d_name, &r);
		}
		retired |= r;
	}
	closedir(d);
	for (int i = 0; i < s->nt; i++)
		if (s->ty[i].nb > 1)
			qsort(s->ty[i].b, (size_t)s->ty[i].nb, sizeof(batch), cmp_batch);
	if (err == MPC_OK && retired)
		err = fsync_dir(s->dir);
	return err;
}

/* Zeros over what is consumed in [from, to): batches wholly below the mark
 * are retired (zeroed, deleted), the one holding the mark is zeroed up to
 * it. check: skip blocks already zero (on open, after a crash). */
static mpc_err scrub(mpc_store *s, type_state *ts, uint64_t from, uint64_t to, int check) {
	size_t eb = mpc_mat_elem_bytes(ts->t);
	int keep = 0, retired = 0;
	mpc_err err = MPC_OK;

	for (int i = 0; i < ts->nb; i++) {
		batch *b = &ts->b[i];
		char path[600];
		snprintf(path, sizeof(path), "%s/%s", s->dir, b->name);
		uint64_t lo = b->first > from ? b->first : from;
		uint64_t hi = end_b(b) < to ? end_b(b) : to;
		if (err == MPC_OK && end_b(b) <= ts->consumed) {
			if ((err = retire_file(path)) == MPC_OK) {
				retired = 1;
				continue;
			}
		} else if (err == MPC_OK && lo < hi) {
			err =
			    zero_range(path, BAT_HDR + (lo - b->first) * eb, (hi - lo) * eb, check);
		}
		ts->b[keep++] = *b;
	}
	ts->nb = keep;
	if (err == MPC_OK && retired)
		err = fsync_dir(s->dir);
	return err;
}

/* Read elements [lo, end) of batch b and check them against `want`, the
 * digest of that rest (NULL: the header's, for lo = first). Copies
 * [lo, hi) to dst (if not NULL) and, when hi is inside b, puts the digest
 * of the rest from hi into mark. */
static mpc_err read_rest(mpc_store *s, mpc_mat_type t, const batch *b, uint64_t lo, uint64_t hi,
                         const uint8_t *want, uint8_t *dst, uint8_t mark[DIG]) {
	size_t eb = mpc_mat_elem_bytes(t), bytes = (size_t)(end_b(b) - lo) * eb;
	char path[600];
	uint8_t h[BAT_HDR], d[DIG], *buf = NULL;
	mpc_err err;

	snprintf(path, sizeof(path), "%s/%s", s->dir, b->name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sys_err("cannot open", path);
	if ((buf = malloc(bytes)) == NULL) {
		close(fd);
		return mpc_error(MPC_ENOMEM, "out of memory reading %s", path);
	}
	err = pread_all(fd, h, BAT_HDR, 0, path);
	if (err == MPC_OK)
		err = pread_all(fd, buf, bytes, BAT_HDR + (lo - b->first) * eb, path);
	close(fd);
	if (err == MPC_OK &&
	    (memcmp(h, BAT_MAGIC, 8) != 0 || mpc_get32(h + 8) != (uint32_t)t.kind ||
	     mpc_get32(h + 12) != t.ring_bits || mpc_get32(h + 16) != t.f ||
	     mpc_get64(h + 24) != b->count || mpc_get64(h + 32) != b->first))
		err = bat_corrupt(path, "its header changed");
	if (err == MPC_OK && (!rest_digest(h, lo, buf, bytes, d) ||
	                      CRYPTO_memcmp(d, want ? want : h + BAT_HASHED, DIG) != 0))
		err = bat_corrupt(path, "checksum mismatch");
	if (err == MPC_OK && dst)
		memcpy(dst, buf, (size_t)(hi - lo) * eb);
	if (err == MPC_OK && hi < end_b(b) &&
	    !rest_digest(h, hi, buf + (size_t)(hi - lo) * eb, bytes - (size_t)(hi - lo) * eb, mark))
		err = mpc_error(MPC_ECRYPTO, "preprocessing store: SHA-256 failed");
	mpc_wipe(buf, bytes);
	free(buf);
	return err;
}

/* Read and check [from, to) of ts (into dst if not NULL) and the mark
 * digest at to (zeros when to is at a batch's start or past them all). */
static mpc_err read_span(mpc_store *s, type_state *ts, uint64_t from, uint64_t to, uint8_t *dst,
                         uint8_t mark[DIG]) {
	size_t eb = mpc_mat_elem_bytes(ts->t);
	memset(mark, 0, DIG);
	for (int i = 0; i < ts->nb; i++) {
		batch *b = &ts->b[i];
		uint64_t lo = b->first > from ? b->first : from;
		uint64_t hi = end_b(b) < to ? end_b(b) : to;
		/* a skip (no dst) reads only the batch holding `to`, for the mark */
		if (dst ? lo >= hi : !(b->first < to && to < end_b(b)))
			continue;
		/* a mark inside a batch is checked against the journal's digest */
		mpc_err err = read_rest(s, ts->t, b, lo, hi, lo > b->first ? ts->mark : NULL,
		                        dst ? dst + (lo - from) * eb : NULL, mark);
		if (err != MPC_OK)
			return err;
	}
	return MPC_OK;
}

mpc_err mpc_store_open(mpc_store **out, const char *dir, const char *job_id,
                       const uint8_t job_hash[32], int party, int n_parties) {
	mpc_store *s;
	mpc_err err;

	*out = NULL;
	if (strlen(dir) >= sizeof(s->dir) - 80)
		return mpc_error(MPC_ECONFIG, "preprocessing store: path too long: %s", dir);
	if ((err = check_dir(dir)) != MPC_OK)
		return err;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	s->lock_fd = s->journal_fd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	/* the lock first: nothing is read or repaired while another holds it */
	if ((err = lock_store(s)) != MPC_OK ||
	    (err = header(s, job_id, job_hash, party, n_parties)) != MPC_OK ||
	    (err = journal_open(s)) != MPC_OK || (err = scan(s)) != MPC_OK)
		goto out;
	/* finish what a crash interrupted: zeros over everything consumed */
	for (int i = 0; i < s->nt && err == MPC_OK; i++)
		err = scrub(s, &s->ty[i], 0, s->ty[i].consumed, 1);
out:
	if (err != MPC_OK) {
		mpc_store_close(s);
		return err;
	}
	*out = s;
	return MPC_OK;
}

void mpc_store_close(mpc_store *s) {
	if (s == NULL)
		return;
	if (s->journal_fd >= 0)
		close(s->journal_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the lock */
	for (int i = 0; i < s->nt; i++)
		free(s->ty[i].b);
	free(s);
}

const char *mpc_store_dir(const mpc_store *s) {
	return s->dir;
}

static uint64_t end_of(const type_state *ts) {
	uint64_t end = ts->consumed;
	for (int i = 0; i < ts->nb; i++)
		if (end_b(&ts->b[i]) > end)
			end = end_b(&ts->b[i]);
	return end;
}

mpc_err mpc_store_add(mpc_store *s, mpc_mat_type t, const uint8_t batch_id[16], size_t count,
                      const void *data) {
	size_t eb = mpc_mat_elem_bytes(t);
	type_state *ts = state(s, t, 1);
	uint8_t h[BAT_HDR] = {0};
	char name[64], path[600], tmp[640];
	mpc_err err;

	if (eb == 0 || count == 0 || ts == NULL || ts->nb == MAX_BATCHES)
		return mpc_error(MPC_EINVAL,
		                 "preprocessing store: cannot add %zu elements of kind %d", count,
		                 (int)t.kind);
	uint64_t first = end_of(ts);
	memcpy(h, BAT_MAGIC, 8);
	mpc_put32(h + 8, (uint32_t)t.kind);
	mpc_put32(h + 12, t.ring_bits);
	mpc_put32(h + 16, t.f);
	mpc_put64(h + 24, count);
	mpc_put64(h + 32, first);
	memcpy(h + 40, batch_id, 16);
	if (!rest_digest(h, first, data, count * eb, h + BAT_HASHED))
		return mpc_error(MPC_ECRYPTO, "preprocessing store: SHA-256 failed");
	snprintf(name, sizeof(name), "k%d-r%u-f%u-%016" PRIx64 ".bat", (int)t.kind, t.ring_bits,
	         t.f, first);
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sys_err("cannot create", tmp);
	err = pwrite_all(fd, h, BAT_HDR, 0, tmp);
	if (err == MPC_OK)
		err = pwrite_all(fd, data, count * eb, BAT_HDR, tmp);
	if (err == MPC_OK && fsync(fd) != 0)
		err = sys_err("cannot fsync", tmp);
	close(fd);
	if (err == MPC_OK && rename(tmp, path) != 0)
		err = sys_err("cannot rename", tmp);
	if (err == MPC_OK)
		err = fsync_dir(s->dir);
	if (err != MPC_OK) {
		/* what was written of it is secret too */
		(void)retire_file(tmp);
		return err;
	}
	batch *nb = realloc(ts->b, (size_t)(ts->nb + 1) * sizeof(*nb));
	if (nb == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	ts->b = nb;
	batch *b = &ts->b[ts->nb++];
	b->first = first;
	b->count = count;
	memcpy(b->id, batch_id, 16);
	snprintf(b->name, sizeof(b->name), "%s", name);
	return MPC_OK;
}

uint64_t mpc_store_available(mpc_store *s, mpc_mat_type t) {
	type_state *ts = state(s, t, 0);
	uint64_t n = 0;
	if (ts == NULL)
		return 0;
	/* contiguous from the consumed mark */
	uint64_t at = ts->consumed;
	for (int i = 0; i < ts->nb; i++) {
		batch *b = &ts->b[i];
		if (end_b(b) <= at)
			continue;
		if (b->first > at)
			break;
		n += end_b(b) - at;
		at = end_b(b);
	}
	return n;
}

mpc_err mpc_store_position(mpc_store *s, mpc_mat_type t, mpc_store_pos *pos) {
	type_state *ts = state(s, t, 0);
	memset(pos, 0, sizeof(*pos));
	if (ts == NULL)
		return MPC_OK;
	pos->seq = ts->consumed;
	for (int i = 0; i < ts->nb; i++) {
		batch *b = &ts->b[i];
		if (b->first <= ts->consumed && ts->consumed < end_b(b)) {
			memcpy(pos->batch_id, b->id, 16);
			pos->offset = ts->consumed - b->first;
			break;
		}
	}
	return MPC_OK;
}

/* Move the mark of ts from its place to `to`: the journal record first
 * (fsynced), then zeros over what it passed. */
static mpc_err advance(mpc_store *s, type_state *ts, uint64_t to, const uint8_t mark[DIG]) {
	uint64_t from = ts->consumed;
	mpc_err err = journal_append(s, ts->t, to, mark);
	if (err != MPC_OK)
		return err;
	ts->consumed = to;
	memcpy(ts->mark, mark, DIG);
	return scrub(s, ts, from, to, 0);
}

mpc_err mpc_store_skip_to(mpc_store *s, mpc_mat_type t, uint64_t seq) {
	type_state *ts = state(s, t, 1);
	uint8_t mark[DIG];
	mpc_err err;
	if (ts == NULL)
		return mpc_error(MPC_EINVAL, "preprocessing store: too many kinds of material");
	if (seq < ts->consumed)
		return mpc_error(MPC_EINVAL,
		                 "preprocessing store: cannot go back from %" PRIu64 " to %" PRIu64,
		                 ts->consumed, seq);
	if (seq == ts->consumed)
		return MPC_OK;
	if ((err = read_span(s, ts, ts->consumed, seq, NULL, mark)) != MPC_OK)
		return err;
	return advance(s, ts, seq, mark);
}

mpc_err mpc_store_take(mpc_store *s, mpc_mat_type t, size_t n, void *out, size_t *got) {
	type_state *ts = state(s, t, 0);
	size_t eb = mpc_mat_elem_bytes(t);
	uint8_t mark[DIG];
	mpc_err err;

	*got = 0;
	uint64_t k = ts ? mpc_store_available(s, t) : 0;
	if (k > n)
		k = n;
	if (k == 0)
		return MPC_OK;
	/* read and check, record (durable: a crash from here on wastes these,
	 * never hands them out twice), overwrite on disk, only then hand out */
	if ((err = read_span(s, ts, ts->consumed, ts->consumed + k, out, mark)) != MPC_OK ||
	    (err = advance(s, ts, ts->consumed + k, mark)) != MPC_OK) {
		mpc_wipe(out, (size_t)k * eb);
		return err;
	}
	*got = (size_t)k;
	return MPC_OK;
}

mpc_err mpc_store_describe(mpc_store *s, char *buf, size_t len) {
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < s->nt && n < len; i++) {
		char name[64];
		uint64_t av = mpc_store_available(s, s->ty[i].t);
		if (av == 0)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "  %-32s %12" PRIu64 " (%.1f MB)\n",
		                      mpc_mat_name(s->ty[i].t, name, sizeof(name)), av,
		                      (double)av * (double)mpc_mat_elem_bytes(s->ty[i].t) / 1e6);
	}
	if (n == 0)
		snprintf(buf, len, "  (empty)\n");
	return MPC_OK;
}
