// SPDX-License-Identifier: MIT
// Subcommand registry (see command.h).
#include "command.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_COMMANDS 64
static const as_command_t *cmds[MAX_COMMANDS];
static size_t ncmds;

void as_command_register(const as_command_t *c)
{
	if (ncmds < MAX_COMMANDS)
		cmds[ncmds++] = c;
}

size_t as_command_count(void)
{
	return ncmds;
}

const as_command_t *as_command_at(size_t i)
{
	return i < ncmds ? cmds[i] : NULL;
}

const as_command_t *as_command_find(const char *name)
{
	for (size_t i = 0; i < ncmds; i++)
		if (!strcmp(cmds[i]->name, name))
			return cmds[i];
	return NULL;
}

bool as_cmd_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

char *as_cmd_line(int argc, char **argv)
{
	as_strv_t l = { 0 };
	as_strv_push(&l, "allocscope");
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (*a && !strpbrk(a, " \t\"'$\\;&|<>()*?!`"))
			as_strv_push(&l, a);
		else {
			// Single quotes, with ' written as '\''.
			size_t n = 3;
			for (const char *c = a; *c; c++)
				n += *c == '\'' ? 4 : 1;
			char *q = as_xmalloc(n);
			char *o = q;
			*o++ = '\'';
			for (const char *c = a; *c; c++) {
				if (*c == '\'') {
					memcpy(o, "'\\''", 4);
					o += 4;
				} else
					*o++ = *c;
			}
			*o++ = '\'';
			*o = '\0';
			as_strv_push(&l, q);
			free(q);
		}
	}
	char *s = as_strv_join(&l, " ");
	as_strv_clear(&l);
	return s;
}
