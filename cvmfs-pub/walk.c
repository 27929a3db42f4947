/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/walk.c: reads the source tree into nodes, catalogs and contents; rejects what the format cannot hold. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	void *p;
	size_t ncap;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = p;
	*cap = ncap;
	return 0;
}

static int cat_add_node(struct cvmfs_pub_catalog *c, uint32_t node)
{
	if (grow((void **)&c->nodes, &c->cap, c->nnodes + 1, sizeof(uint32_t)) < 0)
		return -ENOMEM;
	c->nodes[c->nnodes++] = node;
	return 0;
}

static int new_catalog(struct cvmfs_pub_tree *t, uint32_t root, uint32_t parent)
{
	struct cvmfs_pub_catalog *c;

	if (grow((void **)&t->cats, &t->catcap, t->ncat + 1, sizeof(*t->cats)) < 0)
		return -ENOMEM;
	c = &t->cats[t->ncat];
	memset(c, 0, sizeof(*c));
	c->root = root;
	c->parent = parent;
	return (int)t->ncat++;
}

/* RFC 3629 UTF-8: no overlongs, no surrogates, max U+10FFFF. */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, cp, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return 0;
		if (i + need >= n)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* Names that are not UTF-8 are shown with \xNN escapes, so the message
 * itself stays printable. */
