/*
 * admserve.c - the UDP loop of pop3-admind: sockets (systemd's or our own),
 * signals through a signalfd, sd_notify readiness, status and watchdog, and
 * the periodic upkeep of the state file.
 *
 * The daemon keeps the state file open for its whole life: sessions then
 * never rebuild the WAL index, and it truncates the WAL itself.
 */
#include "admserve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "admproto.h"
#include "config.h"
#include "hmac.h"
#include "log.h"
#include "state.h"

#define UPKEEP_S 10 /* reap dead sessions' rows, refresh STATUS= */

struct server {
	int fds[ADMSERVE_LISTEN_MAX];
	size_t nfds;
	int sigfd;
	struct state st;
	struct adm adm;
	char secret[300];
	unsigned long long requests;
};

static int bind_one(const char *spec)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	size_t hl;
	int fd;

	if (!colon || colon == spec)
		return -1;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		return -1;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && ai->ai_family == AF_INET6) {
		int one = 1;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	}
	if (fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static bool open_sockets(struct server *s, const struct admserve_opts *o)
{
	static const char *const defaults[] = { "127.0.0.1:9090", "[::1]:9090" };
	int n = sd_listen_fds(1);

	if (n > ADMSERVE_LISTEN_MAX) {
		log_err("too many sockets from systemd (%d)", n);
		return false;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) <= 0) {
			log_err("socket %d from systemd is not a datagram socket", fd);
			return false;
		}
		s->fds[s->nfds++] = fd;
	}
	if (n > 0)
		return true;
	size_t count = o->nlisten ? o->nlisten : 2;
	for (size_t i = 0; i < count; i++) {
		const char *spec = o->nlisten ? o->listen[i] : defaults[i];
		int fd = bind_one(spec);
		if (fd < 0) {
			log_err("cannot listen on %s: %s", spec, strerror(errno));
			if (o->nlisten || i == 0)
				return false;
			continue; /* no IPv6 here: the IPv4 default is enough */
		}
		s->fds[s->nfds++] = fd;
	}
	return s->nfds > 0;
}

static bool load_secret(struct server *s, const char *path)
{
	const char *why;

	if (!hmac_read_secret(path, s->secret, sizeof s->secret, &s->adm.secret_len, &why)) {
		log_err("secret file %s: %s", path, why);
		return false;
	}
	s->adm.secret = s->secret;
	return true;
}

static bool open_state(struct server *s, const char *path)
{
	if (!state_open_admin(&s->st, path)) {
		log_err("cannot open state file %s: %s", path, s->st.err);
		return false;
	}
	int v = state_schema_version(&s->st);
	/* an upgraded binary brings the file forward itself: one transaction, forward only */
	if (v >= 0 && v < STATE_SCHEMA_VERSION) {
		if (!state_migrate(&s->st)) {
			log_err("cannot migrate %s from schema %d to %d: %s", path, v, STATE_SCHEMA_VERSION,
				s->st.err);
			state_close(&s->st);
			return false;
		}
		log_info("migrated %s from schema %d to %d", path, v, STATE_SCHEMA_VERSION);
		v = STATE_SCHEMA_VERSION;
	}
	if (v != STATE_SCHEMA_VERSION) {
		log_err("%s has schema %d, this version knows %d; refusing to touch it", path, v,
			STATE_SCHEMA_VERSION);
		state_close(&s->st);
		return false;
	}
	return true;
}

/* Status files of sessions that were killed: their pid is gone. */
static void reap_live_files(struct state *st)
{
	struct config cfg;
	unsigned bad;
	DIR *d;
	struct dirent *e;

	config_defaults(&cfg);
	(void)state_load_settings(st, &cfg, &bad);
	d = opendir(cfg.live_dir);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		(void)unlinkat(dirfd(d), e->d_name, 0);
	}
	(void)closedir(d);
}

static void status(struct server *s)
{
	(void)sd_notifyf(0, "STATUS=%llu requests served, listening on %zu sockets", s->requests, s->nfds);
}

static void serve_one(struct server *s, int fd)
{
	char req[ADM_REQ_MAX + 2], reply[ADM_REPLY_MAX];
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	ssize_t n = recvfrom(fd, req, sizeof req, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&peer, &plen);

	if (n < 0)
		return; /* EAGAIN, or an ICMP error from an earlier reply: nothing to do */
	/* MSG_TRUNC: n is the datagram's real length, so oversized ones are seen as such */
	size_t len = adm_handle(&s->adm, req, (size_t)n > sizeof req ? ADM_REQ_MAX + 1 : (size_t)n,
				time(NULL), reply);
	s->requests++;
	if (len > 0 && sendto(fd, reply, len, MSG_DONTWAIT, (struct sockaddr *)&peer, plen) < 0)
		return; /* the client retries */
}

static int signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* SIGHUP: reopen the state file and read the secret again. */
static void reload(struct server *s, const struct admserve_opts *o)
{
	(void)sd_notify(0, "RELOADING=1");
	state_close(&s->st);
	if (!open_state(s, o->state_path))
		log_err("reload failed: the state file stays closed until the next SIGHUP");
	if (!load_secret(s, o->secret_path))
		log_err("reload kept the previous secret");
	(void)sd_notify(0, "READY=1");
}

int admserve_run(const struct admserve_opts *o)
{
	static struct server s;
	struct pollfd pfd[ADMSERVE_LISTEN_MAX + 1];
	uint64_t wd_usec = 0;
	time_t last_upkeep = 0;

	memset(&s, 0, sizeof s);
	s.adm.started = time(NULL);
	s.adm.st = &s.st;
	if (!load_secret(&s, o->secret_path) || !open_state(&s, o->state_path) || !open_sockets(&s, o))
		return 111;
	s.sigfd = signals_fd();
	if (s.sigfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return 111;
	}
	bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0;
	(void)sd_notify(0, "READY=1");
	status(&s);
	log_info("ready on %zu sockets", s.nfds);

	for (;;) {
		size_t n = 0;
		for (; n < s.nfds; n++)
			pfd[n] = (struct pollfd){ .fd = s.fds[n], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s.sigfd, .events = POLLIN };
		int timeout = UPKEEP_S * 1000;
		if (watchdog && (int)(wd_usec / 2000) < timeout)
			timeout = (int)(wd_usec / 2000);
		int r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR)
			break;
		for (size_t i = 0; r > 0 && i < s.nfds; i++)
			if (pfd[i].revents & POLLIN)
				serve_one(&s, s.fds[i]);
		if (r > 0 && (pfd[s.nfds].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(s.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGHUP) {
					reload(&s, o);
				} else {
					(void)sd_notify(0, "STOPPING=1");
					break;
				}
			}
		}
		if (watchdog)
			(void)sd_notify(0, "WATCHDOG=1");
		if (time(NULL) - last_upkeep >= UPKEEP_S && s.st.db) {
			last_upkeep = time(NULL);
			(void)state_reap(&s.st);
			reap_live_files(&s.st);
			status(&s);
		}
	}
	log_info("stopping after %llu requests", s.requests);
	state_close(&s.st);
	explicit_bzero(s.secret, sizeof s.secret);
	for (size_t i = 0; i < s.nfds; i++)
		(void)close(s.fds[i]);
	(void)close(s.sigfd);
	return 0;
}
