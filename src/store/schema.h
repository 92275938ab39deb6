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

int schema_migrate(sqlite3 *db, char *err, size_t errlen);
int schema_version_latest(void);

#endif
