/* Scoring quotas on disk (see mpc_quota.h for what is counted and why a
 * quota is never exceeded). The journal machinery, shared with the privacy
 * budget ledger, is node/mpc_journal.c: fixed records, numbered and
 * checksummed, appended one at a time and fsynced; here each record is a
 * reservation, and the file is rewritten whole (renamed into place) on
 * close and when it has grown. */
#include "node/mpc_quota.h"
#include "jobs/mpc_job.h"
#include "node/mpc_journal.h"
#include "runtime/mpc_bytes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/mpc_log.h"

#define Q_MAGIC   "MPCQTA01"
#define Q_VERSION 1u
#define REC       MPC_JOURNAL_REC /* bytes of one record */
#define K_RESERVE 2u
#define MINUTE_MS 60000
#define DAY_MS    86400000
#define SLOT_MS   100                    /* takes this close share a window slot */
#define COUNT_MAX 1000000000000000000ull /* 1e18: no count passes it */

/* Record layout (node/mpc_journal.h), integers little-endian:
 *   0 magic 8 | 8 number 8 | 16 kind 4 | 20 format version 4 | 24 unix time 8
 *  32 total reservation R 8 | 40 day X (days since 1970, UTC) 8
 *  48 day reservation D 8 | 56 computation 64 | 120 asker 64 | 184 zeros 40
 * 224 SHA-256 of (journal id | bytes 0..224)
 * The header (record 0) holds the journal id at 56 and, at 32, how many
 * records the file was written with whole: those can be no torn append. */
#define O_KIND   16
#define O_TOTAL  32
#define O_DAY    40
#define O_DAYRES 48
#define O_COMP   56
#define O_ASKER  120

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
	mpc_journal *j;
	int exact; /* the journal is being written whole with the exact counts */
	pair *pairs;
	size_t npairs, cap;
};

