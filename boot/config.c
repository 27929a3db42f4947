/* SPDX-License-Identifier: MIT */
/* boot/config.c: kernel command line and user-data keys, table-driven, and
 * the repository server selection. Values are data: nothing is evaluated. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "boot/config.h"

enum key_type { K_STR, K_FLAG, K_UINT, K_ONERR, K_SRCS, K_INJECT, K_UNSUP };
enum { ON_CMD = 1, ON_UD = 2 };

#define F(m) offsetof(struct boot_cfg, m), sizeof(((struct boot_cfg *)0)->m)
static const struct key {
	const char *name;
	unsigned char where, type;
	unsigned short off, size;
} keys[] = {
	{ "cvmfs_server", ON_CMD, K_STR, F(cmd.server) },
	{ "cvmfs_cdn", ON_CMD, K_STR, F(cmd.cdn) },
	{ "cvmfs_repos", ON_CMD, K_STR, F(cmd.repo) },
	{ "cvmfs_proxy", ON_CMD, K_STR, F(cmd.proxy) },
	{ "cvmfs_url", ON_CMD, K_STR, F(url) },
	{ "cvmfs_repository_tag", ON_CMD, K_STR, F(cmd.tag) },
	{ "cernvm_path", ON_CMD, K_STR, F(cmd.path) },
	{ "init", ON_CMD, K_STR, F(init) },
	{ "cvmdebug", ON_CMD, K_FLAG, F(debug) },
	{ "cvmssh", ON_CMD, K_UNSUP, 0, 0 },
	{ "cvmboot.verbose", ON_CMD, K_UINT, F(verbose) },
	{ "cvmboot.on_error", ON_CMD, K_ONERR, F(on_error) },
	{ "cvmboot.net_timeout", ON_CMD, K_UINT, F(net_timeout_s) },
	{ "cvmboot.context_timeout", ON_CMD, K_UINT, F(context_timeout_s) },
	{ "cvmboot.context", ON_CMD, K_SRCS, F(context_sources) },
	{ "cvmboot.geoapi", ON_CMD, K_FLAG, F(use_geoapi) },
	/* user-data; the row index is the bit in ud_set */
	{ "resize_rootfs", ON_UD, K_FLAG, F(resize_rootfs) },
	{ "use_boothd", ON_UD, K_FLAG, F(use_boothd) },
	{ "cvmfs_http_proxy", ON_UD, K_STR, F(ud.proxy) },
	{ "cvmfs_pac_urls", ON_UD, K_STR, F(pac_urls) },
	{ "cvmfs_server", ON_UD, K_STR, F(ud.server) },
	{ "cvmfs_cdn", ON_UD, K_STR, F(ud.cdn) },
	{ "cvmfs_branch", ON_UD, K_STR, F(ud.repo) },
	{ "cvmfs_tag", ON_UD, K_STR, F(ud.tag) },
	{ "cvmfs_wait_on_squid", ON_UD, K_UINT, F(wait_on_squid_s) },
	{ "cernvm_path", ON_UD, K_STR, F(ud.path) },
	{ "cernvm_inject", ON_UD, K_INJECT, 0, 0 },
	{ "useglideinwms", ON_UD, K_FLAG, F(useglideinwms) },
	{ "cvm_cluster_pin", ON_UD, K_STR, F(cluster_pin) },
	{ "cvm_cluster_master", ON_UD, K_STR, F(cluster_master) },
	{ "cvm_service_url", ON_UD, K_STR, F(service_url) },
};
#undef F
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define UINT_MAXVAL 86400u	/* one day: any larger timeout is a typo */

static const char *const src_names[] = {
	"drive", "one", "gce", "ec2", "openstack", "cloudstack", "vsphere", "azure",
};

