/* The preprocessing store on disk (see mpc_store.h). */
#include "mpc_store.h"
#include "../runtime/mpc_bytes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../runtime/mpc_file.h"
#include "../runtime/mpc_wipe.h"

#define MAX_TYPES 32
#define MAX_BATCHES 4096
#define BAT_MAGIC "MPCBAT01"
#define BAT_HDR 80 /* magic 8, kind/ring/f 12, pad 4, count 8, first 8, id 16, digest 32 */
#define JREC 40    /* kind/ring/f 12, pad 4, seq 8, digest 16 */

typedef struct {
	uint64_t first, count;
	uint8_t id[16];
	char name[64];
} batch;

typedef struct {
	mpc_mat_type t;
	uint64_t consumed;
	batch *b; /* sorted by first */
	int nb;
} type_state;

struct mpc_store {
	char dir[512];
	int journal_fd;
	type_state ty[MAX_TYPES];
	int nt;
};

size_t mpc_mat_elem_bytes(mpc_mat_type t)
{
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

const char *mpc_mat_name(mpc_mat_type t, char *buf, size_t len)
{
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

static int sha256(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[32])
{
	unsigned len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(c, a, alen) == 1 && (blen == 0 || EVP_DigestUpdate(c, b, blen) == 1) &&
		 EVP_DigestFinal_ex(c, out, &len) == 1 && len == 32;
	EVP_MD_CTX_free(c);
	return ok;
}

static int same(mpc_mat_type a, mpc_mat_type b)
{
	return a.kind == b.kind && a.ring_bits == b.ring_bits && a.f == b.f;
}

static type_state *state(mpc_store *s, mpc_mat_type t, int create)
{
	for (int i = 0; i < s->nt; i++)
		if (same(s->ty[i].t, t))
			return &s->ty[i];
	if (!create || s->nt == MAX_TYPES)
		return NULL;
	s->ty[s->nt] = (type_state){.t = t};
	return &s->ty[s->nt++];
}

static mpc_err sys_err(const char *what, const char *path)
{
	return mpc_error(MPC_EIO, "preprocessing store: %s %s: %s", what, path, strerror(errno));
}

static mpc_err fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return sys_err("cannot open", dir);
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? MPC_OK : sys_err("cannot fsync", dir);
}

static mpc_err write_all(int fd, const void *buf, size_t len, const char *path)
{
	if (mpc_file_write_fd_all(fd, buf, len) != MPC_OK)
		return sys_err("cannot write", path); /* errno from the failed write */
	return MPC_OK;
}

static mpc_err read_all(int fd, void *buf, size_t len, const char *path)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sys_err("cannot read", path);
		if (r == 0)
			return mpc_error(MPC_EIO, "preprocessing store: %s is truncated; delete the "
					 "store and run `mpc-party preprocess` again", path);
		p += r;
		len -= (size_t)r;
	}
	return MPC_OK;
}

/* ---------------------------------------------------------------- header */

static mpc_err check_dir(const char *dir)
{
	struct stat st;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return sys_err("cannot create", dir);
	if (stat(dir, &st) != 0)
		return sys_err("cannot stat", dir);
	if (!S_ISDIR(st.st_mode))
		return mpc_error(MPC_ECONFIG, "preprocessing store: %s is not a directory", dir);
	if (st.st_uid != geteuid())
		return mpc_error(MPC_ECONFIG, "preprocessing store: %s belongs to another user (uid "
				 "%u); it holds secret shares: use a directory of your own", dir,
				 (unsigned)st.st_uid);
	if (st.st_mode & 022)
		return mpc_error(MPC_ECONFIG, "preprocessing store: %s is writable by group or others "
				 "(mode %03o); it holds secret shares: chmod 700 %s", dir,
				 (unsigned)(st.st_mode & 0777), dir);
	return MPC_OK;
}

