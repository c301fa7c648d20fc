/* The privacy budget ledger on disk (see mpc_ledger.h for the composition
 * and the rules that keep a charge from ever being lost). The journal
 * follows the preprocessing store's (protocols/preproc/mpc_store.c): fixed
 * records, numbered and checksummed, appended one at a time and fsynced. */
#include "node/mpc_ledger.h"
#include "runtime/mpc_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
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

#define L_MAGIC   "MPCLDG01"
#define L_VERSION 1u
#define REC       256 /* bytes of one record */
#define HASHED    224 /* the record bytes its checksum covers (with the ledger id) */
#define IDLEN     16
#define K_HEADER  1u
#define K_CHARGE  2u
#define RBLOCK    256 /* records read at a time on open */
#define PATH_MAX_ 480
#define SLACK     1e-12 /* of the limit: see within() */

/* Record layout, integers little-endian, doubles as their IEEE bits:
 *   0 magic 8 | 8 number 8 | 16 kind 4 | 20 format version 4 | 24 unix time 8
 *  32 epsilon 8 | 40 delta 8 | 48 rho 8
 *  56 dataset 64 (the header: the ledger id, 16) | 120 job id 64 | 184 label 40
 * 224 SHA-256 of (ledger id | bytes 0..224)
 * Text fields are zero-padded; a name of 64 characters fills its field. */
#define O_NUMBER  8
#define O_KIND    16
#define O_VERSION 20
#define O_TIME    24
#define O_EPS     32
#define O_DELTA   40
#define O_RHO     48
#define O_DATASET 56
#define O_JOB     120
#define O_LABEL   184

typedef struct {
	char name[MPC_LEDGER_NAME_MAX + 1];
	mpc_ledger_total t;
} dataset_total;

struct mpc_ledger {
	char path[PATH_MAX_ + 8];
	int lock_fd, fd;
	uint8_t id[IDLEN];
	uint64_t nrec; /* good records; the file is nrec * REC bytes long */
	int broken;    /* a write failed: this handle charges nothing more */
	dataset_total *ds;
	size_t nds, cap;
};