/* see config.h */
void boot_cfg_say(boot_cfg_log_fn log, void *arg, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	if (!log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log(arg, msg);
}

/* see config.h */
void boot_cfg_init(struct boot_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->resize_rootfs = 1;
	cfg->useglideinwms = 1;
	cfg->net_timeout_s = 30;
	cfg->context_timeout_s = 20;
	cfg->context_sources = BOOT_CTX_SRC_ALL;
	cfg->use_geoapi = 1;	/* μCernVM's CVMFS_USE_GEOAPI=yes */
}

/* see config.h */
int boot_cfg_flag_parse(const char *s, int *out)
{
	static const char *const on[] = { "1", "yes", "on", "true" };
	static const char *const off[] = { "0", "no", "off", "false" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, on[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, off[i]) == 0)
			return *out = 0, 0;
	}
	return -EINVAL;
}

static int uint_parse(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v > UINT_MAXVAL)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int srcs_parse(const char *s, unsigned *out)
{
	unsigned m = 0;
	size_t i, n;

	if (strcasecmp(s, "none") == 0 || strcasecmp(s, "off") == 0)
		return *out = 0, 0;
	if (strcasecmp(s, "all") == 0)
		return *out = BOOT_CTX_SRC_ALL, 0;
	while (*s) {
		n = strcspn(s, ",;");
		for (i = 0; i < sizeof(src_names) / sizeof(src_names[0]); i++)
			if (strlen(src_names[i]) == n && strncasecmp(s, src_names[i], n) == 0)
				break;
		if (i == sizeof(src_names) / sizeof(src_names[0]))
			return -EINVAL;
		m |= 1u << i;
		s += n + (s[n] != '\0');
	}
	*out = m;
	return 0;
}

