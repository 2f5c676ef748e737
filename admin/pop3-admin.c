/*
 * pop3-admin - the command-line client of pop3-admind's UDP protocol
 * (docs/admin-protocol.md).  Passwords are hashed here: only the crypt(3)
 * hash travels, and every request and reply is authenticated with the
 * shared secret.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "admproto.h"
#include "auth.h"
#include "config.h"
#include "hmac.h"
#include "params.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 100, EXIT_TEMP = 111 };

struct client {
	const char *host, *port, *secret_file, *scheme;
	bool password_stdin;
	char secret[300];
	size_t secret_len;
	int fd;
};

static void usage(FILE *to)
{
	(void)fputs(
		"Usage: pop3-admin [OPTION]... COMMAND [ARG]...\n"
		"Administer a running pop3-admind.\n\n"
		"Commands:\n"
		"  user add NAME [--maildir DIR]   add a user (asks for the password twice)\n"
		"  user passwd NAME                set a new password\n"
		"  user del|enable|disable|show NAME\n"
		"  user list                       all user names\n"
		"  user filter NAME default|off|COMMAND...\n"
		"                                  the user's own message filter: the global\n"
		"                                  settings, none, or this command line\n"
		"  metrics [--prometheus]          counters as name=value lines, or in Prometheus\n"
		"                                  text exposition format\n"
		"  logins                          each user's last login: user= time= peer=\n"
		"  who                             live sessions: pid= user= peer= since= octets=\n"
		"  config get [NAME]               settings\n"
		"  config set NAME VALUE...        change a setting for every new session (a value\n"
		"                                  of several words, e.g. filter_command, is joined)\n"
		"  capabilities                    what the daemon offers\n\n"
		"Options:\n"
		"  --host HOST          daemon address (default $POP3_ADMIN_HOST, else 127.0.0.1)\n"
		"  --port PORT          daemon port (default $POP3_ADMIN_PORT, else 9090)\n"
		"  --secret-file FILE   shared secret (default $POP3_ADMIN_SECRET_FILE, else /etc/pop3/admin.secret)\n"
		"  --password-stdin     read the password from one line of standard input\n"
		"  --scheme NAME        yescrypt (default), sha512crypt, sha256crypt or bcrypt\n"
		"  --help               this text\n\n"
		"Exit status: 0 done, 1 the daemon refused, 100 usage, 111 no answer or local failure.\n",
		to);
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

static bool connect_udp(struct client *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai, *p;

	if (getaddrinfo(c->host, c->port, &hints, &ai) != 0) {
		(void)fprintf(stderr, "pop3-admin: cannot resolve %s port %s\n", c->host, c->port);
		return false;
	}
	c->fd = -1;
	for (p = ai; p && c->fd < 0; p = p->ai_next) {
		c->fd = socket(p->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (c->fd >= 0 && connect(c->fd, p->ai_addr, p->ai_addrlen) != 0) {
			(void)close(c->fd);
			c->fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (c->fd < 0)
		(void)fprintf(stderr, "pop3-admin: cannot reach %s port %s: %s\n", c->host, c->port, strerror(errno));
	return c->fd >= 0;
}

/* Check the reply's tag and MAC; *body points after the MAC. */
static bool verify(const struct client *c, const char *tag, char *reply, size_t n, char **body)
{
	char mac[HMAC_HEX_LEN + 1], msg[ADM_REPLY_MAX + 32];
	size_t tl = strlen(tag), pre = strlen(ADM_VERSION) + 1 + tl + 1;

	if (n < pre + HMAC_HEX_LEN + 2 || memcmp(reply, ADM_VERSION " ", 4) != 0 ||
	    memcmp(reply + 4, tag, tl) != 0 || reply[pre - 1] != ' ' || reply[pre + HMAC_HEX_LEN] != ' ')
		return false;
	*body = reply + pre + HMAC_HEX_LEN + 1;
	int m = snprintf(msg, sizeof msg, ADM_VERSION " %s %s", tag, *body);
	return m > 0 && (size_t)m < sizeof msg && hmac_hex(c->secret, c->secret_len, msg, (size_t)m, mac) &&
	       hmac_equal(mac, reply + pre, HMAC_HEX_LEN);
}

