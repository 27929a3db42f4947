/* SPDX-License-Identifier: MIT */
/* boot/context.c: contextualization sources in uCernVM's order, each one
 * bounded, plus saving and reloading the result and the one-shot inject. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/context.h"
#include "net/net.h"

static const char *const src_names[] = {
	"none", "config-drive", "nocloud", "opennebula", "vsphere", "azure",
	"gce", "ec2", "openstack", "cloudstack", "saved", "vsphere-guestinfo",
};

/* see context.h */
const char *boot_ctx_src_str(enum boot_ctx_src s)
{
	return (unsigned)s < BOOT_LEN(src_names) ? src_names[s] : "?";
}

struct run {
	const struct boot_context_opts *o;
	struct boot_context *ctx;
	uint64_t deadline;
};

static int found(struct run *r, enum boot_ctx_src src, const char *where, size_t len)
{
	r->ctx->src = src;
	r->ctx->len = len;
	snprintf(r->ctx->where, sizeof(r->ctx->where), "%s", where);
	boot_cfg_say(r->o->log, r->o->log_arg, "%s: %zu bytes of user-data from %s",
		     boot_ctx_src_str(src), len, where);
	return 1;
}

static int too_big(struct run *r, enum boot_ctx_src src, const char *where)
{
	boot_cfg_say(r->o->log, r->o->log_arg, "%s: user-data at %s is larger than %zu bytes; "
		     "shrink it (gzip it) or attach it another way", boot_ctx_src_str(src), where,
		     r->ctx->cap);
	return -EMSGSIZE;
}

/* ---- files on mounted CDs and drives ---- */

static int one_userdata(struct run *r, int dirfd)
{
	struct boot_shvars v = { r->o->work, r->o->wcap / 2, 0 };
	char *file = r->o->work + r->o->wcap / 2;
	const char *ud, *enc;
	ssize_t n;
	int rc;

	rc = boot_context_one_read(dirfd, &v, file, r->o->wcap - r->o->wcap / 2);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		boot_cfg_say(r->o->log, r->o->log_arg, "opennebula: context.sh cannot be read "
			     "as variable assignments (%s); ignored", strerror(-rc));
		return 0;
	}
	ud = boot_shvars_get(&v, "EC2_USER_DATA");
	enc = "base64";
	if (!ud) {
		ud = boot_shvars_get(&v, "USER_DATA");
		enc = boot_shvars_get(&v, "USERDATA_ENCODING");
	}
	if (!ud)
		return found(r, BOOT_SRC_OPENNEBULA, "context.sh (no user data)", 0);
	if (enc && strcmp(enc, "base64") == 0) {
		n = boot_base64_decode(ud, strlen(ud), r->ctx->data, r->ctx->cap);
		if (n == -ENOSPC)
			return too_big(r, BOOT_SRC_OPENNEBULA, "context.sh");
		if (n < 0) {
			boot_cfg_say(r->o->log, r->o->log_arg, "opennebula: EC2_USER_DATA in "
				     "context.sh is not base64; ignored");
			return 0;
		}
	} else {
		n = (ssize_t)strlen(ud);
		if ((size_t)n > r->ctx->cap)
			return too_big(r, BOOT_SRC_OPENNEBULA, "context.sh");
		memcpy(r->ctx->data, ud, (size_t)n);
	}
	return found(r, BOOT_SRC_OPENNEBULA, "context.sh", (size_t)n);
}

static int dir_try(struct run *r, int dirfd)
{
	static const struct { const char *file; enum boot_ctx_src src; } files[] = {
		{ "openstack/latest/user_data", BOOT_SRC_CONFIG_DRIVE },
		{ "user-data", BOOT_SRC_NOCLOUD },
		{ "context.sh", BOOT_SRC_OPENNEBULA },
		{ "user-data.txt", BOOT_SRC_VSPHERE },
		{ "CustomData.bin", BOOT_SRC_AZURE },
		{ "ovf-env.xml", BOOT_SRC_AZURE },
	};
	unsigned mask;
	size_t i;
	long n;
	int rc;

	for (i = 0; i < BOOT_LEN(files); i++) {
		mask = files[i].src == BOOT_SRC_OPENNEBULA ? BOOT_CTX_SRC_ONE :
		       files[i].src == BOOT_SRC_AZURE ? BOOT_CTX_SRC_AZURE : BOOT_CTX_SRC_DRIVE;
		if (!(r->o->sources & mask))
			continue;
		if (files[i].src == BOOT_SRC_OPENNEBULA) {
			if ((rc = one_userdata(r, dirfd)) != 0)
				return rc;
			continue;
		}
		n = boot_file_read(dirfd, files[i].file, r->ctx->data, r->ctx->cap);
		if (n == -ENOENT || n == -ENOTDIR)
			continue;
		if (n == -EFBIG)
			return too_big(r, files[i].src, files[i].file);
		if (n < 0) {
			boot_cfg_say(r->o->log, r->o->log_arg, "%s: cannot read %s: %s; ignored",
				     boot_ctx_src_str(files[i].src), files[i].file, strerror((int)-n));
			continue;
		}
		if (strcmp(files[i].file, "ovf-env.xml") == 0) {
			n = boot_azure_ovf_parse(r->ctx->data, (size_t)n, r->ctx->cap);
			if (n < 0) {
				boot_cfg_say(r->o->log, r->o->log_arg, "azure: ovf-env.xml is not "
					     "Azure's provisioning document or its CustomData "
					     "is not base64; ignored");
				continue;
			}
		}
		return found(r, files[i].src, files[i].file, (size_t)n);
	}
	return 0;
}

