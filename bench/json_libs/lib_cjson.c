/* lib_cjson.c - the cJSON candidate of the JSON library benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_libs.h"

/* --- cJSON -------------------------------------------------------------- */

static void cj_attrs(struct sink *k, const cJSON *arr)
{
	const cJSON *a;
	cJSON_ArrayForEach(a, arr)
	{
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(a, "key");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "value");
		sink_str(k, cJSON_GetStringValue(key));
		const cJSON *x = v ? v->child : NULL;
		if (!x)
			continue;
		k->attrs++;
		if (!strcmp(x->string, "stringValue"))
			sink_str(k, cJSON_GetStringValue(x));
		else if (!strcmp(x->string, "intValue"))
			k->sum += cJSON_IsString(x) ? strtoull(x->valuestring, NULL, 10)
						    : (uint64_t)x->valuedouble;
		else if (!strcmp(x->string, "doubleValue"))
			k->sum += (uint64_t)(x->valuedouble * 4);
		else if (!strcmp(x->string, "boolValue"))
			k->sum += cJSON_IsTrue(x);
	}
}

int run_cjson(const char *json, size_t len, struct sink *k)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!root)
		return -1;
	const cJSON *rs, *ss, *sp;
	cJSON_ArrayForEach(rs, cJSON_GetObjectItemCaseSensitive(root, "resourceSpans"))
	{
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(rs, "resource");
		cj_attrs(k, cJSON_GetObjectItemCaseSensitive(res, "attributes"));
		cJSON_ArrayForEach(ss, cJSON_GetObjectItemCaseSensitive(rs, "scopeSpans"))
		{
			const cJSON *scope = cJSON_GetObjectItemCaseSensitive(ss, "scope");
			sink_str(k, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(scope, "name")));
			cJSON_ArrayForEach(sp, cJSON_GetObjectItemCaseSensitive(ss, "spans"))
			{
				/* one pass over the members, as a real decoder does */
				const cJSON *f;
				cJSON_ArrayForEach(f, sp)
				{
					const char *n = f->string;
					if (!strcmp(n, "traceId") || !strcmp(n, "spanId") ||
					    !strcmp(n, "parentSpanId"))
						sink_hex(k, f->valuestring,
							 f->valuestring ? strlen(f->valuestring) : 0);
					else if (!strcmp(n, "name"))
						sink_str(k, f->valuestring);
					else if (!strcmp(n, "kind"))
						k->sum += (uint64_t)f->valuedouble;
					else if (!strcmp(n, "startTimeUnixNano") ||
						 !strcmp(n, "endTimeUnixNano"))
						sink_u64str(k, f->valuestring);
					else if (!strcmp(n, "attributes"))
						cj_attrs(k, f);
					else if (!strcmp(n, "status"))
						k->sum += (uint64_t)cJSON_GetNumberValue(
							cJSON_GetObjectItemCaseSensitive(f, "code"));
				}
				k->spans++;
			}
		}
	}
	cJSON_Delete(root);
	return 0;
}

const char *version_cjson(void)
{
	return cJSON_Version();
}
