/*
 * admproto.c - parse, authenticate and answer admin protocol requests.
 *
 * The command table is at the bottom; every -ERR text is in the handlers
 * next to it.  Replies are composed in a memory stream (fmemopen) so that
 * the state module's listing functions write straight into the datagram.
 */
#include "admproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "hmac.h"

#define UNAUTH "-ERR auth"

struct req {
	char *tag;
	char *stamp;
	char *mac;
	char *cmd;      /* from the verb to the end */
	char *argv[16];
	int argc;
	const char *words; /* the copy argv points into: argv[i] - words is an offset into cmd */
};

/* Split on single spaces; false when the shape is wrong. */
static bool parse(char *buf, struct req *r)
{
	char *f[5];
	char *p = buf;

	for (int i = 0; i < 4; i++) {
		char *sp = strchr(p, ' ');
		if (!sp || sp == p)
			return false;
		*sp = '\0';
		f[i] = p;
		p = sp + 1;
	}
	f[4] = p;
	if (strcmp(f[0], ADM_VERSION) != 0)
		return false;
	r->tag = f[1];
	r->stamp = f[2];
	r->mac = f[3];
	r->cmd = f[4];
	size_t tl = strlen(r->tag), sl = strlen(r->stamp);
	if (tl < ADM_TAG_MIN || tl > ADM_TAG_MAX || sl == 0 || sl > 12 || strlen(r->mac) != HMAC_HEX_LEN ||
	    *r->cmd == '\0')
		return false;
	for (size_t i = 0; i < tl; i++)
		if (!((r->tag[i] >= '0' && r->tag[i] <= '9') || (r->tag[i] >= 'a' && r->tag[i] <= 'z') ||
		      (r->tag[i] >= 'A' && r->tag[i] <= 'Z')))
			return false;
	for (size_t i = 0; i < sl; i++)
		if (r->stamp[i] < '0' || r->stamp[i] > '9')
			return false;
	return true;
}

/* Split the command into words (a copy: cmd itself stays whole for the MAC). */
static bool words(struct req *r, char *copy, size_t cap)
{
	size_t n = strlen(r->cmd);

	if (n >= cap)
		return false;
	memcpy(copy, r->cmd, n + 1);
	r->words = copy;
	r->argc = 0;
	for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
		if (r->argc == 16)
			return false;
		r->argv[r->argc++] = tok;
	}
	return r->argc > 0;
}

static bool mac_of(const struct adm *a, const char *msg, size_t len, char *hex)
{
	return hmac_hex(a->secret, a->secret_len, msg, len, hex);
}

/* ---- commands: each writes "+OK ..." or "-ERR ..." and its lines to out ---- */

static void c_capa(struct adm *a, struct req *r, FILE *out)
{
	(void)a;
	(void)r;
	(void)fputs("+OK\nversion=" ADM_VERSION "\nmax-request=1024\nmax-reply=1200"
		    "\nCAPA\nUSER ADD\nUSER DEL\nUSER PASSWD\nUSER ENABLE\nUSER DISABLE\nUSER SHOW"
		    "\nUSER LIST\nMETRICS\nMETRICS PROMETHEUS\nLOGINS\nWHO\nCONFIG GET\nCONFIG SET", out);
}

/* The state file failed: whatever was written so far is replaced by [TEMP]. */
static void temp_error(const struct adm *a, FILE *out)
{
	rewind(out);
	(void)fprintf(out, "-ERR [TEMP] %.200s", a->st->err);
}

static bool need(struct req *r, int lo, int hi, FILE *out)
{
	if (r->argc >= lo && r->argc <= hi)
		return true;
	(void)fputs("-ERR [SYNTAX] wrong number of arguments", out);
	return false;
}

static bool valid_name(const char *name, FILE *out)
{
	if (auth_valid_username(name))
		return true;
	(void)fputs("-ERR [INVALID] user names are 1-128 letters, digits and ._@+-", out);
	return false;
}

static bool valid_hash(const char *hash, FILE *out)
{
	if (strlen(hash) < CONFIG_HASH_MAX && auth_is_hash(hash))
		return true;
	(void)fputs("-ERR [INVALID] not a crypt(3) hash this system can verify", out);
	return false;
}

