// SPDX-License-Identifier: MIT
// Subcommands of `allocscope`. Each registers itself by constructor from its
// own file, so adding one (compare, history, export, ...) needs no edit
// elsewhere:
//
//     static int cmd_compare(int argc, char **argv) { ... }
//     AS_COMMAND(compare, "compare two result folders", cmd_compare)
//
// fn gets argv[0] = the subcommand name and returns the exit status. Every
// command handles --help itself (as_cmd_wants_help helps) and fails bad
// input with exit status 2 and "--option: reason".
#ifndef AS_COMMAND_H
#define AS_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

typedef struct as_command_s {
	const char *name;
	const char *summary; ///< one line, for `allocscope --help`
	int (*fn)(int argc, char **argv);
} as_command_t;

void as_command_register(const as_command_t *c);
size_t as_command_count(void);
const as_command_t *as_command_at(size_t i);
const as_command_t *as_command_find(const char *name);

#define AS_COMMAND(cname, summary_, fn_)                                          \
	static const as_command_t as_cmd_##cname = { #cname, summary_, fn_ };       \
	__attribute__((constructor)) static void as_cmd_register_##cname(void)      \
	{                                                                           \
		as_command_register(&as_cmd_##cname);                               \
	}

/// True when argv holds -h or --help.
bool as_cmd_wants_help(int argc, char **argv);

/// The command line as one shell-quoted string (for the results context).
char *as_cmd_line(int argc, char **argv);

#endif