static bool prepare(struct client *c)
{
	const char *why;

	if (!hmac_read_secret(c->secret_file, c->secret, sizeof c->secret, &c->secret_len, &why)) {
		(void)fprintf(stderr, "pop3-admin: secret file %s: %s\n", c->secret_file, why);
		return false;
	}
	return connect_udp(c);
}

/* Send cmd, wait 1, 2 and 4 s for its reply; print its lines; an exit status. */
static int request(struct client *c, const char *cmd, char *out, size_t outcap)
{
	unsigned char rnd[8];
	char tag[17], msg[ADM_REQ_MAX + 1], mac[HMAC_HEX_LEN + 1], req[ADM_REQ_MAX + 1];
	char reply[ADM_REPLY_MAX + 1];

	/* secret and socket only once a well-formed command needs them: usage errors stay 100 */
	if (c->fd < 0 && !prepare(c))
		return EXIT_TEMP;
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return EXIT_TEMP;
	for (size_t i = 0; i < sizeof rnd; i++)
		(void)snprintf(tag + 2 * i, 3, "%02x", rnd[i]);
	int m = snprintf(msg, sizeof msg, ADM_VERSION " %s %lld %s", tag, (long long)time(NULL), cmd);
	if (m < 0 || (size_t)m >= sizeof msg || !hmac_hex(c->secret, c->secret_len, msg, (size_t)m, mac)) {
		(void)fprintf(stderr, "pop3-admin: request too long\n");
		return EXIT_USAGE;
	}
	/* the MAC goes after the timestamp */
	const char *after_stamp = strchr(strchr(msg + 4, ' ') + 1, ' ');
	int rl = snprintf(req, sizeof req, "%.*s %s%s", (int)(after_stamp - msg), msg, mac, after_stamp);
	if (rl < 0 || (size_t)rl >= sizeof req) {
		(void)fprintf(stderr, "pop3-admin: request too long\n");
		return EXIT_USAGE;
	}
	for (int wait_ms = 1000; wait_ms <= 4000; wait_ms *= 2) {
		if (send(c->fd, req, (size_t)rl, 0) < 0 && errno != ECONNREFUSED)
			break;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		while (poll(&pfd, 1, wait_ms) > 0) {
			ssize_t n = recv(c->fd, reply, sizeof reply - 1, 0);
			char *body;
			if (n < 0)
				break; /* ECONNREFUSED: nobody listens yet; retry */
			reply[n] = '\0';
			if ((size_t)n == strlen("-ERR auth") && memcmp(reply, "-ERR auth", (size_t)n) == 0) {
				(void)fprintf(stderr, "pop3-admin: the daemon refused the request: wrong secret?\n");
				return EXIT_REFUSED;
			}
			if (!verify(c, tag, reply, (size_t)n, &body))
				continue; /* not ours, or forged: keep waiting */
			if (out)
				(void)snprintf(out, outcap, "%s", body);
			if (strncmp(body, "-ERR", 4) == 0) {
				(void)fprintf(stderr, "pop3-admin: %s\n", body + 5);
				return EXIT_REFUSED;
			}
			return EXIT_OK;
		}
	}
	(void)fprintf(stderr, "pop3-admin: no answer from %s port %s\n", c->host, c->port);
	return EXIT_TEMP;
}

/* Print the lines after the status line. */
static void print_body(const char *body)
{
	const char *nl = strchr(body, '\n');
	if (nl)
		(void)puts(nl + 1);
}

static bool read_line(FILE *in, char *buf, size_t cap)
{
	if (!fgets(buf, (int)cap, in))
		return false;
	buf[strcspn(buf, "\r\n")] = '\0';
	return true;
}

