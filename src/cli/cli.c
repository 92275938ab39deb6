/* cli.c - small helpers shared by the subcommands (see cli.h). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cli_long_option(const char *arg, char *name, size_t namesz, const char **value)
{
	if (strncmp(arg, "--", 2) != 0)
		return -1;
	const char *eq = strchr(arg + 2, '=');
	size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	if (nlen >= namesz)
		return -1;
	memcpy(name, arg + 2, nlen);
	name[nlen] = 0;
	*value = eq ? eq + 1 : NULL;
	return 0;
}

int cli_write_stdout(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}
