/*
 * cli.h - the subcommands of the hotpath binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand)
 * and returns the process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef HOTPATH_CLI_CLI_H
#define HOTPATH_CLI_CLI_H

#include <curl/curl.h>
#include <stddef.h>

#include "core/buf.h"

int cmd_serve(int argc, char **argv);	   /* cli/cmd_serve.c */
int cmd_demo(int argc, char **argv);	   /* cli/cmd_demo.c */
int cmd_collapse(int argc, char **argv);   /* cli/cmd_collapse.c */
int cmd_flamegraph(int argc, char **argv); /* cli/cmd_flamegraph.c */
int cmd_diff(int argc, char **argv);	   /* cli/cmd_diff.c */
int cmd_top(int argc, char **argv);	   /* cli/cmd_top.c */
int cmd_report(int argc, char **argv);	   /* cli/cmd_report.c */
int cmd_slo(int argc, char **argv);	   /* cli/cmd_watch.c */
int cmd_alerts(int argc, char **argv);	   /* cli/cmd_watch.c */
int cmd_gate(int argc, char **argv);	   /* cli/cmd_gate.c */
int cmd_agent(int argc, char **argv);	   /* cli/cmd_agent.c */
int cmd_keys(int argc, char **argv);	   /* cli/cmd_keys.c */
int cmd_compact(int argc, char **argv);	   /* cli/cmd_compact.c */

/* Split "--name[=value]" into `name` (NUL-terminated); *value points after
 * '=' or is NULL.  -1 when `arg` is not a long option or its name does not
 * fit in `namesz` bytes. */
int cli_long_option(const char *arg, char *name, size_t namesz, const char **value);
/* A renderer's write callback onto stdout. */
int cli_write_stdout(void *ctx, const char *data, size_t len);

/* Append "&key=escaped value" to a URL; nothing when value is NULL. */
void cli_url_param(struct buf *url, CURL *curl, const char *key, const char *value);
/* GET an API URL of a hotpath server into `body`: 0, or -1 with a message
 * (for an error status, the API's own message). */
int cli_api_get(CURL *curl, const char *url, struct buf *body, char *err, size_t errlen);
/* "Authorization: Bearer $HOTPATH_KEY" into `line` (at most cap - 1
 * bytes): 1, or 0 when HOTPATH_KEY is not set. */
int cli_auth_line(char *line, size_t cap);
/* `h` with "Authorization: Bearer $HOTPATH_KEY" appended when that is set
 * (a server with API keys wants one); the caller frees the list. */
struct curl_slist *cli_auth_header(struct curl_slist *h);

#endif
