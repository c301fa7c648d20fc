/* The node's control messages over its links (node/mpc_link.h), JSON
 * objects with a "type":
 *   propose  {job: TEXT, dataset: NAME}  the proposer asks; the answer is an
 *            approval, or the refusal (MPC_EREFUSED: node and rule) or the
 *            job's mistake (MPC_EINVAL)
 *   start    {id}   from the job's proposer, once every party approved:
 *            charge the budget and run
 *   cancel   {id, reason}   from any party of the job: end it here
 * The peer is the one the link authenticated (its pinned certificate),
 * never a name inside the message. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/mpc_api.h"
#include "node/mpc_node_internal.h"
#include "runtime/mpc_log.h"
#include "runtime/mpc_wipe.h"

#define PROPOSE_TIMEOUT_MS 10000

/* A string member of at most max bytes, or NULL. */
static const char *member(json_t *o, const char *key, size_t max, size_t *len) {
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || json_string_length(v) > max)
		return NULL;
	if (len)
		*len = json_string_length(v);
	return json_string_value(v);
}

static int printable(const char *s) {
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static mpc_err on_propose(mpc_node *n, const char *peer, json_t *o) {
	size_t len = 0;
	const char *text = member(o, "job", MPC_API_MAX_JOB_TEXT, &len),
	           *ds = member(o, "dataset", 32, NULL);
	if (text == NULL || ds == NULL || strlen(text) != len ||
	    (ds[0] != '\0' && !mpc_job_name_ok(ds, 32))) /* "": none (input parties) */
		return mpc_error(MPC_EPROTO, "propose from %s: malformed (job, dataset)", peer);
	node_job *j;
	pthread_mutex_lock(&n->mu);
	mpc_err err = node_job_admit(n, text, len, peer, ds, &j);
	if (err == MPC_OK) {
		j->state = JOB_APPROVED;
		if ((err = node_job_add(n, j)) != MPC_OK)
			node_job_free(j);
		else
			mpc_info("job %s: proposed by %s, approved here", j->id, peer);
	} else {
		mpc_info("job proposed by %s: not approved: %s", peer, mpc_error_detail());
	}
	pthread_mutex_unlock(&n->mu);
	return err;
}

static mpc_err on_start_or_cancel(mpc_node *n, const char *peer, json_t *o, int start) {
	const char *id = member(o, "id", 64, NULL), *reason = member(o, "reason", 900, NULL);
	if (id == NULL || !mpc_job_name_ok(id, 64) || (!start && (!reason || !printable(reason))))
		return mpc_error(MPC_EPROTO, "%s from %s: malformed", start ? "start" : "cancel",
		                 peer);
	mpc_err err = MPC_OK;
	pthread_mutex_lock(&n->mu);
	node_job *j = node_job_find(n, id);
	if (j == NULL || mpc_job_party_index(j->job, peer) < 0)
		err = mpc_error(MPC_EINVAL, "node %s: no job %s with party %s", n->cfg.name, id,
		                peer);
	else if (start && strcmp(j->proposer, peer) != 0)
		err = mpc_error(MPC_EINVAL, "node %s: job %s was proposed by %s, not %s",
		                n->cfg.name, id, j->proposer, peer);
	else if (start && j->state != JOB_APPROVED)
		err = mpc_error(MPC_EINVAL, "node %s: job %s is %s, not waiting to start",
		                n->cfg.name, id, node_job_state_names[j->state]);
	else if (start)
		err = node_job_launch(n, j);
	else
		node_job_end(n, j, JOB_CANCELLED, "cancelled by %s: %s", peer, reason);
	pthread_mutex_unlock(&n->mu);
	return err;
}

mpc_err node_peer_handle(void *arg, const char *peer, const char *req, size_t req_len, char **resp,
                         size_t *resp_len) {
	mpc_node *n = arg;
	json_error_t e;
	*resp = NULL;
	*resp_len = 0;
	pthread_mutex_lock(&n->mu);
	int stopping = n->stopping;
	pthread_mutex_unlock(&n->mu);
	if (stopping)
		return mpc_error(MPC_ESTOPPED, "node %s is stopping", n->cfg.name);
	json_t *o = json_loadb(req, req_len, JSON_REJECT_DUPLICATES, &e);
	const char *type = o ? member(o, "type", 16, NULL) : NULL;
	mpc_err err;
	if (!json_is_object(o) || type == NULL)
		err = mpc_error(MPC_EPROTO,
		                "a control message from %s is not a JSON object with a type", peer);
	else if (strcmp(type, "propose") == 0)
		err = on_propose(n, peer, o);
	else if (strcmp(type, "start") == 0 || strcmp(type, "cancel") == 0)
		err = on_start_or_cancel(n, peer, o, type[0] == 's');
	else
		err = mpc_error(MPC_EPROTO, "a control message from %s has an unknown type", peer);
	json_decref(o);
	return err;
}

/* Send one message; its answer is only MPC_OK or an error. */
static mpc_err call(mpc_node *n, int p, json_t *msg, int timeout_ms) {
	char *text = json_dumps(msg, JSON_COMPACT), *resp = NULL;
	size_t resp_len = 0;
	if (text == NULL)
		return mpc_error(MPC_ENOMEM, "out of memory");
	mpc_err err = mpc_links_call(n->links, n->cfg.peers[p].name, text, strlen(text), &resp,
	                             &resp_len, timeout_ms);
	mpc_wipe_free(text, strlen(text));
	free(resp);
	return err;
}

void node_peer_cancel(mpc_node *n, const char *id, const int *peers, int n_peers,
                      const char *reason) {
	json_t *m = json_pack("{s:s,s:s,s:s}", "type", "cancel", "id", id, "reason", reason);
	for (int i = 0; m && i < n_peers; i++)
		if (call(n, peers[i], m, 3000) != MPC_OK)
			mpc_warn("job %s: could not tell %s to cancel: %s", id,
			         n->cfg.peers[peers[i]].name, mpc_error_detail());
	json_decref(m);
}

/* 1 while the proposer's own copy of the job is still in state want (not
 * ended by a link going down, a cancel, or SIGTERM). */
static int still_ours(mpc_node *n, const char *id, node_job_state want, char *why, size_t cap) {
	pthread_mutex_lock(&n->mu);
	node_job *j = node_job_find(n, id);
	int ok = j && j->state == want && !n->stopping;
	if (!ok)
		snprintf(why, cap, "job %s ended at node %s meanwhile%s%.900s", id, n->cfg.name,
		         j && j->error[0] ? ": " : "", j ? j->error : "");
	pthread_mutex_unlock(&n->mu);
	return ok;
}

/* Send msg to every peer in mask while the job is still ours to propose:
 * the peers that answered yes in asked[]. MPC_OK, or the first refusal or
 * failure, its text in why (MPC_ESTOPPED: our own copy left state want). */
static mpc_err ask_all(mpc_node *n, const char *id, node_job_state want, json_t *msg, int mask,
                       int *asked, int *n_asked, char *why, size_t cap) {
	for (int p = 0; p < n->cfg.n_peers; p++) {
		if (!(mask & (1 << p)))
			continue;
		if (!still_ours(n, id, want, why, cap))
			return MPC_ESTOPPED;
		mpc_err err = call(n, p, msg, PROPOSE_TIMEOUT_MS);
		if (err != MPC_OK) {
			snprintf(why, cap, "%s%s", err == MPC_EREFUSED ? "" : "peer ",
			         mpc_error_detail());
			return err;
		}
		if (asked)
			asked[(*n_asked)++] = p;
	}
	return MPC_OK;
}

/* The proposer's work for a job just admitted, on its own thread: the
 * proposal to every other party; when all approved, this node's own start
 * (its budget charged first), then theirs. The job ends at the first
 * refusal or failure, and every peer asked is told to cancel. */
mpc_err node_peer_propose(mpc_node *n, const char *id) {
	int asked[MPC_NODE_MAX_PEERS], n_asked = 0, mask = 0, launched = 0;
	char why[1024] = "";
	pthread_mutex_lock(&n->mu);
	node_job *j = node_job_find(n, id);
	json_t *prop = j ? json_pack("{s:s,s:s%,s:s}", "type", "propose", "job", j->text, j->len,
	                             "dataset", j->dataset)
	                 : NULL;
	mask = j ? j->parties_mask : 0;
	pthread_mutex_unlock(&n->mu);
	json_t *start = json_pack("{s:s,s:s}", "type", "start", "id", id);
	mpc_err err = prop && start ? MPC_OK : mpc_error(MPC_ENOMEM, "out of memory");
	if (err == MPC_OK)
		err = ask_all(n, id, JOB_PROPOSED, prop, mask, asked, &n_asked, why, sizeof(why));
	if (err == MPC_OK && still_ours(n, id, JOB_PROPOSED, why, sizeof(why))) {
		pthread_mutex_lock(&n->mu);
		if ((j = node_job_find(n, id)) != NULL && (err = node_job_launch(n, j)) == MPC_OK)
			launched = 1;
		else if (j)
			snprintf(why, sizeof(why), "%s", j->error);
		pthread_mutex_unlock(&n->mu);
		if (launched)
			err =
			    ask_all(n, id, JOB_RUNNING, start, mask, NULL, NULL, why, sizeof(why));
	} else if (err == MPC_OK) {
		err = MPC_ESTOPPED;
	}
	json_decref(prop);
	json_decref(start);
	if (err == MPC_OK)
		return MPC_OK;
	pthread_mutex_lock(&n->mu);
	if ((j = node_job_find(n, id)) != NULL)
		node_job_end(n, j, err == MPC_EREFUSED ? JOB_REFUSED : JOB_FAILED, "%s", why);
	pthread_mutex_unlock(&n->mu);
	if (n_asked > 0)
		node_peer_cancel(n, id, asked, n_asked,
		                 launched ? "a party could not start it"
		                          : "not approved by every party");
	return mpc_error(err, "%s", why);
}
