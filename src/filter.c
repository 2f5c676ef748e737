/*
 * filter.c - one message through the filter program, without deadlock.
 *
 * One poll(2) loop feeds the filter's stdin from the message file, reads
 * its stdout into the conversion buffer, logs its stderr and watches a
 * pidfd for its exit, so a filter that writes before it has read all its
 * input never blocks against us, and memory stays at three fixed buffers
 * whatever the message size.
 */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmdline.h"
#include "log.h"
#include "msgconv.h"
#include "params.h"

#define MAP_LEN (2u * POP3_STREAM_RAW + POP3_STREAM_OUT)

struct pump {
	struct iobuf *io;
	const struct filter_job *job;
	int msg_fd;
	int to_child;   /* the filter's stdin; -1 once closed */
	int from_child; /* its stdout; -1 at end of file */
	int err_child;  /* its stderr; -1 at end of file */
	int pidfd;
	pid_t pid;      /* also its process group */
	bool reaped;
	int wstatus;
	int wait_errno; /* waitpid(2) failed: wstatus says nothing */
	bool no_splice;  /* splice(2) refused (filesystem, seccomp): read and write */
	char *in;       /* message octets on their way to the filter */
	size_t in_off, in_len;
	char *chunk;    /* one read of the filter's output */
	char *out;      /* converted output on its way to the client */
	size_t olen;
	struct msgconv conv;
	uint64_t produced;  /* octets the filter wrote */
	uint64_t sent;      /* converted octets handed to the client */
	bool committed;     /* "+OK" is out */
	bool enough;        /* TOP has all its lines */
	struct timespec deadline;
	char errline[200];  /* the filter's current stderr line */
	size_t errlen;
	unsigned errlines;  /* stderr lines logged so far */
	char *why;
	size_t whycap;
};

/* ---- time: the filter's budget, extended while the client is slow ---- */

static struct timespec now(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static long long ms_between(struct timespec a, struct timespec b)
{
	return (long long)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

static void extend(struct timespec *t, long long ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

/* ---- failure reasons ---- */

static bool fail(struct pump *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct pump *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(p->why, p->whycap, fmt, ap);
	va_end(ap);
	return false;
}

/* ---- start ---- */

/*
 * A pipe whose ends are both above 2: if this process runs with a standard
 * stream closed, a low descriptor would be overwritten by the child's own
 * dup2 onto 0, 1 or 2.
 */
static bool pipe_high(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return false;
	for (int i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		int hi = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		int saved = errno;
		(void)close(fds[i]);
		if (hi < 0) {
			(void)close(fds[1 - i]);
			/* both are closed: the caller's close_pipe() must not close them again */
			fds[0] = fds[1] = -1;
			errno = saved;
			return false;
		}
		fds[i] = hi;
	}
	return true;
}

static void close_pipe(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
}

static bool set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

static int spawn_child(struct pump *p, char *const argv[], char *const envp[], int in[2],
		       int out[2], int err[2])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&at)) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	(void)sigfillset(&all);
	(void)sigemptyset(&none);
	/*
	 * The three pipes become 0, 1 and 2 and nothing else crosses exec: not
	 * the client's connection, the maildrop lock or the state file.  The
	 * session ignores SIGPIPE; the filter gets default dispositions back.
	 * Its own process group lets one kill(2) stop whatever it started.
	 */
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in[0], 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
							POSIX_SPAWN_SETPGROUP)) == 0)
		rc = posix_spawn(&p->pid, argv[0], &fa, &at, argv, envp);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&at);
	return rc;
}