static void answer(struct adm *a, enum state_lookup res, FILE *out)
{
	if (res == STATE_FOUND)
		(void)fputs("+OK", out);
	else if (res == STATE_NOT_FOUND)
		(void)fputs("-ERR [NOUSER] no such user", out);
	else
		(void)fprintf(out, "-ERR [TEMP] %.200s", a->st->err);
}

/*
 * USER FILTER name default|off|<command line>: the user's own filter.  The
 * command is the rest of the line, like CONFIG SET's value.
 */
static void c_user_filter(struct adm *a, struct req *r, FILE *out)
{
	const char *value, *why;

	if (r->argc < 4) {
		(void)fputs("-ERR [SYNTAX] USER FILTER NAME default|off|COMMAND", out);
		return;
	}
	if (!valid_name(r->argv[2], out))
		return;
	value = r->cmd + (r->argv[3] - r->words);
	if (strcmp(value, "default") == 0) {
		value = NULL;
	} else if (strcmp(value, "off") != 0 && !config_validate_command(value, &why)) {
		(void)fprintf(out, "-ERR [INVALID] %s", why);
		return;
	}
	answer(a, state_user_set_filter(a->st, r->argv[2], value), out);
}

static void c_user(struct adm *a, struct req *r, FILE *out)
{
	const char *sub = r->argc > 1 ? r->argv[1] : "";
	const char *name = r->argc > 2 ? r->argv[2] : "";

	if (strcasecmp(sub, "LIST") == 0) {
		bool more = false;
		char last[CONFIG_HASH_MAX] = "";
		if (!need(r, 2, 3, out))
			return;
		(void)fputs("+OK", out);
		if (!state_user_list(a->st, r->argc == 3 ? name : NULL, ADM_PAGE_USERS, out, &more, last,
				     sizeof last)) {
			temp_error(a, out);
			return;
		}
		if (more)
			(void)fprintf(out, "\nmore=%s", last);
		return;
	}
	if (strcasecmp(sub, "FILTER") == 0) {
		c_user_filter(a, r, out);
		return;
	}
	if (!need(r, 3, 5, out) || !valid_name(name, out))
		return;
	if (strcasecmp(sub, "ADD") == 0) {
		bool exists = false;
		if (!need(r, 4, 5, out))
			return; /* the hash was checked before the transaction, by precheck() */
		if (r->argc == 5 && r->argv[4][0] != '/') {
			(void)fputs("-ERR [INVALID] the maildir must be an absolute path", out);
			return;
		}
		enum state_lookup res = state_user_add(a->st, name, r->argv[3], r->argc == 5 ? r->argv[4] : NULL, &exists);
		if (res == STATE_FOUND && exists)
			(void)fputs("-ERR [EXISTS] user exists", out);
		else
			answer(a, res, out);
	} else if (strcasecmp(sub, "DEL") == 0 && need(r, 3, 3, out)) {
		answer(a, state_user_del(a->st, name), out);
	} else if (strcasecmp(sub, "PASSWD") == 0 && need(r, 4, 4, out)) {
		answer(a, state_user_set_hash(a->st, name, r->argv[3]), out);
	} else if (strcasecmp(sub, "ENABLE") == 0 && need(r, 3, 3, out)) {
		answer(a, state_user_set_enabled(a->st, name, true), out);
	} else if (strcasecmp(sub, "DISABLE") == 0 && need(r, 3, 3, out)) {
		answer(a, state_user_set_enabled(a->st, name, false), out);
	} else if (strcasecmp(sub, "SHOW") == 0 && need(r, 3, 3, out)) {
		(void)fputs("+OK\n", out);
		enum state_lookup res = state_user_show(a->st, name, out);
		if (res != STATE_FOUND) {
			rewind(out);
			answer(a, res, out);
		}
	} else if (ftell(out) == 0) {
		(void)fputs("-ERR [SYNTAX] USER ADD|DEL|PASSWD|ENABLE|DISABLE|SHOW|LIST|FILTER", out);
	}
}

