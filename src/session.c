/*
 * session.c - pop3-session: one POP3 session on stdin/stdout.
 *
 * Started once per connection by systemd (Accept=yes), inetd, tcpserver or
 * a shell pipe.  main() prepares the connection, greets the client before
 * doing anything that can wait, counts the session in the state file,
 * hands over to the protocol, and writes one log line at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "handoff.h"
#include "log.h"
#include "proto.h"
#include "sqlmem.h"

/* Exit statuses, as in every program of this project (see the man pages). */
enum {
	EXIT_OK = 0,        /* the client said QUIT */
	EXIT_CLIENT = 1,    /* the client left, timed out or failed to log in */
	EXIT_USAGE = 100,   /* bad command line */
	EXIT_CONFIG = 102,  /* refused to run: root, or an invalid setting */
	EXIT_TEMP = 111,    /* a server-side failure ended the session */
};

#define OVERRIDES_MAX 8

struct options {
	const char *state;
	const char *tls_cert, *tls_key;
	bool implicit_tls;
	const char *resume_stls; /* set by pop3-session's STLS hand-off only */
	struct { const char *name; const char *value; } set[OVERRIDES_MAX];
	size_t nset;
};

static void usage(FILE *to)
{
	(void)fprintf(to,
		"Usage: pop3-session [OPTION]...\n"
		"Serve one POP3 session on standard input and output.\n\n"
		"  --state PATH        state file (default $POP3_STATE, else %s)\n"
		"  --maildir-root DIR  maildir root, overriding the state file's setting\n"
		"  --timeout SECONDS   idle timeout (autologout), default %d\n"
		"  --auth-delay MS     delay before a failed login is answered, default %d\n"
		"  --log-level LEVEL   err, warning, info or debug\n"
		"  --tls-cert FILE     PEM certificate chain for STLS and --implicit-tls\n"
		"                      (default $POP3_TLS_CERT, else $CREDENTIALS_DIRECTORY/tls.crt)\n"
		"  --tls-key FILE      PEM private key (default $POP3_TLS_KEY, else\n"
		"                      $CREDENTIALS_DIRECTORY/tls.key)\n"
		"  --implicit-tls      TLS handshake before the greeting (port 995, RFC 8314)\n"
		"  --help              this text\n\n"
		"Exit status: 0 after QUIT, 1 when the client left or failed, 100 usage,\n"
		"102 refused to run (as root, invalid option value), 111 server failure.\n",
		STATE_DEFAULT_PATH, POP3_IDLE_TIMEOUT_DEFAULT, POP3_AUTH_DELAY_DEFAULT_MS);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "maildir-root", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "auth-delay", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "implicit-tls", no_argument, NULL, 'i' },
		{ "resume-stls", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *name = NULL;
		switch (c) {
		case 's': o->state = optarg; continue;
		case 'c': o->tls_cert = optarg; continue;
		case 'k': o->tls_key = optarg; continue;
		case 'i': o->implicit_tls = true; continue;
		case 'r': o->resume_stls = optarg; continue;
		case 'm': name = "maildir_root"; break;
		case 't': name = "idle_timeout"; break;
		case 'd': name = "auth_delay_ms"; break;
		case 'l': name = "log_level"; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		default: return EXIT_USAGE;
		}
		if (o->nset == OVERRIDES_MAX)
			return EXIT_USAGE;
		o->set[o->nset].name = name;
		o->set[o->nset].value = optarg;
		o->nset++;
	}
	return optind == argc ? EXIT_OK : EXIT_USAGE;
}

/* Command-line values win over the state file: apply them last. */
static bool apply_overrides(struct config *cfg, const struct options *o)
{
	for (size_t i = 0; i < o->nset; i++) {
		const char *why;
		if (!config_set(cfg, o->set[i].name, o->set[i].value, &why)) {
			log_err("invalid option value for %s: %s", o->set[i].name, why);
			return false;
		}
	}
	return true;
}

