/*
 * cmdline.c - the filter command's word splitting (see cmdline.h).
 */
#include "cmdline.h"

#include <string.h>

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

bool cmdline_split(const char *text, struct cmdline *c, const char **why)
{
	size_t o = 0;
	const char *p = text;

	c->argc = 0;
	for (const char *t = text; *t; t++)
		if (((unsigned char)*t < 0x20 && *t != '\t') || *t == 0x7f) {
			*why = "command: control characters are not allowed";
			return false;
		}
	for (;;) {
		while (blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (c->argc == CMDLINE_ARGS_MAX) {
			*why = "command: too many words (32 at most)";
			return false;
		}
		c->argv[c->argc++] = c->words + o;
		/* one word: until an unquoted blank or the end */
		while (*p && !blank(*p)) {
			char q = *p;
			if (q == '\'' || q == '"') {
				for (p++; *p && *p != q; p++) {
					if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					if (o + 1 >= sizeof c->words)
						goto too_long;
					c->words[o++] = *p;
				}
				if (*p != q) {
					*why = "command: unterminated quote";
					return false;
				}
				p++;
				continue;
			}
			if (q == '\\' && p[1])
				p++;
			if (o + 1 >= sizeof c->words)
				goto too_long;
			c->words[o++] = *p++;
		}
		/* every octet stored above left room for this NUL */
		if (o >= sizeof c->words)
			goto too_long;
		c->words[o++] = '\0';
	}
	c->argv[c->argc] = NULL;
	if (c->argc == 0 || c->argv[0][0] != '/') {
		*why = "command: the first word must be the program's absolute path";
		return false;
	}
	return true;
too_long:
	*why = "command: too long";
	return false;
}