/* Sets one key from its value (already unquoted, NUL-terminated). */
static int key_set(struct boot_cfg *cfg, const struct key *k, const char *v, size_t vlen,
		   boot_cfg_log_fn log, void *arg)
{
	char *field = (char *)cfg + k->off;
	const char *why = "is not valid";
	size_t i;
	int rc = 0;

	switch (k->type) {
	case K_STR:
		for (i = 0; i < vlen; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				break;
		if (i < vlen) {
			why = "contains a control character";
			rc = -EINVAL;
		} else if (vlen >= k->size) {
			why = "is too long";
			rc = -ENAMETOOLONG;
		} else {
			memcpy(field, v, vlen + 1);
		}
		break;
	case K_FLAG:
		rc = boot_cfg_flag_parse(v, (int *)field);
		why = "is not a flag (use yes/no, on/off, true/false, 1/0)";
		break;
	case K_UINT:
		rc = uint_parse(v, (unsigned *)field);
		why = "is not a number of seconds from 0 to 86400";
		break;
	case K_ONERR:
		if (strcmp(v, "poweroff") == 0)
			*(enum boot_cfg_on_error *)field = BOOT_CFG_ON_ERROR_POWEROFF;
		else if (strcmp(v, "retry") == 0)
			*(enum boot_cfg_on_error *)field = BOOT_CFG_ON_ERROR_RETRY;
		else if (strcmp(v, "wait") == 0)
			*(enum boot_cfg_on_error *)field = BOOT_CFG_ON_ERROR_WAIT;
		else
			rc = -EINVAL;
		why = "is not one of poweroff, retry, wait";
		break;
	case K_SRCS:
		rc = srcs_parse(v, (unsigned *)field);
		why = "is not 'none', 'all' or a list of drive,one,gce,ec2,openstack,cloudstack";
		break;
	default:
		why = "is not supported by cvmboot (there is no shell in the initramfs)";
		rc = -ENOTSUP;
	}
	if (rc < 0)
		boot_cfg_say(log, arg, "%s: value '%.64s%s' %s; ignored", k->name, v,
			     vlen > 64 ? "..." : "", why);
	return rc;
}

static const struct key *key_find(const char *name, size_t len, unsigned where)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if ((keys[i].where & where) && strlen(keys[i].name) == len &&
		    memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

/* A flag or number given as a bare word ("cvmdebug") means 1. */
static void cmdline_word(struct boot_cfg *cfg, char *w, boot_cfg_log_fn log, void *arg)
{
	char *eq = strchr(w, '=');
	size_t klen = eq ? (size_t)(eq - w) : strlen(w);
	const struct key *k = key_find(w, klen, ON_CMD);
	char *v = eq ? eq + 1 : NULL;
	size_t vlen;

	if (!k) {
		if (strncmp(w, "cvmfs_", 6) == 0 || strncmp(w, "cernvm_", 7) == 0 ||
		    strncmp(w, "cvmboot.", 8) == 0)
			boot_cfg_say(log, arg, "kernel command line: unknown key '%.*s' ignored "
				     "(misspelt? the keys are listed in boot/config.h)", (int)klen, w);
		return;
	}
	if (!v) {
		if (k->type == K_FLAG || k->type == K_UINT)
			*(int *)((char *)cfg + k->off) = 1;
		else
			key_set(cfg, k, "", 0, log, arg);
		return;
	}
	vlen = strlen(v);
	if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
		v[--vlen] = '\0';
		v++, vlen--;
	}
	key_set(cfg, k, v, vlen, log, arg);
}

/* see config.h */
void boot_cfg_cmdline_parse(struct boot_cfg *cfg, const char *line, size_t len,
			    boot_cfg_log_fn log, void *arg)
{
	char w[BOOT_CFG_LIST_MAX + 64];
	size_t i = 0, n;
	int quoted;

	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n'))
			i++;
		if (i >= len || line[i] == '\0')
			break;
		/* The kernel's own rule: blanks inside double quotes do not split. */
		for (n = 0, quoted = 0; i < len && line[i] != '\0'; i++) {
			if (!quoted && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n'))
				break;
			if (line[i] == '"')
				quoted = !quoted;
			if (n < sizeof(w) - 1)
				w[n++] = line[i];
		}
		w[n] = '\0';
		if (strcmp(w, "--") == 0)
			break;
		if (n == sizeof(w) - 1)
			boot_cfg_say(log, arg, "kernel command line: word '%.32s...' is too long; "
				     "ignored", w);
		else
			cmdline_word(cfg, w, log, arg);
	}
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One "key=value" line (no newline), in the caller's read-only text. */
static int ud_line(struct boot_cfg *cfg, const char *l, size_t len, boot_cfg_log_fn log,
		   void *arg)
{
	char vbuf[BOOT_CFG_LIST_MAX + 1];
	const struct key *k;
	const char *eq, *v;
	size_t klen, vlen;

	while (len && is_blank(*l))
		l++, len--;
	while (len && is_blank(l[len - 1]))
		len--;
	if (!len || *l == '#')
		return 0;
	eq = memchr(l, '=', len);
	if (!eq) {
		boot_cfg_say(log, arg, "user-data: line '%.*s' is not key=value; ignored",
			     (int)(len > 40 ? 40 : len), l);
		return 0;
	}
	for (klen = (size_t)(eq - l); klen && is_blank(l[klen - 1]); klen--)
		;
	v = eq + 1;
	vlen = len - (size_t)(v - l);
	while (vlen && is_blank(*v))
		v++, vlen--;
	if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0])
		v++, vlen -= 2;
	k = key_find(l, klen, ON_UD);
	if (!k) {
		boot_cfg_say(log, arg, "user-data: unknown key '%.*s' ignored",
			     (int)(klen > 64 ? 64 : klen), l);
		return 0;
	}
	if (k->type == K_INJECT) {
		/* Too big to copy; it stays in the caller's buffer. */
		cfg->inject = v;
		cfg->inject_len = vlen;
	} else if (vlen >= sizeof(vbuf)) {
		boot_cfg_say(log, arg, "%s: value '%.40s...' is too long; ignored", k->name, v);
		return 0;
	} else {
		memcpy(vbuf, v, vlen);
		vbuf[vlen] = '\0';
		if (key_set(cfg, k, vbuf, vlen, log, arg) < 0)
			return 0;
	}
	cfg->ud_set |= 1ull << (k - keys);
	return 1;
}

/* see config.h */
int boot_cfg_userdata_parse(struct boot_cfg *cfg, const char *text, size_t len,
			    boot_cfg_log_fn log, void *arg)
{
	const char *p = text, *end = text + len, *nl;
	int n = 0;

	while (p < end) {
		size_t l;

		nl = memchr(p, '\n', (size_t)(end - p));
		l = (size_t)((nl ? nl : end) - p);
		n += ud_line(cfg, p, l, log, arg);
		p += l + 1;
	}
	return n;
}

