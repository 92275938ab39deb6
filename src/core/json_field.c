/*
 * json_field.c - members of a parsed JSON object as C values (see json_field.h).
 */
#include "core/json_field.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"

int json_field_str(const struct json *o, const char *key, size_t max, struct arena *a, const char **out,
		   char *err, size_t errlen)
{
	const struct json *v = json_get(o, key);
	*out = NULL;
	if (!v || v->type == JSON_NULL)
		return 0;
	const char *s = json_str(v);
	if (!s || !*s || v->len > max || strlen(s) != v->len)
		return errf(err, errlen, "\"%s\" must be a non-empty string of at most %zu bytes", key, max),
		       ERR_INVALID;
	*out = arena_strdup(a, s);
	return 0;
}

double json_num_or_nan(const struct json *v)
{
	double d;
	return v && v->type == JSON_NUMBER && json_double(v, &d) == 0 ? d : NAN;
}
