/*
 * sqlmem.h - SQLite's memory for pop3-session, in one mapping.
 *
 * A session uses SQLite at its start, at PASS and at its end, and idles in
 * between.  glibc's heap cannot give SQLite's freed memory back (its caches
 * pin the pages), so SQLite gets a bump allocator over one private mapping
 * instead: sqlmem_release() (after sqlite3_close() and sqlite3_shutdown())
 * unmaps all of it, and an idle session keeps none.  Freed blocks are not
 * reused: a session's few statements allocate a few hundred KiB in all.
 */
#ifndef POP3_SQLMEM_H
#define POP3_SQLMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Install the allocator; call before any other SQLite function. */
bool sqlmem_install(void);

/* Octets handed out since the mapping was made (for the debug log). */
size_t sqlmem_used(void);

#endif