static void escape(const char *in, char *out, size_t len)
{
	size_t i = 0, o = 0, n = strlen(in);

	while (i < n && o + 5 < len) {
		unsigned char c = (unsigned char)in[i];
		size_t k = 1;

		if (c >= 0x80)
			for (k = 2; k <= 4 && !utf8_ok((const unsigned char *)in + i, k); k++)
				;
		if (c < 0x20 || c == 0x7f || k > 4) {
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
			i++;
			continue;
		}
		if (o + k >= len)
			break;
		memcpy(out + o, in + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
}

static int check_name(struct cvmfs_pub_tree *t, const char *parent, const char *name)
{
	size_t n = strlen(name), pl = strlen(parent);
	char esc[1024];

	if (strpbrk(name, "\n\r") || !utf8_ok((const unsigned char *)name, n)) {
		escape(name, esc, sizeof(esc));
		return cvmfs_pub_fail(t->e, strpbrk(name, "\n\r") ? -EINVAL : -EILSEQ,
				      "%s%s/%s: file name %s; rename it", t->o->src, parent, esc,
				      strpbrk(name, "\n\r") ? "contains a newline"
							    : "is not valid UTF-8");
	}
	if (pl + 1 + n > CVMFS_PUB_PATH_MAX)
		return cvmfs_pub_fail(t->e, -ENAMETOOLONG, "path of %zu bytes is longer than %d bytes "
				      "(clients could not open it under /cvmfs/<name>); shorten "
				      "it: %s%.300s.../%.200s", pl + 1 + n, CVMFS_PUB_PATH_MAX,
				      t->o->src, parent, name);
	return 0;
}

static int xattr_cmp_skip(const char *k)
{
	/* ACLs and SELinux labels belong to the publishing host, not the
	 * repository; upstream does not carry them either. */
	return strncmp(k, "system.", 7) == 0 || strcmp(k, "security.selinux") == 0;
}

static int read_xattrs(struct cvmfs_pub_tree *t, int dirfd, const char *name, struct cvmfs_pub_node *nd)
{
	char proc[64 + 256], names[65536], *k;
	static const size_t vcap = 65536;
	unsigned char *vals = NULL, blob[CVMFS_XATTR_BLOB_MAX];
	struct cvmfs_xattr x[CVMFS_XATTR_NUM_MAX + 1];
	ssize_t len, bl;
	size_t n = 0, voff = 0;
	int rc = 0;

	/* The working directory is dirfd's during the walk (cvmfs_pub_walk):
	 * a name there is found much faster than through /proc. */
	if (t->in_dir)
		snprintf(proc, sizeof(proc), "%s", name);
	else
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	len = llistxattr(proc, names, sizeof(names));
	if (len < 0)
		return (errno == ENOTSUP || errno == ENODATA) ? 0 :
			cvmfs_pub_fail(t->e, -errno, "%s%s: cannot list xattrs: %s", t->o->src,
				       nd->path, strerror(errno));
	if (len == 0)
		return 0;
	vals = malloc(vcap);
	if (!vals)
		return -ENOMEM;
	for (k = names; k < names + len; k += strlen(k) + 1) {
		ssize_t vl;

		if (xattr_cmp_skip(k))
			continue;
		if (n == CVMFS_XATTR_NUM_MAX) {
			rc = cvmfs_pub_fail(t->e, -E2BIG, "%s%s: more than %d extended attributes "
					    "(format limit)", t->o->src, nd->path, CVMFS_XATTR_NUM_MAX);
			goto out;
		}
		vl = lgetxattr(proc, k, vals + voff, vcap - voff);
		if (vl < 0 && errno == ERANGE)
			vl = CVMFS_XATTR_VAL_MAX + 1;
		else if (vl < 0) {
			rc = cvmfs_pub_fail(t->e, -errno, "%s%s: cannot read xattr %s: %s", t->o->src,
					    nd->path, k, strerror(errno));
			goto out;
		}
		if (vl > CVMFS_XATTR_VAL_MAX || strlen(k) > CVMFS_XATTR_KEY_MAX) {
			rc = cvmfs_pub_fail(t->e, -E2BIG, "%s%s: xattr %s has a value of %zd bytes; "
					    "the format holds at most %d", t->o->src, nd->path, k, vl,
					    CVMFS_XATTR_VAL_MAX);
			goto out;
		}
		x[n].key = k;
		x[n].klen = strlen(k);
		x[n].val = vals + voff;
		x[n].vlen = (size_t)vl;
		voff += (size_t)vl;
		n++;
	}
	bl = cvmfs_xattr_encode(x, n, blob, sizeof(blob));
	if (bl < 0) {
		rc = cvmfs_pub_fail(t->e, (int)bl, "%s%s: extended attributes exceed the format "
				    "limits", t->o->src, nd->path);
		goto out;
	}
	if (bl > 0) {
		nd->xattr = malloc((size_t)bl);
		if (!nd->xattr) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(nd->xattr, blob, (size_t)bl);
		nd->xlen = (uint16_t)bl;
	}
out:
	free(vals);
	return rc;
}

static int add_node(struct cvmfs_pub_tree *t, uint32_t parent, const char *name, const struct stat *st,
		    uint32_t cat)
{
	struct cvmfs_pub_node *nd;
	const char *pp = parent == CVMFS_PUB_NONE ? "" : t->nodes[parent].path;
	size_t pl = strlen(pp), nl = strlen(name);

	if (grow((void **)&t->nodes, &t->ncap, t->n + 1, sizeof(*t->nodes)) < 0)
		return -ENOMEM;
	nd = &t->nodes[t->n];
	memset(nd, 0, sizeof(*nd));
	nd->path = malloc(pl + nl + 2);
	if (!nd->path)
		return -ENOMEM;
	if (parent == CVMFS_PUB_NONE) {
		nd->path[0] = '\0';
	} else {
		memcpy(nd->path, pp, pl);
		nd->path[pl] = '/';
		memcpy(nd->path + pl + 1, name, nl + 1);
		nd->name_off = (uint32_t)(pl + 1);
	}
	nd->parent = parent;
	nd->cat = cat;
	nd->content = CVMFS_PUB_NONE;
	nd->run = CVMFS_PUB_NONE;
	nd->mode = st->st_mode;
	nd->uid = st->st_uid;
	nd->gid = st->st_gid;
	nd->size = (uint64_t)st->st_size;
	nd->rdev = st->st_rdev;
	nd->dev = st->st_dev;
	nd->ino = st->st_ino;
	nd->mtime = st->st_mtim.tv_sec;
	nd->mtimens = (int32_t)st->st_mtim.tv_nsec;
	nd->ctime = st->st_ctim.tv_sec;
	nd->ctimens = (int32_t)st->st_ctim.tv_nsec;
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		nd->size = st->st_rdev;
	else if (S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode))
		nd->size = 0;
	__atomic_store_n(&t->done_entries, (uint64_t)t->n + 1, __ATOMIC_RELAXED);
	return (int)t->n++;
}

/* Hardlinked inodes share one content; found by (dev, ino). */
struct ino_map {
	uint64_t *dev, *ino;
	uint32_t *content;
	size_t cap;
};

static int content_for(struct cvmfs_pub_tree *t, struct ino_map *m, uint32_t node, int linked)
{
	struct cvmfs_pub_node *nd = &t->nodes[node];
	size_t i = 0;

	if (linked) {
		if (m->cap == 0 || t->nc * 2 >= m->cap) {
			struct ino_map nm = { 0 };
			size_t j;

			nm.cap = m->cap ? m->cap * 4 : 1024;
			nm.dev = calloc(nm.cap, 8);
			nm.ino = calloc(nm.cap, 8);
			nm.content = malloc(nm.cap * 4);
			if (!nm.dev || !nm.ino || !nm.content)
				return -ENOMEM;
			memset(nm.content, 0xff, nm.cap * 4);
			for (j = 0; j < m->cap; j++) {
				size_t k;

				if (m->content[j] == CVMFS_PUB_NONE)
					continue;
				k = (m->ino[j] * 0x9e3779b97f4a7c15ULL) & (nm.cap - 1);
				while (nm.content[k] != CVMFS_PUB_NONE)
					k = (k + 1) & (nm.cap - 1);
				nm.dev[k] = m->dev[j];
				nm.ino[k] = m->ino[j];
				nm.content[k] = m->content[j];
			}
			free(m->dev);
			free(m->ino);
			free(m->content);
			*m = nm;
		}
		i = (nd->ino * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);
		while (m->content[i] != CVMFS_PUB_NONE) {
			if (m->dev[i] == nd->dev && m->ino[i] == nd->ino) {
				nd->content = m->content[i];
				return 0;
			}
			i = (i + 1) & (m->cap - 1);
		}
	}
	if (grow((void **)&t->contents, &t->ccap, t->nc + 1, sizeof(*t->contents)) < 0)
		return -ENOMEM;
	memset(&t->contents[t->nc], 0, sizeof(t->contents[0]));
	t->contents[t->nc].node = node;
	nd->content = (uint32_t)t->nc;
	if (linked) {
		m->dev[i] = nd->dev;
		m->ino[i] = nd->ino;
		m->content[i] = (uint32_t)t->nc;
	}
	t->nc++;
	t->files++;
	t->bytes += nd->size;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(struct cvmfs_pub_tree *t, int fd, const char *path, char ***out, size_t *n)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	*n = 0;
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return cvmfs_pub_fail(t->e, -errno, "%s%s: cannot list directory: %s", t->o->src,
				      path, strerror(errno));
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (grow((void **)&v, &cap, *n + 1, sizeof(char *)) < 0 ||
		    !(v[*n] = strdup(de->d_name))) {
			closedir(d);
			*out = v;
			return -ENOMEM;
		}
		(*n)++;
	}
	closedir(d);
	qsort(v, *n, sizeof(char *), name_cmp);
	*out = v;
	return 0;
}

