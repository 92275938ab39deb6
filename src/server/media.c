/* media.c - the media type of an ingest body (see media.h). */
#include "server/media.h"

#include <string.h>
#include <strings.h>

enum media media_parse(const char *ct)
{
	if (!ct)
		return M_UNKNOWN;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	static const struct {
		const char *name;
		enum media m;
	} types[] = {
		{"application/x-protobuf", M_PROTOBUF}, {"application/protobuf", M_PROTOBUF},
		{"application/json", M_JSON},		{"application/x-ndjson", M_NDJSON},
		{"application/jsonl", M_NDJSON},	{"application/ndjson", M_NDJSON},
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].name) == n && !strncasecmp(ct, types[i].name, n))
			return types[i].m;
	return M_UNKNOWN;
}