static int guestinfo(struct run *r)
{
	ssize_t n;
	uint64_t now = boot_now_ms();

	if (now >= r->deadline)
		return -ETIMEDOUT;
	n = r->o->guestinfo(r->ctx->data, r->ctx->cap, r->o->work, r->o->wcap,
			    (unsigned)(r->deadline - now < 3000 ? r->deadline - now : 3000),
			    r->o->log, r->o->log_arg);
	if (n == -EMSGSIZE || n == -ENOSPC)
		return too_big(r, BOOT_SRC_GUESTINFO, "guestinfo.userdata");
	if (n >= 0)
		return found(r, BOOT_SRC_GUESTINFO, "guestinfo.userdata", (size_t)n);
	if (n != -ENOENT)
		boot_cfg_say(r->o->log, r->o->log_arg, "vsphere: guestinfo.userdata: %s; "
			     "skipped", strerror((int)-n));
	return 0;
}

/* ---- metadata services ---- */

struct host {
	const char *name;
	int state;	/* 0 unknown, 1 answered, -1 did not answer: skip */
};

/* One request. Returns the HTTP status, 0 when the host is (now) known not
 * to answer, or -ETIMEDOUT (stage deadline) / -EMSGSIZE. */
static int req(struct run *r, struct host *h, enum boot_ctx_src src, const char *method,
	       const char *path, const char *const *hdrs, char *buf, size_t cap, size_t *len)
{
	const struct boot_context_opts *o = r->o;
	char url[160];
	uint64_t now = boot_now_ms(), dl;
	unsigned t = h->state ? (o->fetch_ms ? o->fetch_ms : BOOT_CONTEXT_FETCH_MS)
			      : (o->probe_ms ? o->probe_ms : BOOT_CONTEXT_PROBE_MS);
	int rc;

	*len = 0;
	if (h->state < 0)
		return 0;
	if (now >= r->deadline)
		return -ETIMEDOUT;
	dl = now + t < r->deadline ? now + t : r->deadline;
	snprintf(url, sizeof(url), "http://%s%s", h->name, path);
	rc = o->fetch(o->fetch_arg, method, url, hdrs, buf, cap, len, dl);
	if (rc == -EMSGSIZE)
		return too_big(r, src, url);
	if (rc == -EOPNOTSUPP && strcmp(method, "GET") != 0)
		return rc;	/* a transport without PUT says nothing about the host */
	if (rc < 0) {
		*len = 0;
		if (h->state == 0) {
			boot_cfg_say(o->log, o->log_arg, "%s: %s did not answer within %u ms (%s); "
				     "not this platform", boot_ctx_src_str(src), h->name, t,
				     strerror(-rc));
			h->state = -1;
		} else {
			boot_cfg_say(o->log, o->log_arg, "%s: %s %s failed: %s",
				     boot_ctx_src_str(src), method, url, strerror(-rc));
		}
		return boot_now_ms() >= r->deadline ? -ETIMEDOUT : 0;
	}
	h->state = 1;
	return rc;
}

/* GET user-data; on 404 a meta-data path that answers still marks the
 * platform (uCernVM PR #2: a VM without user-data was not detected). */
static int get_ud(struct run *r, struct host *h, enum boot_ctx_src src, const char *ud_path,
		  const char *md_path, const char *const *hdrs)
{
	char probe[64], where[96];
	size_t len;
	int st;

	st = req(r, h, src, "GET", ud_path, hdrs, r->ctx->data, r->ctx->cap, &len);
	if (st <= 0)
		return st;
	snprintf(where, sizeof(where), "http://%s%s", h->name,
		 st == 200 || !md_path ? ud_path : md_path);
	if (st == 200)
		return found(r, src, where, len);
	if (st == 404 && md_path) {
		st = req(r, h, src, "GET", md_path, hdrs, probe, sizeof(probe), &len);
		if (st == 200 || st == -EMSGSIZE)
			return found(r, src, where, 0);
		if (st < 0)
			return st;
	}
	boot_cfg_say(r->o->log, r->o->log_arg, "%s: %s answered %s with HTTP %d; %s",
		     boot_ctx_src_str(src), h->name, ud_path, st,
		     src == BOOT_SRC_EC2 && (st == 401 || st == 403) ?
		     "access refused: check the instance's metadata "
		     "options (IMDSv2 needs PUT /latest/api/token to work)" : "not this platform");
	return 0;
}