static mpc_err sys_err(const char *what, const char *path) {
	return mpc_error(MPC_EIO, "privacy budget ledger: %s %s: %s", what, path, strerror(errno));
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

static void put_double(uint8_t *b, double v) {
	uint64_t u;
	memcpy(&u, &v, 8);
	mpc_put64(b, u);
}

static double get_double(const uint8_t *b) {
	uint64_t u = mpc_get64(b);
	double v;
	memcpy(&v, &u, 8);
	return v;
}

static int good_name(const char *s, size_t n) {
	if (n == 0 || n > MPC_LEDGER_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int good_label(const char *s, size_t n) {
	if (n == 0 || n > MPC_LEDGER_LABEL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static int good_value(double v) {
	return isfinite(v) && v >= 0;
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
			                 "privacy budget ledger: %s shrank while being read", path);
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return MPC_OK;
}

static mpc_err fsync_dir(const char *dir) {
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_err("cannot open", dir);
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? MPC_OK : sys_err("cannot fsync", dir);
}

/* ---------------------------------------------------------------- directory, lock */

static void dir_of(const char *path, char *dir, size_t len) {
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* Anyone who may write the directory may replace the ledger with an old
 * copy (forgetting spending) or take its lock file away. */
static mpc_err check_dir(const char *path) {
	char dir[PATH_MAX_ + 8];
	struct stat st;
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &st) != 0)
		return sys_err("cannot stat the directory", dir);
	if (!S_ISDIR(st.st_mode))
		return mpc_error(MPC_ECONFIG, "privacy budget ledger: %s is not a directory", dir);
	if (st.st_mode & 022)
		return mpc_error(MPC_ECONFIG,
		                 "privacy budget ledger %s: its directory %s is writable by group "
		                 "or others (mode %03o), who could replace the ledger with an old "
		                 "copy: keep the ledger in a directory of mode 700 or 755",
		                 path, dir, (unsigned)(st.st_mode & 0777));
	return MPC_OK;
}

/* One process at a time: two would each allow the whole remaining budget.
 * A flock belongs to the open file description, so a second open in this
 * process is refused too, and it dies with the process: a crash leaves no
 * stale lock. The holder writes its pid so the refusal can name it. */
static mpc_err lock_ledger(mpc_ledger *l) {
	char path[PATH_MAX_ + 16], who[160] = "";
	snprintf(path, sizeof(path), "%s.lock", l->path);
	l->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (l->lock_fd < 0)
		return sys_err("cannot open", path);
	if (flock(l->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		char host[64] = "";
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "this host");
		host[sizeof(host) - 1] = '\0';
		int n = snprintf(who, sizeof(who), "pid %ld on %s\n", (long)getpid(), host);
		if (ftruncate(l->lock_fd, 0) != 0)
			return sys_err("cannot write", path);
		return pwrite_all(l->lock_fd, who, (size_t)n, 0, path);
	}
	if (errno != EWOULDBLOCK)
		return sys_err("cannot lock", path);
	ssize_t r = pread(l->lock_fd, who, sizeof(who) - 1, 0);
	who[r > 0 ? r : 0] = '\0';
	who[strcspn(who, "\n")] = '\0';
	return mpc_error(MPC_ECONFIG,
	                 "privacy budget ledger %s is in use by %s (it holds %s): a ledger "
	                 "serves one process at a time, or both could spend the same budget; "
	                 "wait for that process to finish or stop it, then try again",
	                 l->path, who[0] ? who : "another process (pid not yet written)", path);
}

/* ---------------------------------------------------------------- records */

static int rec_seal(const mpc_ledger *l, uint8_t rec[REC]) {
	uint8_t d[32];
	if (!sha256(l->id, IDLEN, rec, HASHED, d))
		return 0;
	memcpy(rec + HASHED, d, 32);
	return 1;
}

static int rec_intact(const mpc_ledger *l, const uint8_t rec[REC]) {
	uint8_t d[32];
	return memcmp(rec, L_MAGIC, 8) == 0 && sha256(l->id, IDLEN, rec, HASHED, d) &&
	       CRYPTO_memcmp(d, rec + HASHED, 32) == 0;
}

static void rec_start(uint8_t rec[REC], uint64_t number, uint32_t kind) {
	memset(rec, 0, REC);
	memcpy(rec, L_MAGIC, 8);
	mpc_put64(rec + O_NUMBER, number);
	mpc_put32(rec + O_KIND, kind);
	mpc_put32(rec + O_VERSION, L_VERSION);
	mpc_put64(rec + O_TIME, (uint64_t)(int64_t)time(NULL));
}

/* Create the file whole: a temporary file with the header record, fsynced,
 * then linked into place (link fails if the path exists: the O_EXCL of
 * creation), so the file never exists without its header. */
static mpc_err create(mpc_ledger *l) {
	char tmp[PATH_MAX_ + 16], dir[PATH_MAX_ + 8];
	uint8_t rec[REC];
	mpc_err err = MPC_OK;

	snprintf(tmp, sizeof(tmp), "%s.new", l->path);
	if (RAND_bytes(l->id, IDLEN) != 1)
		return mpc_error(MPC_ECRYPTO, "privacy budget ledger %s: RAND_bytes failed",
		                 l->path);
	rec_start(rec, 0, K_HEADER);
	memcpy(rec + O_DATASET, l->id, IDLEN);
	if (!rec_seal(l, rec))
		return mpc_error(MPC_ECRYPTO, "privacy budget ledger: SHA-256 failed");
	/* a leftover of a creation a crash interrupted: we hold the lock */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return sys_err("cannot remove", tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sys_err("cannot create", tmp);
	err = pwrite_all(fd, rec, REC, 0, tmp);
	if (err == MPC_OK && fsync(fd) != 0)
		err = sys_err("cannot fsync", tmp);
	close(fd);
	if (err == MPC_OK && link(tmp, l->path) != 0)
		err = sys_err("cannot create", l->path);
	if (unlink(tmp) != 0 && err == MPC_OK)
		err = sys_err("cannot remove", tmp);
	dir_of(l->path, dir, sizeof(dir));
	return err == MPC_OK ? fsync_dir(dir) : err;
}

static mpc_err open_file(mpc_ledger *l) {
	char tmp[PATH_MAX_ + 16];
	struct stat st;
	mpc_err err;
	l->fd = open(l->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (l->fd < 0 && errno == ENOENT) {
		if ((err = create(l)) != MPC_OK)
			return err;
		l->fd = open(l->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	}
	if (l->fd < 0)
		return sys_err("cannot open", l->path);
	/* a crash between link and unlink leaves the temporary file: we hold
	 * the lock, so it is no creation under way */
	snprintf(tmp, sizeof(tmp), "%s.new", l->path);
	(void)unlink(tmp);
	if (fstat(l->fd, &st) != 0)
		return sys_err("cannot stat", l->path);
	if (!S_ISREG(st.st_mode))
		return mpc_error(MPC_ECONFIG, "privacy budget ledger: %s is not a regular file",
		                 l->path);
	if (st.st_uid != geteuid())
		return mpc_error(MPC_ECONFIG,
		                 "privacy budget ledger %s belongs to another user (uid %u): "
		                 "use a ledger of your own",
		                 l->path, (unsigned)st.st_uid);
	if (st.st_mode & 022)
		return mpc_error(MPC_ECONFIG,
		                 "privacy budget ledger %s is writable by group or others "
		                 "(mode %03o): chmod 600 %s",
		                 l->path, (unsigned)(st.st_mode & 0777), l->path);
	return MPC_OK;
}

/* ---------------------------------------------------------------- totals */

static dataset_total *find(const mpc_ledger *l, const char *name) {
	for (size_t i = 0; i < l->nds; i++)
		if (strcmp(l->ds[i].name, name) == 0)
			return &l->ds[i];
	return NULL;
}

static dataset_total *find_or_add(mpc_ledger *l, const char *name) {
	dataset_total *d = find(l, name);
	if (d != NULL)
		return d;
	if (l->nds == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		dataset_total *n = realloc(l->ds, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		l->ds = n;
		l->cap = cap;
	}
	d = &l->ds[l->nds++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	return d;
}

/* The one place sums are formed, on replay and on charge alike: the same
 * additions in the same order give the same totals on every open. */
static void add_to(mpc_ledger_total *t, double eps, double delta, double rho) {
	t->epsilon += eps;
	t->delta += delta;
	t->rho += rho;
	t->count++;
}

/* ---------------------------------------------------------------- replay
 *
 * Appends are the only writes, one record at a time, so a crash or a full
 * disk can damage only the last record; a damaged record with anything
 * after it is therefore not a crash but corruption, and the records after
 * it cannot be trusted to be all there is: the ledger refuses to open. */

static mpc_err corrupt(const mpc_ledger *l, uint64_t number, uint64_t size, const char *what) {
	return mpc_error(MPC_EIO,
	                 "privacy budget ledger %s is corrupt at record %" PRIu64 " (byte %" PRIu64
	                 " of %" PRIu64 "): %s. Charges may be missing, so no budget can be "
	                 "trusted and nothing is charged or released: restore nothing, but "
	                 "find out what damaged it; never edit, restore or copy a ledger",
	                 l->path, number, number * REC, size, what);
}

/* Record 0: the format and the ledger id (which every checksum covers). */
static mpc_err read_header(mpc_ledger *l, const uint8_t rec[REC], uint64_t size) {
	if (size < REC || memcmp(rec, L_MAGIC, 8) != 0)
		return mpc_error(MPC_EIO,
		                 "privacy budget ledger: %s is not a ledger (%s); point at "
		                 "another path or move this file away",
		                 l->path,
		                 size < REC ? "shorter than its header" : "no ledger magic");
	memcpy(l->id, rec + O_DATASET, IDLEN);
	if (!rec_intact(l, rec) || mpc_get64(rec + O_NUMBER) != 0 ||
	    mpc_get32(rec + O_KIND) != K_HEADER)
		return corrupt(l, 0, size, "the header record is damaged");
	if (mpc_get32(rec + O_VERSION) != L_VERSION)
		return mpc_error(MPC_ECONFIG,
		                 "privacy budget ledger %s has format version %u; this build "
		                 "reads version %u",
		                 l->path, (unsigned)mpc_get32(rec + O_VERSION), L_VERSION);
	return MPC_OK;
}

/* One intact charge record numbered g: its contents checked, its charge
 * added to its dataset's totals. */
static mpc_err replay_charge(mpc_ledger *l, const uint8_t rec[REC], uint64_t g, uint64_t size) {
	char name[MPC_LEDGER_NAME_MAX + 1], job[MPC_LEDGER_NAME_MAX + 1];
	char label[MPC_LEDGER_LABEL_MAX + 1];
	if (mpc_get64(rec + O_NUMBER) != g || mpc_get32(rec + O_KIND) != K_CHARGE ||
	    mpc_get32(rec + O_VERSION) != L_VERSION)
		return corrupt(l, g, size, "an intact record out of order");
	memcpy(name, rec + O_DATASET, MPC_LEDGER_NAME_MAX);
	memcpy(job, rec + O_JOB, MPC_LEDGER_NAME_MAX);
	memcpy(label, rec + O_LABEL, MPC_LEDGER_LABEL_MAX);
	name[MPC_LEDGER_NAME_MAX] = job[MPC_LEDGER_NAME_MAX] = label[MPC_LEDGER_LABEL_MAX] = '\0';
	double eps = get_double(rec + O_EPS), delta = get_double(rec + O_DELTA);
	double rho = get_double(rec + O_RHO);
	if (!good_name(name, strlen(name)) || !good_name(job, strlen(job)) ||
	    !good_label(label, strlen(label)) || !good_value(eps) || !good_value(delta) ||
	    !good_value(rho))
		return corrupt(l, g, size, "an intact record with invalid contents");
	dataset_total *d = find_or_add(l, name);
	if (d == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	add_to(&d->t, eps, delta, rho);
	return MPC_OK;
}

/* Replay the records from the start; *good: how many are intact before the
 * first damaged one (or all of them). */
static mpc_err replay(mpc_ledger *l, uint64_t size, uint64_t *good) {
	uint64_t n_full = size / REC, g;
	uint8_t *blk = malloc((size_t)RBLOCK * REC);
	mpc_err err = MPC_OK;

	*good = 0;
	if (blk == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = pread_all(l->fd, blk, size < REC ? (size_t)size : REC, 0, l->path)) != MPC_OK ||
	    (err = read_header(l, blk, size)) != MPC_OK) {
		free(blk);
		return err;
	}
	for (g = 1; g < n_full; g++) {
		if (g % RBLOCK == 0 || g == 1) {
			uint64_t from = g - g % RBLOCK;
			uint64_t n = n_full - from < RBLOCK ? n_full - from : RBLOCK;
			if ((err = pread_all(l->fd, blk, (size_t)(n * REC), from * REC, l->path)) !=
			    MPC_OK)
				break;
		}
		const uint8_t *rec = blk + (g % RBLOCK) * REC;
		if (!rec_intact(l, rec))
			break;
		if ((err = replay_charge(l, rec, g, size)) != MPC_OK)
			break;
	}
	free(blk);
	*good = g;
	return err;
}

/* Replay every record; cut a torn last record off (fsynced) before anything
 * is appended; refuse a damaged record followed by more. */
static mpc_err journal_open(mpc_ledger *l) {
	struct stat st;
	uint64_t good = 0;
	mpc_err err;

	if (fstat(l->fd, &st) != 0)
		return sys_err("cannot stat", l->path);
	uint64_t size = (uint64_t)st.st_size;
	if ((err = replay(l, size, &good)) != MPC_OK)
		return err;
	if (good < size / REC && size > (good + 1) * REC)
		return corrupt(l, good, size, "a damaged record followed by more");
	if (good * REC < size) {
		/* a torn last record: its fsync never returned, so its charge was
		 * never confirmed and nothing was released under it */
		mpc_warn("privacy budget ledger %s ends in a torn record (record %" PRIu64
		         ", %" PRIu64 " bytes, from a crash or a full disk inside an append): "
		         "cut off",
		         l->path, good, size - good * REC);
		if (ftruncate(l->fd, (off_t)(good * REC)) != 0 || fsync(l->fd) != 0)
			return sys_err("cannot cut the torn record off", l->path);
	}
	l->nrec = good;
	return MPC_OK;
}

/* ---------------------------------------------------------------- API */

mpc_err mpc_ledger_open(const char *path, mpc_ledger **out) {
	mpc_ledger *l;
	mpc_err err;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return mpc_error(MPC_EINVAL, "privacy budget ledger: no path given");
	if (strlen(path) > PATH_MAX_)
		return mpc_error(MPC_EINVAL, "privacy budget ledger: path too long: %.64s...",
		                 path);
	if ((err = check_dir(path)) != MPC_OK)
		return err;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	l->lock_fd = l->fd = -1;
	snprintf(l->path, sizeof(l->path), "%s", path);
	/* the lock first: nothing is read, created or repaired while another
	 * holds it */
	if ((err = lock_ledger(l)) != MPC_OK || (err = open_file(l)) != MPC_OK ||
	    (err = journal_open(l)) != MPC_OK) {
		mpc_ledger_close(l);
		return err;
	}
	*out = l;
	return MPC_OK;
}

void mpc_ledger_close(mpc_ledger *l) {
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->lock_fd >= 0)
		close(l->lock_fd); /* releases the lock */
	free(l->ds);
	free(l);
}

const char *mpc_ledger_path(const mpc_ledger *l) {
	return l->path;
}

mpc_err mpc_ledger_spent(const mpc_ledger *l, const char *dataset, mpc_ledger_total *out) {
	memset(out, 0, sizeof(*out));
	if (dataset == NULL || !good_name(dataset, strlen(dataset)))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: bad dataset name (1 to %d of "
		                 "A-Z a-z 0-9 . _ -)",
		                 l->path, MPC_LEDGER_NAME_MAX);
	const dataset_total *d = find(l, dataset);
	if (d != NULL)
		*out = d->t;
	return MPC_OK;
}

static mpc_err check_charge(const mpc_ledger *l, const char *dataset, const char *job_id,
                            const char *label, double eps, double delta, double rho,
                            const mpc_ledger_budget *limit) {
	const char *ds = dataset && good_name(dataset, strlen(dataset)) ? dataset : "(bad name)";
	if (dataset == NULL || !good_name(dataset, strlen(dataset)))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: bad dataset name (1 to %d of "
		                 "A-Z a-z 0-9 . _ -)",
		                 l->path, MPC_LEDGER_NAME_MAX);
	if (job_id == NULL || !good_name(job_id, strlen(job_id)))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: dataset %s: bad job id (1 to %d of "
		                 "A-Z a-z 0-9 . _ -)",
		                 l->path, ds, MPC_LEDGER_NAME_MAX);
	if (label == NULL || !good_label(label, strlen(label)))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: dataset %s: bad release label (1 to "
		                 "%d printable ASCII characters)",
		                 l->path, ds, MPC_LEDGER_LABEL_MAX);
	if (!good_value(eps) || !good_value(delta) || !good_value(rho))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: dataset %s: job %s asks epsilon %g, "
		                 "delta %g, rho %g: each must be finite and >= 0",
		                 l->path, ds, job_id, eps, delta, rho);
	if (limit == NULL || !good_value(limit->epsilon) || !good_value(limit->delta))
		return mpc_error(MPC_EINVAL,
		                 "privacy budget ledger %s: dataset %s: no limit given, or a "
		                 "limit that is not finite and >= 0",
		                 l->path, ds);
	return MPC_OK;
}

/* A sum within its limit. Decimal budgets are not exact in binary (0.1 +
 * 0.2 > 0.3 in doubles), so a sum may pass the limit by SLACK of the limit,
 * below the rounding error of the sum itself and of no consequence to
 * privacy; a limit of 0 allows exactly 0. */
static int within(double sum, double limit) {
	return sum <= limit + limit * SLACK;
}

/* Write record nrec at its place and fsync it; on failure cut what was
 * written of it off (the next open would find a torn tail otherwise) and
 * charge nothing more on this handle. */
static mpc_err append(mpc_ledger *l, const uint8_t rec[REC]) {
	uint64_t at = l->nrec * REC;
	mpc_err err = pwrite_all(l->fd, rec, REC, at, l->path);
	if (err == MPC_OK && fsync(l->fd) != 0)
		err = sys_err("cannot fsync", l->path);
	if (err == MPC_OK) {
		l->nrec++;
		return MPC_OK;
	}
	int saved = errno;
	if (ftruncate(l->fd, (off_t)at) == 0)
		(void)fsync(l->fd);
	errno = saved;
	l->broken = 1;
	return err;
}

mpc_err mpc_ledger_charge(mpc_ledger *l, const char *dataset, const char *job_id, const char *label,
                          double eps, double delta, double rho, const mpc_ledger_budget *limit) {
	uint8_t rec[REC];
	mpc_err err;

	if (l->broken)
		return mpc_error(MPC_EIO,
		                 "privacy budget ledger %s: an earlier write failed; this handle "
		                 "charges nothing more: close the ledger and open it again",
		                 l->path);
	if ((err = check_charge(l, dataset, job_id, label, eps, delta, rho, limit)) != MPC_OK)
		return err;
	eps += 0.0; /* -0.0 is stored as 0 */
	delta += 0.0;
	rho += 0.0;
	/* the entry before the write: nothing may fail between the fsync and
	 * the totals */
	dataset_total *d = find_or_add(l, dataset);
	if (d == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_ledger_total after = d->t;
	add_to(&after, eps, delta, rho);
	if (!isfinite(after.epsilon) || !isfinite(after.delta) || !isfinite(after.rho))
		return mpc_error(MPC_EREFUSED,
		                 "privacy budget ledger %s: dataset %s: job %s (%s) asks epsilon "
		                 "%g, delta %g, rho %g, which would take a sum past the largest "
		                 "double: refused, nothing recorded",
		                 l->path, dataset, job_id, label, eps, delta, rho);
	if (!within(after.epsilon, limit->epsilon) || !within(after.delta, limit->delta))
		return mpc_error(MPC_EREFUSED,
		                 "privacy budget ledger %s: dataset %s has spent epsilon %.9g, "
		                 "delta %.9g in %" PRIu64 " releases; job %s (%s) asks epsilon "
		                 "%.9g, delta %.9g more, past its limit of epsilon %.9g, delta "
		                 "%.9g (basic composition): refused, nothing recorded",
		                 l->path, dataset, d->t.epsilon, d->t.delta, d->t.count, job_id,
		                 label, eps, delta, limit->epsilon, limit->delta);
	rec_start(rec, l->nrec, K_CHARGE);
	put_double(rec + O_EPS, eps);
	put_double(rec + O_DELTA, delta);
	put_double(rec + O_RHO, rho);
	memcpy(rec + O_DATASET, dataset, strlen(dataset));
	memcpy(rec + O_JOB, job_id, strlen(job_id));
	memcpy(rec + O_LABEL, label, strlen(label));
	if (!rec_seal(l, rec))
		return mpc_error(MPC_ECRYPTO, "privacy budget ledger: SHA-256 failed");
	if ((err = append(l, rec)) != MPC_OK)
		return err;
	d->t = after;
	return MPC_OK;
}