static mpc_err header(mpc_store *s, const char *job_id, const uint8_t hash[32], int party, int np)
{
	char path[600], want[400], got[400] = {0};
	int n = 0;
	snprintf(path, sizeof(path), "%s/STORE", s->dir);
	n += snprintf(want + n, sizeof(want) - (size_t)n, "mpc preprocessing store v1\njob %s\nhash ",
		      job_id);
	for (int i = 0; i < 32; i++)
		n += snprintf(want + n, sizeof(want) - (size_t)n, "%02x", hash[i]);
	snprintf(want + n, sizeof(want) - (size_t)n, "\nparty %d\nparties %d\n", party, np);
	int fd = open(path, O_RDONLY);
	if (fd < 0 && errno == ENOENT) {
		char tmp[640];
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return sys_err("cannot create", tmp);
		mpc_err err = write_all(fd, want, strlen(want), tmp);
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
		static const char *const what_line[] = {"format", "job id",
							 "set of parties, ring, fractional bits or engine (binding hash)",
							 "party", "party count"};
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
		return mpc_error(MPC_ECONFIG, "preprocessing store %s was made for another %s; its "
				 "material cannot serve this job: point --store elsewhere, or delete "
				 "it and run `mpc-party preprocess` again", s->dir, what);
	}
	return MPC_OK;
}

/* ---------------------------------------------------------------- journal */

static void jrec(uint8_t rec[JREC], mpc_mat_type t, uint64_t seq)
{
	uint8_t d[32];
	memset(rec, 0, JREC);
	mpc_put32(rec, (uint32_t)t.kind);
	mpc_put32(rec + 4, t.ring_bits);
	mpc_put32(rec + 8, t.f);
	mpc_put64(rec + 16, seq);
	sha256(rec, 24, NULL, 0, d);
	memcpy(rec + 24, d, 16);
}

static mpc_err journal_replay(mpc_store *s)
{
	char path[600];
	uint8_t rec[JREC];
	snprintf(path, sizeof(path), "%s/journal", s->dir);
	s->journal_fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0600);
	if (s->journal_fd < 0)
		return sys_err("cannot open", path);
	for (;;) {
		ssize_t r = read(s->journal_fd, rec, JREC);
		if (r < JREC)
			break; /* end, or a torn last record */
		uint8_t d[32];
		sha256(rec, 24, NULL, 0, d);
		if (memcmp(d, rec + 24, 16) != 0)
			break; /* a torn record: nothing was handed out under it */
		mpc_mat_type t = {(mpc_mat_kind)mpc_get32(rec), mpc_get32(rec + 4), mpc_get32(rec + 8)};
		type_state *ts = state(s, t, 1);
		if (ts && mpc_get64(rec + 16) > ts->consumed)
			ts->consumed = mpc_get64(rec + 16);
	}
	return MPC_OK;
}

static mpc_err journal_append(mpc_store *s, mpc_mat_type t, uint64_t seq)
{
	uint8_t rec[JREC];
	char path[600];
	snprintf(path, sizeof(path), "%s/journal", s->dir);
	jrec(rec, t, seq);
	mpc_err err = write_all(s->journal_fd, rec, JREC, path);
	if (err == MPC_OK && fsync(s->journal_fd) != 0)
		err = sys_err("cannot fsync", path);
	return err;
}

/* ---------------------------------------------------------------- batches */

static int cmp_batch(const void *a, const void *b)
{
	const batch *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

static mpc_err scan(mpc_store *s)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	mpc_err err = MPC_OK;
	if (d == NULL)
		return sys_err("cannot list", s->dir);
	while ((e = readdir(d)) != NULL && err == MPC_OK) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".bat") != 0 || l >= 64)
			continue;
		char path[600];
		uint8_t h[BAT_HDR];
		snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			err = sys_err("cannot open", path);
			break;
		}
		err = read_all(fd, h, BAT_HDR, path);
		close(fd);
		if (err != MPC_OK)
			break;
		if (memcmp(h, BAT_MAGIC, 8) != 0) {
			err = mpc_error(MPC_EIO, "preprocessing store: %s is not a batch file; delete "
					"it", path);
			break;
		}
		mpc_mat_type t = {(mpc_mat_kind)mpc_get32(h + 8), mpc_get32(h + 12), mpc_get32(h + 16)};
		type_state *ts = state(s, t, 1);
		if (ts == NULL || ts->nb == MAX_BATCHES) {
			err = mpc_error(MPC_EIO, "preprocessing store %s: too many batches", s->dir);
			break;
		}
		batch *nb = realloc(ts->b, (size_t)(ts->nb + 1) * sizeof(*nb));
		if (nb == NULL) {
			err = mpc_error(MPC_ENOMEM, "out of memory");
			break;
		}
		ts->b = nb;
		batch *b = &ts->b[ts->nb++];
		b->count = mpc_get64(h + 24);
		b->first = mpc_get64(h + 32);
		memcpy(b->id, h + 40, 16);
		snprintf(b->name, sizeof(b->name), "%s", e->d_name);
	}
	closedir(d);
	for (int i = 0; i < s->nt; i++)
		if (s->ty[i].nb > 1)
			qsort(s->ty[i].b, (size_t)s->ty[i].nb, sizeof(batch), cmp_batch);
	return err;
}

