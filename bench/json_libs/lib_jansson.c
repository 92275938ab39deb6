/* lib_jansson.c - the jansson candidate of the JSON library benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_libs.h"

/* --- jansson ------------------------------------------------------------ */

static void ja_attrs(struct sink *k, json_t *arr)
{
	size_t i;
	json_t *a;
	json_array_foreach(arr, i, a)
	{
		sink_str(k, json_string_value(json_object_get(a, "key")));
		json_t *v = json_object_get(a, "value");
		const char *vk;
		json_t *x;
		json_object_foreach(v, vk, x)
		{
			k->attrs++;
			if (!strcmp(vk, "stringValue"))
				sink_str(k, json_string_value(x));
			else if (!strcmp(vk, "intValue"))
				k->sum += json_is_string(x) ? strtoull(json_string_value(x), NULL, 10)
							    : (uint64_t)json_integer_value(x);
			else if (!strcmp(vk, "doubleValue"))
				k->sum += (uint64_t)(json_number_value(x) * 4);
			else if (!strcmp(vk, "boolValue"))
				k->sum += json_is_true(x);
		}
	}
}

int run_jansson(const char *json, size_t len, struct sink *k)
{
	json_error_t e;
	json_t *root = json_loadb(json, len, 0, &e);
	if (!root)
		return -1;
	size_t i, j, m;
	json_t *rs, *ss, *sp;
	json_array_foreach(json_object_get(root, "resourceSpans"), i, rs)
	{
		ja_attrs(k, json_object_get(json_object_get(rs, "resource"), "attributes"));
		json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss)
		{
			sink_str(k, json_string_value(json_object_get(json_object_get(ss, "scope"), "name")));
			json_array_foreach(json_object_get(ss, "spans"), m, sp)
			{
				const char *n;
				json_t *f;
				json_object_foreach(sp, n, f)
				{
					if (!strcmp(n, "traceId") || !strcmp(n, "spanId") ||
					    !strcmp(n, "parentSpanId"))
						sink_hex(k, json_string_value(f), json_string_length(f));
					else if (!strcmp(n, "name"))
						sink_str(k, json_string_value(f));
					else if (!strcmp(n, "kind"))
						k->sum += (uint64_t)json_integer_value(f);
					else if (!strcmp(n, "startTimeUnixNano") ||
						 !strcmp(n, "endTimeUnixNano"))
						sink_u64str(k, json_string_value(f));
					else if (!strcmp(n, "attributes"))
						ja_attrs(k, f);
					else if (!strcmp(n, "status"))
						k->sum += (uint64_t)json_integer_value(
							json_object_get(f, "code"));
				}
				k->spans++;
			}
		}
	}
	json_decref(root);
	return 0;
}

const char *version_jansson(void)
{
	return JANSSON_VERSION;
}
