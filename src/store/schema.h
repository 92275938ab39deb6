/*
 * schema.h - the embedded store's SQLite schema and its migrations.
 *
 * The schema version is PRAGMA user_version.  Each migration moves the
 * database from version i to i+1 inside one transaction; a database newer
 * than this binary is refused rather than guessed at.
 */
#ifndef HOTPATH_STORE_SCHEMA_H
#define HOTPATH_STORE_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

/*
 * Requests at least this long are also indexed by duration (then start):
 * the partial index `requests_slow`, which the slowest-first searches walk
 * instead of sorting every request of their range (sqlite_read.c).  It is
 * not a migration: it is created when missing, so a store stays readable
 * and writable by a hotpath that does not know it (SQLite keeps it).
 */
#define SCHEMA_SLOW_INDEX_NS  1000000000LL
#define SCHEMA_SLOW_INDEX_SQL "1000000000"
/*
 * The blocks are also indexed by time, `blocks_by_time` (t_max, t_min): a
 * scan of a time range finds its blocks there instead of reading every
 * row of the table (a block's row is a page or more).  Not a migration
 * either, for the same reason.
 */

/* Bring the database to the latest version, and add the indexes that are
 * not migrations (above) when missing.  0 or -1. */
int schema_migrate(sqlite3 *db, char *err, size_t errlen);
/* Bring it to `version` only (<= latest): a store as an older hotpath
 * left it, for the migration tests.  0 or -1. */
int schema_migrate_to(sqlite3 *db, int version, char *err, size_t errlen);
int schema_version_latest(void);

#endif