/* Delete the batches wholly below the consumed mark (after it is durable). */
static void drop_consumed(mpc_store *s, type_state *ts)
{
	int keep = 0;
	for (int i = 0; i < ts->nb; i++) {
		batch *b = &ts->b[i];
		if (b->first + b->count <= ts->consumed) {
			char path[600];
			snprintf(path, sizeof(path), "%s/%s", s->dir, b->name);
			unlink(path);
		} else {
			ts->b[keep++] = *b;
		}
	}
	ts->nb = keep;
}

mpc_err mpc_store_open(mpc_store **out, const char *dir, const char *job_id,
		       const uint8_t job_hash[32], int party, int n_parties)
{
	mpc_store *s;
	mpc_err err;

	*out = NULL;
	if (strlen(dir) >= sizeof(s->dir) - 80)
		return mpc_error(MPC_ECONFIG, "preprocessing store: path too long: %s", dir);
	if ((err = check_dir(dir)) != MPC_OK)
		return err;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	s->journal_fd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if ((err = header(s, job_id, job_hash, party, n_parties)) != MPC_OK ||
	    (err = journal_replay(s)) != MPC_OK || (err = scan(s)) != MPC_OK) {
		mpc_store_close(s);
		return err;
	}
	for (int i = 0; i < s->nt; i++)
		drop_consumed(s, &s->ty[i]);
	*out = s;
	return MPC_OK;
}

void mpc_store_close(mpc_store *s)
{
	if (s == NULL)
		return;
	if (s->journal_fd >= 0)
		close(s->journal_fd);
	for (int i = 0; i < s->nt; i++)
		free(s->ty[i].b);
	free(s);
}

const char *mpc_store_dir(const mpc_store *s) { return s->dir; }

static uint64_t end_of(const type_state *ts)
{
	uint64_t end = ts->consumed;
	for (int i = 0; i < ts->nb; i++)
		if (ts->b[i].first + ts->b[i].count > end)
			end = ts->b[i].first + ts->b[i].count;
	return end;
}

