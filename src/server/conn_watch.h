/*
 * conn_watch.h - the header deadline: a connection that has not sent a
 * request's complete headers within --header-timeout seconds of its start
 * (or of its last answer, on a kept-alive connection) is closed, however
 * often it sends a byte.  libmicrohttpd 0.9.75 has only an idle timeout,
 * which each trickled byte resets, and calls the server only once the
 * headers are complete; so one thread looks over the open connections
 * twice a second and shuts down the socket of each one past its deadline
 * (libmicrohttpd then sees the end of the stream and closes it itself).
 *
 * Threads: the HTTP threads add, mark and remove their connections; the
 * watch thread reads them; one mutex.  A connection is removed before
 * libmicrohttpd closes its socket (its CLOSED notice comes first), so the
 * watch never shuts down a descriptor that was reused.
 */
#ifndef HOTPATH_SERVER_CONN_WATCH_H
#define HOTPATH_SERVER_CONN_WATCH_H

#include <stdint.h>

struct conn_watch;
struct conn_slot;

/* Watch up to `max` connections; `on_late(arg)` is called (lock not held)
 * for each connection closed past its deadline.  NULL if the thread cannot
 * start. */
struct conn_watch *conn_watch_start(unsigned header_timeout_s, unsigned max, void (*on_late)(void *arg),
				    void *arg);
void conn_watch_stop(struct conn_watch *cw);
/* A new connection on socket fd: its slot, or NULL when all are taken (the
 * connection limit should keep that from happening). */
struct conn_slot *conn_watch_add(struct conn_watch *cw, int fd);
/* The headers of its current request are all in: no deadline until the
 * answer is sent. */
void conn_watch_headers_done(struct conn_watch *cw, struct conn_slot *s);
/* An answer was sent: the next request's headers have the deadline again. */
void conn_watch_request_done(struct conn_watch *cw, struct conn_slot *s);
/* The connection is closing: forget it. */
void conn_watch_remove(struct conn_watch *cw, struct conn_slot *s);

#endif
