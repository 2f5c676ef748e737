/*
 * sqlmem.c - a bump allocator for SQLite, released whole at shutdown.
 */
#include "sqlmem.h"

#include <sqlite3.h>
#include <string.h>
#include <sys/mman.h>

/*
 * Address space reserved per SQLite lifetime; pages cost memory only once
 * touched.  Exhausting it makes SQLite report SQLITE_NOMEM: the state
 * transaction fails, the session logs a warning and serves mail anyway.
 */
#define SQLMEM_RESERVE (16u * 1024u * 1024u)
#define ALIGN 16u
#define HDR ALIGN /* each block starts with its size, keeping 16-octet alignment */

/*
 * SQLite's allocator is process-wide by SQLite's design
 * (sqlite3_config(SQLITE_CONFIG_MALLOC)): so is this pool.
 */
static struct {
	char *base;
	size_t used;
} pool;

static size_t round_up(int n)
{
	return ((size_t)n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static void *mem_malloc(int n)
{
	size_t need = round_up(n) + HDR;

	if (n <= 0 || !pool.base || need > SQLMEM_RESERVE - pool.used)
		return NULL;
	char *p = pool.base + pool.used;
	pool.used += need;
	memcpy(p, &need, sizeof need);
	return p + HDR;
}

static void mem_free(void *p)
{
	(void)p; /* reclaimed all at once by sqlmem's shutdown */
}

static int mem_size(void *p)
{
	size_t need;

	if (!p)
		return 0;
	memcpy(&need, (char *)p - HDR, sizeof need);
	return (int)(need - HDR);
}

static void *mem_realloc(void *p, int n)
{
	int old = mem_size(p);
	void *q;

	if (n <= old)
		return p;
	q = mem_malloc(n);
	if (q && p)
		memcpy(q, p, (size_t)old);
	return q;
}

static int mem_roundup(int n)
{
	return (int)round_up(n);
}

static int mem_init(void *unused)
{
	(void)unused;
	void *p = mmap(NULL, SQLMEM_RESERVE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return SQLITE_NOMEM;
	pool.base = p;
	pool.used = 0;
	return SQLITE_OK;
}

static void mem_shutdown(void *unused)
{
	(void)unused;
	if (pool.base)
		(void)munmap(pool.base, SQLMEM_RESERVE);
	pool.base = NULL;
}

bool sqlmem_install(void)
{
	static const sqlite3_mem_methods methods = {
		mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup, mem_init, mem_shutdown, NULL,
	};

	return sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK;
}

size_t sqlmem_used(void)
{
	return pool.used;
}
