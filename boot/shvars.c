/* SPDX-License-Identifier: MIT */
/* boot/shvars.c: shell variable assignments (OpenNebula context.sh) read as
 * data. uCernVM sourced that file; here nothing in it is ever run. */
#include <errno.h>
#include <string.h>

#include "boot/context.h"

static int is_name(char c, int first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* v->buf holds NAME\0value\0 pairs: a NUL inside a value would put every
 * later lookup out of step, so a file carrying one is refused. */
static int put(struct boot_shvars *v, char c)
{
	if (c == '\0')
		return -EBADMSG;
	if (v->len >= v->cap)
		return -ENOSPC;
	v->buf[v->len++] = c;
	return 0;
}

/* Parses one word at *i into v (NUL-terminated). Returns 0, -EBADMSG for an
 * unterminated quote or a NUL byte, or -ENOSPC. */
static int word(struct boot_shvars *v, const char *t, size_t len, size_t *i)
{
	size_t p = *i;
	int rc = 0;

	while (p < len && rc == 0) {
		char c = t[p];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';')
			break;
		if (c == '\'') {
			const char *q = memchr(t + p + 1, '\'', len - p - 1);

			if (!q)
				return -EBADMSG;
			for (p++; rc == 0 && t + p < q; p++)
				rc = put(v, t[p]);
			p++;
		} else if (c == '"') {
			for (p++; rc == 0 && p < len && t[p] != '"'; p++) {
				if (t[p] == '\\' && p + 1 < len && strchr("\\\"$`\n", t[p + 1])) {
					if (t[++p] == '\n')
						continue;	/* line continuation */
				}
				rc = put(v, t[p]);
			}
			if (p >= len)
				return -EBADMSG;
			p++;
		} else if (c == '\\' && p + 1 < len) {
			if (t[p + 1] != '\n')
				rc = put(v, t[p + 1]);
			p += 2;
		} else {
			rc = put(v, c);
			p++;
		}
	}
	*i = p;
	if (rc == 0 && v->len >= v->cap)
		rc = -ENOSPC;
	if (rc == 0)
		v->buf[v->len++] = '\0';
	return rc;
}

/* see context.h */
int boot_shvars_parse(struct boot_shvars *v, const char *t, size_t len)
{
	size_t i = 0, n, start;
	int count = 0, rc;

	v->len = 0;
	while (i < len) {
		while (i < len && strchr(" \t\r\n;", t[i]) && t[i])
			i++;
		if (i >= len)
			break;
		if (!is_name(t[i], 1)) {
			/* A comment or a command: skip the rest of the line. */
			while (i < len && t[i] != '\n')
				i++;
			continue;
		}
		for (n = 1; i + n < len && is_name(t[i + n], 0); n++)
			;
		if (n == 6 && memcmp(t + i, "export", 6) == 0 && i + n < len &&
		    (t[i + n] == ' ' || t[i + n] == '\t')) {
			i += n;
			while (i < len && (t[i] == ' ' || t[i] == '\t'))
				i++;
			continue;
		}
		if (i + n >= len || t[i + n] != '=') {
			while (i < len && t[i] != '\n')
				i++;
			continue;
		}
		start = v->len;
		if (v->len + n + 1 > v->cap)
			return -ENOSPC;
		memcpy(v->buf + v->len, t + i, n);
		v->len += n;
		v->buf[v->len++] = '\0';
		i += n + 1;
		rc = word(v, t, len, &i);
		if (rc < 0) {
			v->len = start;
			return rc;
		}
		count++;
	}
	return count;
}

/* see context.h */
const char *boot_shvars_get(const struct boot_shvars *v, const char *name)
{
	const char *p = v->buf, *end = v->buf + v->len, *val, *found = NULL;

	while (p < end) {
		val = p + strlen(p) + 1;
		if (strcmp(p, name) == 0)
			found = val;
		p = val + strlen(val) + 1;
	}
	return found;
}
