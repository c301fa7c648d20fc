/* The node's local API (HTTP/JSON, node/mpc_http.h serves it):
 *   GET  /health               this node, its links, its jobs by state
 *   GET  /metrics              Prometheus text
 *   POST /jobs                 {"job": TEXT, "dataset": NAME}: submit (202)
 *   GET  /jobs                 every job this node knows
 *   GET  /jobs/ID              one job
 *   GET  /jobs/ID/result       the job's outputs at this node (CSV), once done
 *   POST /jobs/ID/cancel       end it here and at its peers
 * Errors: 400 a malformed body or job, 403 a policy refusal (node and
 * rule), 404 no such job or route, 405 a wrong method, 409 a job id used
 * before or a result not there yet, 500 our own failure; the body is
 * {"error": "..."}. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/mpc_api.h"
#include "node/mpc_node_internal.h"
#include "runtime/mpc_file.h"
#include "runtime/mpc_log.h"

static void reply_json(mpc_http_response *r, int status, json_t *o) {
	r->status = status;
	r->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (r->body == NULL) {
		r->status = 500;
		r->body = mpc_http_error_json("out of memory");
	}
	json_decref(o);
}

static void reply_error(mpc_http_response *r, int status, const char *msg) {
	r->status = status;
	r->body = mpc_http_error_json(msg);
}

static int status_of(mpc_err e) {
	switch (e) {
	case MPC_EINVAL:
		return 400;
	case MPC_EREFUSED:
		return 403;
	case MPC_ECONFIG:
		return 409;
	default:
		return 500;
	}
}

static json_t *job_json(const node_job *j) {
	json_t *o =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:f}", "id", j->id, "state",
	              node_job_state_names[j->state], "computation", j->computation, "proposer",
	              j->proposer, "dataset", j->dataset, "epsilon", j->epsilon, "delta", j->delta);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "created", json_real(j->created));
	if (j->started > 0)
		json_object_set_new(o, "started", json_real(j->started));
	if (j->ended > 0)
		json_object_set_new(o, "ended", json_real(j->ended));
	if (j->error[0])
		json_object_set_new(o, "error", json_string(j->error));
	return o;
}

static void *propose_thread(void *arg) {
	void **a = arg;
	mpc_node *n = a[0];
	char *id = a[1];
	free(a);
	if (node_peer_propose(n, id) != MPC_OK)
		mpc_info("job %s: not run: %s", id, mpc_error_detail());
	free(id);
	pthread_mutex_lock(&n->mu);
	n->proposers--;
	pthread_cond_broadcast(&n->idle);
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

static void submit(mpc_node *n, const mpc_http_request *req, mpc_http_response *r) {
	mpc_api_submit s;
	if (mpc_api_parse_submit(req->body, req->body_len, &s) != MPC_OK) {
		reply_error(r, 400, mpc_error_detail());
		return;
	}
	node_job *j = NULL;
	char id[65] = "";
	void **a = malloc(2 * sizeof(void *));
	pthread_t t;
	pthread_mutex_lock(&n->mu);
	mpc_err err = a ? MPC_OK : mpc_error(MPC_ENOMEM, "out of memory");
	if (err == MPC_OK && n->stopping)
		err = mpc_error(MPC_ENOMEM, "node %s is stopping", n->cfg.name);
	if (err == MPC_OK)
		err = node_job_admit(n, s.job_text, s.job_len, n->cfg.name, s.dataset, &j);
	if (err == MPC_OK && (err = node_job_add(n, j)) != MPC_OK)
		node_job_free(j);
	if (err == MPC_OK) {
		snprintf(id, sizeof(id), "%s", j->id);
		a[0] = n;
		a[1] = strdup(id);
		if (a[1] == NULL || pthread_create(&t, NULL, propose_thread, a) != 0) {
			free(a[1]);
			node_job_end(n, j, JOB_FAILED, "node %s: cannot start its proposal",
			             n->cfg.name);
			err = mpc_error(MPC_ENOMEM, "node %s: cannot start the proposal",
			                n->cfg.name);
		} else {
			n->proposers++;
			pthread_detach(t);
			a = NULL;
			mpc_info("job %s: submitted here; proposing it to its parties", id);
		}
	}
	pthread_mutex_unlock(&n->mu);
	free(a);
	mpc_api_submit_free(&s);
	if (err != MPC_OK)
		reply_error(r, status_of(err), mpc_error_detail());
	else
		reply_json(r, 202, json_pack("{s:s,s:s}", "id", id, "state", "proposed"));
}

static void result(mpc_node *n, node_job *j, mpc_http_response *r) {
	char path[MPC_NODE_PATH_MAX + 96], msg[1200];
	if (j->service) {
		snprintf(msg, sizeof(msg), "job %s is a scoring service: it answers POST /score",
		         j->id);
		reply_error(r, 409, msg);
		return;
	}
	if (j->state != JOB_DONE) {
		snprintf(msg, sizeof(msg), "job %s is %s%s%s", j->id,
		         node_job_state_names[j->state], j->error[0] ? ": " : "", j->error);
		reply_error(r, 409, msg);
		return;
	}
	if (!j->job->parties[j->self].recipient) {
		snprintf(msg, sizeof(msg),
		         "job %s: this node (%s) is not among its recipients ([job] recipients): "
		         "it wrote no outputs",
		         j->id, n->cfg.name);
		reply_error(r, 409, msg);
		return;
	}
	node_job_path(n, j, "result.csv", path, sizeof(path));
	size_t len;
	pthread_mutex_unlock(&n->mu); /* a done job's file no longer changes */
	mpc_err err = mpc_file_read_all(path, 64 << 20, &r->body, &len);
	pthread_mutex_lock(&n->mu);
	if (err != MPC_OK) {
		reply_error(r, 500, mpc_error_detail());
		return;
	}
	r->status = 200;
	r->content_type = "text/csv";
}

