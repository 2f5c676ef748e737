/*
 * proto.c - the POP3 command table, its handlers, and every reply text.
 *
 * One table maps each verb to its handler and the states it is valid in;
 * proto_run() reads a line, checks it, finds the verb and calls the
 * handler.  Handlers write their own reply with ok()/err() and return what
 * the loop should do next.  All -ERR texts stand together just below.
 */
#include "proto.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "filter.h"
#include "handoff.h"
#include "log.h"
#include "stream.h"

/* ---- every -ERR this server sends ---- */
#define E_UNKNOWN   "-ERR Unknown command"
#define E_TOOLONG   "-ERR Line too long (RFC 2449: 255 octets at most)"
#define E_BADCHARS  "-ERR Command contains NUL or CR"
#define E_SYNTAX    "-ERR Syntax error"
#define E_STATE     "-ERR Command not valid in this state"
#define E_NOMSG     "-ERR No such message"
#define E_DELETED   "-ERR Message already deleted"
#define E_NOUSER    "-ERR Send USER first"
#define E_AUTH      "-ERR [AUTH] Authentication failed"
#define E_ATTEMPTS  "-ERR [AUTH] Too many login attempts on this connection"
#define E_AUTH_TEMP "-ERR [SYS/TEMP] Authentication is unavailable now; try again later"
#define E_INUSE     "-ERR [IN-USE] Maildrop is in use by another session"
#define E_MD_TEMP   "-ERR [SYS/TEMP] Cannot open the maildrop; try again later"
#define E_MSG_TEMP  "-ERR [SYS/TEMP] Message is no longer available"
#define E_FILTER    "-ERR [SYS/TEMP] The message filter failed; try again later"
#define E_APOP      "-ERR APOP is not supported; use USER/PASS or AUTH PLAIN"
#define E_LAST      "-ERR LAST is not supported (removed in RFC 1939); use UIDL"
#define E_STLS      "-ERR STLS is not available: no certificate is configured"
#define E_STLS_ON   "-ERR TLS is already active"
#define E_STLS_TEMP "-ERR [SYS/TEMP] TLS is unavailable now; try again later"
#define E_PLAINTEXT "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS"
#define E_MECH      "-ERR Unsupported SASL mechanism"
#define E_CANCEL    "-ERR Authentication cancelled"
#define E_SASL      "-ERR [AUTH] Malformed SASL response"
#define E_TIMEOUT   "-ERR Autologout: idle for too long"
#define E_UPDATE    "-ERR [SYS/TEMP] %zu of %zu deleted messages could not be removed"

enum result {
	R_NEXT,  /* read the next command */
	R_CLOSE, /* end the session now (outcome already set) */
};

/* ---- replies ---- */

static bool line(struct session *s, const char *text)
{
	return iobuf_puts(&s->io, text) && iobuf_put(&s->io, "\r\n", 2);
}

static enum result write_failed(struct session *s)
{
	s->outcome = OUT_WRITE_ERROR;
	return R_CLOSE;
}

static enum result reply(struct session *s, const char *text)
{
	return line(s, text) ? R_NEXT : write_failed(s);
}

/* "+OK " then n1 [sep n2] [tail]: the numeric replies of STAT, LIST, ... */
static enum result reply_nums(struct session *s, const char *head, uint64_t n1, const char *sep,
			      uint64_t n2, const char *tail)
{
	bool ok = iobuf_puts(&s->io, head) && iobuf_put_u64(&s->io, n1);
	if (ok && sep)
		ok = iobuf_puts(&s->io, sep) && iobuf_put_u64(&s->io, n2);
	if (ok && tail)
		ok = iobuf_puts(&s->io, tail);
	return ok ? reply(s, "") : write_failed(s);
}

/* ---- arguments ---- */