static bool start(struct pump *p)
{
	struct cmdline cl;
	const char *bad;
	char e_user[16 + CONFIG_PATH_MAX], e_msgno[40], e_uidl[16 + 128], e_size[40];
	char e_path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char *envp[] = { e_path, e_user, e_msgno, e_uidl, e_size, NULL };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int rc;

	if (!cmdline_split(p->job->command, &cl, &bad))
		return fail(p, "reason=config (%s)", bad);
	(void)snprintf(e_user, sizeof e_user, "POP3_USER=%s", p->job->user);
	(void)snprintf(e_msgno, sizeof e_msgno, "POP3_MSGNO=%zu", p->job->msgno);
	(void)snprintf(e_uidl, sizeof e_uidl, "POP3_UIDL=%s", p->job->uidl);
	(void)snprintf(e_size, sizeof e_size, "POP3_SIZE=%llu", (unsigned long long)p->job->size);

	if (!pipe_high(in) || !pipe_high(out) || !pipe_high(err)) {
		rc = errno;
		close_pipe(in);
		close_pipe(out);
		close_pipe(err);
		return fail(p, "reason=spawn (pipe: %s)", strerror(rc));
	}
	rc = spawn_child(p, cl.argv, envp, in, out, err);
	(void)close(in[0]);
	(void)close(out[1]);
	(void)close(err[1]);
	p->to_child = in[1];
	p->from_child = out[0];
	p->err_child = err[0];
	if (rc != 0) {
		p->reaped = true; /* there is no child */
		return fail(p, "reason=spawn (%s: %s)", cl.argv[0], strerror(rc));
	}
	p->reaped = false;
	p->pidfd = pidfd_open(p->pid, 0);
	if (p->pidfd < 0)
		return fail(p, "reason=spawn (pidfd_open: %s)", strerror(errno));
	if (!set_nonblock(p->to_child) || !set_nonblock(p->from_child) || !set_nonblock(p->err_child))
		return fail(p, "reason=spawn (fcntl: %s)", strerror(errno));
	return true;
}

/* ---- the three streams ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/*
 * Message to the filter's stdin by splice(2): the kernel moves the file's
 * pages into the pipe without a copy through this process.  Returns 1 on
 * progress or a full pipe, 0 when splice is not possible here, -1 on error.
 */
static int feed_splice(struct pump *p)
{
	ssize_t n = splice(p->msg_fd, NULL, p->to_child, NULL, POP3_STREAM_RAW,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return 1;
	if (n == 0) {
		close_fd(&p->to_child); /* end of file for the filter */
		return 1;
	}
	if (errno == EPIPE) {
		close_fd(&p->to_child);
		return 1;
	}
	if (errno == EINVAL || errno == ENOSYS || errno == EPERM || errno == EOPNOTSUPP)
		return 0;
	return -1;
}

/* Message to the filter's stdin.  A filter may stop reading: that is its choice. */
static bool feed(struct pump *p)
{
	if (!p->no_splice && p->in_off == p->in_len) {
		int r = feed_splice(p);
		if (r > 0)
			return true;
		if (r < 0)
			return fail(p, "reason=io (splicing the message: %s)", strerror(errno));
		p->no_splice = true;
	}
	if (p->in_off == p->in_len) {
		ssize_t n;
		do
			n = read(p->msg_fd, p->in, POP3_STREAM_RAW);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return fail(p, "reason=io (reading the message: %s)", strerror(errno));
		if (n == 0) {
			close_fd(&p->to_child); /* end of file for the filter */
			return true;
		}
		p->in_off = 0;
		p->in_len = (size_t)n;
	}
	ssize_t w = write(p->to_child, p->in + p->in_off, p->in_len - p->in_off);
	if (w > 0) {
		p->in_off += (size_t)w;
		return true;
	}
	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (w < 0 && errno == EPIPE) {
		close_fd(&p->to_child);
		return true;
	}
	return fail(p, "reason=io (writing to the filter: %s)", w < 0 ? strerror(errno) : "no progress");
}

/* Hand the converted output to the client; "+OK" goes first if not yet out. */
static bool flush_out(struct pump *p)
{
	if (!p->committed) {
		const char *status = p->job->top ? "+OK\r\n" : "+OK filtered message follows\r\n";
		if (!iobuf_puts(p->io, status))
			return fail(p, "reason=client (write failed)");
		p->committed = true;
	}
	struct timespec t0 = now();
	bool ok = iobuf_flush_with(p->io, p->out, p->olen);
	/* time spent on a slow client is not the filter's */
	extend(&p->deadline, ms_between(t0, now()));
	p->sent += p->olen;
	p->olen = 0;
	return ok ? true : fail(p, "reason=client (write failed)");
}

static void stop_group(struct pump *p)
{
	/* the zombie leader keeps the group id ours until it is reaped */
	if (!p->reaped)
		(void)kill(-p->pid, SIGKILL);
}

/* The filter's stdout into the conversion buffer. */
static bool drain(struct pump *p)
{
	ssize_t n = read(p->from_child, p->chunk, POP3_STREAM_RAW);

	if (n < 0 && errno == EAGAIN && p->reaped) {
		/*
		 * The filter has exited and its group was killed before it was
		 * reaped, so all it wrote is already in the pipe.  A writer still
		 * holding the pipe left the group (setsid): what it might write
		 * is not the filter's output, and waiting for it to close would
		 * hold RETR until filter_timeout and then fail it.
		 */
		close_fd(&p->from_child);
		return true;
	}
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? true
			: fail(p, "reason=io (reading the filter: %s)", strerror(errno));
	if (n == 0) {
		close_fd(&p->from_child);
		return true;
	}
	p->produced += (uint64_t)n;
	if (p->produced > p->job->max_octets)
		return fail(p, "reason=output_limit (more than %llu octets)",
			    (unsigned long long)p->job->max_octets);
	/* olen < POP3_STREAM_FLUSH here, so 2 * n more octets always fit */
	p->olen += msgconv_feed(&p->conv, p->chunk, (size_t)n, p->out + p->olen);
	if (p->conv.done) {
		/* TOP has its lines: the rest of the filter's work is not needed */
		p->enough = true;
		close_fd(&p->from_child);
		close_fd(&p->to_child);
		stop_group(p);
	}
	if (p->olen >= POP3_STREAM_FLUSH)
		return flush_out(p);
	return true;
}

/*
 * The filter may echo the message, which anybody can send: its '=' must
 * not become a key=value field of the log line (a second POP3_USER or
 * POP3_PEER in the journal), nor a control octet anything else.  Blanks
 * stay, so the line stays readable.  dst holds 4 octets per one of src.
 */
static void escape_stderr(char *dst, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '=' && c != '\\') {
			*dst++ = (char)c;
			continue;
		}
		*dst++ = '\\';
		*dst++ = 'x';
		*dst++ = hex[c >> 4];
		*dst++ = hex[c & 15];
	}
	*dst = '\0';
}

