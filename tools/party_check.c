/* mpc-party check: before any data moves, run's own validation of the job
 * and this party's files, the exact material, then every peer reached,
 * verified and compared; --format json for one object on stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/mpc_peer.h"
#include "protocols/preproc/mpc_plan.h"
#include "tools/party.h"

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_str(FILE *f, const char *s) {
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* check: the material line print_material printed, for the JSON. */
static char material_line[1024];

/* check --format json: one object on stdout. peer_state[i]: 1 confirmed, 0
 * not confirmed, -1 the one the error names; NULL: no peers reached. */
static void check_json(const opts *o, const conn *c, int code, const char *error,
                       const int *peer_state, double rtt, double mbps) {
	FILE *f = stdout;
	fputs("{\"job\":", f);
	json_str(f, c && c->job ? c->job->id : NULL);
	fputs(",\"party\":", f);
	json_str(f, o->party);
	fputs(",\"computation\":", f);
	json_str(f, c && c->job ? c->job->computation : NULL);
	fprintf(f, ",\"ok\":%s,\"exit_code\":%d,\"error\":", code == 0 ? "true" : "false", code);
	json_str(f, code == 0 ? NULL : error);
	fputs(",\"input\":", f);
	if (party_dry.s.input_read) {
		fputs("{\"file\":", f);
		json_str(f, o->input);
		fprintf(f, ",\"rows\":%zu,\"columns\":%zu}", party_dry.s.rows, party_dry.columns);
	} else {
		fputs("null", f);
	}
	fputs(",\"model\":", f);
	if (party_dry.s.model_read) {
		fputs("{\"file\":", f);
		json_str(f, o->model);
		fputs(",\"summary\":", f);
		json_str(f, party_dry.s.model);
		fputs("}", f);
	} else {
		fputs("null", f);
	}
	fputs(",\"material\":", f);
	json_str(f, material_line[0] ? material_line : NULL);
	fputs(",\"peers\":[", f);
	for (int i = 0, k = 0; peer_state && c && i < c->nodes.n; i++) {
		if (i == c->self)
			continue;
		fprintf(f, "%s{\"name\":", k++ ? "," : "");
		json_str(f, c->nodes.names[i]);
		fputs(",\"address\":", f);
		json_str(f, c->nodes.addrs[i]);
		fprintf(f, ",\"ok\":%s,\"named_in_error\":%s}",
		        peer_state[i] > 0 ? "true" : "false", peer_state[i] < 0 ? "true" : "false");
	}
	fputs("]", f);
	if (peer_state && code == 0)
		fprintf(f, ",\"round_trip_ms\":%.3f,\"throughput_mb_s\":%.1f", rtt, mbps);
	fputs("}\n", f);
	fflush(f);
}

/* check: the exact material the job consumes, before any data moves, to
 * out; the line is kept for check --format json. */
static mpc_err print_material(const opts *o, const conn *c, FILE *out) {
	mpc_pool_plan plan;
	char *line = material_line;
	int assumed, upper;
	mpc_err err;

	line[0] = '\0';
	if ((err = party_material_plan(o, c, 1000, &plan, &assumed, &upper)) != MPC_OK)
		return err;
	mpc_plan_format(&plan, line, sizeof(material_line));
	if (assumed)
		fprintf(out,
		        "this job consumes, for 1,000 transactions of the asker (its row count "
		        "decides; --rows N for another): %s\n",
		        line);
	else
		fprintf(out, "this job consumes%s: %s\n",
		        c->job->preprocessing == MPC_JOB_DEALER ? " (served by the dealer)" : "",
		        line);
	if (upper)
		fprintf(out,
		        "  (when no cohort is suppressed; a suppressed cohort skips its share)\n");
	fflush(out);
	return MPC_OK;
}