/* Adds the row of fd/name below dir; *sub = its node if it is a directory
 * (the caller walks it next), else CVMFS_PUB_NONE. */
static int walk_entry(struct cvmfs_pub_tree *t, struct ino_map *m, int fd, uint32_t dir,
		      const char *name, uint32_t *sub)
{
	struct cvmfs_pub_node *nd;
	struct stat st;
	uint32_t idx;
	int rc;

	*sub = CVMFS_PUB_NONE;
	if ((rc = check_name(t, t->nodes[dir].path, name)) < 0)
		return rc;
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return cvmfs_pub_fail(t->e, -errno, "%s%s/%s: cannot stat: %s", t->o->src,
				      t->nodes[dir].path, name, strerror(errno));
	rc = add_node(t, dir, name, &st, t->nodes[dir].cat);
	if (rc < 0)
		return rc;
	idx = (uint32_t)rc;
	nd = &t->nodes[idx];
	if ((rc = read_xattrs(t, fd, name, nd)) < 0)
		return rc;
	if ((rc = cat_add_node(&t->cats[nd->cat], idx)) < 0)
		return rc;
	if (S_ISLNK(st.st_mode)) {
		char buf[4096];
		ssize_t l = readlinkat(fd, name, buf, sizeof(buf) - 1);

		if (l < 0)
			return cvmfs_pub_fail(t->e, -errno, "%s%s: cannot read link: %s", t->o->src,
					      nd->path, strerror(errno));
		buf[l] = '\0';
		if (strpbrk(buf, "\n\r") || !utf8_ok((unsigned char *)buf, (size_t)l))
			return cvmfs_pub_fail(t->e, -EILSEQ, "%s%s: symlink target has a newline "
					      "or is not UTF-8", t->o->src, nd->path);
		if (!(t->nodes[idx].link = strdup(buf)))
			return -ENOMEM;
		t->nodes[idx].size = (uint64_t)l;
	} else if (S_ISREG(st.st_mode)) {
		return content_for(t, m, idx, st.st_nlink > 1);
	} else if (S_ISDIR(st.st_mode)) {
		t->nodes[dir].ndirs++;
		*sub = idx;
	}
	return 0;
}