static int gce(struct run *r, struct host *h)
{
	static const char *const hdrs[] = { "Metadata-Flavor: Google", NULL };

	return get_ud(r, h, BOOT_SRC_GCE, "/computeMetadata/v1/instance/attributes/user-data",
		      "/computeMetadata/v1/instance/id", hdrs);
}

/* IMDSv2: a session token from PUT, sent with every GET; IMDSv1 (no token)
 * when the PUT is refused, as older and emulated services do. */
static int ec2(struct run *r, struct host *h)
{
	static const char *const put_hdrs[] = {
		"X-aws-ec2-metadata-token-ttl-seconds: 300", NULL };
	char tok[BOOT_CONTEXT_TOKEN_MAX + 1], hdr[BOOT_CONTEXT_TOKEN_MAX + 32];
	const char *hdrs[] = { hdr, NULL };
	size_t len, i;
	int st, rc;

	st = req(r, h, BOOT_SRC_EC2, "PUT", "/latest/api/token", put_hdrs, tok,
		 BOOT_CONTEXT_TOKEN_MAX, &len);
	if (st <= 0 && st != -EMSGSIZE && st != -EOPNOTSUPP)
		return st;
	for (i = 0; st == 200 && i < len; i++)
		if ((unsigned char)tok[i] <= ' ' || (unsigned char)tok[i] >= 0x7f)
			break;
	if (st == 200 && len > 0 && i == len) {
		tok[len] = '\0';
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", tok);
	} else {
		boot_cfg_say(r->o->log, r->o->log_arg, "ec2: no IMDSv2 token (%s %d); "
			     "trying IMDSv1", st < 0 ? "error" : "HTTP", st);
		hdrs[0] = NULL;
	}
	rc = get_ud(r, h, BOOT_SRC_EC2, "/latest/user-data", "/latest/meta-data/instance-id",
		    hdrs);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(hdr, sizeof(hdr));
	return rc;
}

static int metadata(struct run *r)
{
	const struct boot_context_opts *o = r->o;
	struct host md = { o->metadata_host ? o->metadata_host : BOOT_METADATA_HOST, 0 };
	struct host cs = { o->cloudstack_host ? o->cloudstack_host : BOOT_CLOUDSTACK_HOST, 0 };
	struct host dh = { o->dhcp_server, 0 };
	int rc = 0;

	if ((o->sources & BOOT_CTX_SRC_GCE) && (rc = gce(r, &md)) != 0)
		return rc;
	if ((o->sources & BOOT_CTX_SRC_EC2) && (rc = ec2(r, &md)) != 0)
		return rc;
	if ((o->sources & BOOT_CTX_SRC_OPENSTACK) &&
	    (rc = get_ud(r, &md, BOOT_SRC_OPENSTACK, "/openstack/latest/user_data",
			 "/openstack/latest/meta_data.json", NULL)) != 0)
		return rc;
	if (!(o->sources & BOOT_CTX_SRC_CLOUDSTACK))
		return 0;
	if ((rc = get_ud(r, &cs, BOOT_SRC_CLOUDSTACK, "/latest/user-data",
			 "/latest/meta-data/instance-id", NULL)) != 0)
		return rc;
	if (dh.name && *dh.name)
		rc = get_ud(r, &dh, BOOT_SRC_CLOUDSTACK, "/latest/user-data",
			    "/latest/meta-data/instance-id", NULL);
	return rc;
}

/* see context.h */
int boot_context_run(const struct boot_context_opts *o, uint64_t deadline_ms,
		     struct boot_context *ctx)
{
	struct run r = { o, ctx, deadline_ms };
	size_t i;
	int rc = 0;

	ctx->src = BOOT_SRC_NONE;
	ctx->len = 0;
	ctx->where[0] = '\0';
	for (i = 0; rc == 0 && i < o->ndirs; i++)
		rc = dir_try(&r, o->dirfds[i]);
	if (rc == 0 && o->guestinfo && (o->sources & BOOT_CTX_SRC_VSPHERE))
		rc = guestinfo(&r);
	if (rc == 0 && o->fetch)
		rc = metadata(&r);
	if (rc > 0)
		return 0;
	if (rc == 0) {
		boot_cfg_say(o->log, o->log_arg, "no user-data source answered (tried %zu drives%s); "
			     "booting with the kernel command line only", o->ndirs,
			     o->fetch && (o->sources & ~(BOOT_CTX_SRC_DRIVE | BOOT_CTX_SRC_ONE)) ?
			     " and the metadata services" : "");
		return -ENOENT;
	}
	if (rc == -ETIMEDOUT)
		boot_cfg_say(o->log, o->log_arg, "contextualization ran out of time; raise "
			     "cvmboot.context_timeout= or limit cvmboot.context= to your platform");
	return rc;
}