/* Prometheus text exposition: HELP and TYPE for each, names prefixed pop3_. */
static const struct {
	const char *name, *type, *help;
} prom[STATE_METRICS + 1] = {
	{ "pop3_metrics_since_seconds", "gauge", "Unix time the counters started." },
	{ "pop3_sessions_total", "counter", "POP3 sessions started." },
	{ "pop3_sessions", "gauge", "POP3 sessions running now." },
	{ "pop3_logins_total", "counter", "Successful logins." },
	{ "pop3_login_failures_total", "counter", "Failed logins." },
	{ "pop3_messages_retrieved_total", "counter", "Messages sent by RETR." },
	{ "pop3_messages_deleted_total", "counter", "Messages removed at QUIT." },
	{ "pop3_sent_octets_total", "counter", "Octets sent to clients." },
	{ "pop3_admind_uptime_seconds", "gauge", "Seconds since pop3-admind started." },
};

#define PROM_PAGE 4 /* metrics per datagram: 4 * ~130 octets */

static void c_metrics(struct adm *a, struct req *r, FILE *out, time_t now)
{
	long long v[STATE_METRICS + 1];
	bool prometheus = r->argc >= 2 && strcasecmp(r->argv[1], "PROMETHEUS") == 0;
	unsigned long from = 0;

	if (!(r->argc == 1 || (prometheus && r->argc <= 3))) {
		(void)fputs("-ERR [SYNTAX] METRICS [PROMETHEUS [<cursor>]]", out);
		return;
	}
	if (r->argc == 3) {
		char *end;
		from = strtoul(r->argv[2], &end, 10);
		if (*end || from > STATE_METRICS) {
			(void)fputs("-ERR [SYNTAX] bad cursor", out);
			return;
		}
	}
	(void)state_reap(a->st);
	if (!state_metrics_get(a->st, v)) {
		(void)fprintf(out, "-ERR [TEMP] %.200s", a->st->err);
		return;
	}
	v[STATE_METRICS] = (long long)(now - a->started);
	(void)fputs("+OK", out);
	if (!prometheus) {
		for (int i = 0; i < STATE_METRICS; i++)
			(void)fprintf(out, "\n%s=%lld", state_metric_names[i], v[i]);
		(void)fprintf(out, "\nuptime=%lld", v[STATE_METRICS]);
		return;
	}
	unsigned long i = from;
	for (; i <= STATE_METRICS && i < from + PROM_PAGE; i++)
		(void)fprintf(out, "\n# HELP %s %s\n# TYPE %s %s\n%s %lld", prom[i].name, prom[i].help,
			      prom[i].name, prom[i].type, prom[i].name, v[i]);
	if (i <= STATE_METRICS)
		(void)fprintf(out, "\nmore=%lu", i);
}

static void c_logins(struct adm *a, struct req *r, FILE *out)
{
	char last[CONFIG_HASH_MAX] = "";
	bool more = false;

	if (!need(r, 1, 2, out))
		return;
	(void)fputs("+OK", out);
	if (!state_logins_write(a->st, "", r->argc == 2 ? r->argv[1] : NULL, ADM_PAGE_LOGINS, out, &more, last,
				sizeof last)) {
		temp_error(a, out);
		return;
	}
	if (more)
		(void)fprintf(out, "\nmore=%s", last);
}

static void c_who(struct adm *a, struct req *r, FILE *out)
{
	struct config cfg;
	unsigned bad;
	long long after = 0, last = 0;
	bool more = false;

	if (!need(r, 1, 2, out))
		return;
	if (r->argc == 2) {
		char *end;
		after = strtoll(r->argv[1], &end, 10);
		if (*end || after < 0) {
			(void)fputs("-ERR [SYNTAX] bad cursor", out);
			return;
		}
	}
	config_defaults(&cfg);
	(void)state_load_settings(a->st, &cfg, &bad);
	(void)state_reap(a->st);
	(void)fputs("+OK", out);
	if (!state_who_write(a->st, cfg.live_dir, after, ADM_PAGE_WHO, out, &more, &last)) {
		temp_error(a, out);
		return;
	}
	if (more)
		(void)fprintf(out, "\nmore=%lld", last);
}

