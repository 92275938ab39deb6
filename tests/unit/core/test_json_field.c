/*
 * test_json_field.c - string members of a JSON object: present, absent,
 * null, and each way a value is refused (not a string, empty, too long,
 * holding a NUL), with a message that names the member; numbers or NaN.
 */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/json_field.h"
#include "tap.h"

static const char doc_text[] = "{\"id\":\"a-1\",\"none\":null,\"num\":3,\"empty\":\"\","
			       "\"long\":\"abcdef\",\"nul\":\"a\\u0000b\"}";

int main(void)
{
	struct json_doc d = {0};
	struct arena a;
	char err[128] = "";
	const char *s = "unset";
	arena_init(&a);
	ok(json_doc_parse(&d, doc_text, strlen(doc_text), 0, err, sizeof(err)) == 0, "parse: %s", err);

	is_int(json_field_str(d.root, "id", 8, &a, &s, err, sizeof(err)), 0, "a string member");
	is_str(s, "a-1", "is copied");
	s = "unset";
	is_int(json_field_str(d.root, "missing", 8, &a, &s, err, sizeof(err)), 0, "an absent member");
	ok(s == NULL, "absent reads as NULL");
	s = "unset";
	is_int(json_field_str(d.root, "none", 8, &a, &s, err, sizeof(err)), 0, "a null member");
	ok(s == NULL, "null reads as NULL");

	static const char *const bad[] = {"num", "empty", "long", "nul"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		is_int(json_field_str(d.root, bad[i], 5, &a, &s, err, sizeof(err)), ERR_INVALID, "%s refused",
		       bad[i]);
		ok(strstr(err, bad[i]) && strstr(err, "at most 5 bytes"), "the message names %s: %s", bad[i],
		   err);
	}
	ok(json_num_or_nan(json_get(d.root, "num")) == 3, "a number reads as its value");
	ok(isnan(json_num_or_nan(json_get(d.root, "id"))), "a string is no number");
	ok(isnan(json_num_or_nan(json_get(d.root, "none"))), "null is no number");
	ok(isnan(json_num_or_nan(NULL)), "nor is an absent member");
	json_doc_release(&d);
	arena_release(&a);
	return tap_done();
}