static int good_name(const char *s) {
	return mpc_job_name_ok(s, MPC_QUOTA_NAME_MAX);
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

/* ---------------------------------------------------------------- records */

/* Record number of e: R total, D on e's day (sealed by the journal). */
static void rec_reserve(const mpc_journal *j, uint8_t rec[REC], uint64_t number, const pair *e,
                        uint64_t total, uint64_t day_res) {
	mpc_journal_rec_start(j, rec, number, K_RESERVE);
	mpc_put64(rec + O_TOTAL, total);
	mpc_put64(rec + O_DAY, e->day);
	mpc_put64(rec + O_DAYRES, day_res);
	memcpy(rec + O_COMP, e->computation, strlen(e->computation));
	memcpy(rec + O_ASKER, e->asker, strlen(e->asker));
}

/* The journal written whole: the header says how many records it is
 * written with; one record per pair, its reservation or (exact) its
 * counts. */
static mpc_err fill(void *ctx, mpc_journal *j, uint64_t number, uint8_t rec[REC]) {
	const mpc_quota *q = ctx;
	if (number == 0) {
		mpc_put64(rec + O_TOTAL, (uint64_t)q->npairs + 1);
		return MPC_OK;
	}
	const pair *e = &q->pairs[number - 1];
	rec_reserve(j, rec, number, e, q->exact ? e->total_used : e->total_res,
	            q->exact ? e->day_used : e->day_res);
	return MPC_OK;
}

/* Write the journal whole (see mpc_journal_rewrite), exact: with the exact
 * counts, which become the reservations. */
static mpc_err write_whole(mpc_quota *q, int exact) {
	q->exact = exact;
	mpc_err err = mpc_journal_rewrite(q->j, (uint64_t)q->npairs + 1);
	for (size_t i = 0; i < q->npairs && exact && err == MPC_OK; i++) {
		q->pairs[i].total_res = q->pairs[i].total_used;
		q->pairs[i].day_res = q->pairs[i].day_used;
	}
	return err;
}

/* ---------------------------------------------------------------- replay */

/* Record 0 (its format and id checked by the journal): the records written
 * whole. Any other intact record numbered g: the pair's whole reservation
 * counts as used (after a crash, what it took of it is not known). */
static mpc_err replay_reserve(void *ctx, mpc_journal *j, uint64_t g, const uint8_t rec[REC]) {
	mpc_quota *q = ctx;
	char comp[MPC_QUOTA_NAME_MAX + 1], asker[MPC_QUOTA_NAME_MAX + 1];
	if (g == 0) {
		uint64_t base = mpc_get64(rec + O_TOTAL);
		if (base < 1 || base > (uint64_t)MPC_QUOTA_MAX_PAIRS + 1)
			return mpc_journal_corrupt(j, 0, "an intact header with invalid contents");
		mpc_journal_set_whole(j, base);
		return MPC_OK;
	}
	if (mpc_get32(rec + O_KIND) != K_RESERVE)
		return mpc_journal_corrupt(j, g, "an intact record out of order");
	memcpy(comp, rec + O_COMP, MPC_QUOTA_NAME_MAX);
	memcpy(asker, rec + O_ASKER, MPC_QUOTA_NAME_MAX);
	comp[MPC_QUOTA_NAME_MAX] = asker[MPC_QUOTA_NAME_MAX] = '\0';
	uint64_t total = mpc_get64(rec + O_TOTAL), day = mpc_get64(rec + O_DAY);
	uint64_t day_res = mpc_get64(rec + O_DAYRES);
	if (!good_name(comp) || !good_name(asker) || total > COUNT_MAX || day_res > COUNT_MAX)
		return mpc_journal_corrupt(j, g, "an intact record with invalid contents");
	pair *e = find(q, comp, asker);
	if (e == NULL && (e = add(q, comp, asker)) == NULL)
		return q->npairs == MPC_QUOTA_MAX_PAIRS
		           ? mpc_journal_corrupt(
		                 j, g, "more (computation, asker) pairs than a journal holds")
		           : mpc_error(MPC_ENOMEM, "out of memory");
	e->total_used = e->total_res = total;
	e->day = day;
	e->day_used = e->day_res = day_res;
	return MPC_OK;
}

static const mpc_journal_spec spec = {
    .title = "scoring quota journal",
    .noun = "journal",
    .kind = "quota journal",
    .shared = "allow the same quota",
    .loss = "Takes may be missing, so no quota can be trusted and nothing is scored",
    .magic = Q_MAGIC,
    .version = Q_VERSION,
    .replay = replay_reserve,
    .fill = fill,
};

/* ---------------------------------------------------------------- API */

mpc_err mpc_quota_open(const char *path, mpc_quota **out) {
	mpc_quota *q;
	mpc_err err;

	if (out == NULL)
		return mpc_error(MPC_EINVAL, "scoring quota journal: no place for the handle");
	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	if ((err = mpc_journal_open(&spec, path, q, &q->j)) != MPC_OK) {
		mpc_quota_close(q); /* no journal: writes nothing */
		return err;
	}
	*out = q;
	return MPC_OK;
}

void mpc_quota_close(mpc_quota *q) {
	if (q == NULL)
		return;
	if (q->j != NULL && !mpc_journal_broken(q->j) && write_whole(q, 1) != MPC_OK)
		mpc_warn("%s (the unused reservations stay counted as used)", mpc_error_detail());
	mpc_journal_close(q->j); /* releases the lock */
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

/* Append a reservation of e and fsync it; on failure the journal cuts what
 * was written of it off and takes nothing more on this handle. First
 * rewrite the journal whole when it has grown by MPC_QUOTA_COMPACT_AT
 * records (a failure there breaks the handle too). */
static mpc_err append(mpc_quota *q, const pair *e, uint64_t total, uint64_t day_res) {
	uint8_t rec[REC];
	mpc_err err;
	if (mpc_journal_appended(q->j) >= MPC_QUOTA_COMPACT_AT &&
	    (err = write_whole(q, 0)) != MPC_OK)
		return err;
	rec_reserve(q->j, rec, mpc_journal_records(q->j), e, total, day_res);
	return mpc_journal_append(q->j, rec);
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
		    mpc_journal_path(q->j), MPC_QUOTA_MAX_PAIRS, computation, asker);
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
	if (mpc_journal_broken(q->j))
		return mpc_error(MPC_EIO,
		                 "scoring quota journal %s: an earlier write failed; this handle "
		                 "allows nothing more: close the journal and open it again",
		                 mpc_journal_path(q->j));
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
		                 mpc_journal_path(q->j), computation, asker, c[MPC_POLICY_TOTAL],
		                 n);
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