static void cancel(mpc_node *n, node_job *j, mpc_http_response *r) {
	int peers[MPC_NODE_MAX_PEERS], k = 0;
	char id[65];
	if (j->state >= JOB_DONE) {
		char msg[200];
		snprintf(msg, sizeof(msg), "job %s is %s already", j->id,
		         node_job_state_names[j->state]);
		reply_error(r, 409, msg);
		return;
	}
	node_job_end(n, j, JOB_CANCELLED, "cancelled by the operator of node %s", n->cfg.name);
	for (int p = 0; p < n->cfg.n_peers; p++)
		if (j->parties_mask & (1 << p))
			peers[k++] = p;
	snprintf(id, sizeof(id), "%s", j->id);
	reply_json(r, 200, job_json(j));
	pthread_mutex_unlock(&n->mu);
	node_peer_cancel(n, id, peers, k, "cancelled by its operator");
	pthread_mutex_lock(&n->mu);
}

/* /jobs/ID[/result|/cancel] */
static void one_job(mpc_node *n, const mpc_http_request *req, mpc_http_response *r) {
	char id[80];
	const char *rest = req->path + 6, *slash = strchr(rest, '/');
	size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
	if (len == 0 || len >= sizeof(id)) {
		reply_error(r, 404, "no such job");
		return;
	}
	memcpy(id, rest, len);
	id[len] = '\0';
	const char *what = slash ? slash + 1 : "";
	int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
	pthread_mutex_lock(&n->mu);
	node_job *j = mpc_job_name_ok(id, 64) ? node_job_find(n, id) : NULL;
	if (j == NULL)
		reply_error(r, 404, "no such job at this node");
	else if (what[0] == '\0' && get)
		reply_json(r, 200, job_json(j));
	else if (strcmp(what, "result") == 0 && get)
		result(n, j, r);
	else if (strcmp(what, "cancel") == 0 && post)
		cancel(n, j, r);
	else if (what[0] == '\0' || strcmp(what, "result") == 0 || strcmp(what, "cancel") == 0)
		reply_error(r, 405, "method not allowed here");
	else
		reply_error(r, 404, "no such route");
	pthread_mutex_unlock(&n->mu);
}