static void c_config(struct adm *a, struct req *r, FILE *out)
{
	const char *sub = r->argc > 1 ? r->argv[1] : "";

	if (strcasecmp(sub, "GET") == 0 && need(r, 2, 3, out)) {
		/* the values sessions use: the stored ones over the defaults */
		struct config cfg;
		unsigned bad;
		char val[CONFIG_PATH_MAX];
		bool any = false;
		config_defaults(&cfg);
		if (!state_load_settings(a->st, &cfg, &bad)) {
			(void)fprintf(out, "-ERR [TEMP] %.200s", a->st->err);
			return;
		}
		(void)fputs("+OK", out);
		for (size_t i = 0; config_names[i]; i++) {
			if (strcmp(config_names[i], "dummy_hash") == 0 ||
			    (r->argc == 3 && strcmp(config_names[i], r->argv[2]) != 0))
				continue;
			config_get(&cfg, config_names[i], val, sizeof val);
			(void)fprintf(out, "\n%s=%s", config_names[i], val);
			any = true;
		}
		if (!any) {
			rewind(out);
			(void)fputs("-ERR [INVALID] unknown setting", out);
		}
		return;
	}
	if (strcasecmp(sub, "SET") == 0 && r->argc >= 4) {
		struct config scratch;
		const char *why;
		/* the value is the rest of the line: a filter command has arguments */
		const char *value = r->cmd + (r->argv[3] - r->words);
		config_defaults(&scratch);
		if (strcmp(r->argv[2], "dummy_hash") == 0 || !config_set(&scratch, r->argv[2], value, &why)) {
			(void)fprintf(out, "-ERR [INVALID] %s", strcmp(r->argv[2], "dummy_hash") == 0
									 ? "dummy_hash is managed by --init" : why);
			return;
		}
		if (!state_setting_put(a->st, r->argv[2], value))
			(void)fprintf(out, "-ERR [TEMP] %.200s", a->st->err);
		else
			(void)fputs("+OK", out);
		return;
	}
	if (ftell(out) == 0)
		(void)fputs("-ERR [SYNTAX] CONFIG GET [NAME] | CONFIG SET NAME VALUE", out);
}

static void dispatch(struct adm *a, struct req *r, FILE *out, time_t now)
{
	const char *verb = r->argv[0];

	if (strcasecmp(verb, "CAPA") == 0)
		c_capa(a, r, out);
	else if (strcasecmp(verb, "USER") == 0)
		c_user(a, r, out);
	else if (strcasecmp(verb, "METRICS") == 0)
		c_metrics(a, r, out, now);
	else if (strcasecmp(verb, "LOGINS") == 0)
		c_logins(a, r, out);
	else if (strcasecmp(verb, "WHO") == 0)
		c_who(a, r, out);
	else if (strcasecmp(verb, "CONFIG") == 0)
		c_config(a, r, out);
	else
		(void)fputs("-ERR [SYNTAX] unknown command", out);
}

/* ---- the request cycle ---- */

/* Requests that change the state file: their replies are kept by tag. */
static bool is_change(const struct req *r)
{
	static const char *const user_changes[] = { "ADD", "DEL", "PASSWD", "ENABLE", "DISABLE",
						    "FILTER" };

	if (r->argc >= 2 && strcasecmp(r->argv[0], "CONFIG") == 0)
		return strcasecmp(r->argv[1], "SET") == 0;
	if (r->argc >= 2 && strcasecmp(r->argv[0], "USER") == 0)
		for (size_t i = 0; i < sizeof user_changes / sizeof user_changes[0]; i++)
			if (strcasecmp(r->argv[1], user_changes[i]) == 0)
				return true;
	return false;
}

/*
 * Checks that cost time (a hash to verify a hash) run before the change's
 * transaction, so sessions never wait on them.  True when out stays empty.
 */
static bool precheck(const struct req *r, FILE *out)
{
	if (r->argc >= 4 && strcasecmp(r->argv[0], "USER") == 0 &&
	    (strcasecmp(r->argv[1], "ADD") == 0 || strcasecmp(r->argv[1], "PASSWD") == 0))
		return valid_hash(r->argv[3], out);
	return true;
}

/* "PA1 tag mac body": the MAC covers "PA1 tag body". */
static size_t seal(struct adm *a, const char *tag, const char *body, size_t blen, char *reply)
{
	char msg[ADM_REPLY_MAX + 32], mac[HMAC_HEX_LEN + 1];
	int n = snprintf(msg, sizeof msg, ADM_VERSION " %s %.*s", tag, (int)blen, body);

	if (n < 0 || (size_t)n >= sizeof msg || !mac_of(a, msg, (size_t)n, mac))
		return 0;
	n = snprintf(reply, ADM_REPLY_MAX, ADM_VERSION " %s %s %.*s", tag, mac, (int)blen, body);
	return n < 0 || n >= ADM_REPLY_MAX ? 0 : (size_t)n;
}

