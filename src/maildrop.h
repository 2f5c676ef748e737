/*
 * maildrop.h - one user's Maildir, locked and snapshotted for a session.
 *
 * At open: take the exclusive lock, move new/ to cur/ (the Maildir
 * convention), list cur/ once and fix each message's number, UIDL and exact
 * size.  Later deliveries are not seen by this session.  Deletions are only
 * marks until maildrop_commit(), which the UPDATE state alone calls.
 */
#ifndef POP3_MAILDROP_H
#define POP3_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"

struct msg {
	char *path;        /* "cur/<name>" or "new/<name>", relative to the maildir */
	uint64_t size;     /* octets RETR sends before dot-stuffing */
	uint64_t sortkey;  /* delivery time from the name, for numbering */
	uint64_t ino;      /* the file's inode at the snapshot: renames keep it */
	uint16_t uniq_off; /* the unique name inside path */
	uint16_t uniq_len;
	bool deleted;
	bool duplicate;    /* an earlier message has the same unique name: own UIDL */
	bool shared_name;  /* its unique name is not its own: never sized from the cache */
};

struct arena; /* name storage, private to maildrop.c */

struct maildrop {
	int dirfd;
	int lockfd;
	struct msg *msgs;
	size_t count;
	size_t live_count;   /* not marked deleted */
	uint64_t live_size;
	struct arena *names;
	/* for the log: what happened at open */
	size_t moved_new;    /* new/ -> cur/ renames */
	size_t sizes_computed; /* cache misses: messages read to size them */
	bool cache_write_failed;
};

enum md_status {
	MD_OK,
	MD_INUSE,   /* another session holds the lock */
	MD_FAIL,    /* errno says why */
};

/* Open, lock and snapshot the maildir at path (created if missing). */
enum md_status maildrop_open(struct maildrop *md, const char *path);
void maildrop_close(struct maildrop *md);

/* The RFC 1939 unique-id of message i (0-based) into buf[POP3_UIDL_MAX + 1]. */
size_t maildrop_uidl(const struct maildrop *md, size_t i, char *buf);

/* Open message i for reading; -1 with errno when it is gone or unreadable. */
int maildrop_open_msg(struct maildrop *md, size_t i);

void maildrop_mark_deleted(struct maildrop *md, size_t i);
void maildrop_unmark_all(struct maildrop *md);

/*
 * UPDATE state: remove the marked messages.  Returns how many could not be
 * removed (0 on full success); *removed counts the ones that were.
 */
size_t maildrop_commit(struct maildrop *md, size_t *removed);

#endif