static void list_jobs(mpc_node *n, mpc_http_response *r) {
	json_t *a = json_array();
	pthread_mutex_lock(&n->mu);
	for (int i = 0; a && i < n->n_jobs; i++)
		json_array_append_new(a, job_json(n->jobs[i]));
	pthread_mutex_unlock(&n->mu);
	reply_json(r, 200, json_pack("{s:o}", "jobs", a));
}

/* How many jobs the node knows in each state (under mu). */
static void count_states(const mpc_node *n, int count[JOB_N_STATES]) {
	memset(count, 0, JOB_N_STATES * sizeof(count[0]));
	for (int i = 0; i < n->n_jobs; i++)
		count[n->jobs[i]->state]++;
}

static void health(mpc_node *n, mpc_http_response *r) {
	mpc_link_status st[MPC_NODE_MAX_PEERS];
	int np = mpc_links_status(n->links, st, MPC_NODE_MAX_PEERS);
	json_t *links = json_array(), *jobs = json_object();
	for (int i = 0; links && i < np && i < MPC_NODE_MAX_PEERS; i++)
		json_array_append_new(links,
		                      json_pack("{s:s,s:b,s:f,s:f,s:s}", "peer", st[i].name, "up",
		                                st[i].up, "since", st[i].since, "rtt_ms",
		                                st[i].rtt_ms, "last_error", st[i].last_error));
	int count[JOB_N_STATES];
	pthread_mutex_lock(&n->mu);
	count_states(n, count);
	pthread_mutex_unlock(&n->mu);
	for (int s = 0; jobs && s < JOB_N_STATES; s++)
		json_object_set_new(jobs, node_job_state_names[s], json_integer(count[s]));
	reply_json(r, 200,
	           json_pack("{s:s,s:o,s:o}", "node", n->cfg.name, "links", links, "jobs", jobs));
}

/* The running scoring services' stock, per kind, in the store and in
 * memory: what each service's process last wrote in its stock directory's
 * LEVEL (tools/party.h), read as is (under mu). */
static void stock_metrics(mpc_node *n, FILE *f) {
	fprintf(f, "# HELP mpc_node_stock Material a scoring service holds, per kind (words "
	           "of 64 for bit triples), in its store and in memory.\n"
	           "# TYPE mpc_node_stock gauge\n");
	for (int i = 0; i < n->n_jobs; i++) {
		node_job *j = n->jobs[i];
		char path[MPC_NODE_PATH_MAX + 200], line[256];
		if (!j->service || j->state != JOB_RUNNING)
			continue;
		node_stock_dir(n, j, path, sizeof(path) - 8);
		strcat(path, "/LEVEL");
		FILE *lv = fopen(path, "r");
		while (lv && fgets(line, sizeof(line), lv)) {
			char where[16], kind[96];
			unsigned long long count;
			if (sscanf(line, "%15[a-z]\t%95[^\t]\t%llu", where, kind, &count) == 3)
				fprintf(
				    f, "mpc_node_stock{job=\"%s\",kind=\"%s\",where=\"%s\"} %llu\n",
				    j->id, kind, where, count);
		}
		if (lv)
			fclose(lv);
	}
}