/* A directory being walked: its names (sorted) and the next one to visit. */
struct walk_frame {
	char **names;
	size_t n, next;
	uint32_t dir;
};

static void frame_fini(struct walk_frame *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	memset(f, 0, sizeof(*f));
}

/* Lists directory dir (open on fd) into f; a directory holding the catalog
 * marker starts a nested catalog. */
static int enter_dir(struct cvmfs_pub_tree *t, int fd, uint32_t dir, struct walk_frame *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->dir = dir;
	rc = list_dir(t, fd, t->nodes[dir].path, &f->names, &f->n);
	if (rc < 0)
		return rc;
	if (dir != 0 && bsearch(&(const char *){ CVMFS_CATALOG_MARKER }, f->names, f->n,
				sizeof(char *), name_cmp)) {
		/* The directory's row moves into the new catalog; the parent
		 * keeps a mountpoint row (written from cats[].root). */
		struct cvmfs_pub_catalog *pc = &t->cats[t->nodes[dir].cat];
		uint32_t c = t->nodes[dir].cat;
		int nest = 1;

		while (c != 0 && nest <= CVMFS_PUB_NEST_MAX) {
			c = t->cats[c].parent;
			nest++;
		}
		if (nest > CVMFS_PUB_NEST_MAX)
			return cvmfs_pub_fail(t->e, -ELOOP, "%s%s: catalogs nested more than %d deep "
					      "(%s files); remove some of them", t->o->src,
					      t->nodes[dir].path, CVMFS_PUB_NEST_MAX,
					      CVMFS_CATALOG_MARKER);
		pc->nnodes--;	/* dir was the last row added to it */
		rc = new_catalog(t, dir, t->nodes[dir].cat);
		if (rc < 0)
			return rc;
		t->nodes[dir].cat = (uint32_t)rc;
		if ((rc = cat_add_node(&t->cats[t->nodes[dir].cat], dir)) < 0)
			return rc;
	}
	return 0;
}

/* Replaces *fd (a directory) by an fd on node dir, which is its parent (or
 * the root): "..", checked to be the directory the walk went down from. */
static int walk_up(struct cvmfs_pub_tree *t, int *fd, uint32_t dir)
{
	struct stat st;
	int nfd;

	if (dir == 0)
		nfd = fcntl(t->srcfd, F_DUPFD_CLOEXEC, 0);
	else
		nfd = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nfd < 0)
		return cvmfs_pub_fail(t->e, -errno, "%s%s: cannot open directory: %s", t->o->src,
				      t->nodes[dir].path, strerror(errno));
	if (dir != 0 && (fstat(nfd, &st) < 0 || st.st_dev != t->nodes[dir].dev ||
			 st.st_ino != t->nodes[dir].ino)) {
		close(nfd);
		return cvmfs_pub_fail(t->e, -ESTALE, "%s%s: directory moved while being "
				      "published; publish again", t->o->src, t->nodes[dir].path);
	}
	close(*fd);
	*fd = nfd;
	if (t->in_dir && fchdir(nfd) < 0)
		t->in_dir = 0;		/* read_xattrs goes through /proc */
	return 0;
}

