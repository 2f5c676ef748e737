/*
 * iobuf.c - timeouts on every read, checked gathered writes.
 */
#include "iobuf.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tls.h"

void iobuf_init(struct iobuf *b, int in_fd, int out_fd, int timeout_ms)
{
	b->tls = NULL;
	b->in_fd = in_fd;
	b->out_fd = out_fd;
	b->timeout_ms = timeout_ms;
	b->discarding = false;
	b->out_failed = false;
	b->out_nonblock = false;
	b->in_off = 0;
	b->in_len = 0;
	b->out_len = 0;
	b->octets_out = 0;
}

size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

/* The transport's read: waits at most timeout_ms for data. */
static enum io_status iobuf_read_some(struct iobuf *b, char *dst, size_t cap, size_t *got)
{
	struct pollfd pfd = { .fd = b->in_fd, .events = POLLIN, .revents = 0 };

	if (b->tls && b->tls->active) {
		switch (tls_read(b->tls, dst, cap, got, b->timeout_ms)) {
		case TLS_IO_OK: return IO_OK;
		case TLS_IO_EOF: return IO_EOF;
		case TLS_IO_TIMEOUT: return IO_TIMEOUT;
		case TLS_IO_ERROR: return IO_ERROR;
		}
	}
	for (;;) {
		int r = poll(&pfd, 1, b->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return IO_ERROR;
		if (r == 0)
			return IO_TIMEOUT;
		break;
	}
	for (;;) {
		ssize_t n = read(b->in_fd, dst, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? IO_EOF : IO_ERROR;
		if (n == 0)
			return IO_EOF;
		*got = (size_t)n;
		return IO_OK;
	}
}

/* A non-blocking stdout (a pipe): wait at most the timeout for room. */
static bool wait_writable(struct iobuf *b)
{
	struct pollfd pfd = { .fd = b->out_fd, .events = POLLOUT, .revents = 0 };

	for (;;) {
		int r = poll(&pfd, 1, b->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		return r > 0;
	}
}

/*
 * The transport's write.  On a socket, SO_SNDTIMEO (set by the session)
 * bounds each blocked write, so a client that stops reading cannot hold the
 * process forever; EAGAIN then means that timeout expired.
 */
static bool iobuf_writev(struct iobuf *b, struct iovec *iov, int cnt)
{
	if (b->out_failed)
		return false;
	if (b->tls && b->tls->active) {
		for (int i = 0; i < cnt; i++) {
			if (!tls_write(b->tls, iov[i].iov_base, iov[i].iov_len, b->timeout_ms)) {
				b->out_failed = true;
				return false;
			}
			b->octets_out += iov[i].iov_len;
		}
		return true;
	}
	while (cnt > 0) {
		ssize_t n = writev(b->out_fd, iov, cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && b->out_nonblock && wait_writable(b))
			continue;
		if (n <= 0) {
			b->out_failed = true;
			return false;
		}
		b->octets_out += (uint64_t)n;
		size_t left = (size_t)n;
		while (cnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return true;
}

bool iobuf_flush_with(struct iobuf *b, const void *extra, size_t n)
{
	struct iovec iov[2];
	int cnt = 0;

	if (b->out_len > 0) {
		iov[cnt].iov_base = b->out;
		iov[cnt].iov_len = b->out_len;
		cnt++;
	}
	if (n > 0) {
		iov[cnt].iov_base = (void *)(uintptr_t)extra;
		iov[cnt].iov_len = n;
		cnt++;
	}
	b->out_len = 0;
	if (cnt == 0)
		return !b->out_failed;
	return iobuf_writev(b, iov, cnt);
}

bool iobuf_flush(struct iobuf *b)
{
	return iobuf_flush_with(b, NULL, 0);
}

bool iobuf_put(struct iobuf *b, const void *p, size_t n)
{
	if (n > sizeof b->out - b->out_len)
		return iobuf_flush_with(b, p, n);
	memcpy(b->out + b->out_len, p, n);
	b->out_len += n;
	return !b->out_failed;
}

bool iobuf_puts(struct iobuf *b, const char *s)
{
	return iobuf_put(b, s, strlen(s));
}

bool iobuf_put_u64(struct iobuf *b, uint64_t v)
{
	char num[24];

	return iobuf_put(b, num, fmt_u64(num, v));
}

size_t iobuf_discard_input(struct iobuf *b)
{
	size_t n = b->in_len;

	explicit_bzero(b->in, sizeof b->in);
	b->in_off = 0;
	b->in_len = 0;
	b->discarding = false;
	return n;
}

/* Move unconsumed input to the front and wipe what it leaves behind. */
static void compact(struct iobuf *b)
{
	if (b->in_off == 0)
		return;
	memmove(b->in, b->in + b->in_off, b->in_len);
	/* consumed lines may have held a password */
	explicit_bzero(b->in + b->in_len, b->in_off);
	b->in_off = 0;
}

static enum io_status fill(struct iobuf *b)
{
	size_t got = 0;
	enum io_status st;

	compact(b);
	/* a reply must be out before we wait for the client to answer it */
	if (!iobuf_flush(b))
		return IO_ERROR;
	st = iobuf_read_some(b, b->in + b->in_len, sizeof b->in - b->in_len, &got);
	if (st == IO_OK)
		b->in_len += got;
	return st;
}

enum io_status iobuf_getline(struct iobuf *b, size_t max, char **line, size_t *len)
{
	for (;;) {
		char *start = b->in + b->in_off;
		char *lf = memchr(start, '\n', b->in_len);

		if (b->discarding) {
			if (lf) {
				size_t skip = (size_t)(lf - start) + 1;
				b->in_off += skip;
				b->in_len -= skip;
				b->discarding = false;
				continue;
			}
			/* consumed lines before it may have held a password */
			explicit_bzero(b->in, b->in_off + b->in_len);
			b->in_off = 0;
			b->in_len = 0;
		} else if (lf) {
			size_t whole = (size_t)(lf - start) + 1;
			b->in_off += whole;
			b->in_len -= whole;
			if (whole > max)
				return IO_TOOLONG;
			size_t n = whole - 1;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			start[n] = '\0';
			*line = start;
			*len = n;
			return IO_OK;
		} else if (b->in_len >= max) {
			/* no end in sight: refuse now, skip the rest as it comes */
			explicit_bzero(b->in, b->in_off + b->in_len);
			b->in_off = 0;
			b->in_len = 0;
			b->discarding = true;
			return IO_TOOLONG;
		}

		enum io_status st = fill(b);
		if (st != IO_OK)
			return st;
	}
}
