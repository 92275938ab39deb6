/*
 * multipart.h - finding one part of a multipart/form-data body (RFC 7578),
 * as newer Pyroscope clients send profiles.  The body is untrusted: every
 * length is checked against it and nothing is copied.
 */
#ifndef HOTPATH_SERVER_MULTIPART_H
#define HOTPATH_SERVER_MULTIPART_H

#include <stddef.h>

/*
 * The part named `name` of `body`, whose Content-Type `ctype` gives the
 * boundary: 0 with *part pointing into `body`, 1 if there is no such part,
 * -1 with a message for a malformed body.
 */
int multipart_part(const char *ctype, const char *body, size_t len, const char *name, const char **part,
		   size_t *part_len, char *err, size_t errlen);

#endif
