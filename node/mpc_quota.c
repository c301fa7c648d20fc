/* Scoring quotas on disk (see mpc_quota.h for what is counted and why a
 * quota is never exceeded). The journal follows the privacy budget ledger's
 * (node/mpc_ledger.c): fixed records, numbered and checksummed, appended one
 * at a time and fsynced; here each record is a reservation, and the file is
 * rewritten whole (renamed into place) on close and when it has grown. */
#include "node/mpc_quota.h"
#include "runtime/mpc_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "runtime/mpc_log.h"

#define Q_MAGIC   "MPCQTA01"
#define Q_VERSION 1u
#define REC       256 /* bytes of one record */
#define HASHED    224 /* the record bytes its checksum covers (with the journal id) */
#define IDLEN     16
#define K_HEADER  1u
#define K_RESERVE 2u
#define RBLOCK    256 /* records read at a time on open */
#define PATH_MAX_ 480
#define MINUTE_MS 60000
#define DAY_MS    86400000
#define SLOT_MS   100                    /* takes this close share a window slot */
#define COUNT_MAX 1000000000000000000ull /* 1e18: no count passes it */

/* Record layout, integers little-endian:
 *   0 magic 8 | 8 number 8 | 16 kind 4 | 20 format version 4 | 24 unix time 8
 *  32 total reservation R 8 | 40 day X (days since 1970, UTC) 8
 *  48 day reservation D 8 | 56 computation 64 | 120 asker 64 | 184 zeros 40
 * 224 SHA-256 of (journal id | bytes 0..224)
 * The header (record 0) holds the journal id at 56 and, at 32, how many
 * records the file was written with whole: those can be no torn append. */
#define O_NUMBER  8
#define O_KIND    16
#define O_VERSION 20
#define O_TIME    24
#define O_TOTAL   32
#define O_DAY     40
#define O_DAYRES  48
#define O_COMP    56
#define O_ASKER   120

typedef struct {
	int64_t start_ms, last_ms; /* its first and latest take */
	uint64_t n;
} slot;

/* One (computation, asker): counts, reservations, the minute's window (a
 * ring of slots, oldest at head). */
typedef struct {
	char computation[MPC_QUOTA_NAME_MAX + 1], asker[MPC_QUOTA_NAME_MAX + 1];
	uint64_t total_used, total_res;
	uint64_t day, day_used, day_res;
	slot *win;
	size_t win_head, win_len, win_cap;
	uint64_t win_sum;
} pair;

struct mpc_quota {
	char path[PATH_MAX_ + 8];
	int lock_fd, fd;
	uint8_t id[IDLEN];
	uint64_t nrec; /* good records; the file is nrec * REC bytes long */
	uint64_t base; /* records the file was written with whole */
	int broken;    /* a write failed: this handle takes nothing more */
	pair *pairs;
	size_t npairs, cap;
};

static mpc_err sys_err(const char *what, const char *path) {
	return mpc_error(MPC_EIO, "scoring quota journal: %s %s: %s", what, path, strerror(errno));
}

/* SHA-256 of a | b. */
static int sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32]) {
	unsigned len = 0;
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	int ok = x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) == 1 &&
	         EVP_DigestUpdate(x, a, alen) == 1 && EVP_DigestUpdate(x, b, blen) == 1 &&
	         EVP_DigestFinal_ex(x, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(x);
	return ok;
}

static int good_name(const char *s) {
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > MPC_QUOTA_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

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
			return mpc_error(MPC_EIO,
			                 "scoring quota journal: %s shrank while being read", path);
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return MPC_OK;
}