/* Prometheus text: links, jobs, budgets, dropped frames, then the API's own. */
static void metrics(mpc_node *n, mpc_http_response *r) {
	mpc_link_status st[MPC_NODE_MAX_PEERS];
	int np = mpc_links_status(n->links, st, MPC_NODE_MAX_PEERS);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) {
		reply_error(r, 500, "out of memory");
		return;
	}
	fprintf(f, "# HELP mpc_node_link_up 1 if the peer's control link answers keep-alives.\n"
	           "# TYPE mpc_node_link_up gauge\n");
	for (int i = 0; i < np && i < MPC_NODE_MAX_PEERS; i++)
		fprintf(f, "mpc_node_link_up{peer=\"%s\"} %d\n", st[i].name, st[i].up);
	fprintf(f,
	        "# HELP mpc_node_frames_dropped_total Control connections dropped: unknown or "
	        "wrong certificate, malformed frame.\n# TYPE mpc_node_frames_dropped_total "
	        "counter\nmpc_node_frames_dropped_total %llu\n",
	        (unsigned long long)mpc_links_rejected(n->links));
	fprintf(f, "# HELP mpc_node_jobs Jobs this node knows, by state.\n"
	           "# TYPE mpc_node_jobs gauge\n");
	int count[JOB_N_STATES];
	pthread_mutex_lock(&n->mu);
	count_states(n, count);
	for (int s = 0; s < JOB_N_STATES; s++)
		fprintf(f, "mpc_node_jobs{state=\"%s\"} %d\n", node_job_state_names[s], count[s]);
	fprintf(f,
	        "# HELP mpc_node_score_requests_total Scoring requests answered: scored, refused "
	        "by the model owner's quota, failed.\n# TYPE mpc_node_score_requests_total "
	        "counter\nmpc_node_score_requests_total{result=\"ok\"} %llu\n"
	        "mpc_node_score_requests_total{result=\"refused\"} %llu\n"
	        "mpc_node_score_requests_total{result=\"failed\"} %llu\n",
	        (unsigned long long)n->score_ok, (unsigned long long)n->score_refused,
	        (unsigned long long)n->score_failed);
	fprintf(f, "# HELP mpc_node_budget_epsilon Privacy budget per dataset (basic "
	           "composition), spent and left.\n# TYPE mpc_node_budget_epsilon gauge\n");
	for (size_t i = 0; i < mpc_policy_dataset_count(n->policy); i++) {
		const mpc_policy_dataset_info *d = mpc_policy_dataset_at(n->policy, i);
		mpc_ledger_total t = {0};
		if (mpc_ledger_spent(n->ledger, d->name, &t) != MPC_OK)
			continue;
		fprintf(f,
		        "mpc_node_budget_epsilon{dataset=\"%s\",kind=\"spent\"} %.17g\n"
		        "mpc_node_budget_epsilon{dataset=\"%s\",kind=\"left\"} %.17g\n"
		        "mpc_node_budget_delta{dataset=\"%s\",kind=\"spent\"} %.17g\n"
		        "mpc_node_budget_delta{dataset=\"%s\",kind=\"left\"} %.17g\n",
		        d->name, t.epsilon, d->name, d->budget_epsilon - t.epsilon, d->name,
		        t.delta, d->name, d->budget_delta - t.delta);
	}
	stock_metrics(n, f);
	pthread_mutex_unlock(&n->mu);
	fclose(f);
	if (buf == NULL || mpc_http_metrics(n->http, &buf, &len) != MPC_OK) {
		free(buf);
		reply_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->body = buf;
	r->content_type = "text/plain; version=0.0.4";
}

void node_api_handle(void *arg, const mpc_http_request *req, mpc_http_response *r) {
	mpc_node *n = arg;
	int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
	if (strcmp(req->path, "/health") == 0)
		get ? health(n, r) : reply_error(r, 405, "GET /health");
	else if (strcmp(req->path, "/metrics") == 0)
		get ? metrics(n, r) : reply_error(r, 405, "GET /metrics");
	else if (strcmp(req->path, "/jobs") == 0)
		get    ? list_jobs(n, r)
		: post ? submit(n, req, r)
		       : reply_error(r, 405, "GET or POST /jobs");
	else if (strncmp(req->path, "/jobs/", 6) == 0)
		one_job(n, req, r);
	else if (strcmp(req->path, "/score") == 0)
		post ? node_score_route(n, req, r) : reply_error(r, 405, "POST /score");
	else
		reply_error(r, 404, "no such route (see the README's node API)");
}