/* Split off the next space-separated word of *rest, NUL-terminated. */
static char *next_arg(char **rest)
{
	char *p = *rest, *start;

	while (*p == ' ')
		p++;
	if (*p == '\0') {
		*rest = p;
		return NULL;
	}
	start = p;
	while (*p && *p != ' ')
		p++;
	if (*p)
		*p++ = '\0';
	*rest = p;
	return start;
}

static bool no_more_args(char **rest)
{
	return next_arg(rest) == NULL;
}

/*
 * Strict decimal: digits only, nothing else, no overflow.  "4294967297"
 * stays 4294967297 (and is then no such message) instead of wrapping to 1.
 */
static bool parse_u64(const char *a, uint64_t *v)
{
	uint64_t n = 0;

	if (!a || *a == '\0')
		return false;
	for (; *a; a++) {
		if (*a < '0' || *a > '9')
			return false;
		uint64_t d = (uint64_t)(*a - '0');
		if (n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*v = n;
	return true;
}

/* A message-number argument: valid, existing and not deleted.  0-based in *idx. */
static bool msg_arg(struct session *s, const char *a, size_t *idx, enum result *r)
{
	uint64_t n;

	if (!parse_u64(a, &n)) {
		*r = reply(s, E_SYNTAX);
		return false;
	}
	if (n < 1 || n > s->md.count) {
		*r = reply(s, E_NOMSG);
		return false;
	}
	if (s->md.msgs[n - 1].deleted) {
		*r = reply(s, E_DELETED);
		return false;
	}
	*idx = (size_t)(n - 1);
	return true;
}

/* ---- AUTHORIZATION ---- */

static void auth_delay(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Every failed authentication, whatever its form, ends here: it is counted,
 * logged, delayed, answered, and the third one closes the connection.
 */
static enum result auth_failed(struct session *s, const char *user, const char *why,
			       const char *answer)
{
	char safe[3 * POP3_USER_MAX + 8];

	s->delta.logins_failed++;
	s->auth_failures++;
	/* a stable line for fail2ban-style matching; the name is the client's, so escaped */
	log_escape(safe, sizeof safe, user);
	log_warn("auth failed user=%s peer=%s reason=%s", safe, s->peer, why);
	auth_delay(s->cfg.auth_delay_ms);
	if (reply(s, answer) == R_CLOSE)
		return R_CLOSE;
	if (s->auth_failures >= POP3_AUTH_MAX_FAILURES) {
		s->outcome = OUT_AUTH_LIMIT;
		return R_CLOSE;
	}
	return R_NEXT;
}

static bool maildir_path(struct session *s, const struct state_user *u, char *buf, size_t cap)
{
	int n = u->maildir[0] ? snprintf(buf, cap, "%s", u->maildir)
			      : snprintf(buf, cap, "%s/%s", s->cfg.maildir_root, s->user);
	return n > 0 && (size_t)n < cap;
}

static enum result open_maildrop(struct session *s, const struct state_user *u)
{
	char path[CONFIG_PATH_MAX + POP3_USER_MAX + 2];

	if (!maildir_path(s, u, path, sizeof path)) {
		log_err("maildir path too long user=%s", s->user);
		return reply(s, E_MD_TEMP);
	}
	switch (maildrop_open(&s->md, path)) {
	case MD_INUSE:
		log_info("maildrop in use user=%s peer=%s", s->user, s->peer);
		return reply(s, E_INUSE);
	case MD_FAIL:
		log_err("cannot open maildrop user=%s path=%s: %s", s->user, path, strerror(errno));
		return reply(s, E_MD_TEMP);
	case MD_OK:
		break;
	}
	if (s->md.cache_write_failed)
		log_warn("cannot update size cache path=%s", path);
	if (s->md.sizes_computed > 0)
		log_debug("sized %zu messages by reading them user=%s", s->md.sizes_computed, s->user);
	/*
	 * Nothing needs the state file until the session ends: close it, so a
	 * session idling in TRANSACTION keeps no SQLite memory (about 50 KiB).
	 */
	state_idle(&s->state);
	if (!livefile_create(&s->live, s->cfg.live_dir, getpid(), s->user))
		log_debug("no live status file in %s: %s", s->cfg.live_dir, strerror(errno));
	s->phase = PHASE_TRANSACTION;
	s->logged_in = true;
	s->delta.logins_ok++;
	return reply_nums(s, "+OK Logged in, ", s->md.live_count, " messages (", s->md.live_size,
			  " octets)");
}

/* Check a name and password; on success open the maildrop.  Wipes pass. */
/* The user's own filter setting wins over the global one; "off" means none. */
static void choose_filter(struct session *s, const struct state_user *u)
{
	const char *cmd = "";

	if (u->has_filter)
		cmd = strcmp(u->filter, "off") == 0 ? "" : u->filter;
	else if (s->cfg.filter)
		cmd = s->cfg.filter_command;
	memcpy(s->filter, cmd, strlen(cmd) + 1); /* both are CONFIG_PATH_MAX arrays */
}

static enum result login(struct session *s, const char *user, char *pass)
{
	struct state_user u;
	enum state_lookup found = STATE_ERROR;
	bool valid = auth_valid_username(user);
	enum result r;

	memset(&u, 0, sizeof u);
	if (++s->auth_attempts > POP3_AUTH_MAX_ATTEMPTS) {
		explicit_bzero(pass, strlen(pass));
		log_warn("too many login attempts peer=%s", s->peer);
		s->outcome = OUT_AUTH_LIMIT;
		(void)reply(s, E_ATTEMPTS);
		return R_CLOSE;
	}
	if (valid && s->state_ok)
		found = state_user_get(&s->state, user, &u);
	if (found == STATE_ERROR && valid) {
		explicit_bzero(pass, strlen(pass));
		log_err("cannot look up user=%s: %s", user,
			s->state_ok ? s->state.err : "state file unavailable");
		return reply(s, E_AUTH_TEMP);
	}
	bool usable = found == STATE_FOUND && u.enabled;
	bool ok = auth_verify(usable ? u.hash : NULL, s->cfg.dummy_hash, pass);
	explicit_bzero(pass, strlen(pass));
	explicit_bzero(u.hash, sizeof u.hash);
	if (!ok) {
		const char *why = !valid ? "bad-name"
				: found == STATE_NOT_FOUND ? "unknown-user"
				: !u.enabled ? "disabled" : "bad-password";
		return auth_failed(s, user, why, E_AUTH);
	}
	if (user != s->user) {
		size_t n = strlen(user);
		memcpy(s->user, user, n + 1); /* valid names fit: POP3_USER_MAX */
	}
	s->have_user = true;
	r = open_maildrop(s, &u);
	if (s->phase != PHASE_TRANSACTION)
		s->have_user = false;
	else
		choose_filter(s, &u);
	return r;
}

/* plaintext_auth: a password may cross this connection now. */
static bool password_allowed(const struct session *s)
{
	if (s->tls.active)
		return true;
	switch (s->cfg.plaintext_auth) {
	case PLAINTEXT_YES: return true;
	case PLAINTEXT_NO: return false;
	case PLAINTEXT_LOCAL: return s->peer_local;
	}
	return false;
}

static enum result cmd_user(struct session *s, char *args)
{
	char *name = next_arg(&args);

	if (!name || !no_more_args(&args))
		return reply(s, E_SYNTAX);
	/* refused at USER, so that a client never sends the password */
	if (!password_allowed(s))
		return reply(s, E_PLAINTEXT);
	size_t n = strlen(name);
	if (n > POP3_USER_MAX + 1)
		n = POP3_USER_MAX + 1; /* still too long: fails at PASS, like any unknown name */
	memcpy(s->user, name, n);
	s->user[n] = '\0';
	s->have_user = true;
	/* the same answer for every name: USER reveals nobody's existence */
	return reply(s, "+OK Send PASS");
}

static enum result cmd_pass(struct session *s, char *args)
{
	if (!s->have_user)
		return reply(s, E_NOUSER);
	s->have_user = false;
	/* the password is the rest of the line, spaces included */
	return login(s, s->user, args);
}

static enum result sasl_plain(struct session *s, char *response)
{
	char buf[POP3_SASL_MAX];
	const char *user, *pass;
	enum result r;

	if (strcmp(response, "*") == 0)
		return reply(s, E_CANCEL);
	if (!auth_plain_decode(response, buf, sizeof buf, &user, &pass)) {
		explicit_bzero(buf, sizeof buf);
		explicit_bzero(response, strlen(response));
		return auth_failed(s, "?", "bad-sasl", E_SASL);
	}
	explicit_bzero(response, strlen(response));
	r = login(s, user, (char *)(uintptr_t)pass);
	explicit_bzero(buf, sizeof buf);
	return r;
}

static enum result cmd_auth(struct session *s, char *args)
{
	char *mech = next_arg(&args);
	char *initial = next_arg(&args);
	char *line;
	size_t len;

	/* a bare AUTH lists the mechanisms, as mutt expects */
	if (!mech)
		return reply(s, password_allowed(s) ? "+OK Mechanisms follow\r\nPLAIN\r\n."
						    : "+OK Mechanisms follow\r\n.");
	if (strcasecmp(mech, "PLAIN") != 0)
		return reply(s, E_MECH);
	if (!password_allowed(s))
		return reply(s, E_PLAINTEXT);
	if (!no_more_args(&args))
		return reply(s, E_SYNTAX);
	if (initial)
		/* RFC 5034: "=" is an empty initial response */
		return sasl_plain(s, strcmp(initial, "=") == 0 ? (char[]){ "" } : initial);

	if (reply(s, "+ ") == R_CLOSE)
		return R_CLOSE;
	switch (iobuf_getline(&s->io, POP3_SASL_MAX, &line, &len)) {
	case IO_OK:
		break;
	case IO_TOOLONG:
		return auth_failed(s, "?", "bad-sasl", E_SASL);
	case IO_TIMEOUT:
		s->outcome = OUT_TIMEOUT;
		(void)reply(s, E_TIMEOUT);
		return R_CLOSE;
	case IO_EOF:
	case IO_ERROR:
		s->outcome = OUT_DISCONNECT;
		return R_CLOSE;
	}
	if (strlen(line) != len) {
		explicit_bzero(line, len);
		return auth_failed(s, "?", "bad-sasl", E_SASL);
	}
	return sasl_plain(s, line);
}

static enum result cmd_apop(struct session *s, char *args)
{
	(void)args;
	return reply(s, E_APOP);
}

static int tls_handshake_ms(const struct session *s)
{
	unsigned t = s->cfg.idle_timeout < POP3_TLS_HANDSHAKE_S ? s->cfg.idle_timeout
								 : POP3_TLS_HANDSHAKE_S;
	return (int)t * 1000;
}

bool proto_tls_first(struct session *s)
{
	char why[320];

	if (!s->tls_configured) {
		log_err("implicit TLS without a certificate: give --tls-cert and --tls-key,"
			" POP3_TLS_CERT and POP3_TLS_KEY, or credentials tls.crt and tls.key");
		s->outcome = OUT_SERVER_ERROR;
		return false;
	}
	if (!tls_prepare(&s->tls, &s->tls_files, why, sizeof why)) {
		log_err("cannot start TLS peer=%s: %s", s->peer, why);
		s->outcome = OUT_SERVER_ERROR;
		return false;
	}
	if (!tls_handshake(&s->tls, s->io.in_fd, s->io.out_fd, tls_handshake_ms(s), why, sizeof why)) {
		log_warn("tls handshake failed peer=%s: %s", s->peer, why);
		s->outcome = OUT_TLS_ERROR;
		return false;
	}
	s->io.tls = &s->tls;
	return true;
}

/*
 * RFC 2595 section 4, in the binary that has TLS.  The certificate is
 * loaded only now, so a broken key only costs STLS its -ERR.
 */
static enum result start_tls(struct session *s)
{
	char why[320];

	if (!tls_prepare(&s->tls, &s->tls_files, why, sizeof why)) {
		log_err("cannot start TLS peer=%s: %s", s->peer, why);
		return reply(s, E_STLS_TEMP);
	}
	if (reply(s, "+OK Begin TLS negotiation") == R_CLOSE || !iobuf_flush(&s->io))
		return write_failed(s);
	if (!tls_handshake(&s->tls, s->io.in_fd, s->io.out_fd, tls_handshake_ms(s), why,
			   sizeof why)) {
		log_warn("tls handshake failed peer=%s: %s", s->peer, why);
		s->outcome = OUT_TLS_ERROR;
		return R_CLOSE;
	}
	s->io.tls = &s->tls;
	/* a USER before STLS does not carry over into the secured session */
	s->have_user = false;
	return R_NEXT;
}

bool proto_stls_resumed(struct session *s)
{
	return start_tls(s) == R_NEXT;
}

static enum result cmd_stls(struct session *s, char *args)
{
	struct handoff h;
	size_t dropped;

	if (!no_more_args(&args))
		return reply(s, E_SYNTAX);
	if (s->tls.active)
		return reply(s, E_STLS_ON);
	if (!s->tls_configured)
		return reply(s, E_STLS);
	/*
	 * A client must wait for the answer to STLS (RFC 2595 section 4):
	 * whatever it sent behind it is dropped, never run inside TLS (the
	 * CVE-2011-0411 class), whether TLS then starts or not.
	 */
	if (!iobuf_flush(&s->io))
		return write_failed(s);
	dropped = iobuf_discard_input(&s->io);
	if (dropped > 0)
		log_warn("input after STLS discarded octets=%zu peer=%s", dropped, s->peer);
	if (tls_linked())
		return start_tls(s);
	/* this binary has no OpenSSL: pop3-session-tls answers the STLS */
	h = (struct handoff){
		.attempts = s->auth_attempts, .failures = s->auth_failures,
		.logins_failed = s->delta.logins_failed, .counted_start = s->delta.counted_start,
		.t0 = s->t0,
	};
	handoff_exec(s->argc, s->argv, &h);
	log_err("cannot start %s for STLS peer=%s: %s", HANDOFF_TLS_PROGRAM, s->peer, strerror(errno));
	return reply(s, E_STLS_TEMP);
}

/* ---- both states ---- */

/*
 * RFC 2449 CAPA, RFC 2595 STLS: what is offered depends on the state.
 * Password logins are listed only where plaintext_auth allows them (or
 * inside TLS); STLS with a certificate, outside TLS, in both states, as
 * RFC 2449 section 5 asks of what the AUTHORIZATION state offers.
 */
static enum result cmd_capa(struct session *s, char *args)
{
	bool ok = true;

	if (!no_more_args(&args))
		return reply(s, E_SYNTAX);
	ok = iobuf_puts(&s->io, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n");
	if (ok && password_allowed(s))
		ok = iobuf_puts(&s->io, "USER\r\nSASL PLAIN\r\n");
	if (ok && s->tls_configured && !s->tls.active)
		ok = iobuf_puts(&s->io, "STLS\r\n");
	if (ok)
		ok = iobuf_puts(&s->io, "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
				       "IMPLEMENTATION pop3-session\r\n.\r\n");
	return ok ? R_NEXT : write_failed(s);
}

static enum result cmd_quit(struct session *s, char *args)
{
	size_t removed, failed;
	char msg[128];

	(void)args;
	if (s->phase == PHASE_AUTHORIZATION) {
		s->outcome = OUT_QUIT;
		(void)reply(s, "+OK Bye");
		return R_CLOSE;
	}
	/* RFC 1939 section 6: only now, in UPDATE, do deletions happen */
	s->phase = PHASE_UPDATE;
	failed = maildrop_commit(&s->md, &removed);
	s->delta.deleted = removed;
	/* release the lock before answering: a client that logs in again at once finds it free */
	maildrop_close(&s->md);
	if (failed > 0) {
		log_err("cannot remove deleted messages user=%s count=%zu", s->user, failed);
		s->outcome = OUT_QUIT_PARTIAL;
		(void)snprintf(msg, sizeof msg, E_UPDATE, failed, failed + removed);
		(void)reply(s, msg);
		return R_CLOSE;
	}
	s->outcome = OUT_QUIT;
	(void)reply_nums(s, "+OK Bye, ", removed, NULL, 0, " deleted");
	return R_CLOSE;
}

/* ---- TRANSACTION ---- */

static enum result cmd_stat(struct session *s, char *args)
{
	if (!no_more_args(&args))
		return reply(s, E_SYNTAX);
	return reply_nums(s, "+OK ", s->md.live_count, " ", s->md.live_size, NULL);
}

static enum result cmd_list(struct session *s, char *args)
{
	char *a = next_arg(&args);
	size_t i;
	enum result r;

	if (!no_more_args(&args))
		return reply(s, E_SYNTAX);
	if (a) {
		if (!msg_arg(s, a, &i, &r))
			return r;
		return reply_nums(s, "+OK ", i + 1, " ", s->md.msgs[i].size, NULL);
	}
	if (reply_nums(s, "+OK ", s->md.live_count, " messages (", s->md.live_size, " octets)") ==
	    R_CLOSE)
		return R_CLOSE;
	for (i = 0; i < s->md.count; i++) {
		if (s->md.msgs[i].deleted)
			continue;
		if (!iobuf_put_u64(&s->io, i + 1) || !iobuf_put(&s->io, " ", 1) ||
		    !iobuf_put_u64(&s->io, s->md.msgs[i].size) || !iobuf_put(&s->io, "\r\n", 2)) {
			return write_failed(s);
		}
	}
	return reply(s, ".");
}

static enum result cmd_uidl(struct session *s, char *args)
{
	char *a = next_arg(&args);
	char uidl[POP3_UIDL_MAX + 1];
	size_t i;
	enum result r;

	if (!no_more_args(&args))
		return reply(s, E_SYNTAX);
	if (a) {
		if (!msg_arg(s, a, &i, &r))
			return r;
		(void)maildrop_uidl(&s->md, i, uidl);
		if (!iobuf_puts(&s->io, "+OK ") || !iobuf_put_u64(&s->io, i + 1) ||
		    !iobuf_put(&s->io, " ", 1))
			return write_failed(s);
		return reply(s, uidl);
	}
	if (reply(s, "+OK Unique-ID listing follows") == R_CLOSE)
		return R_CLOSE;
	for (i = 0; i < s->md.count; i++) {
		if (s->md.msgs[i].deleted)
			continue;
		size_t n = maildrop_uidl(&s->md, i, uidl);
		if (!iobuf_put_u64(&s->io, i + 1) || !iobuf_put(&s->io, " ", 1) ||
		    !iobuf_put(&s->io, uidl, n) || !iobuf_put(&s->io, "\r\n", 2)) {
			return write_failed(s);
		}
	}
	return reply(s, ".");
}

/* After a failed message: the client went away, or the session must end now. */
static enum result aborted(struct session *s, size_t i, const char *why)
{
	if (s->io.out_failed) {
		s->outcome = OUT_WRITE_ERROR;
	} else {
		log_err("message failed while being sent, closing user=%s msg=%zu: %s", s->user, i + 1, why);
		s->outcome = OUT_SERVER_ERROR;
	}
	return R_CLOSE;
}

static void sent(struct session *s, uint64_t before, bool top)
{
	s->retr_octets += s->io.octets_out + s->io.out_len - before;
	livefile_update(&s->live, s->io.octets_out + s->io.out_len);
	if (!top)
		s->delta.retrieved++;
}

static enum result send_filtered(struct session *s, size_t i, int fd, bool top, uint64_t lines)
{
	char uidl[POP3_UIDL_MAX + 1], why[256];
	uint64_t before = s->io.octets_out + s->io.out_len;
	size_t n = maildrop_uidl(&s->md, i, uidl);
	struct filter_job job = {
		.command = s->filter, .user = s->user, .msgno = i + 1, .uidl = uidl,
		.size = s->md.msgs[i].size, .top = top, .body_lines = lines,
		.timeout_s = s->cfg.filter_timeout, .max_octets = s->cfg.filter_max_octets,
	};

	uidl[n] = '\0';
	switch (filter_message(&s->io, fd, &job, why, sizeof why)) {
	case STREAM_OK:
		sent(s, before, top);
		return R_NEXT;
	case STREAM_EARLY_FAIL:
		if (s->io.out_failed)
			return write_failed(s);
		log_warn("filter failed user=%s msg=%zu %s", s->user, i + 1, why);
		return reply(s, E_FILTER);
	case STREAM_ABORTED:
		break;
	}
	if (s->io.out_failed)
		return write_failed(s);
	/* "+OK" and part of the message are out: only closing tells the client */
	log_warn("filter failed user=%s msg=%zu %s; closing without the terminator", s->user, i + 1,
		 why);
	s->outcome = OUT_SERVER_ERROR;
	return R_CLOSE;
}

static enum result send_msg(struct session *s, size_t i, bool top, uint64_t lines)
{
	char status[64];
	int fd = maildrop_open_msg(&s->md, i);
	uint64_t before = s->io.octets_out + s->io.out_len;

	if (fd < 0) {
		log_err("cannot open message user=%s msg=%zu path=%s: %s", s->user, i + 1,
			s->md.msgs[i].path, strerror(errno));
		return reply(s, E_MSG_TEMP);
	}
	if (s->filter[0])
		return send_filtered(s, i, fd, top, lines);
	if (top)
		memcpy(status, "+OK\r\n", sizeof "+OK\r\n");
	else
		(void)snprintf(status, sizeof status, "+OK %llu octets\r\n",
			       (unsigned long long)s->md.msgs[i].size);
	switch (stream_message(&s->io, fd, status, top, lines)) {
	case STREAM_OK:
		sent(s, before, top);
		return R_NEXT;
	case STREAM_EARLY_FAIL:
		log_err("cannot read message user=%s msg=%zu path=%s", s->user, i + 1, s->md.msgs[i].path);
		return reply(s, E_MSG_TEMP);
	case STREAM_ABORTED:
		break;
	}
	return aborted(s, i, "the message became unreadable");
}

static enum result cmd_retr(struct session *s, char *args)
{
	char *a = next_arg(&args);
	size_t i;
	enum result r;

	if (!a || !no_more_args(&args))
		return reply(s, E_SYNTAX);
	if (!msg_arg(s, a, &i, &r))
		return r;
	return send_msg(s, i, false, 0);
}

static enum result cmd_top(struct session *s, char *args)
{
	char *a = next_arg(&args), *b = next_arg(&args);
	uint64_t lines;
	size_t i;
	enum result r;

	if (!a || !b || !no_more_args(&args) || !parse_u64(b, &lines))
		return reply(s, E_SYNTAX);
	if (!msg_arg(s, a, &i, &r))
		return r;
	return send_msg(s, i, true, lines);
}

static enum result cmd_dele(struct session *s, char *args)
{
	char *a = next_arg(&args);
	size_t i;
	enum result r;

	if (!a || !no_more_args(&args))
		return reply(s, E_SYNTAX);
	if (!msg_arg(s, a, &i, &r))
		return r;
	maildrop_mark_deleted(&s->md, i);
	return reply_nums(s, "+OK Message ", i + 1, NULL, 0, " deleted");
}

static enum result cmd_noop(struct session *s, char *args)
{
	if (!no_more_args(&args))
		return reply(s, E_SYNTAX);
	return reply(s, "+OK");
}

static enum result cmd_rset(struct session *s, char *args)
{
	if (!no_more_args(&args))
		return reply(s, E_SYNTAX);
	maildrop_unmark_all(&s->md);
	return reply_nums(s, "+OK ", s->md.live_count, " messages (", s->md.live_size, " octets)");
}

static enum result cmd_last(struct session *s, char *args)
{
	(void)args;
	return reply(s, E_LAST);
}

/* ---- the command table ---- */

#define IN_AUTH  (1u << PHASE_AUTHORIZATION)
#define IN_TRANS (1u << PHASE_TRANSACTION)

static const struct command {
	const char *verb;
	unsigned phases;
	enum result (*handler)(struct session *, char *);
} commands[] = {
	{ "USER", IN_AUTH, cmd_user },
	{ "PASS", IN_AUTH, cmd_pass },
	{ "AUTH", IN_AUTH, cmd_auth },
	{ "APOP", IN_AUTH, cmd_apop },
	{ "STLS", IN_AUTH, cmd_stls },
	{ "CAPA", IN_AUTH | IN_TRANS, cmd_capa },
	{ "QUIT", IN_AUTH | IN_TRANS, cmd_quit },
	{ "STAT", IN_TRANS, cmd_stat },
	{ "LIST", IN_TRANS, cmd_list },
	{ "RETR", IN_TRANS, cmd_retr },
	{ "DELE", IN_TRANS, cmd_dele },
	{ "NOOP", IN_TRANS, cmd_noop },
	{ "RSET", IN_TRANS, cmd_rset },
	{ "TOP", IN_TRANS, cmd_top },
	{ "UIDL", IN_TRANS, cmd_uidl },
	{ "LAST", IN_TRANS, cmd_last },
};

static enum result dispatch(struct session *s, char *cmd, size_t len)
{
	char *args;

	if (strlen(cmd) != len || memchr(cmd, '\r', len))
		return reply(s, E_BADCHARS);
	args = cmd;
	char *verb = next_arg(&args);
	if (!verb)
		return reply(s, E_UNKNOWN);
	/* args is the rest after one space: PASS keeps it whole, spaces and all */
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcasecmp(verb, commands[i].verb) != 0)
			continue;
		if (!(commands[i].phases & (1u << s->phase)))
			return reply(s, E_STATE);
		return commands[i].handler(s, args);
	}
	return reply(s, E_UNKNOWN);
}

void proto_run(struct session *s)
{
	char *cmd;
	size_t len;

	while (s->outcome == OUT_NONE) {
		enum io_status st = iobuf_getline(&s->io, POP3_CMD_MAX, &cmd, &len);
		enum result r = R_NEXT;

		switch (st) {
		case IO_OK:
			/* handlers wipe the secrets they read; iobuf wipes consumed input */
			r = dispatch(s, cmd, len);
			break;
		case IO_TOOLONG:
			r = reply(s, E_TOOLONG);
			break;
		case IO_TIMEOUT:
			s->outcome = OUT_TIMEOUT;
			(void)reply(s, E_TIMEOUT);
			break;
		case IO_EOF:
		case IO_ERROR:
			s->outcome = OUT_DISCONNECT;
			break;
		}
		if (r == R_CLOSE && s->outcome == OUT_NONE)
			s->outcome = OUT_WRITE_ERROR;
	}
	(void)iobuf_flush(&s->io);
}

const char *proto_outcome_name(enum outcome o)
{
	switch (o) {
	case OUT_NONE: return "running";
	case OUT_QUIT: return "quit";
	case OUT_QUIT_PARTIAL: return "quit-partial";
	case OUT_DISCONNECT: return "disconnect";
	case OUT_TIMEOUT: return "timeout";
	case OUT_AUTH_LIMIT: return "auth-limit";
	case OUT_WRITE_ERROR: return "write-error";
	case OUT_SERVER_ERROR: return "server-error";
	case OUT_TLS_ERROR: return "tls-error";
	}
	return "unknown";
}
