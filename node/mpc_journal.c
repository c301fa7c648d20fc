/* The journal machinery of the privacy budget ledger and the scoring quotas
 * (see mpc_journal.h). It follows the preprocessing store's
 * (protocols/preproc/mpc_store.c): fixed records, numbered and checksummed,
 * appended one at a time and fsynced. */
#include "node/mpc_journal.h"
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

#define REC       MPC_JOURNAL_REC
#define HASHED    MPC_JOURNAL_HASHED
#define IDLEN     MPC_JOURNAL_IDLEN
#define RBLOCK    256 /* records read at a time on open */
#define PATH_MAX_ MPC_JOURNAL_PATH_MAX
#define O_NUMBER  8
#define O_KIND    16
#define O_VERSION 20
#define O_TIME    24

struct mpc_journal {
	const mpc_journal_spec *spec;
	void *ctx;
	char path[PATH_MAX_ + 8];
	int lock_fd, fd;
	uint8_t id[IDLEN];
	uint64_t nrec; /* good records; the file is nrec * REC bytes long */
	uint64_t base; /* records the file was written with whole */
	uint64_t size; /* bytes of the file at open, for the messages */
	int broken;    /* a write failed: this handle appends nothing more */
};

static mpc_err sys_err(const mpc_journal *j, const char *what, const char *path) {
	return mpc_error(MPC_EIO, "%s: %s %s: %s", j->spec->title, what, path, strerror(errno));
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

static mpc_err pwrite_all(const mpc_journal *j, int fd, const void *buf, size_t len, uint64_t off,
                          const char *path) {
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t r = pwrite(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ENOSPC;
			return sys_err(j, "cannot write", path);
		}
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return MPC_OK;
}

static mpc_err pread_all(const mpc_journal *j, void *buf, size_t len, uint64_t off) {
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t r = pread(j->fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sys_err(j, "cannot read", j->path);
		if (r == 0)
			return mpc_error(MPC_EIO, "%s: %s shrank while being read", j->spec->title,
			                 j->path);
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

static mpc_err fsync_dir_of(const mpc_journal *j) {
	char dir[PATH_MAX_ + 8];
	dir_of(j->path, dir, sizeof(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_err(j, "cannot open", dir);
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? MPC_OK : sys_err(j, "cannot fsync", dir);
}

/* ---------------------------------------------------------------- directory, lock */

/* Anyone who may write the directory may replace the journal with an old
 * copy (forgetting what it recorded) or take its lock file away. */
static mpc_err check_dir(const mpc_journal *j) {
	char dir[PATH_MAX_ + 8];
	struct stat st;
	const mpc_journal_spec *s = j->spec;
	dir_of(j->path, dir, sizeof(dir));
	if (stat(dir, &st) != 0)
		return sys_err(j, "cannot stat the directory", dir);
	if (!S_ISDIR(st.st_mode))
		return mpc_error(MPC_ECONFIG, "%s: %s is not a directory", s->title, dir);
	if (st.st_mode & 022)
		return mpc_error(MPC_ECONFIG,
		                 "%s %s: its directory %s is writable by group or others (mode "
		                 "%03o), who could replace the %s with an old copy: keep the %s in "
		                 "a directory of mode 700 or 755",
		                 s->title, j->path, dir, (unsigned)(st.st_mode & 0777), s->noun,
		                 s->noun);
	return MPC_OK;
}

/* One process at a time: two would each allow the whole remainder. A flock
 * belongs to the open file description, so a second open in this process
 * is refused too, and it dies with the process: a crash leaves no stale
 * lock. The holder writes its pid so the refusal can name it. */
static mpc_err lock_journal(mpc_journal *j) {
	char path[PATH_MAX_ + 16], who[160] = "";
	snprintf(path, sizeof(path), "%s.lock", j->path);
	j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->lock_fd < 0)
		return sys_err(j, "cannot open", path);
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		char host[64] = "";
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "this host");
		host[sizeof(host) - 1] = '\0';
		int n = snprintf(who, sizeof(who), "pid %ld on %s\n", (long)getpid(), host);
		if (ftruncate(j->lock_fd, 0) != 0)
			return sys_err(j, "cannot write", path);
		return pwrite_all(j, j->lock_fd, who, (size_t)n, 0, path);
	}
	if (errno != EWOULDBLOCK)
		return sys_err(j, "cannot lock", path);
	ssize_t r = pread(j->lock_fd, who, sizeof(who) - 1, 0);
	who[r > 0 ? r : 0] = '\0';
	who[strcspn(who, "\n")] = '\0';
	return mpc_error(MPC_ECONFIG,
	                 "%s %s is in use by %s (it holds %s): a %s serves one process at a "
	                 "time, or both could %s; wait for that process to finish or stop it, "
	                 "then try again",
	                 j->spec->title, j->path,
	                 who[0] ? who : "another process (pid not yet written)", path,
	                 j->spec->noun, j->spec->shared);
}

/* ---------------------------------------------------------------- records */

static int rec_seal(const uint8_t id[IDLEN], uint8_t rec[REC]) {
	uint8_t d[32];
	if (!sha256(id, IDLEN, rec, HASHED, d))
		return 0;
	memcpy(rec + HASHED, d, 32);
	return 1;
}

static int rec_intact(const mpc_journal *j, const uint8_t rec[REC]) {
	uint8_t d[32];
	return memcmp(rec, j->spec->magic, 8) == 0 && sha256(j->id, IDLEN, rec, HASHED, d) &&
	       CRYPTO_memcmp(d, rec + HASHED, 32) == 0;
}

void mpc_journal_rec_start(const mpc_journal *j, uint8_t rec[REC], uint64_t number, uint32_t kind) {
	memset(rec, 0, REC);
	memcpy(rec, j->spec->magic, 8);
	mpc_put64(rec + O_NUMBER, number);
	mpc_put32(rec + O_KIND, kind);
	mpc_put32(rec + O_VERSION, j->spec->version);
	mpc_put64(rec + O_TIME, (uint64_t)(int64_t)time(NULL));
}

static mpc_err sha_failed(const mpc_journal *j) {
	return mpc_error(MPC_ECRYPTO, "%s: SHA-256 failed", j->spec->title);
}

/* Write the journal whole into fd: a header with id, then records 1..n-1
 * from spec->fill, each sealed with id; fsynced. */
static mpc_err write_records(mpc_journal *j, int fd, const char *path, const uint8_t id[IDLEN],
                             uint64_t n) {
	uint8_t rec[REC];
	mpc_err err = MPC_OK;
	for (uint64_t i = 0; i < n && err == MPC_OK; i++) {
		if (i == 0) {
			mpc_journal_rec_start(j, rec, 0, MPC_JOURNAL_K_HEADER);
			memcpy(rec + MPC_JOURNAL_O_ID, id, IDLEN);
		} else
			memset(rec, 0, REC);
		if (j->spec->fill && (err = j->spec->fill(j->ctx, j, i, rec)) != MPC_OK)
			return err;
		if (!rec_seal(id, rec))
			return sha_failed(j);
		err = pwrite_all(j, fd, rec, REC, i * REC, path);
	}
	if (err == MPC_OK && fsync(fd) != 0)
		err = sys_err(j, "cannot fsync", path);
	return err;
}

/* Write the journal anew as PATH.new (fresh id, n records), fsynced, then
 * put it in place: linked when creating (link fails when PATH exists: the
 * O_EXCL of creation), renamed over the old file when rewriting; the
 * directory fsynced. PATH is whole at every moment, the old journal or the
 * new, and never exists without its header. On success j->fd is the new
 * file. A failure once the rename is done leaves the handle broken (the new
 * name may not be on disk). */
static mpc_err write_whole(mpc_journal *j, int replace, uint64_t n) {
	char tmp[PATH_MAX_ + 16];
	uint8_t id[IDLEN];
	mpc_err err;

	snprintf(tmp, sizeof(tmp), "%s.new", j->path);
	if (RAND_bytes(id, IDLEN) != 1)
		return mpc_error(MPC_ECRYPTO, "%s %s: RAND_bytes failed", j->spec->title, j->path);
	/* a leftover of a write a crash interrupted: we hold the lock */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return sys_err(j, "cannot remove", tmp);
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sys_err(j, "cannot create", tmp);
	err = write_records(j, fd, tmp, id, n);
	if (err == MPC_OK && (replace ? rename(tmp, j->path) : link(tmp, j->path)) != 0)
		err = sys_err(j, replace ? "cannot rename into place" : "cannot create", j->path);
	if ((!replace || err != MPC_OK) && unlink(tmp) != 0 && err == MPC_OK)
		err = sys_err(j, "cannot remove", tmp);
	if (err != MPC_OK) {
		close(fd);
		return err;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	memcpy(j->id, id, IDLEN);
	j->nrec = j->base = n;
	if ((err = fsync_dir_of(j)) != MPC_OK)
		j->broken = 1;
	return err;
}

static mpc_err open_file(mpc_journal *j) {
	char tmp[PATH_MAX_ + 16];
	struct stat st;
	mpc_err err;
	const mpc_journal_spec *s = j->spec;
	j->fd = open(j->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (j->fd < 0 && errno == ENOENT && (err = write_whole(j, 0, 1)) != MPC_OK)
		return err;
	if (j->fd < 0)
		return sys_err(j, "cannot open", j->path);
	/* a crash between link and unlink leaves the temporary file: we hold
	 * the lock, so it is no creation under way */
	snprintf(tmp, sizeof(tmp), "%s.new", j->path);
	(void)unlink(tmp);
	if (fstat(j->fd, &st) != 0)
		return sys_err(j, "cannot stat", j->path);
	if (!S_ISREG(st.st_mode))
		return mpc_error(MPC_ECONFIG, "%s: %s is not a regular file", s->title, j->path);
	if (st.st_uid != geteuid())
		return mpc_error(MPC_ECONFIG,
		                 "%s %s belongs to another user (uid %u): use a %s of your own",
		                 s->title, j->path, (unsigned)st.st_uid, s->noun);
	if (st.st_mode & 022)
		return mpc_error(MPC_ECONFIG,
		                 "%s %s is writable by group or others (mode %03o): chmod 600 %s",
		                 s->title, j->path, (unsigned)(st.st_mode & 0777), j->path);
	return MPC_OK;
}

/* ---------------------------------------------------------------- replay
 *
 * Appends are the only writes to the journal in place, one record at a
 * time, so a crash or a full disk can damage only the last record past the
 * ones the file was written with; any other damaged record is corruption,
 * and the journal refuses to open rather than forget what it recorded. */

mpc_err mpc_journal_corrupt(const mpc_journal *j, uint64_t number, const char *what) {
	return mpc_error(MPC_EIO,
	                 "%s %s is corrupt at record %" PRIu64 " (byte %" PRIu64 " of %" PRIu64
	                 "): %s. %s: restore nothing, but find out what damaged it; never "
	                 "edit, restore or copy a %s",
	                 j->spec->title, j->path, number, number * REC, j->size, what,
	                 j->spec->loss, j->spec->kind);
}

/* Record 0: the format and the journal id (which every checksum covers),
 * then the caller's fields. */
static mpc_err read_header(mpc_journal *j, const uint8_t rec[REC]) {
	const mpc_journal_spec *s = j->spec;
	if (j->size < REC || memcmp(rec, s->magic, 8) != 0)
		return mpc_error(MPC_EIO,
		                 "%s: %s is not a %s (%s%s%s); point at another path or move this "
		                 "file away",
		                 s->title, j->path, s->kind,
		                 j->size < REC ? "shorter than its header" : "no ",
		                 j->size < REC ? "" : s->kind, j->size < REC ? "" : " magic");
	memcpy(j->id, rec + MPC_JOURNAL_O_ID, IDLEN);
	if (!rec_intact(j, rec) || mpc_get64(rec + O_NUMBER) != 0 ||
	    mpc_get32(rec + O_KIND) != MPC_JOURNAL_K_HEADER)
		return mpc_journal_corrupt(j, 0, "the header record is damaged");
	if (mpc_get32(rec + O_VERSION) != s->version)
		return mpc_error(
		    MPC_ECONFIG, "%s %s has format version %u; this build reads version %u",
		    s->title, j->path, (unsigned)mpc_get32(rec + O_VERSION), (unsigned)s->version);
	return s->replay(j->ctx, j, 0, rec);
}

/* One intact record numbered g past the header: in its place, then the
 * caller's. */
static mpc_err replay_one(mpc_journal *j, const uint8_t rec[REC], uint64_t g) {
	if (mpc_get64(rec + O_NUMBER) != g || mpc_get32(rec + O_VERSION) != j->spec->version)
		return mpc_journal_corrupt(j, g, "an intact record out of order");
	return j->spec->replay(j->ctx, j, g, rec);
}

/* Replay the records from the start; *good: how many are intact before the
 * first damaged one (or all of them). */
static mpc_err replay(mpc_journal *j, uint64_t *good) {
	uint64_t size = j->size, n_full = size / REC, g;
	uint8_t *blk = malloc((size_t)RBLOCK * REC);
	mpc_err err = MPC_OK;

	*good = 0;
	if (blk == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = pread_all(j, blk, size < REC ? (size_t)size : REC, 0)) != MPC_OK ||
	    (err = read_header(j, blk)) != MPC_OK) {
		free(blk);
		return err;
	}
	for (g = 1; g < n_full; g++) {
		if (g % RBLOCK == 0 || g == 1) {
			uint64_t from = g - g % RBLOCK;
			uint64_t n = n_full - from < RBLOCK ? n_full - from : RBLOCK;
			if ((err = pread_all(j, blk, (size_t)(n * REC), from * REC)) != MPC_OK)
				break;
		}
		const uint8_t *rec = blk + (g % RBLOCK) * REC;
		if (!rec_intact(j, rec))
			break;
		if ((err = replay_one(j, rec, g)) != MPC_OK)
			break;
	}
	free(blk);
	*good = g;
	return err;
}

/* Replay every record; cut a torn last append off (fsynced) before anything
 * is appended; refuse any other damage. */
static mpc_err journal_open(mpc_journal *j) {
	struct stat st;
	uint64_t good = 0;
	mpc_err err;

	if (fstat(j->fd, &st) != 0)
		return sys_err(j, "cannot stat", j->path);
	uint64_t size = j->size = (uint64_t)st.st_size;
	j->base = 1;
	if ((err = replay(j, &good)) != MPC_OK)
		return err;
	if (good < j->base)
		return mpc_journal_corrupt(j, good,
		                           good < size / REC
		                               ? "a damaged record among those written whole"
		                               : "records written whole are missing");
	if (good < size / REC && size > (good + 1) * REC)
		return mpc_journal_corrupt(j, good, "a damaged record followed by more");
	if (good * REC < size) {
		/* a torn append: its fsync never returned, so what needed it was
		 * never confirmed */
		mpc_warn("%s %s ends in a torn record (record %" PRIu64 ", %" PRIu64
		         " bytes, from a crash or a full disk inside an append): cut off",
		         j->spec->title, j->path, good, size - good * REC);
		if (ftruncate(j->fd, (off_t)(good * REC)) != 0 || fsync(j->fd) != 0)
			return sys_err(j, "cannot cut the torn record off", j->path);
	}
	j->nrec = good;
	return MPC_OK;
}

/* ---------------------------------------------------------------- API */

mpc_err mpc_journal_open(const mpc_journal_spec *spec, const char *path, void *ctx,
                         mpc_journal **out) {
	mpc_journal *j;
	mpc_err err;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return mpc_error(MPC_EINVAL, "%s: no path given", spec->title);
	if (strlen(path) > PATH_MAX_)
		return mpc_error(MPC_EINVAL, "%s: path too long: %.64s...", spec->title, path);
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	j->spec = spec;
	j->ctx = ctx;
	j->lock_fd = j->fd = -1;
	snprintf(j->path, sizeof(j->path), "%s", path);
	/* the lock first: nothing is read, created or repaired while another
	 * holds it */
	if ((err = check_dir(j)) != MPC_OK || (err = lock_journal(j)) != MPC_OK ||
	    (err = open_file(j)) != MPC_OK || (err = journal_open(j)) != MPC_OK) {
		mpc_journal_close(j);
		return err;
	}
	*out = j;
	return MPC_OK;
}

void mpc_journal_close(mpc_journal *j) {
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (j->lock_fd >= 0)
		close(j->lock_fd); /* releases the lock */
	free(j);
}

const char *mpc_journal_path(const mpc_journal *j) {
	return j->path;
}

uint64_t mpc_journal_records(const mpc_journal *j) {
	return j->nrec;
}

uint64_t mpc_journal_appended(const mpc_journal *j) {
	return j->nrec - j->base;
}

void mpc_journal_set_whole(mpc_journal *j, uint64_t n) {
	j->base = n;
}

int mpc_journal_broken(const mpc_journal *j) {
	return j->broken;
}

/* Write record nrec at its place and fsync it; on failure cut what was
 * written of it off (the next open would find a torn tail otherwise) and
 * append nothing more on this handle. */
mpc_err mpc_journal_append(mpc_journal *j, uint8_t rec[REC]) {
	if (!rec_seal(j->id, rec))
		return sha_failed(j);
	uint64_t at = j->nrec * REC;
	mpc_err err = pwrite_all(j, j->fd, rec, REC, at, j->path);
	if (err == MPC_OK && fsync(j->fd) != 0)
		err = sys_err(j, "cannot fsync", j->path);
	if (err == MPC_OK) {
		j->nrec++;
		return MPC_OK;
	}
	int saved = errno;
	if (ftruncate(j->fd, (off_t)at) == 0)
		(void)fsync(j->fd);
	errno = saved;
	j->broken = 1;
	return err;
}

mpc_err mpc_journal_rewrite(mpc_journal *j, uint64_t n) {
	mpc_err err = write_whole(j, 1, n);
	if (err != MPC_OK)
		j->broken = 1;
	return err;
}