static void log_errline(struct pump *p)
{
	char safe[4 * sizeof p->errline];

	if (p->errlen == 0)
		return;
	escape_stderr(safe, p->errline, p->errlen);
	p->errlen = 0;
	if (p->errlines++ < POP3_FILTER_STDERR_LINES)
		log_warn("filter stderr user=%s msg=%zu: %s", p->job->user, p->job->msgno, safe);
	else if (p->errlines == POP3_FILTER_STDERR_LINES + 1)
		log_warn("filter stderr user=%s msg=%zu: further lines not logged", p->job->user,
			 p->job->msgno);
}

/* The filter's stderr, line by line into the log, never to the client. */
static void drain_stderr(struct pump *p)
{
	char buf[512];
	ssize_t n = read(p->err_child, buf, sizeof buf);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			close_fd(&p->err_child);
		return;
	}
	if (n == 0) {
		log_errline(p);
		close_fd(&p->err_child);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || p->errlen == sizeof p->errline - 1) {
			log_errline(p);
			if (buf[i] == '\n')
				continue;
		}
		p->errline[p->errlen++] = buf[i];
	}
}

static void reap(struct pump *p)
{
	pid_t r;

	/* stragglers it left behind (say, "sleep &") would hold its stdout open */
	stop_group(p);
	while ((r = waitpid(p->pid, &p->wstatus, 0)) < 0 && errno == EINTR)
		;
	/* ECHILD: someone else reaped it (SIGCHLD ignored); its status is lost */
	if (r < 0)
		p->wait_errno = errno;
	p->reaped = true;
}

/* ---- the loop ---- */

