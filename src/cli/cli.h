/*
 * cli.h - the subcommands of the hotpath binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand)
 * and returns the process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef HOTPATH_CLI_CLI_H
#define HOTPATH_CLI_CLI_H

int cmd_serve(int argc, char **argv);	   /* cli/cmd_serve.c */
int cmd_demo(int argc, char **argv);	   /* cli/cmd_demo.c */
int cmd_collapse(int argc, char **argv);   /* cli/cmd_collapse.c */
int cmd_flamegraph(int argc, char **argv); /* cli/cmd_flamegraph.c */
int cmd_diff(int argc, char **argv);	   /* cli/cmd_diff.c */
int cmd_top(int argc, char **argv);	   /* cli/cmd_top.c */

#endif