mpc_err mpc_store_add(mpc_store *s, mpc_mat_type t, const uint8_t batch_id[16], size_t count,
		      const void *data)
{
	size_t eb = mpc_mat_elem_bytes(t);
	type_state *ts = state(s, t, 1);
	uint8_t h[BAT_HDR] = {0}, d[32];
	char name[64], path[600], tmp[640];
	mpc_err err;

	if (eb == 0 || count == 0 || ts == NULL || ts->nb == MAX_BATCHES)
		return mpc_error(MPC_EINVAL, "preprocessing store: cannot add %zu elements of kind %d",
				 count, (int)t.kind);
	uint64_t first = end_of(ts);
	memcpy(h, BAT_MAGIC, 8);
	mpc_put32(h + 8, (uint32_t)t.kind);
	mpc_put32(h + 12, t.ring_bits);
	mpc_put32(h + 16, t.f);
	mpc_put64(h + 24, count);
	mpc_put64(h + 32, first);
	memcpy(h + 40, batch_id, 16);
	if (!sha256(h, 56, data, count * eb, d))
		return mpc_error(MPC_ECRYPTO, "preprocessing store: SHA-256 failed");
	memcpy(h + 56, d, 24); /* 24 bytes of the digest fit the header */
	snprintf(name, sizeof(name), "k%d-r%u-f%u-%016" PRIx64 ".bat", (int)t.kind, t.ring_bits, t.f,
		 first);
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return sys_err("cannot create", tmp);
	err = write_all(fd, h, BAT_HDR, tmp);
	if (err == MPC_OK)
		err = write_all(fd, data, count * eb, tmp);
	if (err == MPC_OK && fsync(fd) != 0)
		err = sys_err("cannot fsync", tmp);
	close(fd);
	if (err == MPC_OK && rename(tmp, path) != 0)
		err = sys_err("cannot rename", tmp);
	if (err == MPC_OK)
		err = fsync_dir(s->dir);
	if (err != MPC_OK) {
		unlink(tmp);
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

uint64_t mpc_store_available(mpc_store *s, mpc_mat_type t)
{
	type_state *ts = state(s, t, 0);
	uint64_t n = 0;
	if (ts == NULL)
		return 0;
	/* contiguous from the consumed mark */
	uint64_t at = ts->consumed;
	for (int i = 0; i < ts->nb; i++) {
		batch *b = &ts->b[i];
		if (b->first + b->count <= at)
			continue;
		if (b->first > at)
			break;
		n += b->first + b->count - at;
		at = b->first + b->count;
	}
	return n;
}

mpc_err mpc_store_position(mpc_store *s, mpc_mat_type t, mpc_store_pos *pos)
{
	type_state *ts = state(s, t, 0);
	memset(pos, 0, sizeof(*pos));
	if (ts == NULL)
		return MPC_OK;
	pos->seq = ts->consumed;
	for (int i = 0; i < ts->nb; i++) {
		batch *b = &ts->b[i];
		if (b->first <= ts->consumed && ts->consumed < b->first + b->count) {
			memcpy(pos->batch_id, b->id, 16);
			pos->offset = ts->consumed - b->first;
			break;
		}
	}
	return MPC_OK;
}

mpc_err mpc_store_skip_to(mpc_store *s, mpc_mat_type t, uint64_t seq)
{
	type_state *ts = state(s, t, 1);
	mpc_err err;
	if (ts == NULL)
		return mpc_error(MPC_EINVAL, "preprocessing store: too many kinds of material");
	if (seq < ts->consumed)
		return mpc_error(MPC_EINVAL, "preprocessing store: cannot go back from %" PRIu64
				 " to %" PRIu64, ts->consumed, seq);
	if (seq == ts->consumed)
		return MPC_OK;
	if ((err = journal_append(s, t, seq)) != MPC_OK)
		return err;
	ts->consumed = seq;
	drop_consumed(s, ts);
	return MPC_OK;
}

/* Copy elements [from, to) of batch b into out, verifying the file. */
static mpc_err read_batch(mpc_store *s, mpc_mat_type t, const batch *b, uint64_t from, uint64_t to,
			  uint8_t *out)
{
	size_t eb = mpc_mat_elem_bytes(t), bytes = (size_t)b->count * eb;
	char path[600];
	uint8_t h[BAT_HDR], d[32], *buf = NULL;
	mpc_err err;

	snprintf(path, sizeof(path), "%s/%s", s->dir, b->name);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return sys_err("cannot open", path);
	if ((buf = malloc(bytes)) == NULL) {
		close(fd);
		return mpc_error(MPC_ENOMEM, "out of memory reading %s", path);
	}
	err = read_all(fd, h, BAT_HDR, path);
	if (err == MPC_OK)
		err = read_all(fd, buf, bytes, path);
	close(fd);
	if (err == MPC_OK && (!sha256(h, 56, buf, bytes, d) || memcmp(d, h + 56, 24) != 0 ||
			      mpc_get64(h + 24) != b->count || mpc_get64(h + 32) != b->first))
		err = mpc_error(MPC_EIO, "preprocessing store: %s is corrupt (checksum mismatch); "
				"its material is not used: delete the store at every party and run "
				"`mpc-party preprocess` again", path);
	if (err == MPC_OK)
		memcpy(out, buf + (from - b->first) * eb, (size_t)(to - from) * eb);
	mpc_wipe(buf, bytes);
	free(buf);
	return err;
}

mpc_err mpc_store_take(mpc_store *s, mpc_mat_type t, size_t n, void *out, size_t *got)
{
	type_state *ts = state(s, t, 0);
	size_t eb = mpc_mat_elem_bytes(t);
	mpc_err err;

	*got = 0;
	uint64_t k = ts ? mpc_store_available(s, t) : 0;
	if (k > n)
		k = n;
	if (k == 0)
		return MPC_OK;
	uint64_t from = ts->consumed, to = from + k;
	/* durable first: a crash from here on wastes these, never reuses them */
	if ((err = journal_append(s, t, to)) != MPC_OK)
		return err;
	ts->consumed = to;
	uint8_t *o = out;
	for (int i = 0; i < ts->nb; i++) {
		batch *b = &ts->b[i];
		uint64_t lo = b->first > from ? b->first : from;
		uint64_t hi = b->first + b->count < to ? b->first + b->count : to;
		if (lo >= hi)
			continue;
		if ((err = read_batch(s, t, b, lo, hi, o + (lo - from) * eb)) != MPC_OK) {
			mpc_wipe(out, (size_t)k * eb);
			return err;
		}
	}
	drop_consumed(s, ts);
	*got = (size_t)k;
	return MPC_OK;
}

mpc_err mpc_store_describe(mpc_store *s, char *buf, size_t len)
{
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