/* see config.h */
long boot_cfg_userdata_fmt(const struct boot_cfg *cfg, int with_inject, char *buf,
			   size_t cap)
{
	size_t i, n = 0;
	int w;

	if (cap == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (i = 0; i < NKEYS; i++) {
		const char *field = (const char *)cfg + keys[i].off;

		if (!(keys[i].where & ON_UD) || !(cfg->ud_set & (1ull << i)) ||
		    (keys[i].type == K_INJECT && !with_inject))
			continue;
		if (keys[i].type == K_STR)
			w = snprintf(buf + n, cap - n, "%s=\"%s\"\n", keys[i].name, field);
		else if (keys[i].type == K_INJECT)
			w = snprintf(buf + n, cap - n, "%s=\"%.*s\"\n", keys[i].name,
				     (int)cfg->inject_len, cfg->inject ? cfg->inject : "");
		else
			w = snprintf(buf + n, cap - n, "%s=%u\n", keys[i].name,
				     *(const unsigned *)field);
		if (w < 0 || (size_t)w >= cap - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	return (long)n;
}

static int is_none(const char *s)
{
	int f;

	return strcasecmp(s, "none") == 0 || boot_cfg_flag_parse(s, &f) == 0;
}

static int name_is_valid(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");

	return n > 0 && s[n] == '\0' && s[0] != '.' && s[0] != '-';
}

/* Appends one URL for list entry e (len n): a URL with @fqrn@ replaced, or
 * http://HOST/cvmfs/REPO for a bare host. */
static int url_add(struct boot_cfg_repo *r, const char *e, size_t n, boot_cfg_log_fn log,
		   void *arg)
{
	char u[BOOT_CFG_URL_MAX], *at;
	size_t len;

	if (r->nurls == BOOT_CFG_URLS_MAX) {
		boot_cfg_say(log, arg, "server list: more than %d entries; '%.*s' and the rest "
			     "ignored", BOOT_CFG_URLS_MAX, (int)n, e);
		return -E2BIG;
	}
	if (memmem(e, n, "://", 3)) {
		if (n >= BOOT_CFG_URL_MAX)
			goto long_url;
		memcpy(u, e, n);
		u[n] = '\0';
		if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
			boot_cfg_say(log, arg, "server '%s' is not an http:// or https:// URL; "
				     "ignored", u);
			return 0;
		}
		while ((at = strstr(u, "@fqrn@"))) {
			len = strlen(u);
			if (len - 6 + strlen(r->name) >= BOOT_CFG_URL_MAX)
				goto long_url;
			memmove(at + strlen(r->name), at + 6, len - (size_t)(at - u) - 6 + 1);
			memcpy(at, r->name, strlen(r->name));
		}
	} else {
		if (strcspn(e, "/@?# ") < n) {
			boot_cfg_say(log, arg, "server '%.*s' is neither a host name nor a URL; "
				     "ignored", (int)n, e);
			return 0;
		}
		if (n + strlen(r->name) + 15 >= BOOT_CFG_URL_MAX)
			goto long_url;
		memcpy(u, "http://", 7);
		memcpy(u + 7, e, n);
		strcpy(u + 7 + n, "/cvmfs/");
		strcat(u, r->name);
	}
	memcpy(r->urls[r->nurls++], u, sizeof(u));
	return 0;
long_url:
	boot_cfg_say(log, arg, "server URL '%.*s' is too long; ignored", (int)n, e);
	return -ENAMETOOLONG;
}

/* Splits at ',' and ';' (uCernVM mixed both, then split only at ','). */
static int urls_fill(struct boot_cfg_repo *r, const char *list, boot_cfg_log_fn log, void *arg)
{
	int rc, first = 0;
	size_t n;

	while (*list) {
		n = strcspn(list, ",; \t");
		if (n && (rc = url_add(r, list, n, log, arg)) < 0) {
			if (rc == -E2BIG)
				return rc;
			first = first ? first : rc;
		}
		list += n + (list[n] != '\0');
	}
	return first;
}

static const char *pick(const char *a, const char *b, const char *c)
{
	return a && *a ? a : b && *b ? b : c ? c : "";
}

static int copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

/* cernvm_path is a path below the repository root: no "..", no "//". */
static int path_set(char *dst, const char *p, boot_cfg_log_fn log, void *arg)
{
	size_t n;

	while (*p == '/')
		p++;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (n >= BOOT_CFG_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, p, n);
	dst[n] = '\0';
	if (strstr(dst, "//") || strcmp(dst, "..") == 0 || strncmp(dst, "../", 3) == 0 ||
	    strstr(dst, "/../") || (n >= 3 && strcmp(dst + n - 3, "/..") == 0)) {
		boot_cfg_say(log, arg, "cernvm_path '%s' must be a plain path inside the "
			     "repository (no '..', no '//'); set cernvm_path=SUBDIR", dst);
		return -EINVAL;
	}
	return 0;
}

/* see config.h */
int boot_cfg_repo_resolve(const struct boot_cfg *cfg, const struct boot_cfg_defaults *def,
			  struct boot_cfg_repo *out, boot_cfg_log_fn log, void *arg)
{
	const char *cdn, *servers, *src;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = copy(out->name, sizeof(out->name),
		       pick(cfg->ud.repo, cfg->cmd.repo, def->repo_name))) < 0)
		return rc;
	if (!name_is_valid(out->name)) {
		boot_cfg_say(log, arg, "repository name '%s' is not valid; set cvmfs_repos= on "
			     "the kernel command line or cvmfs_branch= in user-data", out->name);
		return -EINVAL;
	}
	/* uCernVM 14cvmfs: a site proxy or server in the context means "do not
	 * use the CDN", unless the context names a CDN itself. */
	cdn = cfg->cmd.cdn;
	if (cfg->ud.proxy[0] || cfg->ud.server[0])
		cdn = "NONE";
	if (cfg->ud.cdn[0])
		cdn = cfg->ud.cdn;
	if (cfg->url[0]) {
		servers = cfg->url;
		src = "cvmfs_url";
	} else if (cdn[0] && !is_none(cdn)) {
		servers = cdn;
		src = "cvmfs_cdn";
	} else if (cfg->ud.server[0] || cfg->cmd.server[0]) {
		servers = pick(cfg->ud.server, cfg->cmd.server, NULL);
		src = "cvmfs_server";
	} else {
		servers = def->repo_url ? def->repo_url : "";
		src = "the built-in repository URL";
	}
	rc = urls_fill(out, servers, log, arg);
	if (rc < 0 && rc != -E2BIG)
		return rc;
	if (out->nurls == 0) {
		boot_cfg_say(log, arg, "no usable repository server in %s; set cvmfs_server=HOST "
			     "or cvmfs_url=http://HOST/cvmfs/REPO", src);
		return -EINVAL;
	}
	if (copy(out->proxy, sizeof(out->proxy),
		 pick(cfg->ud.proxy, cfg->cmd.proxy, def->proxy)) < 0 ||
	    copy(out->pac_urls, sizeof(out->pac_urls), cfg->pac_urls) < 0 ||
	    copy(out->tag, sizeof(out->tag), pick(cfg->ud.tag, cfg->cmd.tag, def->tag)) < 0 ||
	    copy(out->key_path, sizeof(out->key_path), def->key_path ? def->key_path : "") < 0)
		return -ENAMETOOLONG;
	if (!out->proxy[0])
		strcpy(out->proxy, "DIRECT");
	if (out->tag[0] && !boot_snapshot_tag_is_valid(out->tag)) {
		boot_cfg_say(log, arg, "tag '%s' is not valid; set cvmfs_tag= (user-data) or "
			     "cvmfs_repository_tag= to a tag name", out->tag);
		return -EINVAL;
	}
	out->wait_on_squid_s = cfg->wait_on_squid_s;
	return path_set(out->path, pick(cfg->ud.path, cfg->cmd.path, NULL), log, arg);
}
