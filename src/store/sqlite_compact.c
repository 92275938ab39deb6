/*
 * sqlite_compact.c - `hotpath compact`: the embedded store rewritten whole
 * with incremental vacuum on (see store.h, store_compact()).
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "core/log.h"
#include "store/store.h"

static uint64_t files_size(const char *db)
{
	char wal[4200];
	struct stat sb;
	uint64_t n = 0;
	if (stat(db, &sb) == 0)
		n += (uint64_t)sb.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", db);
	if (stat(wal, &sb) == 0)
		n += (uint64_t)sb.st_size;
	return n;
}

int store_compact(const char *dir, uint64_t *before, uint64_t *after, char *err, size_t errlen)
{
	char path[4096];
	struct stat sb;
	struct statvfs vfs;
	sqlite3 *db = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/hotpath.db", dir) >= sizeof(path))
		return errf(err, errlen, "data directory path too long");
	if (stat(path, &sb) < 0)
		return errf(err, errlen, "no store in %s: %s", dir, strerror(errno));
	*before = files_size(path);
	/* VACUUM writes a copy, then the pages again through the log */
	if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < 2 * (uint64_t)sb.st_size)
		return errf(err, errlen,
			    "%s needs about twice its size (%lld bytes) free on the disk to be rewritten",
			    path, (long long)sb.st_size);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		errf(err, errlen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 10000);
	char *msg = NULL;
	int rc = sqlite3_exec(db, "PRAGMA auto_vacuum=INCREMENTAL; VACUUM; PRAGMA wal_checkpoint(TRUNCATE)",
			      NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		errf(err, errlen, "rewriting %s: %s%s", path, msg ? msg : sqlite3_errmsg(db),
		     rc == SQLITE_BUSY ? " (is a server running on it? stop it first)" : "");
	sqlite3_free(msg);
	sqlite3_close(db);
	*after = files_size(path);
	return rc == SQLITE_OK ? 0 : -1;
}
