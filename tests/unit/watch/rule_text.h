/*
 * rule_text.h - an alert rule from its JSON text, for the tests of rules
 * and of what evaluates them.
 */
#ifndef HOTPATH_TESTS_WATCH_RULE_TEXT_H
#define HOTPATH_TESTS_WATCH_RULE_TEXT_H

#include <string.h>

#include "core/json_doc.h"
#include "watch/rule.h"

/* rule_parse() of `text`; its strings live in `a`.  `err` holds 256 bytes. */
static inline int rule_from_text(const char *text, struct alert_rule *r, struct arena *a, char *err)
{
	struct json_doc d;
	int rc = json_doc_parse(&d, text, strlen(text), 0, err, 256);
	if (rc == 0)
		rc = rule_parse(d.root, NULL, a, r, err, 256);
	json_doc_release(&d);
	return rc;
}

#endif
