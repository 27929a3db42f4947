/* SPDX-License-Identifier: MIT */
/* aufs-setup/accounts.c: the account merge core: parse passwd/group/shadow/
 * gshadow, merge by name, pick free ids, format. No I/O (see accounts-io.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aufs-setup/internal.h"

static const unsigned nfields[AUFS_NKIND] = { 7, 4, 9, 4 };
/* Where the id and the member lists are, per kind (-1: none). */
static const int id_field[AUFS_NKIND] = { 2, 2, -1, -1 };
static const int members_field[AUFS_NKIND][2] = { { -1, -1 }, { 3, -1 }, { -1, -1 }, { 2, 3 } };

#define ID_MAX 4294967294UL	/* (uid_t)-1 is "no id" */

static int bad(char *why, size_t wl, const struct aufs_acct_file *f, unsigned line,
	       const char *fmt, const char *arg)
{
	size_t n;

	aufs_whyf(why, wl, "%s:%u: ", f->name, line);
	n = strlen(why);
	aufs_whyf(why + n, wl - n, fmt, arg);
	return -EBADMSG;
}

static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return -1;
	*out = strtoul(s, &end, 10);
	return *out > ID_MAX ? -1 : 0;
}

static const struct aufs_acct_line *find(const struct aufs_acct_file *f, const char *name)
{
	unsigned i;

	for (i = 0; i < f->n; i++)
		if (!f->l[i].verbatim && strcmp(f->l[i].f[0], name) == 0)
			return &f->l[i];
	return NULL;
}

