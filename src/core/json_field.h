/*
 * json_field.h - read members of a parsed JSON object (json_doc.h) into C
 * values, with the limits and the 400-class messages every reader of a
 * stored or posted definition wants.
 */
#ifndef HOTPATH_CORE_JSON_FIELD_H
#define HOTPATH_CORE_JSON_FIELD_H

#include <stddef.h>

#include "core/arena.h"
#include "core/json_doc.h"

/*
 * Member `key` of object `o` as a string of 1..`max` bytes with no NUL,
 * copied into `a` (*out is owned by the arena).  *out is NULL when the
 * member is absent or null.  Returns 0, or ERR_INVALID with a message that
 * names the member in `err`.
 */
int json_field_str(const struct json *o, const char *key, size_t max, struct arena *a, const char **out,
		   char *err, size_t errlen);

/* The value of a JSON number, else (absent, null, a string...) NaN. */
double json_num_or_nan(const struct json *v);

#endif