/* Opens fd/name, the directory of node sub, and replaces *fd by it. */
static int walk_down(struct cvmfs_pub_tree *t, int *fd, const char *name, uint32_t sub)
{
	struct cvmfs_pub_node *nd = &t->nodes[sub];
	struct stat st;
	int nfd = openat(*fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (nfd < 0)
		return cvmfs_pub_fail(t->e, -errno, "%s%s: cannot open directory: %s", t->o->src,
				      nd->path, strerror(errno));
	if (fstat(nfd, &st) < 0 || st.st_dev != nd->dev || st.st_ino != nd->ino) {
		close(nfd);
		return cvmfs_pub_fail(t->e, -ESTALE, "%s%s: directory replaced while being "
				      "published; publish again", t->o->src, nd->path);
	}
	close(*fd);
	*fd = nfd;
	if (t->in_dir && fchdir(nfd) < 0)
		t->in_dir = 0;		/* read_xattrs goes through /proc */
	return 0;
}

/* Depth-first, names in byte order, parents before children. Iterative, so
 * that depth costs heap (one frame per level) rather than stack, and only
 * one directory fd is open at a time: trees nested as deep as paths allow
 * (about 1,900 levels under CVMFS_PUB_PATH_MAX) walk like any other. */
static int walk_tree(struct cvmfs_pub_tree *t, struct ino_map *m)
{
	struct walk_frame *st = NULL;
	size_t depth = 0, cap = 0, i;
	uint32_t sub;
	int fd, rc;

	fd = fcntl(t->srcfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return cvmfs_pub_fail(t->e, -errno, "%s: %s", t->o->src, strerror(errno));
	if ((rc = grow((void **)&st, &cap, 1, sizeof(*st))) < 0)
		goto out;
	depth = 1;
	if ((rc = enter_dir(t, fd, 0, &st[0])) < 0)
		goto out;
	while (depth > 0) {
		struct walk_frame *f = &st[depth - 1];
		const char *name;

		if (f->next == f->n) {
			frame_fini(f);
			if (--depth > 0 && (rc = walk_up(t, &fd, st[depth - 1].dir)) < 0)
				goto out;
			continue;
		}
		name = f->names[f->next++];
		if ((rc = walk_entry(t, m, fd, f->dir, name, &sub)) < 0)
			goto out;
		if (sub == CVMFS_PUB_NONE)
			continue;
		if ((rc = walk_down(t, &fd, name, sub)) < 0)
			goto out;
		if ((rc = grow((void **)&st, &cap, depth + 1, sizeof(*st))) < 0)
			goto out;
		if ((rc = enter_dir(t, fd, sub, &st[depth++])) < 0)
			goto out;
	}
out:
	for (i = 0; i < depth; i++)
		frame_fini(&st[i]);
	free(st);
	close(fd);
	return rc < 0 ? rc : 0;
}

struct run_key {
	uint32_t cat, node;
	uint64_t dev, ino;
};

static int run_cmp(const void *a, const void *b)
{
	const struct run_key *x = a, *y = b;

	if (x->cat != y->cat)
		return x->cat < y->cat ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->node > y->node) - (x->node < y->node);
}

/* Hardlink groups live inside one catalog (upstream splits them at
 * catalog borders); ids count from 1 per catalog in walk order. */
static int group_hardlinks(struct cvmfs_pub_tree *t, uint32_t *gid, size_t ncat)
{
	struct run_key *k;
	uint32_t *runsz;
	size_t i, n = 0, j;
	uint32_t nruns = 0;

	k = malloc((t->n + 1) * sizeof(*k));
	runsz = malloc((t->n + 1) * sizeof(*runsz));
	if (!k || !runsz) {
		free(k);
		free(runsz);
		return -ENOMEM;
	}
	for (i = 0; i < t->n; i++) {
		struct cvmfs_pub_node *nd = &t->nodes[i];

		if (S_ISDIR(nd->mode))
			continue;
		k[n++] = (struct run_key){ nd->cat, (uint32_t)i, nd->dev, nd->ino };
	}
	qsort(k, n, sizeof(*k), run_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && k[j].cat == k[i].cat && k[j].dev == k[i].dev &&
		     k[j].ino == k[i].ino; j++)
			;
		if (j - i < 2)
			continue;
		runsz[nruns] = (uint32_t)(j - i);
		for (size_t q = i; q < j; q++)
			t->nodes[k[q].node].run = nruns;
		nruns++;
	}
	/* Assign group ids in walk order. */
	{
		uint32_t *rg = calloc(nruns + 1, sizeof(uint32_t));

		if (!rg) {
			free(k);
			free(runsz);
			return -ENOMEM;
		}
		for (i = 0; i < t->n; i++) {
			struct cvmfs_pub_node *nd = &t->nodes[i];

			nd->linkcount = S_ISDIR(nd->mode) ? 2 + nd->ndirs : 1;
			if (nd->run == CVMFS_PUB_NONE)
				continue;
			if (rg[nd->run] == 0)
				rg[nd->run] = ++gid[nd->cat];
			nd->hl_group = rg[nd->run];
			nd->linkcount = runsz[nd->run];
		}
		free(rg);
	}
	(void)ncat;
	free(k);
	free(runsz);
	return 0;
}