static int parse_line(struct aufs_acct_file *f, enum aufs_acct_kind kind, char *s,
		      unsigned lineno, char *why, size_t wl)
{
	struct aufs_acct_line *l = &f->l[f->n];
	const struct aufs_acct_line *dup;
	char *p = s;

	memset(l, 0, sizeof(*l));
	l->lineno = lineno;
	if (s[0] == '#' || s[0] == '+' || s[0] == '-') {
		/* Comments and NIS compat entries: kept where they are, never merged. */
		l->f[0] = s;
		l->nf = 1;
		l->verbatim = 1;
		f->n++;
		return 0;
	}
	for (;;) {
		if (l->nf == nfields[kind])
			return bad(why, wl, f, lineno, "more than %s fields separated by ':'; "
				   "fix or remove the line", kind == AUFS_SHADOW ? "9" :
				   kind == AUFS_PASSWD ? "7" : "4");
		l->f[l->nf++] = p;
		p = strchr(p, ':');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (l->nf != nfields[kind])
		return bad(why, wl, f, lineno, "expected %s fields separated by ':'; fix or remove "
			   "the line", kind == AUFS_SHADOW ? "9" : kind == AUFS_PASSWD ? "7" : "4");
	if (!l->f[0][0] || strpbrk(l->f[0], " \t,"))
		return bad(why, wl, f, lineno, "bad name '%s'", l->f[0]);
	if (id_field[kind] >= 0 && parse_id(l->f[id_field[kind]], &l->id) < 0)
		return bad(why, wl, f, lineno, "id '%s' is not a number", l->f[id_field[kind]]);
	if (kind == AUFS_PASSWD && parse_id(l->f[3], &(unsigned long){ 0 }) < 0)
		return bad(why, wl, f, lineno, "group id '%s' is not a number", l->f[3]);
	if ((dup = find(f, l->f[0])))
		return bad(why, wl, f, lineno, "duplicate name '%s'", l->f[0]);
	f->n++;
	return 0;
}

/* see internal.h */
int aufs_acct_parse(struct aufs_acct_file *f, enum aufs_acct_kind kind, char *why, size_t wl)
{
	char *s = f->buf, *end = f->buf + f->len;
	unsigned lineno = 0;
	int rc;

	f->n = 0;
	if (memchr(f->buf, '\0', f->len))
		return bad(why, wl, f, 1, "%s", "file contains a NUL byte");
	f->buf[f->len] = '\0';
	while (s < end) {
		char *nl = strchr(s, '\n');

		lineno++;
		if (nl)
			*nl = '\0';
		if (nl && nl > s && nl[-1] == '\r')
			return bad(why, wl, f, lineno, "%s", "line ends in CR (DOS line end)");
		if (*s) {
			if (f->n == AUFS_ACCT_LINES_MAX) {
				aufs_whyf(why, wl, "%s: more than %d lines", f->name, AUFS_ACCT_LINES_MAX);
				return -E2BIG;
			}
			if ((rc = parse_line(f, kind, s, lineno, why, wl)) < 0)
				return rc;
		}
		s = nl ? nl + 1 : end;
	}
	return 0;
}

static int map_get(const struct aufs_acct_map *m, unsigned long from, unsigned long *to)
{
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (m->from[i] == from) {
			*to = m->to[i];
			return 1;
		}
	return 0;
}

static int map_add(struct aufs_acct_map *m, unsigned long from, unsigned long to)
{
	unsigned long old;

	if (map_get(m, from, &old))
		return 0;	/* first decision wins: one upstream id maps to one id */
	if (m->n == AUFS_ACCT_LINES_MAX)
		return -E2BIG;
	m->from[m->n] = from;
	m->to[m->n++] = to;
	return 0;
}

static int id_used(const struct aufs_acct_work *w, enum aufs_acct_kind k, unsigned long id)
{
	const struct aufs_acct_map *m = k == AUFS_PASSWD ? &w->umap : &w->gmap;
	unsigned i;

	for (i = 0; i < w->loc[k].n; i++)
		if (!w->loc[k].l[i].verbatim && w->loc[k].l[i].id == id)
			return 1;
	for (i = 0; i < w->up[k].n; i++)
		if (!w->up[k].l[i].verbatim && w->up[k].l[i].id == id)
			return 1;
	for (i = 0; i < m->n; i++)
		if (m->to[i] == id)
			return 1;
	for (i = 0; i < w->nadd[k]; i++)
		if (w->addid[k][i] == id)
			return 1;
	return 0;
}

/* A free id in the same class (system below 1000, regular 1000..59999),
 * searching upwards from id first, as useradd/groupadd would. */
static int free_id(const struct aufs_acct_work *w, enum aufs_acct_kind k, unsigned long id,
		   unsigned long *out)
{
	unsigned long lo = id < 1000 ? 100 : 1000, hi = id < 1000 ? 999 : 59999, c;

	if (id > hi)
		lo = 60000, hi = ID_MAX - 1;
	for (c = id + 1; c <= hi; c++)
		if (!id_used(w, k, c))
			return *out = c, 0;
	for (c = lo; c < id; c++)
		if (!id_used(w, k, c))
			return *out = c, 0;
	return -ENOSPC;
}

/* Upstream id X clashes if a local entry holds X under a name that upstream
 * does not also give X (then upstream files owned by X are not that user's). */
static int clashes(const struct aufs_acct_work *w, enum aufs_acct_kind k, unsigned long id)
{
	const struct aufs_acct_line *u;
	unsigned i;

	for (i = 0; i < w->loc[k].n; i++) {
		const struct aufs_acct_line *l = &w->loc[k].l[i];

		if (l->verbatim || l->id != id)
			continue;
		u = find(&w->up[k], l->f[0]);
		if (!u || u->id != id)
			return 1;
	}
	return 0;
}

static int merge_ids(struct aufs_acct_work *w, enum aufs_acct_kind k, unsigned *mapped)
{
	struct aufs_acct_map *m = k == AUFS_PASSWD ? &w->umap : &w->gmap;
	const struct aufs_acct_file *up = &w->up[k];
	unsigned i;
	int rc;

	/* Names present on both sides first: their local id is fixed and
	 * decides where the upstream id goes. */
	for (i = 0; i < up->n; i++) {
		const struct aufs_acct_line *l, *u = &up->l[i];

		if (u->verbatim || !(l = find(&w->loc[k], u->f[0])) || l->id == u->id)
			continue;
		if ((rc = map_add(m, u->id, l->id)) < 0)
			return rc;
	}
	for (i = 0; i < up->n; i++) {
		const struct aufs_acct_line *u = &up->l[i];
		unsigned long id = u->id;

		if (u->verbatim || find(&w->loc[k], u->f[0]))
			continue;
		if (!map_get(m, u->id, &id) && clashes(w, k, u->id)) {
			if ((rc = free_id(w, k, u->id, &id)) < 0)
				return rc;
			if ((rc = map_add(m, u->id, id)) < 0)
				return rc;
		}
		w->add[k][w->nadd[k]] = i;
		w->addid[k][w->nadd[k]++] = id;
	}
	*mapped = m->n;
	return 0;
}

static int has_member(const char *list, const char *name, size_t n)
{
	const char *p = list;

	while (*p) {
		size_t l = strcspn(p, ",");

		if (l == n && strncmp(p, name, n) == 0)
			return 1;
		p += l;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Appends to out (at *off) the upstream members of up not in loc. Returns
 * how many; -E2BIG if out is full. */
static int add_members(const char *loc, const char *up, char *out, size_t len, size_t *off)
{
	const char *p = up;
	int added = 0, first = loc[0] == '\0';

	while (*p) {
		size_t l = strcspn(p, ",");

		if (l && !has_member(loc, p, l)) {
			int w = snprintf(out + *off, len - *off, "%s%.*s", first ? "" : ",", (int)l, p);

			if (w < 0 || (size_t)w >= len - *off)
				return -E2BIG;
			*off += (size_t)w;
			first = 0;
			added++;
		}
		p += l;
		if (*p == ',')
			p++;
	}
	return added;
}

/* Formats one local line, with upstream's extra members merged in. */
static int fmt_local(const struct aufs_acct_work *w, enum aufs_acct_kind k,
		     const struct aufs_acct_line *l, char *out, size_t len, size_t *off)
{
	const struct aufs_acct_line *u = l->verbatim ? NULL : find(&w->up[k], l->f[0]);
	int added = 0, rc;
	unsigned i;

	for (i = 0; i < l->nf; i++) {
		int n = snprintf(out + *off, len - *off, "%s%s", i ? ":" : "", l->f[i]);

		if (n < 0 || (size_t)n >= len - *off)
			return -E2BIG;
		*off += (size_t)n;
		if (u && ((int)i == members_field[k][0] || (int)i == members_field[k][1])) {
			if ((rc = add_members(l->f[i], u->f[i], out, len, off)) < 0)
				return rc;
			added += rc;
		}
	}
	if (*off + 1 >= len)
		return -E2BIG;
	out[(*off)++] = '\n';
	return added;
}

static int fmt_added(const struct aufs_acct_work *w, enum aufs_acct_kind k, unsigned j,
		     char *out, size_t len, size_t *off)
{
	const struct aufs_acct_line *u = &w->up[k].l[w->add[k][j]];
	char idbuf[3][24];
	unsigned i;

	snprintf(idbuf[0], sizeof(idbuf[0]), "%lu", w->addid[k][j]);
	if (k == AUFS_PASSWD) {
		unsigned long g = strtoul(u->f[3], NULL, 10), to;

		snprintf(idbuf[1], sizeof(idbuf[1]), "%lu", map_get(&w->gmap, g, &to) ? to : g);
	}
	for (i = 0; i < u->nf; i++) {
		const char *v = u->f[i];
		int n;

		if ((int)i == id_field[k])
			v = idbuf[0];
		else if (k == AUFS_PASSWD && i == 3)
			v = idbuf[1];
		n = snprintf(out + *off, len - *off, "%s%s", i ? ":" : "", v);
		if (n < 0 || (size_t)n >= len - *off)
			return -E2BIG;
		*off += (size_t)n;
	}
	if (*off + 1 >= len)
		return -E2BIG;
	out[(*off)++] = '\n';
	return 0;
}

/* see internal.h */
ssize_t aufs_acct_fmt(const struct aufs_acct_work *w, enum aufs_acct_kind k, char *out,
		      size_t len, unsigned *members)
{
	size_t off = 0;
	unsigned i;
	int rc;

	for (i = 0; i < w->loc[k].n; i++) {
		if ((rc = fmt_local(w, k, &w->loc[k].l[i], out, len, &off)) < 0)
			return rc;
		if (members)
			*members += (unsigned)rc;
	}
	for (i = 0; i < w->nadd[k]; i++)
		if ((rc = fmt_added(w, k, i, out, len, &off)) < 0)
			return rc;
	return (ssize_t)off;
}

/* Names only in upstream shadow/gshadow are added as they are. */
static void merge_names(struct aufs_acct_work *w, enum aufs_acct_kind k)
{
	unsigned i;

	for (i = 0; i < w->up[k].n; i++) {
		const struct aufs_acct_line *u = &w->up[k].l[i];

		if (u->verbatim || find(&w->loc[k], u->f[0]))
			continue;
		w->add[k][w->nadd[k]] = i;
		w->addid[k][w->nadd[k]++] = 0;
	}
}

/* see internal.h */
int aufs_acct_merge(struct aufs_acct_work *w, struct aufs_acct_stats *st)
{
	int rc;

	w->umap.n = w->gmap.n = 0;
	memset(w->nadd, 0, sizeof(w->nadd));
	/* Groups first: an added user's primary gid goes through the gid map. */
	if ((rc = merge_ids(w, AUFS_GROUP, &st->gids_mapped)) < 0 ||
	    (rc = merge_ids(w, AUFS_PASSWD, &st->uids_mapped)) < 0)
		return rc;
	merge_names(w, AUFS_SHADOW);
	merge_names(w, AUFS_GSHADOW);
	st->groups_added = w->nadd[AUFS_GROUP];
	st->users_added = w->nadd[AUFS_PASSWD];
	return 0;
}

static void sort_map(unsigned long *from, unsigned long *to, unsigned n)
{
	unsigned i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && from[j - 1] > from[j]; j--) {
			unsigned long a = from[j], b = to[j];

			from[j] = from[j - 1], to[j] = to[j - 1];
			from[j - 1] = a, to[j - 1] = b;
		}
}

/* see internal.h */
ssize_t aufs_acct_map_fmt(const struct aufs_acct_map *m, char *out, size_t len)
{
	unsigned long from[AUFS_ACCT_LINES_MAX], to[AUFS_ACCT_LINES_MAX];
	size_t off = 0;
	unsigned i;

	memcpy(from, m->from, m->n * sizeof(from[0]));
	memcpy(to, m->to, m->n * sizeof(to[0]));
	sort_map(from, to, m->n);
	for (i = 0; i < m->n; i++) {
		int n = snprintf(out + off, len - off, "%lu %lu\n", from[i], to[i]);

		if (n < 0 || (size_t)n >= len - off)
			return -E2BIG;
		off += (size_t)n;
	}
	return (ssize_t)off;
}