/* see context.h */
int boot_context_one_read(int dirfd, struct boot_shvars *v, char *file, size_t fcap)
{
	long n = boot_file_read(dirfd, "context.sh", file, fcap);
	int rc;

	if (n == -ENOTDIR)
		return -ENOENT;
	if (n < 0)
		return (int)n;
	rc = boot_shvars_parse(v, file, (size_t)n);
	return rc < 0 ? rc : 0;
}

/* see context.h */
size_t boot_context_one_net(const struct boot_shvars *v, struct net_kv *kv, size_t max)
{
	const char *p = v->buf, *end = v->buf + v->len, *val;
	size_t n = 0, i;

	for (; p < end; p = val + strlen(val) + 1) {
		val = p + strlen(p) + 1;
		if (strncmp(p, "ETH", 3) != 0 || p[3] < '0' || p[3] > '9')
			continue;
		for (i = 0; i < n && strcmp(kv[i].key, p) != 0; i++)
			;
		if (i == n && n == max)
			continue;
		kv[i].key = p;
		kv[i].val = val;
		n += i == n;
	}
	return n;
}

/* ---- saved context ---- */

/* see context.h */
int boot_context_save(int ctxdirfd, const struct boot_context *ctx,
		      const struct boot_cfg *cfg, char *work, size_t wcap)
{
	struct iovec iov[4];
	size_t n = 1;
	long len;
	int rc;

	len = snprintf(work, wcap, "%s %s\n", boot_ctx_src_str(ctx->src), ctx->where);
	if (len < 0 || (size_t)len >= wcap)
		return -ENOSPC;
	if ((rc = boot_file_write(ctxdirfd, "user-data", ctx->data, ctx->len)) < 0 ||
	    (rc = boot_file_write(ctxdirfd, "source", work, (size_t)len)) < 0)
		return rc;
	/* cernvm_inject is as large as the user-data: written from where it
	 * is, so that work only needs room for the small keys. */
	if ((len = boot_cfg_userdata_fmt(cfg, 0, work, wcap)) < 0)
		return (int)len;
	iov[0] = (struct iovec){ work, (size_t)len };
	if (cfg->inject) {
		iov[1] = (struct iovec){ "cernvm_inject=\"", 15 };
		iov[2] = (struct iovec){ (void *)cfg->inject, cfg->inject_len };
		iov[3] = (struct iovec){ "\"\n", 2 };
		n = 4;
	}
	return boot_file_writev(ctxdirfd, "ucontext", iov, n);
}

/* see context.h */
int boot_context_load(int ctxdirfd, struct boot_cfg *cfg, char *buf, size_t cap,
		      boot_cfg_log_fn log, void *arg)
{
	long n = boot_file_read(ctxdirfd, "ucontext", buf, cap);

	if (n < 0)
		return (int)n;
	return boot_cfg_userdata_parse(cfg, buf, (size_t)n, log, arg);
}

/* ---- cernvm_inject ---- */

/* see context.h */
int boot_inject_run(const struct boot_cfg *cfg, int rootfd, int ctxdirfd, char *work,
		    size_t wcap, boot_cfg_log_fn log, void *arg)
{
	static const char marker[] = "injected";
	ssize_t n;
	int rc;

	if (!cfg->inject || cfg->inject_len == 0)
		return 0;
	if (faccessat(ctxdirfd, marker, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		boot_cfg_say(log, arg, "inject: already done on an earlier boot (context/%s)",
			     marker);
		return 0;
	}
	n = boot_base64_decode(cfg->inject, cfg->inject_len, work, wcap / 2);
	if (n < 0) {
		boot_cfg_say(log, arg, "inject: cernvm_inject is %s; set it to the base64 of a "
			     "tar.gz (base64 -w0 FILE.tar.gz)",
			     n == -ENOSPC ? "too large" : "not base64");
		rc = (int)n == -ENOSPC ? -ENOSPC : -EBADMSG;
	} else {
		rc = boot_tar_extract(rootfd, work, (size_t)n, work + wcap / 2, wcap - wcap / 2,
				      log, arg);
	}
	/* Bad data stays bad: mark it done so that we do not retry each boot.
	 * A file system error (disk full) is retried on the next boot. */
	if (rc >= 0 || rc == -EPERM || rc == -EBADMSG || rc == -ENOSPC || rc == -ENAMETOOLONG)
		boot_file_write(ctxdirfd, marker, rc >= 0 ? "ok\n" : "refused\n",
				rc >= 0 ? 3 : 8);
	return rc;
}
