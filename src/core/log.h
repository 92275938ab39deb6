/*
 * log.h - diagnostics to stderr, and the error-message helper.
 *
 * Error convention across hotpath: functions return int, 0 on success and
 * negative on failure.  errf() writes a message into a caller's buffer and
 * returns -1, so a decoder can say `return errf(err, errlen, "...")`.
 */
#ifndef HOTPATH_CORE_LOG_H
#define HOTPATH_CORE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