/* see internal.h */
int cvmfs_pub_walk(struct cvmfs_pub_tree *t)
{
	struct ino_map m = { 0 };
	struct stat st;
	uint32_t *gid = NULL;
	int rc, cwd;

	t->srcfd = open(t->o->src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->srcfd < 0)
		return cvmfs_pub_fail(t->e, -errno, "%s: cannot open source directory: %s",
				      t->o->src, strerror(errno));
	if (fstat(t->srcfd, &st) < 0)
		return cvmfs_pub_fail(t->e, -errno, "%s: %s", t->o->src, strerror(errno));
	if ((rc = add_node(t, CVMFS_PUB_NONE, "", &st, 0)) < 0)
		return rc;
	if ((rc = new_catalog(t, 0, CVMFS_PUB_NONE)) < 0)
		return rc;
	if ((rc = cat_add_node(&t->cats[0], 0)) < 0)
		return rc;
	/* The walk works in each directory it reads (see read_xattrs); no
	 * other thread uses relative paths meanwhile (the previous revision's
	 * loader names its files by directory fd). */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	t->in_dir = cwd >= 0 && fchdir(t->srcfd) == 0;
	rc = read_xattrs(t, t->srcfd, ".", &t->nodes[0]);
	if (rc == 0)
		rc = walk_tree(t, &m);
	if (cwd >= 0 && fchdir(cwd) < 0 && rc == 0)
		rc = cvmfs_pub_fail(t->e, -errno, "cannot return to the working directory: %s",
				    strerror(errno));
	if (cwd >= 0)
		close(cwd);
	t->in_dir = 0;
	free(m.dev);
	free(m.ino);
	free(m.content);
	if (rc < 0)
		return rc;
	gid = calloc(t->ncat, sizeof(uint32_t));
	if (!gid)
		return -ENOMEM;
	rc = group_hardlinks(t, gid, t->ncat);
	free(gid);
	return rc;
}

/* see internal.h */
void cvmfs_pub_tree_fini(struct cvmfs_pub_tree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->nodes[i].path);
		free(t->nodes[i].link);
		free(t->nodes[i].xattr);
	}
	for (i = 0; i < t->nc; i++)
		free(t->contents[i].chunks);
	for (i = 0; i < t->ncat; i++)
		free(t->cats[i].nodes);
	for (i = 0; i < t->npcats; i++)
		free(t->pcats[i].path);
	for (i = 0; i < t->pfcap; i++)
		free(t->pfiles[i].chunks);
	free(t->nodes);
	free(t->contents);
	free(t->cats);
	free(t->pcats);
	free(t->pfiles);
	if (t->srcfd > 0)
		close(t->srcfd);
	memset(t, 0, sizeof(*t));
	t->srcfd = -1;
}