int party_cmd_check(const opts *o) {
	conn c;
	double rtt = 0, mbps = 0;
	int json = o->format && strcmp(o->format, "json") == 0, code;
	int state[MPC_NET_MAX_NODES] = {0};
	char error[1024];

	if (o->format && !json && strcmp(o->format, "text") != 0) {
		fprintf(stderr, "mpc-party check: --format text or json\n");
		return MPC_EXIT_USAGE;
	}
	FILE *hum = json ? stderr : stdout; /* stdout holds only the JSON object */
	memset(&party_dry, 0, sizeof(party_dry));
	mpc_err err = party_prepare(o, &c);
	if (err == MPC_OK)
		err = party_dealer_consent(o, &c);
	if (err != MPC_OK) {
		fprintf(stderr, "mpc-party check: %s\n", mpc_error_detail());
		code = err == MPC_ECONFIG || err == MPC_EIO ? MPC_EXIT_USAGE : mpc_exit_code(err);
		if (json)
			check_json(o, &c, code, mpc_error_detail(), NULL, 0, 0);
		party_conn_fini(&c);
		return code;
	}
	/* everything run would refuse before connecting, by run's own code:
	 * the computation's parameters and this party's files */
	opts d = *o;
	d.dry = 1;
	d.format = NULL;
	if ((code = party_cmd_run(&d)) != 0) {
		snprintf(error, sizeof(error), "%s", mpc_error_detail());
		fprintf(hum, "FAILED: %s\n", error);
		if (json)
			check_json(o, &c, code, error, NULL, 0, 0);
		party_conn_fini(&c);
		return code;
	}
	fprintf(hum, "job %s: %s, %d parties%s, %s\n", c.job->id, c.job->computation,
	        c.job->n_parties, c.job->has_dealer ? " + dealer" : "",
	        o->insecure ? "PLAINTEXT" : "TLS 1.3");
	if (party_dry.s.input_read)
		fprintf(hum, "  input %s: %zu rows, %zu columns: OK\n", o->input, party_dry.s.rows,
		        party_dry.columns);
	else if (o->input == NULL && !c.is_dealer)
		fprintf(hum, "  input: not checked (give --input FILE.csv to check it too)\n");
	if (party_dry.s.model_read)
		fprintf(hum, "  model %s: %s: OK\n", o->model, party_dry.s.model);
	if ((err = print_material(o, &c, hum)) != MPC_OK) {
		snprintf(error, sizeof(error), "%s", mpc_error_detail());
		fprintf(hum, "FAILED: %s\n", error);
		code = mpc_exit_code(err);
		if (json)
			check_json(o, &c, code, error, NULL, 0, 0);
		party_conn_fini(&c);
		return code;
	}
	fflush(hum);
	if ((err = party_agree(&c, "check")) != MPC_OK ||
	    (err = party_measure(&c, &rtt, &mbps)) != MPC_OK) {
		/* one line per peer: the one the error names, and the others */
		const char *dd = mpc_error_detail();
		int named = 0;
		snprintf(error, sizeof(error), "%s: %s", mpc_strerror(err), dd);
		for (int i = 0; i < c.nodes.n; i++) {
			if (i == c.self)
				continue;
			int it = strstr(error, c.nodes.names[i]) != NULL;
			named |= it;
			state[i] = it ? -1 : 0;
			fprintf(hum, "  %-20s %-28s %s\n", c.nodes.names[i], c.nodes.addrs[i],
			        it ? "FAILED (below)" : "not confirmed (the check stopped)");
		}
		fprintf(hum, "FAILED%s: %s\n", named ? "" : " (all peers)", error);
		code = party_fail(&c, err, "check");
		if (json)
			check_json(o, &c, code, error, state, 0, 0);
		party_conn_fini(&c);
		return code;
	}
	for (int i = 0; i < c.nodes.n; i++) {
		if (i == c.self)
			continue;
		state[i] = 1;
		fprintf(hum, "  %-20s %-28s OK  %s, same job\n", c.nodes.names[i], c.nodes.addrs[i],
		        o->insecure ? "reached (plaintext: identity NOT verified)"
		                    : "identity verified");
	}
	fprintf(hum,
	        "round trip (all peers at once): %.2f ms; throughput to each peer: %.0f MB/s\n",
	        rtt, mbps);
	mpc_net_close(c.net);
	c.net = NULL;
	fprintf(hum, "ready: every peer is reachable, verified and has the same job.\n");
	if (json)
		check_json(o, &c, 0, NULL, state, rtt, mbps);
	party_conn_fini(&c);
	return 0;
}