/* Only printable, space-free octets from the environment reach the log. */
static bool copy_addr(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (src[i] <= 0x20 || src[i] >= 0x7f)
			return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* A socket address as text; a v4-mapped IPv6 address is an IPv4 client: as one. */
static bool addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		return inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)cap) != NULL;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, (socklen_t)cap) != NULL;
		return inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)cap) != NULL;
	}
	return false;
}

/*
 * Who the client is, from one getpeername(2): the address for the log
 * (REMOTE_ADDR or TCPREMOTEIP, when a super-server set one, else the
 * kernel's; "local" on a pipe), and whether plaintext_auth=local trusts it.
 *
 * Trusted: a pipe, the loopback addresses 127.0.0.1 and ::1, or a peer
 * whose address is the one it connected to (the same machine).  127.0.0.2
 * connecting to 127.0.0.1 is not: the rule is about addresses, not about
 * the lo interface.  The kernel's addresses decide, never the environment:
 * a variable left in a super-server's own environment must not make every
 * client local.  A socket without a peer (reset already) is not local.
 */
static void identify_peer(struct session *s)
{
	static const char *const vars[] = { "REMOTE_ADDR", "TCPREMOTEIP" };
	struct sockaddr_storage peer, self;
	socklen_t plen = sizeof peer, slen = sizeof self;
	char kernel[64] = "local", l[64];
	bool named = false;

	for (size_t i = 0; i < 2 && !named; i++) {
		const char *v = getenv(vars[i]);
		if (v && strncasecmp(v, "::ffff:", 7) == 0 && strchr(v, '.'))
			v += 7;
		named = v && copy_addr(s->peer, sizeof s->peer, v);
	}
	if (getpeername(STDIN_FILENO, (struct sockaddr *)&peer, &plen) != 0) {
		s->peer_local = errno == ENOTSOCK;
	} else if (peer.ss_family == AF_UNIX) {
		s->peer_local = true;
	} else if (!addr_text(&peer, kernel, sizeof kernel)) {
		memcpy(kernel, "local", sizeof "local");
		s->peer_local = false;
	} else {
		s->peer_local = strcmp(kernel, "127.0.0.1") == 0 || strcmp(kernel, "::1") == 0 ||
				(getsockname(STDIN_FILENO, (struct sockaddr *)&self, &slen) == 0 &&
				 addr_text(&self, l, sizeof l) && strcmp(kernel, l) == 0);
	}
	if (!named)
		memcpy(s->peer, kernel, strlen(kernel) + 1); /* both are 64 octets */
}

/*
 * On a TCP connection: no Nagle delay (a multi-line reply written in pieces
 * would otherwise wait 40 ms for a delayed ACK), and a bound on how long a
 * write may block on a client that stopped reading.  On a pipe both calls
 * fail with ENOTSOCK, which is fine.
 */
/*
 * A pipe has no SO_SNDTIMEO: make our end non-blocking so that iobuf waits
 * for room in poll() with the timeout, instead of blocking for ever on a
 * reader that stopped reading.  Only a FIFO, which nobody else writes.
 */
static void bound_pipe_writes(struct iobuf *io)
{
	struct stat st;
	int fl;

	if (fstat(STDOUT_FILENO, &st) != 0 || !S_ISFIFO(st.st_mode))
		return;
	fl = fcntl(STDOUT_FILENO, F_GETFL);
	if (fl >= 0 && fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) == 0)
		io->out_nonblock = true;
}