static bool pump_run(struct pump *p)
{
	for (;;) {
		struct pollfd pf[4];
		int *fdp[4];
		nfds_t n = 0;

		if (p->from_child < 0 && p->reaped)
			return true;
		/*
		 * TOP has its lines and the filter has had its SIGKILL: reap it
		 * now rather than wait in poll, where the deadline could still
		 * pass and turn a complete TOP into a failure.
		 */
		if (p->enough) {
			if (!p->reaped)
				reap(p);
			return true;
		}
		if (p->to_child >= 0) {
			pf[n] = (struct pollfd){ .fd = p->to_child, .events = POLLOUT };
			fdp[n++] = &p->to_child;
		}
		if (p->from_child >= 0) {
			pf[n] = (struct pollfd){ .fd = p->from_child, .events = POLLIN };
			fdp[n++] = &p->from_child;
		}
		if (p->err_child >= 0) {
			pf[n] = (struct pollfd){ .fd = p->err_child, .events = POLLIN };
			fdp[n++] = &p->err_child;
		}
		if (!p->reaped) {
			pf[n] = (struct pollfd){ .fd = p->pidfd, .events = POLLIN };
			fdp[n++] = &p->pidfd;
		}
		long long left = ms_between(now(), p->deadline);
		if (left <= 0)
			return fail(p, "reason=timeout (no result after %u s)", p->job->timeout_s);
		/*
		 * Exited: what is left in its stdout pipe is read without waiting
		 * (the deadline still holds, should a writer that escaped its
		 * group keep the pipe full).
		 */
		if (p->reaped && p->from_child >= 0) {
			if (!drain(p))
				return false;
			continue;
		}
		int r = poll(pf, n, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno != EINTR)
			return fail(p, "reason=io (poll: %s)", strerror(errno));
		for (nfds_t i = 0; r > 0 && i < n; i++) {
			if (pf[i].revents == 0)
				continue;
			if (fdp[i] == &p->to_child && p->to_child >= 0) {
				if (!feed(p))
					return false;
			} else if (fdp[i] == &p->from_child && p->from_child >= 0) {
				if (!drain(p))
					return false;
			} else if (fdp[i] == &p->err_child && p->err_child >= 0) {
				drain_stderr(p);
			} else if (fdp[i] == &p->pidfd && !p->reaped) {
				reap(p);
			}
		}
	}
}

static bool exited_well(struct pump *p)
{
	if (p->enough)
		return true; /* stopped by us: its status says nothing */
	if (p->wait_errno)
		return fail(p, "reason=wait (%s)", strerror(p->wait_errno));
	if (WIFEXITED(p->wstatus) && WEXITSTATUS(p->wstatus) == 0)
		return true;
	if (WIFEXITED(p->wstatus))
		return fail(p, "reason=exit (status %d)", WEXITSTATUS(p->wstatus));
	if (WIFSIGNALED(p->wstatus))
		return fail(p, "reason=signal (killed by signal %d)", WTERMSIG(p->wstatus));
	return fail(p, "reason=exit (status 0x%x)", (unsigned)p->wstatus);
}

/* The end: the last converted octets, the size if still unsent, the terminator. */
static bool finish(struct pump *p)
{
	char status[64];

	p->olen += msgconv_finish(&p->conv, p->out + p->olen);
	if (!p->committed) {
		if (p->job->top)
			memcpy(status, "+OK\r\n", sizeof "+OK\r\n");
		else
			(void)snprintf(status, sizeof status, "+OK %llu octets\r\n",
				       (unsigned long long)(p->olen - p->conv.stuffed));
		if (!iobuf_puts(p->io, status))
			return fail(p, "reason=client (write failed)");
		p->committed = true;
	}
	memcpy(p->out + p->olen, ".\r\n", 3);
	p->olen += 3;
	return flush_out(p);
}

static void cleanup(struct pump *p)
{
	close_fd(&p->to_child);
	close_fd(&p->from_child);
	close_fd(&p->err_child);
	if (p->pid > 0 && !p->reaped)
		reap(p);
	log_errline(p);
	close_fd(&p->pidfd);
	close_fd(&p->msg_fd);
}

enum stream_status filter_message(struct iobuf *io, int fd, const struct filter_job *job,
				  char *why, size_t whycap)
{
	struct pump p = {
		.io = io, .job = job, .msg_fd = fd, .to_child = -1, .from_child = -1,
		.err_child = -1, .pidfd = -1, .pid = -1, .reaped = true, .why = why, .whycap = whycap,
	};
	enum stream_status res;
	char *map = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	why[0] = '\0';
	if (map == MAP_FAILED) {
		(void)fail(&p, "reason=io (no memory for buffers)");
		cleanup(&p);
		return STREAM_EARLY_FAIL;
	}
	p.in = map;
	p.chunk = map + POP3_STREAM_RAW;
	p.out = map + 2 * POP3_STREAM_RAW;
	msgconv_init(&p.conv, true, job->top, job->body_lines);
	p.deadline = now();
	extend(&p.deadline, (long long)job->timeout_s * 1000);

	bool ok = start(&p) && pump_run(&p) && exited_well(&p) && finish(&p);
	if (ok)
		res = STREAM_OK;
	else
		res = p.committed ? STREAM_ABORTED : STREAM_EARLY_FAIL;
	cleanup(&p);
	(void)munmap(map, MAP_LEN);
	return res;
}