/* A fixed reply text, its length known at compile time. */
#define seal_text(a, tag, lit, reply) seal((a), (tag), (lit), sizeof(lit) - 1, (reply))

size_t adm_handle(struct adm *a, const char *req, size_t len, time_t now, char *reply)
{
	char buf[ADM_REQ_MAX + 1], copy[ADM_REQ_MAX + 1], msg[ADM_REQ_MAX + 1];
	char mac[HMAC_HEX_LEN + 1], body[ADM_REPLY_MAX];
	struct req r;

	if (len < ADM_REQ_MIN)
		return 0;
	if (len > ADM_REQ_MAX)
		goto unauth;
	if (req[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len; i++)
		if (req[i] < 0x20 || req[i] > 0x7e)
			goto unauth;
	memcpy(buf, req, len);
	buf[len] = '\0';
	if (!parse(buf, &r))
		goto unauth;
	int m = snprintf(msg, sizeof msg, ADM_VERSION " %s %s %s", r.tag, r.stamp, r.cmd);
	if (m < 0 || (size_t)m >= sizeof msg || !mac_of(a, msg, (size_t)m, mac) ||
	    !hmac_equal(mac, r.mac, HMAC_HEX_LEN))
		goto unauth;

	/* authenticated from here on: every answer is sealed */
	char kmac[HMAC_HEX_LEN + 1];
	switch (state_request_kept(a->st, r.tag, now - ADM_KEEP_S, kmac, sizeof kmac, body, sizeof body)) {
	case STATE_FOUND:
		if (!hmac_equal(kmac, r.mac, HMAC_HEX_LEN))
			return seal_text(a, r.tag, "-ERR [TAG] tag reused", reply);
		/* a retry or a replay: answered, not applied again */
		size_t kl = strlen(body);
		memcpy(reply, body, kl);
		return kl;
	case STATE_ERROR:
		return seal_text(a, r.tag, "-ERR [TEMP] the state file cannot be read", reply);
	case STATE_NOT_FOUND:
		break;
	}
	long long stamp = strtoll(r.stamp, NULL, 10);
	if (stamp < (long long)now - ADM_SKEW_S || stamp > (long long)now + ADM_SKEW_S) {
		char t[64];
		int tn = snprintf(t, sizeof t, "-ERR [STALE] clock difference %lld s", stamp - (long long)now);
		return seal(a, r.tag, t, (size_t)tn, reply);
	}
	if (!words(&r, copy, sizeof copy))
		return seal_text(a, r.tag, "-ERR [SYNTAX] too many arguments", reply);

	bool change = is_change(&r);
	FILE *out = fmemopen(body, sizeof body - 100, "w");
	if (!out)
		return seal_text(a, r.tag, "-ERR [TEMP] out of memory", reply);
	bool in_txn = false;
	if (change && precheck(&r, out)) {
		in_txn = state_begin(a->st);
		if (!in_txn)
			(void)fprintf(out, "-ERR [TEMP] %.200s", a->st->err);
	}
	if (!change || in_txn)
		dispatch(a, &r, out, now);
	long blen = ftell(out);
	(void)fclose(out);
	if (blen <= 0) {
		if (in_txn)
			state_rollback(a->st);
		return 0;
	}
	size_t n = seal(a, r.tag, body, (size_t)blen, reply);
	if (!in_txn)
		return n;
	/* keep the reply with the change, in one transaction; a [TEMP] is worth a retry */
	if (n == 0 || strncmp(body, "-ERR [TEMP]", 11) == 0) {
		state_rollback(a->st);
		return n;
	}
	if (!state_request_keep(a->st, r.tag, r.mac, reply, n, now, ADM_KEEP_S) || !state_commit(a->st)) {
		state_rollback(a->st);
		return seal_text(a, r.tag, "-ERR [TEMP] the change could not be committed", reply);
	}
	return n;
unauth:
	memcpy(reply, UNAUTH, strlen(UNAUTH));
	return strlen(UNAUTH);
}