/* The password, twice without echo from the terminal, or once from stdin. */
static bool get_password(const struct client *c, char *pw, size_t cap)
{
	char again[POP3_PASS_MAX + 2];
	struct termios old, quiet;
	FILE *tty;
	bool ok;

	if (c->password_stdin)
		return read_line(stdin, pw, cap) && *pw;
	tty = fopen("/dev/tty", "r+");
	if (!tty) {
		(void)fprintf(stderr, "pop3-admin: no terminal to ask for the password; use --password-stdin\n");
		return false;
	}
	if (tcgetattr(fileno(tty), &old) != 0) {
		(void)fclose(tty);
		return false;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	(void)tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	(void)fputs("New password: ", tty);
	ok = read_line(tty, pw, cap);
	(void)fputs("\nAgain: ", tty);
	ok = ok && read_line(tty, again, sizeof again);
	(void)fputs("\n", tty);
	(void)tcsetattr(fileno(tty), TCSAFLUSH, &old);
	(void)fclose(tty);
	if (ok && strcmp(pw, again) != 0) {
		(void)fprintf(stderr, "pop3-admin: the passwords differ\n");
		ok = false;
	}
	explicit_bzero(again, sizeof again);
	return ok && *pw;
}

static int hashed_request(struct client *c, const char *verb, const char *name, const char *maildir)
{
	char pw[POP3_PASS_MAX + 2], hash[CONFIG_HASH_MAX], cmd[ADM_REQ_MAX];
	const char *prefix = auth_scheme_prefix(c->scheme);

	if (!prefix) {
		(void)fprintf(stderr, "pop3-admin: unknown scheme %s\n", c->scheme);
		return EXIT_USAGE;
	}
	if (!get_password(c, pw, sizeof pw))
		return EXIT_USAGE;
	bool ok = auth_hash(prefix, pw, hash, sizeof hash);
	explicit_bzero(pw, sizeof pw);
	if (!ok) {
		(void)fprintf(stderr, "pop3-admin: cannot hash the password\n");
		return EXIT_TEMP;
	}
	(void)snprintf(cmd, sizeof cmd, "USER %s %s %s%s%s", verb, name, hash, maildir ? " " : "",
		       maildir ? maildir : "");
	return request(c, cmd, NULL, 0);
}

/* A paged listing: repeat base [cursor] until no "more=" line comes back. */
static int paged(struct client *c, const char *base)
{
	char cmd[ADM_REQ_MAX], body[ADM_REPLY_MAX + 1], cursor[CONFIG_HASH_MAX] = "";
	int rc;

	do {
		(void)snprintf(cmd, sizeof cmd, "%s%s%s", base, *cursor ? " " : "", cursor);
		if ((rc = request(c, cmd, body, sizeof body)) != EXIT_OK)
			return rc;
		*cursor = '\0';
		for (char *line = strchr(body, '\n'); line; line = strchr(line, '\n')) {
			line++;
			size_t n = strcspn(line, "\n");
			if (strncmp(line, "more=", 5) == 0)
				(void)snprintf(cursor, sizeof cursor, "%.*s", (int)(n - 5), line + 5);
			else
				(void)printf("%.*s\n", (int)n, line);
		}
	} while (*cursor);
	return EXIT_OK;
}

/* Does argv hold only words that are safe to put into a request? */
/* head, then the words space-separated: a value of several words (a filter command line). */
static int joined_request(struct client *c, const char *head, char **words, int n)
{
	char cmd[ADM_REQ_MAX], body[ADM_REPLY_MAX + 1];
	size_t off = (size_t)snprintf(cmd, sizeof cmd, "%s", head);
	int rc;

	for (int i = 0; i < n && off < sizeof cmd; i++)
		off += (size_t)snprintf(cmd + off, sizeof cmd - off, " %s", words[i]);
	if (off >= sizeof cmd) {
		(void)fprintf(stderr, "pop3-admin: the value is too long\n");
		return EXIT_USAGE;
	}
	if ((rc = request(c, cmd, body, sizeof body)) == EXIT_OK)
		print_body(body);
	return rc;
}

static bool plain_words(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!*argv[i])
			return false;
		for (const char *p = argv[i]; *p; p++)
			if (*p <= 0x20 || *p >= 0x7f)
				return false;
	}
	return true;
}