static void dir_of(const char *path, char *dir, size_t len) {
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

static mpc_err fsync_dir_of(const char *path) {
	char dir[PATH_MAX_ + 8];
	dir_of(path, dir, sizeof(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_err("cannot open", dir);
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? MPC_OK : sys_err("cannot fsync", dir);
}

/* ---------------------------------------------------------------- directory, lock */

/* Anyone who may write the directory may replace the journal with an old
 * copy (forgetting takes) or take its lock file away. */
static mpc_err check_dir(const char *path) {
	char dir[PATH_MAX_ + 8];
	struct stat st;
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &st) != 0)
		return sys_err("cannot stat the directory", dir);
	if (!S_ISDIR(st.st_mode))
		return mpc_error(MPC_ECONFIG, "scoring quota journal: %s is not a directory", dir);
	if (st.st_mode & 022)
		return mpc_error(MPC_ECONFIG,
		                 "scoring quota journal %s: its directory %s is writable by group "
		                 "or others (mode %03o), who could replace the journal with an old "
		                 "copy: keep the journal in a directory of mode 700 or 755",
		                 path, dir, (unsigned)(st.st_mode & 0777));
	return MPC_OK;
}

/* One process at a time: two would each allow the whole remaining quota.
 * The flock belongs to the open file description (a second open in this
 * process is refused too) and dies with the process. */
static mpc_err lock_journal(mpc_quota *q) {
	char path[PATH_MAX_ + 16], who[160] = "";
	snprintf(path, sizeof(path), "%s.lock", q->path);
	q->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (q->lock_fd < 0)
		return sys_err("cannot open", path);
	if (flock(q->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		char host[64] = "";
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "this host");
		host[sizeof(host) - 1] = '\0';
		int n = snprintf(who, sizeof(who), "pid %ld on %s\n", (long)getpid(), host);
		if (ftruncate(q->lock_fd, 0) != 0)
			return sys_err("cannot write", path);
		return pwrite_all(q->lock_fd, who, (size_t)n, 0, path);
	}
	if (errno != EWOULDBLOCK)
		return sys_err("cannot lock", path);
	ssize_t r = pread(q->lock_fd, who, sizeof(who) - 1, 0);
	who[r > 0 ? r : 0] = '\0';
	who[strcspn(who, "\n")] = '\0';
	return mpc_error(MPC_ECONFIG,
	                 "scoring quota journal %s is in use by %s (it holds %s): a journal "
	                 "serves one process at a time, or both could allow the same quota; "
	                 "wait for that process to finish or stop it, then try again",
	                 q->path, who[0] ? who : "another process (pid not yet written)", path);
}

/* ---------------------------------------------------------------- records */

static int rec_seal(const uint8_t id[IDLEN], uint8_t rec[REC]) {
	uint8_t d[32];
	if (!sha256(id, IDLEN, rec, HASHED, d))
		return 0;
	memcpy(rec + HASHED, d, 32);
	return 1;
}

static int rec_intact(const uint8_t id[IDLEN], const uint8_t rec[REC]) {
	uint8_t d[32];
	return memcmp(rec, Q_MAGIC, 8) == 0 && sha256(id, IDLEN, rec, HASHED, d) &&
	       CRYPTO_memcmp(d, rec + HASHED, 32) == 0;
}

static void rec_start(uint8_t rec[REC], uint64_t number, uint32_t kind) {
	memset(rec, 0, REC);
	memcpy(rec, Q_MAGIC, 8);
	mpc_put64(rec + O_NUMBER, number);
	mpc_put32(rec + O_KIND, kind);
	mpc_put32(rec + O_VERSION, Q_VERSION);
	mpc_put64(rec + O_TIME, (uint64_t)(int64_t)time(NULL));
}

/* A sealed reservation record of e: R total, D on e's day. */
static int rec_reserve(const uint8_t id[IDLEN], uint8_t rec[REC], uint64_t number, const pair *e,
                       uint64_t total, uint64_t day_res) {
	rec_start(rec, number, K_RESERVE);
	mpc_put64(rec + O_TOTAL, total);
	mpc_put64(rec + O_DAY, e->day);
	mpc_put64(rec + O_DAYRES, day_res);
	memcpy(rec + O_COMP, e->computation, strlen(e->computation));
	memcpy(rec + O_ASKER, e->asker, strlen(e->asker));
	return rec_seal(id, rec);
}

/* Write the journal whole into fd: a header with id, then one record per
 * pair, its reservation or (exact) its counts; fsynced. */
static mpc_err write_records(const mpc_quota *q, int fd, const char *path, const uint8_t id[IDLEN],
                             int exact) {
	uint8_t rec[REC];
	mpc_err err = MPC_OK;
	rec_start(rec, 0, K_HEADER);
	mpc_put64(rec + O_TOTAL, (uint64_t)q->npairs + 1);
	memcpy(rec + O_COMP, id, IDLEN);
	if (!rec_seal(id, rec))
		return mpc_error(MPC_ECRYPTO, "scoring quota journal: SHA-256 failed");
	err = pwrite_all(fd, rec, REC, 0, path);
	for (size_t i = 0; i < q->npairs && err == MPC_OK; i++) {
		const pair *e = &q->pairs[i];
		if (!rec_reserve(id, rec, i + 1, e, exact ? e->total_used : e->total_res,
		                 exact ? e->day_used : e->day_res))
			return mpc_error(MPC_ECRYPTO, "scoring quota journal: SHA-256 failed");
		err = pwrite_all(fd, rec, REC, (uint64_t)(i + 1) * REC, path);
	}
	if (err == MPC_OK && fsync(fd) != 0)
		err = sys_err("cannot fsync", path);
	return err;
}

/* Write the journal anew as PATH.new (fresh id, one record per pair),
 * fsynced, then put it in place: linked when creating (link fails when PATH
 * exists), renamed over the old file when rewriting; the directory fsynced.
 * PATH is whole at every moment, the old journal or the new. On success
 * q->fd is the new file. A failure once the rename is done leaves the
 * handle broken (the new name may not be on disk). */
static mpc_err write_whole(mpc_quota *q, int replace, int exact) {
	char tmp[PATH_MAX_ + 16];
	uint8_t id[IDLEN];
	mpc_err err;

	snprintf(tmp, sizeof(tmp), "%s.new", q->path);
	if (RAND_bytes(id, IDLEN) != 1)
		return mpc_error(MPC_ECRYPTO, "scoring quota journal %s: RAND_bytes failed",
		                 q->path);
	/* a leftover of a write a crash interrupted: we hold the lock */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return sys_err("cannot remove", tmp);
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sys_err("cannot create", tmp);
	err = write_records(q, fd, tmp, id, exact);
	if (err == MPC_OK && (replace ? rename(tmp, q->path) : link(tmp, q->path)) != 0)
		err = sys_err(replace ? "cannot rename into place" : "cannot create", q->path);
	if ((!replace || err != MPC_OK) && unlink(tmp) != 0 && err == MPC_OK)
		err = sys_err("cannot remove", tmp);
	if (err != MPC_OK) {
		close(fd);
		return err;
	}
	if (q->fd >= 0)
		close(q->fd);
	q->fd = fd;
	memcpy(q->id, id, IDLEN);
	q->nrec = q->base = (uint64_t)q->npairs + 1;
	for (size_t i = 0; i < q->npairs && exact; i++) {
		q->pairs[i].total_res = q->pairs[i].total_used;
		q->pairs[i].day_res = q->pairs[i].day_used;
	}
	if ((err = fsync_dir_of(q->path)) != MPC_OK)
		q->broken = 1;
	return err;
}

static mpc_err open_file(mpc_quota *q) {
	char tmp[PATH_MAX_ + 16];
	struct stat st;
	mpc_err err;
	q->fd = open(q->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (q->fd < 0 && errno == ENOENT && (err = write_whole(q, 0, 0)) != MPC_OK)
		return err;
	if (q->fd < 0)
		return sys_err("cannot open", q->path);
	/* a crash between link and unlink leaves the temporary file */
	snprintf(tmp, sizeof(tmp), "%s.new", q->path);
	(void)unlink(tmp);
	if (fstat(q->fd, &st) != 0)
		return sys_err("cannot stat", q->path);
	if (!S_ISREG(st.st_mode))
		return mpc_error(MPC_ECONFIG, "scoring quota journal: %s is not a regular file",
		                 q->path);
	if (st.st_uid != geteuid())
		return mpc_error(MPC_ECONFIG,
		                 "scoring quota journal %s belongs to another user (uid %u): use a "
		                 "journal of your own",
		                 q->path, (unsigned)st.st_uid);
	if (st.st_mode & 022)
		return mpc_error(MPC_ECONFIG,
		                 "scoring quota journal %s is writable by group or others (mode "
		                 "%03o): chmod 600 %s",
		                 q->path, (unsigned)(st.st_mode & 0777), q->path);
	return MPC_OK;
}

/* ---------------------------------------------------------------- pairs */

static pair *find(const mpc_quota *q, const char *computation, const char *asker) {
	for (size_t i = 0; i < q->npairs; i++)
		if (strcmp(q->pairs[i].computation, computation) == 0 &&
		    strcmp(q->pairs[i].asker, asker) == 0)
			return &q->pairs[i];
	return NULL;
}

/* A new pair, all zeros; NULL when out of memory or past the limit. */
static pair *add(mpc_quota *q, const char *computation, const char *asker) {
	if (q->npairs == MPC_QUOTA_MAX_PAIRS)
		return NULL;
	if (q->npairs == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;
		pair *n = realloc(q->pairs, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		q->pairs = n;
		q->cap = cap;
	}
	pair *e = &q->pairs[q->npairs++];
	memset(e, 0, sizeof(*e));
	snprintf(e->computation, sizeof(e->computation), "%s", computation);
	snprintf(e->asker, sizeof(e->asker), "%s", asker);
	return e;
}

/* The minute's window. A slot is in it while its latest take is less than
 * 60 s old. */
static int in_window(const slot *s, int64_t now) {
	return s->last_ms > now - MINUTE_MS;
}

static void win_expire(pair *e, int64_t now) {
	while (e->win_len > 0 && !in_window(&e->win[e->win_head], now)) {
		e->win_sum -= e->win[e->win_head].n;
		e->win_head = (e->win_head + 1) % e->win_cap;
		e->win_len--;
	}
}

/* The window's count at now, changing nothing. */
static uint64_t win_count(const pair *e, int64_t now) {
	uint64_t sum = 0;
	for (size_t i = 0; i < e->win_len; i++) {
		const slot *s = &e->win[(e->win_head + i) % e->win_cap];
		if (in_window(s, now))
			sum += s->n;
	}
	return sum;
}

/* Room for one more slot (so that win_add cannot fail). 0: out of memory. */
static int win_room(pair *e) {
	if (e->win_len < e->win_cap)
		return 1;
	size_t cap = e->win_cap ? 2 * e->win_cap : 8;
	slot *n = malloc(cap * sizeof(*n));
	if (n == NULL)
		return 0;
	for (size_t i = 0; i < e->win_len; i++)
		n[i] = e->win[(e->win_head + i) % e->win_cap];
	free(e->win);
	e->win = n;
	e->win_cap = cap;
	e->win_head = 0;
	return 1;
}

/* Count n at now: into the newest slot when it began less than SLOT_MS ago
 * (or later than now: a clock stepped back), else into a new one. */
static void win_add(pair *e, int64_t now, uint64_t n) {
	if (e->win_len > 0) {
		slot *s = &e->win[(e->win_head + e->win_len - 1) % e->win_cap];
		if (now < s->start_ms + SLOT_MS) {
			s->n += n;
			if (now > s->last_ms)
				s->last_ms = now;
			e->win_sum += n;
			return;
		}
	}
	e->win[(e->win_head + e->win_len) % e->win_cap] = (slot){now, now, n};
	e->win_len++;
	e->win_sum += n;
}

/* ---------------------------------------------------------------- replay
 *
 * Appends are the only writes to the journal in place, one record at a
 * time, so a crash or a full disk can damage only the last record past the
 * ones the file was written with; any other damaged record is corruption,
 * and the journal refuses to open rather than forget takes. */

static mpc_err corrupt(const mpc_quota *q, uint64_t number, uint64_t size, const char *what) {
	return mpc_error(MPC_EIO,
	                 "scoring quota journal %s is corrupt at record %" PRIu64 " (byte %" PRIu64
	                 " of %" PRIu64 "): %s. Takes may be missing, so no quota can be "
	                 "trusted and nothing is scored: restore nothing, but find out what "
	                 "damaged it; never edit, restore or copy a quota journal",
	                 q->path, number, number * REC, size, what);
}

/* Record 0: the format, the journal id (which every checksum covers) and
 * the records written whole. */
static mpc_err read_header(mpc_quota *q, const uint8_t rec[REC], uint64_t size) {
	if (size < REC || memcmp(rec, Q_MAGIC, 8) != 0)
		return mpc_error(MPC_EIO,
		                 "scoring quota journal: %s is not a quota journal (%s); point at "
		                 "another path or move this file away",
		                 q->path,
		                 size < REC ? "shorter than its header" : "no quota journal magic");
	memcpy(q->id, rec + O_COMP, IDLEN);
	if (!rec_intact(q->id, rec) || mpc_get64(rec + O_NUMBER) != 0 ||
	    mpc_get32(rec + O_KIND) != K_HEADER)
		return corrupt(q, 0, size, "the header record is damaged");
	if (mpc_get32(rec + O_VERSION) != Q_VERSION)
		return mpc_error(MPC_ECONFIG,
		                 "scoring quota journal %s has format version %u; this build reads "
		                 "version %u",
		                 q->path, (unsigned)mpc_get32(rec + O_VERSION), Q_VERSION);
	q->base = mpc_get64(rec + O_TOTAL);
	if (q->base < 1 || q->base > (uint64_t)MPC_QUOTA_MAX_PAIRS + 1)
		return corrupt(q, 0, size, "an intact header with invalid contents");
	return MPC_OK;
}

/* One intact reservation record numbered g: the pair's whole reservation
 * counts as used (after a crash, what it took of it is not known). */
static mpc_err replay_reserve(mpc_quota *q, const uint8_t rec[REC], uint64_t g, uint64_t size) {
	char comp[MPC_QUOTA_NAME_MAX + 1], asker[MPC_QUOTA_NAME_MAX + 1];
	if (mpc_get64(rec + O_NUMBER) != g || mpc_get32(rec + O_KIND) != K_RESERVE ||
	    mpc_get32(rec + O_VERSION) != Q_VERSION)
		return corrupt(q, g, size, "an intact record out of order");
	memcpy(comp, rec + O_COMP, MPC_QUOTA_NAME_MAX);
	memcpy(asker, rec + O_ASKER, MPC_QUOTA_NAME_MAX);
	comp[MPC_QUOTA_NAME_MAX] = asker[MPC_QUOTA_NAME_MAX] = '\0';
	uint64_t total = mpc_get64(rec + O_TOTAL), day = mpc_get64(rec + O_DAY);
	uint64_t day_res = mpc_get64(rec + O_DAYRES);
	if (!good_name(comp) || !good_name(asker) || total > COUNT_MAX || day_res > COUNT_MAX)
		return corrupt(q, g, size, "an intact record with invalid contents");
	pair *e = find(q, comp, asker);
	if (e == NULL && (e = add(q, comp, asker)) == NULL)
		return q->npairs == MPC_QUOTA_MAX_PAIRS
		           ? corrupt(q, g, size,
		                     "more (computation, asker) pairs than a journal holds")
		           : mpc_error(MPC_ENOMEM, "out of memory");
	e->total_used = e->total_res = total;
	e->day = day;
	e->day_used = e->day_res = day_res;
	return MPC_OK;
}

/* Replay the records from the start; *good: how many are intact before the
 * first damaged one (or all of them). */
static mpc_err replay(mpc_quota *q, uint64_t size, uint64_t *good) {
	uint64_t n_full = size / REC, g;
	uint8_t *blk = malloc((size_t)RBLOCK * REC);
	mpc_err err = MPC_OK;

	*good = 0;
	if (blk == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = pread_all(q->fd, blk, size < REC ? (size_t)size : REC, 0, q->path)) != MPC_OK ||
	    (err = read_header(q, blk, size)) != MPC_OK) {
		free(blk);
		return err;
	}
	for (g = 1; g < n_full; g++) {
		if (g % RBLOCK == 0 || g == 1) {
			uint64_t from = g - g % RBLOCK;
			uint64_t n = n_full - from < RBLOCK ? n_full - from : RBLOCK;
			if ((err = pread_all(q->fd, blk, (size_t)(n * REC), from * REC, q->path)) !=
			    MPC_OK)
				break;
		}
		const uint8_t *rec = blk + (g % RBLOCK) * REC;
		if (!rec_intact(q->id, rec))
			break;
		if ((err = replay_reserve(q, rec, g, size)) != MPC_OK)
			break;
	}
	free(blk);
	*good = g;
	return err;
}

/* Replay every record; cut a torn last append off (fsynced) before anything
 * is appended; refuse any other damage. */
static mpc_err journal_open(mpc_quota *q) {
	struct stat st;
	uint64_t good = 0;
	mpc_err err;

	if (fstat(q->fd, &st) != 0)
		return sys_err("cannot stat", q->path);
	uint64_t size = (uint64_t)st.st_size;
	if ((err = replay(q, size, &good)) != MPC_OK)
		return err;
	if (good < q->base)
		return corrupt(q, good, size,
		               good < size / REC ? "a damaged record among those written whole"
		                                 : "records written whole are missing");
	if (good < size / REC && size > (good + 1) * REC)
		return corrupt(q, good, size, "a damaged record followed by more");
	if (good * REC < size) {
		/* a torn append: its fsync never returned, so the take that needed
		 * it was never counted, and the reservation before it holds */
		mpc_warn("scoring quota journal %s ends in a torn record (record %" PRIu64
		         ", %" PRIu64 " bytes, from a crash or a full disk inside an append): "
		         "cut off",
		         q->path, good, size - good * REC);
		if (ftruncate(q->fd, (off_t)(good * REC)) != 0 || fsync(q->fd) != 0)
			return sys_err("cannot cut the torn record off", q->path);
	}
	q->nrec = good;
	return MPC_OK;
}

/* ---------------------------------------------------------------- API */

mpc_err mpc_quota_open(const char *path, mpc_quota **out) {
	mpc_quota *q;
	mpc_err err;

	if (out == NULL)
		return mpc_error(MPC_EINVAL, "scoring quota journal: no place for the handle");
	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return mpc_error(MPC_EINVAL, "scoring quota journal: no path given");
	if (strlen(path) > PATH_MAX_)
		return mpc_error(MPC_EINVAL, "scoring quota journal: path too long: %.64s...",
		                 path);
	if ((err = check_dir(path)) != MPC_OK)
		return err;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	q->lock_fd = q->fd = -1;
	snprintf(q->path, sizeof(q->path), "%s", path);
	/* the lock first: nothing is read, created or repaired while another
	 * holds it */
	if ((err = lock_journal(q)) != MPC_OK || (err = open_file(q)) != MPC_OK ||
	    (err = journal_open(q)) != MPC_OK) {
		q->broken = 1; /* close writes nothing */
		mpc_quota_close(q);
		return err;
	}
	*out = q;
	return MPC_OK;
}

void mpc_quota_close(mpc_quota *q) {
	if (q == NULL)
		return;
	if (!q->broken && q->fd >= 0 && write_whole(q, 1, 1) != MPC_OK)
		mpc_warn("%s (the unused reservations stay counted as used)", mpc_error_detail());
	if (q->fd >= 0)
		close(q->fd);
	if (q->lock_fd >= 0)
		close(q->lock_fd); /* releases the lock */
	for (size_t i = 0; i < q->npairs; i++)
		free(q->pairs[i].win);
	free(q->pairs);
	free(q);
}

static mpc_err check_names(const char *computation, const char *asker, int64_t now) {
	if (!good_name(computation) || !good_name(asker))
		return mpc_error(MPC_EINVAL,
		                 "scoring quota: bad computation or asker name (1 to %d of A-Z a-z "
		                 "0-9 . _ -)",
		                 MPC_QUOTA_NAME_MAX);
	if (now < 0)
		return mpc_error(MPC_EINVAL, "scoring quota: a time before 1970 (%" PRId64 " ms)",
		                 now);
	return MPC_OK;
}

/* What e has used at now (e NULL: nothing yet). */
static void used_at(const pair *e, int64_t now, uint64_t c[MPC_POLICY_N_PERIODS]) {
	memset(c, 0, MPC_POLICY_N_PERIODS * sizeof(c[0]));
	if (e == NULL)
		return;
	c[MPC_POLICY_PER_MINUTE] = win_count(e, now);
	c[MPC_POLICY_PER_DAY] = (uint64_t)(now / DAY_MS) > e->day ? 0 : e->day_used;
	c[MPC_POLICY_TOTAL] = e->total_used;
}

/* How far past `after` a reservation reaches (see mpc_quota.h). */
static uint64_t ahead(uint64_t limit, uint64_t after) {
	if (limit == 0)
		return MPC_QUOTA_BLOCK_UNLIMITED;
	uint64_t b = limit / MPC_QUOTA_BLOCK_DIV;
	if (b < MPC_QUOTA_BLOCK_MIN)
		b = MPC_QUOTA_BLOCK_MIN;
	return b < limit - after ? b : limit - after;
}

/* Append record nrec and fsync it; on failure cut what was written of it
 * off and take nothing more on this handle. First rewrite the journal whole
 * when it has grown by MPC_QUOTA_COMPACT_AT records. */
static mpc_err append(mpc_quota *q, const pair *e, uint64_t total, uint64_t day_res) {
	uint8_t rec[REC];
	mpc_err err = MPC_OK;
	if (q->nrec >= q->base + MPC_QUOTA_COMPACT_AT && (err = write_whole(q, 1, 0)) != MPC_OK) {
		q->broken = 1;
		return err;
	}
	if (!rec_reserve(q->id, rec, q->nrec, e, total, day_res))
		return mpc_error(MPC_ECRYPTO, "scoring quota journal: SHA-256 failed");
	uint64_t at = q->nrec * REC;
	err = pwrite_all(q->fd, rec, REC, at, q->path);
	if (err == MPC_OK && fsync(q->fd) != 0)
		err = sys_err("cannot fsync", q->path);
	if (err == MPC_OK) {
		q->nrec++;
		return MPC_OK;
	}
	int saved = errno;
	if (ftruncate(q->fd, (off_t)at) == 0)
		(void)fsync(q->fd);
	errno = saved;
	q->broken = 1;
	return err;
}

/* The pair of (computation, asker) on day, made ready to count: created,
 * moved to day (its day's counts from 0), its window trimmed and with room
 * for a slot. */
static mpc_err ready(mpc_quota *q, const char *computation, const char *asker, uint64_t day,
                     int64_t now, pair **out) {
	pair *e = find(q, computation, asker);
	if (e == NULL && q->npairs == MPC_QUOTA_MAX_PAIRS)
		return mpc_error(
		    MPC_ERANGE,
		    "scoring quota journal %s counts %d (computation, asker) pairs, the "
		    "most it holds: %s for %s is not counted, so not allowed",
		    q->path, MPC_QUOTA_MAX_PAIRS, computation, asker);
	if (e == NULL && (e = add(q, computation, asker)) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if (day > e->day) {
		e->day = day;
		e->day_used = e->day_res = 0;
	}
	win_expire(e, now);
	if (!win_room(e))
		return mpc_error(MPC_ENOMEM, "out of memory");
	*out = e;
	return MPC_OK;
}

mpc_err mpc_quota_take(mpc_quota *q, const mpc_policy *p, const char *computation,
                       const char *asker, uint64_t n, int64_t now) {
	mpc_policy_quota lim;
	uint64_t c[MPC_POLICY_N_PERIODS];
	static const mpc_policy_period order[] = {MPC_POLICY_TOTAL, MPC_POLICY_PER_DAY,
	                                          MPC_POLICY_PER_MINUTE};
	mpc_err err;
	pair *e = NULL;

	if (q == NULL || p == NULL)
		return mpc_error(MPC_EINVAL, "mpc_quota_take: no journal or no policy");
	if ((err = check_names(computation, asker, now)) != MPC_OK)
		return err;
	if (n > MPC_QUOTA_MAX_N)
		return mpc_error(MPC_EINVAL,
		                 "scoring quota: %" PRIu64 " transactions in one request", n);
	if (q->broken)
		return mpc_error(MPC_EIO,
		                 "scoring quota journal %s: an earlier write failed; this handle "
		                 "allows nothing more: close the journal and open it again",
		                 q->path);
	if ((err = mpc_policy_quota_get(p, computation, asker, &lim)) != MPC_OK)
		return err;
	used_at(find(q, computation, asker), now, c);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		uint64_t l = lim.limit[order[i]], u = c[order[i]];
		if (l != 0 && (u > l || n > l - u))
			return mpc_policy_quota_refuse(p, &lim, order[i]);
	}
	if (n == 0)
		return MPC_OK;
	if (c[MPC_POLICY_TOTAL] > COUNT_MAX - n)
		return mpc_error(MPC_ERANGE,
		                 "scoring quota journal %s: %s for %s has counted %" PRIu64
		                 " transactions; %" PRIu64 " more would pass 1e18",
		                 q->path, computation, asker, c[MPC_POLICY_TOTAL], n);
	uint64_t day = (uint64_t)(now / DAY_MS);
	if ((err = ready(q, computation, asker, day, now, &e)) != MPC_OK)
		return err;
	/* past the last reservation: its successor on disk first */
	uint64_t total = e->total_used + n, on_day = e->day_used + n;
	if (total > e->total_res || on_day > e->day_res) {
		uint64_t r = e->total_res, d = e->day_res;
		if (total > r)
			r = total + ahead(lim.limit[MPC_POLICY_TOTAL], total);
		if (on_day > d)
			d = on_day + ahead(lim.limit[MPC_POLICY_PER_DAY], on_day);
		if ((err = append(q, e, r, d)) != MPC_OK)
			return err;
		e->total_res = r;
		e->day_res = d;
	}
	e->total_used = total;
	e->day_used = on_day;
	win_add(e, now, n);
	return MPC_OK;
}

mpc_err mpc_quota_used(const mpc_quota *q, const char *computation, const char *asker, int64_t now,
                       uint64_t *minute, uint64_t *day, uint64_t *total) {
	uint64_t c[MPC_POLICY_N_PERIODS];
	mpc_err err;
	if (q == NULL)
		return mpc_error(MPC_EINVAL, "mpc_quota_used: no journal");
	if ((err = check_names(computation, asker, now)) != MPC_OK)
		return err;
	used_at(find(q, computation, asker), now, c);
	if (minute)
		*minute = c[MPC_POLICY_PER_MINUTE];
	if (day)
		*day = c[MPC_POLICY_PER_DAY];
	if (total)
		*total = c[MPC_POLICY_TOTAL];
	return MPC_OK;
}