static void tune_socket(unsigned timeout_s)
{
	int one = 1;
	struct timeval tv = { .tv_sec = (time_t)timeout_s, .tv_usec = 0 };

	if (setsockopt(STDOUT_FILENO, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 &&
	    errno != ENOTSOCK && errno != EOPNOTSUPP && errno != ENOPROTOOPT)
		log_debug("TCP_NODELAY: %s", strerror(errno));
	if (setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 &&
	    errno != ENOTSOCK)
		log_debug("SO_SNDTIMEO: %s", strerror(errno));
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t1;

	if (clock_gettime(CLOCK_MONOTONIC, &t1) != 0)
		return 0;
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * Open the state file and read the settings; count the session as started
 * unless pop3-session did before it handed the session over (STLS).
 */
static void count_start(struct session *s, const char *state_file)
{
	unsigned bad = 0;
	bool ok;

	s->state_file = state_file;
	s->state_ok = state_open(&s->state, state_file, false);
	if (!s->state_ok) {
		log_warn("state file unavailable, logins will fail: %s", s->state.err);
		return;
	}
	if (s->state.writers_fd < 0)
		log_warn("cannot open %s-writers (%s): writers fall back to polling", state_file,
			 strerror(errno));
	if (s->delta.counted_start) {
		ok = state_load_settings(&s->state, &s->cfg, &bad);
	} else {
		ok = state_session_begin(&s->state, getpid(), s->peer, &s->cfg, &bad);
		s->delta.counted_start = ok;
	}
	if (!ok)
		log_warn("cannot count session start or read settings: %s", s->state.err);
	if (bad > 0)
		log_warn("invalid settings ignored count=%u: last %s", bad, s->state.warn);
}

/* pop3-session-tls after STLS: the counters pop3-session had. */
static bool resume(struct session *s, const char *text)
{
	struct handoff h;

	if (!handoff_parse(text, &h))
		return false;
	s->auth_attempts = h.attempts;
	s->auth_failures = h.failures;
	s->delta.logins_failed = h.logins_failed;
	s->delta.counted_start = h.counted_start;
	s->t0 = h.t0;
	return true;
}

static void count_end(struct session *s)
{
	if (!s->state_ok)
		return;
	if (!s->state.db && !state_open(&s->state, s->state_file, false)) {
		log_warn("cannot reopen the state file to update metrics: %s", s->state.err);
		return;
	}
	s->delta.octets = s->io.octets_out;
	s->delta.user = s->logged_in ? s->user : NULL;
	s->delta.peer = s->peer;
	if (!state_session_end(&s->state, getpid(), &s->delta))
		log_warn("cannot update metrics: %s", s->state.err);
	log_debug("SQLite allocated %zu octets since it was last started", sqlmem_used());
	state_close(&s->state);
}

/*
 * Release the connection: /dev/null takes the place of stdin and stdout
 * (closing them would let the next open() reuse descriptors 0 and 1).
 */
static void hang_up(const struct iobuf *io)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* the pipe is shared with whoever started us: leave it as we found it */
	if (io->out_nonblock) {
		int fl = fcntl(STDOUT_FILENO, F_GETFL);
		if (fl >= 0)
			(void)fcntl(STDOUT_FILENO, F_SETFL, fl & ~O_NONBLOCK);
	}

	if (fd < 0) {
		log_debug("cannot open /dev/null: %s", strerror(errno));
		return;
	}
	if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
		log_debug("cannot release the connection early: %s", strerror(errno));
	(void)close(fd);
}

static int exit_status(enum outcome o)
{
	switch (o) {
	case OUT_QUIT:
		return EXIT_OK;
	case OUT_QUIT_PARTIAL:
	case OUT_SERVER_ERROR:
		return EXIT_TEMP;
	default:
		return EXIT_CLIENT;
	}
}

int main(int argc, char **argv)
{
	static struct session s; /* 18 KiB of buffers: not on the stack */
	struct options opt = { 0 };
	char tls_used[96];
	int rc;

	log_init("pop3-session"); /* also as pop3-session-tls: one program to the logs */
	(void)clock_gettime(CLOCK_MONOTONIC, &s.t0);
	s.argc = argc;
	s.argv = argv;
	rc = parse_options(argc, argv, &opt);
	/*
	 * --resume-stls is pop3-session's STLS hand-off, which never happens
	 * inside implicit TLS: with both, the STLS answer would go inside the
	 * TLS session and a second handshake would start over the first.
	 */
	if (rc == EXIT_OK && opt.resume_stls &&
	    (opt.implicit_tls || !tls_linked() || !resume(&s, opt.resume_stls)))
		rc = EXIT_USAGE;
	if (rc != EXIT_OK) {
		usage(stderr);
		return rc;
	}
	if (getuid() == 0 || geteuid() == 0) {
		/* a POP3 session needs no privilege: run it as the mail user */
		log_err("refusing to run as root; start pop3-session as an unprivileged user");
		if (write(STDOUT_FILENO, "-ERR [SYS/PERM] Server misconfigured\r\n", 38) != 38)
			log_debug("cannot tell the client: %s", strerror(errno));
		return EXIT_CONFIG;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		log_warn("cannot ignore SIGPIPE: %s", strerror(errno));
	/*
	 * A SIGCHLD ignored by whoever started us survives exec(2): the kernel
	 * would then reap the filter itself, so waitpid(2) could not tell its
	 * exit status and its process-group id could be reused before we
	 * kill the group (filter.c).
	 */
	if (signal(SIGCHLD, SIG_DFL) == SIG_ERR)
		log_warn("cannot reset SIGCHLD: %s", strerror(errno));

	config_defaults(&s.cfg);
	if (!apply_overrides(&s.cfg, &opt))
		return EXIT_CONFIG;
	log_set_level(s.cfg.log_level);
	identify_peer(&s);
	s.tls_configured = tls_files_find(&s.tls_files, opt.tls_cert, opt.tls_key);
	iobuf_init(&s.io, STDIN_FILENO, STDOUT_FILENO, (int)s.cfg.idle_timeout * 1000);
	bound_pipe_writes(&s.io);
	s.md.dirfd = s.md.lockfd = -1;
	livefile_init(&s.live);

	if (opt.implicit_tls && !tls_linked()) {
		handoff_exec(argc, argv, NULL);
		log_err("cannot start %s for implicit TLS peer=%s: %s", HANDOFF_TLS_PROGRAM, s.peer,
			strerror(errno));
		return EXIT_TEMP;
	}
	if (opt.implicit_tls && !proto_tls_first(&s)) {
		tls_end(&s.tls);
		log_info("session end peer=%s user=- outcome=%s", s.peer, proto_outcome_name(s.outcome));
		return exit_status(s.outcome);
	}

	/* greet first: the state file work below overlaps the client's reply */
	if (!opt.resume_stls &&
	    (!iobuf_puts(&s.io, "+OK POP3 server ready\r\n") || !iobuf_flush(&s.io))) {
		log_info("session end peer=%s user=- outcome=write-error", s.peer);
		return EXIT_CLIENT;
	}
	if (!sqlmem_install())
		log_warn("cannot install SQLite's allocator; using the heap");
	count_start(&s, state_path(opt.state));
	(void)apply_overrides(&s.cfg, &opt);
	log_set_level(s.cfg.log_level);
	s.io.timeout_ms = (int)s.cfg.idle_timeout * 1000;
	tune_socket(s.cfg.idle_timeout);

	/* the STLS pop3-session received is answered here; a -ERR leaves it in plaintext */
	if (opt.resume_stls)
		(void)proto_stls_resumed(&s);
	proto_run(&s);

	maildrop_close(&s.md);
	livefile_remove(&s.live);
	tls_describe(&s.tls, tls_used, sizeof tls_used);
	tls_end(&s.tls);
	/*
	 * The client has its last reply: hang up now rather than after the
	 * metrics transaction, so the end of the session costs it nothing.
	 */
	hang_up(&s.io);
	explicit_bzero(s.io.in, sizeof s.io.in);
	/*
	 * Logged before the metrics transaction, not after: journald learns a
	 * native entry's unit from the sender's /proc entry, so the line must
	 * not be the process's very last act (docs/design.md, "Logging").
	 */
	log_info("session end peer=%s user=%s outcome=%s retr=%llu retr_octets=%llu dele=%llu"
		 " octets=%llu duration=%.3f tls=%s",
		 s.peer, s.logged_in ? s.user : "-", proto_outcome_name(s.outcome),
		 (unsigned long long)s.delta.retrieved, (unsigned long long)s.retr_octets,
		 (unsigned long long)s.delta.deleted, (unsigned long long)s.io.octets_out,
		 elapsed(&s.t0), tls_used);
	count_end(&s);
	return exit_status(s.outcome);
}
