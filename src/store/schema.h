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

/* Bring the database to the latest version.  0 or -1. */
int schema_migrate(sqlite3 *db, char *err, size_t errlen);
/* Bring it to `version` only (<= latest): a store as an older hotpath
 * left it, for the migration tests.  0 or -1. */
int schema_migrate_to(sqlite3 *db, int version, char *err, size_t errlen);
int schema_version_latest(void);

#endif