static int run(struct client *c, int argc, char **argv)
{
	char cmd[ADM_REQ_MAX], body[ADM_REPLY_MAX + 1];
	const char *what = argc > 0 ? argv[0] : "";
	int rc;

	if (!plain_words(argc, argv)) {
		(void)fprintf(stderr, "pop3-admin: arguments must be printable words without spaces\n");
		return EXIT_USAGE;
	}
	if (strcmp(what, "user") == 0 && argc >= 2) {
		const char *sub = argv[1];
		if (strcmp(sub, "list") == 0 && argc == 2)
			return paged(c, "USER LIST");
		if (argc < 3)
			return EXIT_USAGE;
		if (strcmp(sub, "filter") == 0 && argc >= 4)
			return joined_request(c, "USER FILTER", argv + 2, argc - 2);
		if (strcmp(sub, "add") == 0 && (argc == 3 || (argc == 5 && strcmp(argv[3], "--maildir") == 0)))
			return hashed_request(c, "ADD", argv[2], argc == 5 ? argv[4] : NULL);
		if (strcmp(sub, "passwd") == 0 && argc == 3)
			return hashed_request(c, "PASSWD", argv[2], NULL);
		if (argc == 3 && (strcmp(sub, "del") == 0 || strcmp(sub, "enable") == 0 ||
				  strcmp(sub, "disable") == 0 || strcmp(sub, "show") == 0)) {
			char up[16];
			size_t i = 0;
			for (; sub[i] && i < sizeof up - 1; i++)
				up[i] = (char)(sub[i] - ('a' <= sub[i] && sub[i] <= 'z' ? 32 : 0));
			up[i] = '\0';
			(void)snprintf(cmd, sizeof cmd, "USER %s %s", up, argv[2]);
			if ((rc = request(c, cmd, body, sizeof body)) == EXIT_OK)
				print_body(body);
			return rc;
		}
		return EXIT_USAGE;
	}
	if (strcmp(what, "metrics") == 0 && argc == 2 && strcmp(argv[1], "--prometheus") == 0)
		return paged(c, "METRICS PROMETHEUS");
	if (strcmp(what, "logins") == 0 && argc == 1)
		return paged(c, "LOGINS");
	if (strcmp(what, "who") == 0 && argc == 1)
		return paged(c, "WHO");
	if (strcmp(what, "metrics") == 0 && argc == 1)
		(void)snprintf(cmd, sizeof cmd, "METRICS");
	else if (strcmp(what, "capabilities") == 0 && argc == 1)
		(void)snprintf(cmd, sizeof cmd, "CAPA");
	else if (strcmp(what, "config") == 0 && argc >= 2 && strcmp(argv[1], "get") == 0 && argc <= 3)
		(void)snprintf(cmd, sizeof cmd, "CONFIG GET%s%s", argc == 3 ? " " : "", argc == 3 ? argv[2] : "");
	else if (strcmp(what, "config") == 0 && argc >= 4 && strcmp(argv[1], "set") == 0)
		return joined_request(c, "CONFIG SET", argv + 2, argc - 2);
	else
		return EXIT_USAGE;
	if ((rc = request(c, cmd, body, sizeof body)) == EXIT_OK)
		print_body(body);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "secret-file", required_argument, NULL, 'k' },
		{ "password-stdin", no_argument, NULL, 'P' },
		{ "scheme", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client c = {
		.host = env_or("POP3_ADMIN_HOST", "127.0.0.1"),
		.port = env_or("POP3_ADMIN_PORT", "9090"),
		.secret_file = env_or("POP3_ADMIN_SECRET_FILE", "/etc/pop3/admin.secret"),
		.scheme = "yescrypt",
		.fd = -1,
	};
	int opt, rc;

	/* "+" stops at the first command word, so "user add x --maildir d" keeps its flag */
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H': c.host = optarg; break;
		case 'p': c.port = optarg; break;
		case 'k': c.secret_file = optarg; break;
		case 'P': c.password_stdin = true; break;
		case 's': c.scheme = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = run(&c, argc - optind, argv + optind);
	if (rc == EXIT_USAGE)
		usage(stderr);
	explicit_bzero(c.secret, sizeof c.secret);
	if (c.fd >= 0)
		(void)close(c.fd);
	return rc;
}
