/*
 * error.h - the classes of failure.  A call that can fail returns 0 (or a
 * count), or one of these negative classes with a message in the caller's
 * `char *err, size_t errlen`: the class says what the caller can do about
 * it, the message what happened.  One table in server/status.c turns a
 * class into an HTTP status and an OTLP status; no module invents its own
 * "-2".
 */
#ifndef HOTPATH_CORE_ERROR_H
#define HOTPATH_CORE_ERROR_H

enum err_class {
	ERR_INTERNAL = -1,  /* hotpath or its store failed, not the caller (500) */
	ERR_INVALID = -2,   /* what was sent or asked is wrong (400) */
	ERR_TOO_MUCH = -3,  /* it asks for more than a bound allows: narrow it (400) */
	ERR_TOO_BIG = -4,   /* a body, its decompression or an answer passes its size bound (413) */
	ERR_BUSY = -5,	    /* full for now: retry later (503) */
	ERR_NOT_FOUND = -6, /* no such thing (404) */

	/* the store's backend cannot answer this (yet) (501) */
	ERR_UNSUPPORTED = -7,
	/* a read took longer than its time limit (504): narrow it, or retry
	 * when the server is less busy */
	ERR_TIMEOUT = -8,
	/* the store's server cannot be reached now: retry later (503) */
	ERR_UNAVAILABLE = -9,
};

#endif
