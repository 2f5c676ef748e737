/*
 * stream.c - RETR and TOP through two bounded buffers.
 *
 * The buffers are mapped for the duration of one message and unmapped
 * after it, so an idle session keeps no large buffer and memory stays flat
 * whatever the message size.  Converted data leaves in writes of at least
 * POP3_STREAM_FLUSH octets; the last chunk and the terminator ".\r\n" leave
 * together in one write, so a client never sees ".\r" without its "\n".
 */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "msgconv.h"
#include "params.h"

struct stream_bufs {
	char *raw;
	char *out;
};

static bool bufs_get(struct stream_bufs *b)
{
	size_t len = POP3_STREAM_RAW + POP3_STREAM_OUT;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return false;
	b->raw = p;
	b->out = p + POP3_STREAM_RAW;
	return true;
}

static void bufs_put(struct stream_bufs *b)
{
	(void)munmap(b->raw, POP3_STREAM_RAW + POP3_STREAM_OUT);
}

static ssize_t read_chunk(int fd, char *buf)
{
	for (;;) {
		ssize_t n = read(fd, buf, POP3_STREAM_RAW);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

enum stream_status stream_message(struct iobuf *io, int fd, const char *status, bool top,
				  uint64_t body_lines)
{
	struct stream_bufs b;
	struct msgconv conv;
	size_t olen = 0;
	enum stream_status res = STREAM_ABORTED;

	if (!bufs_get(&b)) {
		(void)close(fd);
		return STREAM_EARLY_FAIL;
	}
	/* the kernel reads ahead more eagerly for a file read front to back */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	ssize_t n = read_chunk(fd, b.raw);
	if (n < 0) {
		res = STREAM_EARLY_FAIL;
		goto out;
	}
	if (!iobuf_puts(io, status))
		goto out;

	msgconv_init(&conv, true, top, body_lines);
	while (n > 0 && !conv.done) {
		olen += msgconv_feed(&conv, b.raw, (size_t)n, b.out + olen);
		if (olen >= POP3_STREAM_FLUSH) {
			if (!iobuf_flush_with(io, b.out, olen))
				goto out;
			olen = 0;
		}
		if (conv.done)
			break;
		n = read_chunk(fd, b.raw);
	}
	if (n < 0)
		goto out; /* "+OK" is out: no -ERR possible, and no false "." */

	olen += msgconv_finish(&conv, b.out + olen);
	memcpy(b.out + olen, ".\r\n", 3);
	olen += 3;
	/* small replies join the buffer and leave with the next pipelined ones */
	if (olen <= sizeof io->out - io->out_len)
		res = iobuf_put(io, b.out, olen) ? STREAM_OK : STREAM_ABORTED;
	else
		res = iobuf_flush_with(io, b.out, olen) ? STREAM_OK : STREAM_ABORTED;
out:
	(void)close(fd);
	bufs_put(&b);
	return res;
}
