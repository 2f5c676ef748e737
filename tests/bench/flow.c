/*
 * flow.c - a minimal closed-loop driver for the "POP3 LIST and RETR" flow:
 * connect, greeting, USER, PASS, LIST, RETR 1, QUIT, as fast as possible,
 * from C concurrent client processes for a fixed time.  It checks every
 * status line and terminator and prints sessions/s and latency percentiles.
 * (The full Mailstone-style load tool is issue 6; this is what make bench
 * needs today.)
 *
 * usage: flow HOST PORT USER PASS CLIENTS SECONDS
 * USER and PASS may hold one %d: client c (from 1) then uses its own user,
 * since a maildrop admits one session at a time.
 *
 * Built with -DFLOW_TLS -lssl -lcrypto, FLOW_TLS=1 in the environment
 * makes every connection implicit TLS (port 995 style), a full handshake
 * each time (no session resumption, like a new client), no verification.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef FLOW_TLS
#include <openssl/ssl.h>
static SSL_CTX *tls_ctx; /* set once per client process when FLOW_TLS=1 */
#endif

#define BUCKETS 200000 /* 10 us each: 0 .. 2 s */

struct result {
	uint64_t ok, errors;
	uint32_t hist[BUCKETS];
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct conn {
	int fd;
#ifdef FLOW_TLS
	SSL *ssl;
#endif
};

static ssize_t c_read(struct conn *c, char *buf, size_t n)
{
#ifdef FLOW_TLS
	if (c->ssl) {
		size_t got = 0;
		return SSL_read_ex(c->ssl, buf, n, &got) == 1 ? (ssize_t)got : -1;
	}
#endif
	return read(c->fd, buf, n);
}

static ssize_t c_write(struct conn *c, const char *buf, size_t n)
{
#ifdef FLOW_TLS
	if (c->ssl) {
		size_t done = 0;
		return SSL_write_ex(c->ssl, buf, n, &done) == 1 ? (ssize_t)done : -1;
	}
#endif
	return write(c->fd, buf, n);
}

/* Read until buf ends with end (a status line or a multi-line terminator). */
static int read_until(struct conn *c, char *buf, size_t cap, const char *end)
{
	size_t len = 0, el = strlen(end);

	for (;;) {
		ssize_t n = c_read(c, buf + len, cap - len - 1);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (len >= el && memcmp(buf + len - el, end, el) == 0)
			return strncmp(buf, "+OK", 3) == 0 ? 0 : -1;
		if (len + 1 >= cap)
			len = 0; /* long body: keep only the tail window */
	}
}

static int one_session(const struct addrinfo *ai, const char *cmds)
{
	char buf[65536];
	struct conn c = { .fd = socket(ai->ai_family, SOCK_STREAM, 0) };
	int one = 1, rc = -1;

	if (c.fd < 0)
		return -1;
	(void)setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c.fd, ai->ai_addr, ai->ai_addrlen) != 0)
		goto out;
#ifdef FLOW_TLS
	if (tls_ctx) {
		c.ssl = SSL_new(tls_ctx);
		if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1 || SSL_connect(c.ssl) != 1)
			goto out;
	}
#endif
	if (read_until(&c, buf, sizeof buf, "\r\n") != 0)
		goto out;
	/* one command at a time, each answered before the next, like the flow */
	const char *p = cmds;
	while (*p) {
		const char *e = strstr(p, "\r\n");
		size_t n = (size_t)(e - p) + 2;
		int multi = strncmp(p, "LIST", 4) == 0 || strncmp(p, "RETR", 4) == 0;
		if (c_write(&c, p, n) != (ssize_t)n)
			goto out;
		if (read_until(&c, buf, sizeof buf, multi ? "\r\n.\r\n" : "\r\n") != 0)
			goto out;
		p += n;
	}
	rc = 0;
out:
#ifdef FLOW_TLS
	if (c.ssl) {
		(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
#endif
	close(c.fd);
	return rc;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char cmds[512];

	if (argc != 7) {
		fprintf(stderr, "usage: flow HOST PORT USER PASS CLIENTS SECONDS\n");
		return 100;
	}
	int clients = atoi(argv[5]);
	double secs = atof(argv[6]);
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
		fprintf(stderr, "flow: cannot resolve %s\n", argv[1]);
		return 100;
	}

	/* one result slot per client in shared memory: pipe writes of this size would interleave */
	struct result *slots = mmap(NULL, sizeof(struct result) * (size_t)clients, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED)
		return 111;
	double t0 = now();
	for (int c = 0; c < clients; c++) {
		if (fork() == 0) {
			struct result *rp = &slots[c];
#ifdef FLOW_TLS
			if (getenv("FLOW_TLS") && strcmp(getenv("FLOW_TLS"), "1") == 0) {
				tls_ctx = SSL_CTX_new(TLS_client_method());
				if (!tls_ctx)
					_exit(111);
				SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
				SSL_CTX_set_options(tls_ctx, SSL_OP_NO_TICKET);
			}
#endif
#define r (*rp)
			char user[128], pass[128];
			snprintf(user, sizeof user, argv[3], c + 1);
			snprintf(pass, sizeof pass, argv[4], c + 1);
			snprintf(cmds, sizeof cmds, "USER %s\r\nPASS %s\r\nLIST\r\nRETR 1\r\nQUIT\r\n", user, pass);
			while (now() - t0 < secs) {
				double s = now();
				if (one_session(ai, cmds) == 0) {
					size_t b = (size_t)((now() - s) * 1e5);
					r.hist[b < BUCKETS ? b : BUCKETS - 1]++;
					r.ok++;
				} else {
					r.errors++;
				}
			}
			_exit(0);
#undef r
		}
	}
	while (wait(NULL) > 0)
		;
	static struct result total;
	for (int c = 0; c < clients; c++) {
		const struct result one = slots[c];
		total.ok += one.ok;
		total.errors += one.errors;
		for (int b = 0; b < BUCKETS; b++)
			total.hist[b] += one.hist[b];
	}
	while (wait(NULL) > 0)
		;
	double el = now() - t0;
	double pct[3] = { 0.5, 0.9, 0.99 }, val[3] = { 0 };
	for (int k = 0; k < 3; k++) {
		uint64_t want = (uint64_t)(pct[k] * (double)total.ok), acc = 0;
		for (int b = 0; b < BUCKETS; b++) {
			acc += total.hist[b];
			if (acc > want) {
				val[k] = (b + 0.5) / 100.0;
				break;
			}
		}
	}
	printf("clients=%d sessions=%llu errors=%llu seconds=%.2f rate=%.0f/s p50=%.2fms p90=%.2fms p99=%.2fms\n",
	       clients, (unsigned long long)total.ok, (unsigned long long)total.errors, el,
	       (double)total.ok / el, val[0], val[1], val[2]);
	freeaddrinfo(ai);
	return total.errors ? 1 : 0;
}
