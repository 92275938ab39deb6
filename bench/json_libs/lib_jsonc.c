/* lib_jsonc.c - the json-c candidate of the JSON library benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "json_libs.h"

/* --- json-c ------------------------------------------------------------- */

static json_object *jc_get(json_object *o, const char *key)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void jc_attrs(struct sink *k, json_object *arr)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(arr, i);
		sink_str(k, json_object_get_string(jc_get(a, "key")));
		json_object *v = jc_get(a, "value");
		if (!v)
			continue;
		json_object_object_foreach(v, vk, x)
		{
			k->attrs++;
			if (!strcmp(vk, "stringValue"))
				sink_str(k, json_object_get_string(x));
			else if (!strcmp(vk, "intValue"))
				k->sum += (uint64_t)json_object_get_int64(x); /* parses strings too */
			else if (!strcmp(vk, "doubleValue"))
				k->sum += (uint64_t)(json_object_get_double(x) * 4);
			else if (!strcmp(vk, "boolValue"))
				k->sum += (uint64_t)json_object_get_boolean(x);
		}
	}
}

int run_jsonc(const char *json, size_t len, struct sink *k)
{
	json_tokener *tok = json_tokener_new();
	json_object *root = json_tokener_parse_ex(tok, json, (int)len);
	json_tokener_free(tok);
	if (!root)
		return -1;
	json_object *rsa = jc_get(root, "resourceSpans");
	size_t nrs = rsa ? json_object_array_length(rsa) : 0;
	for (size_t i = 0; i < nrs; i++) {
		json_object *rs = json_object_array_get_idx(rsa, i);
		jc_attrs(k, jc_get(jc_get(rs, "resource"), "attributes"));
		json_object *ssa = jc_get(rs, "scopeSpans");
		size_t nss = ssa ? json_object_array_length(ssa) : 0;
		for (size_t j = 0; j < nss; j++) {
			json_object *ss = json_object_array_get_idx(ssa, j);
			sink_str(k, json_object_get_string(jc_get(jc_get(ss, "scope"), "name")));
			json_object *spa = jc_get(ss, "spans");
			size_t nsp = spa ? json_object_array_length(spa) : 0;
			for (size_t m = 0; m < nsp; m++) {
				json_object *sp = json_object_array_get_idx(spa, m);
				json_object_object_foreach(sp, n, f)
				{
					if (!strcmp(n, "traceId") || !strcmp(n, "spanId") ||
					    !strcmp(n, "parentSpanId"))
						sink_hex(k, json_object_get_string(f),
							 (size_t)json_object_get_string_len(f));
					else if (!strcmp(n, "name"))
						sink_str(k, json_object_get_string(f));
					else if (!strcmp(n, "kind"))
						k->sum += (uint64_t)json_object_get_int(f);
					else if (!strcmp(n, "startTimeUnixNano") ||
						 !strcmp(n, "endTimeUnixNano"))
						sink_u64str(k, json_object_get_string(f));
					else if (!strcmp(n, "attributes"))
						jc_attrs(k, f);
					else if (!strcmp(n, "status"))
						k->sum += (uint64_t)json_object_get_int(jc_get(f, "code"));
				}
				k->spans++;
			}
		}
	}
	json_object_put(root);
	return 0;
}

const char *version_jsonc(void)
{
	return json_c_version();
}
