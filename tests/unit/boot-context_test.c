/* SPDX-License-Identifier: MIT */
/* tests/unit/boot-context_test.c: user-data unpacking (plain, gzip, MIME,
 * glideinWMS), context.sh as data, the sources against a fake HTTP fetch
 * (GCE, EC2 IMDSv2/v1, OpenStack, CloudStack), save/load, base64 and tar. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "boot/boot.h"
#include "boot/context.h"
#include "net/net.h"
#include "tests/unit/testdata.h"

static char logbuf[16384];
static char data[BOOT_CONTEXT_DATA_MAX], work[BOOT_CONTEXT_WORK_MAX];

static void log_cb(void *arg, const char *msg)
{
	size_t n = strlen(logbuf);

	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static int setup(void **state)
{
	(void)state;
	logbuf[0] = '\0';
	return 0;
}

#define TD "tests/data/boot/"

static int tmpdir(char *path)
{
	int fd;

	strcpy(path, "/tmp/cvmboot-ctx-XXXXXX");
	assert_non_null(mkdtemp(path));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void rm_rf(int fd, const char *path)
{
	char cmd[128];

	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

/* ---- codecs ---- */

static void base64_vectors(void **state)
{
	char out[64], inplace[32];

	(void)state;
	/* RFC 4648 section 10. */
	assert_int_equal(boot_base64_decode("", 0, out, sizeof(out)), 0);
	assert_int_equal(boot_base64_decode("Zg==", 4, out, sizeof(out)), 1);
	assert_int_equal(boot_base64_decode("Zm9vYg==", 8, out, sizeof(out)), 4);
	assert_memory_equal(out, "foob", 4);
	assert_int_equal(boot_base64_decode("Zm9v\r\nYmFy", 10, out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(boot_base64_decode("Zm9vYmE", 7, out, sizeof(out)), 5);
	assert_int_equal(boot_base64_decode("Zm9v!mFy", 8, out, sizeof(out)), -EINVAL);
	assert_int_equal(boot_base64_decode("Zg==Zg==", 8, out, sizeof(out)), -EINVAL);
	assert_int_equal(boot_base64_decode("Z", 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(boot_base64_decode("Zm9vYmFy", 8, out, 5), -ENOSPC);
	strcpy(inplace, "aGVsbG8gd29ybGQ=");
	assert_int_equal(boot_base64_decode(inplace, strlen(inplace), inplace, 32), 11);
	assert_memory_equal(inplace, "hello world", 11);
}

static void gunzip_errors(void **state)
{
	size_t n = td_load_into(TD, "ud-plain.gz", data, sizeof(data));
	char out[16];

	(void)state;
	assert_int_equal(boot_gunzip(data, n, out, sizeof(out)), -ENOSPC);
	assert_int_equal(boot_gunzip(data, n - 10, work, sizeof(work)), -EBADMSG);
	assert_int_equal(boot_gunzip("plain text", 10, work, sizeof(work)), -EBADMSG);
	assert_int_equal(boot_gunzip(data, n, work, sizeof(work)), 202);
}

/* ---- user-data ---- */

static void expect_section(const char *file, int glidein, const char *want_key,
			   const char *want_val)
{
	struct boot_cfg c;
	const char *sec;
	size_t n = td_load_into(TD, file, data, sizeof(data)), sl;

	assert_int_equal(boot_userdata_extract(data, n, glidein, work, sizeof(work), &sec, &sl), 1);
	boot_cfg_init(&c);
	assert_true(boot_cfg_userdata_parse(&c, sec, sl, log_cb, NULL) > 0);
	if (strcmp(want_key, "branch") == 0) {
		assert_string_equal(c.ud.repo, want_val);
		assert_string_equal(c.ud.tag, "v1.2");
		assert_string_equal(c.ud.proxy, "http://squid:3128;DIRECT");
		assert_int_equal(c.resize_rootfs, 0);
	} else if (strcmp(want_key, "server") == 0) {
		assert_string_equal(c.ud.server, want_val);
	} else {
		assert_string_equal(c.ud.proxy, want_val);
	}
}

static void userdata_formats(void **state)
{
	struct boot_cfg c;
	const char *sec;
	size_t n, sl;

	(void)state;
	expect_section("ud-plain.txt", 1, "branch", "test.example.org");
	/* The text after [ucernvm-end] is not part of the section. */
	assert_null(strstr(logbuf, "trailing"));
	expect_section("ud-plain.gz", 1, "branch", "test.example.org");
	expect_section("ud-mime.txt", 1, "branch", "test.example.org");
	expect_section("ud-crlf.txt", 1, "server", "s1.example.org,s2.example.org");
	expect_section("ud-glidein.txt", 1, "proxy", "http://squid.example.org:3128;DIRECT");
	/* CRLF and no newline at the end: the last key is kept. */
	n = td_load_into(TD, "ud-crlf.txt", data, sizeof(data));
	assert_int_equal(boot_userdata_extract(data, n, 1, work, sizeof(work), &sec, &sl), 1);
	boot_cfg_init(&c);
	assert_int_equal(boot_cfg_userdata_parse(&c, sec, sl, log_cb, NULL), 3);
	assert_string_equal(c.ud.tag, "v9");
	assert_int_equal(c.wait_on_squid_s, 7);
	/* glideinWMS detection can be switched off. */
	n = td_load_into(TD, "ud-glidein.txt", data, sizeof(data));
	assert_int_equal(boot_userdata_extract(data, n, 0, work, sizeof(work), &sec, &sl), 0);
	boot_cfg_init(&c);
	assert_int_equal(boot_userdata_extract(data, n, 1, work, sizeof(work), &sec, &sl), 1);
	boot_cfg_userdata_parse(&c, sec, sl, log_cb, NULL);
	assert_string_equal(c.pac_urls, "http://wpad.example/wpad.dat");
	assert_string_equal(logbuf, "");
}

static void userdata_none_or_bad(void **state)
{
	const char *sec;
	size_t n, sl;
	static const char cc[] = "#cloud-config\nruncmd: [ reboot ]\n";
	static const char bad_mime[] = "Content-Type: multipart/mixed\n\n--x\n";

	(void)state;
	assert_int_equal(boot_userdata_extract(cc, strlen(cc), 1, work, sizeof(work), &sec, &sl), 0);
	assert_int_equal(boot_userdata_extract("", 0, 1, work, sizeof(work), &sec, &sl), 0);
	assert_int_equal(boot_userdata_extract(bad_mime, strlen(bad_mime), 1, work, sizeof(work),
					       &sec, &sl), -EBADMSG);
	n = td_load_into(TD, "ud-plain.gz", data, sizeof(data));
	assert_int_equal(boot_userdata_extract(data, n - 8, 1, work, sizeof(work), &sec, &sl),
			 -EBADMSG);
	assert_int_equal(boot_userdata_extract(data, n, 1, work, 64, &sec, &sl), -ENOSPC);
	assert_int_equal(boot_userdata_extract("\xef\xbb\xbf[ucernvm-begin]\r\na=b", 23, 1, work,
					       sizeof(work), &sec, &sl), 1);
	assert_int_equal(sl, 3);
		/* A begin marker only counts on a line of its own. */
	assert_int_equal(boot_userdata_extract("x[ucernvm-begin]\na=b\n", 21, 1, work,
					       sizeof(work), &sec, &sl), 0);
}

/* ---- context.sh ---- */

static void shvars_as_data(void **state)
{
	char buf[2048];
	struct boot_shvars v = { buf, sizeof(buf), 0 };
	struct boot_shvars small = { buf, 40, 0 };
	static const char tricky[] = "A=1\nA=\"x\\\"y\\$z\"\\ w\nB=c\\\nd;C=3 rm -rf /\n";
	size_t n = td_load_into(TD, "one-context.sh", data, sizeof(data));

	(void)state;
	assert_int_equal(boot_shvars_parse(&v, data, n), 10);
	assert_string_equal(boot_shvars_get(&v, "ETH0_IP"), "192.168.122.10");
	assert_string_equal(boot_shvars_get(&v, "ETH0_DNS"), "192.168.122.1 8.8.8.8");
	assert_string_equal(boot_shvars_get(&v, "NOTE"), "it's $(not run) `either`");
	assert_string_equal(boot_shvars_get(&v, "MULTI"), "line one\nline two");
	assert_string_equal(boot_shvars_get(&v, "EXPORTED"), "yes");
	assert_null(boot_shvars_get(&v, "ETH1_IP"));
	{
		struct net_kv kv[8];

		assert_int_equal(boot_context_one_net(&v, kv, 8), 5);
		assert_string_equal(kv[0].key, "ETH0_IP");
		assert_string_equal(kv[0].val, "192.168.122.10");
		assert_string_equal(kv[3].key, "ETH0_DNS");
		assert_int_equal(boot_context_one_net(&v, kv, 2), 2);
	}
	assert_int_equal(boot_shvars_parse(&v, "ETH0_IP=1\nETH0_IP=2\nETHX=3\n", 27), 3);
	{
		struct net_kv kv[2];

		assert_int_equal(boot_context_one_net(&v, kv, 2), 1);
		assert_string_equal(kv[0].val, "2");
	}
	assert_int_equal(boot_shvars_parse(&v, tricky, strlen(tricky)), 4);
	assert_string_equal(boot_shvars_get(&v, "A"), "x\"y$z w");
	assert_string_equal(boot_shvars_get(&v, "B"), "cd");
	assert_string_equal(boot_shvars_get(&v, "C"), "3");
	assert_int_equal(boot_shvars_parse(&v, "A=1\nB='open\n", 12), -EBADMSG);
	assert_string_equal(boot_shvars_get(&v, "A"), "1");
	assert_null(boot_shvars_get(&v, "B"));
	assert_int_equal(boot_shvars_parse(&small, data, n), -ENOSPC);
	/* A NUL byte in a value (the fuzzer's find, tests/fuzz/corpus/shvars/
	 * nul-in-value) would put the NAME\0value\0 pairs out of step. */
	assert_int_equal(boot_shvars_parse(&v, "A=1\nAJ=J\x01\x00", 10), -EBADMSG);
	assert_string_equal(boot_shvars_get(&v, "A"), "1");
	assert_null(boot_shvars_get(&v, "AJ"));
	assert_int_equal(boot_shvars_parse(&v, "B=\"\\\0\"", 6), -EBADMSG);
	assert_null(boot_shvars_get(&v, "B"));
}

/* ---- sources: local directories ---- */

static int mkfile(int dfd, const char *dir, const char *name, const char *s, size_t len)
{
	int fd;

	if (dir)
		mkdirat(dfd, dir, 0755);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, len), (ssize_t)len);
	return close(fd);
}

static void ctx_init(struct boot_context *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->data = data;
	ctx->cap = sizeof(data);
}

static void drives(void **state)
{
	char p1[64], p2[64], sh[1024];
	int fds[2] = { tmpdir(p1), tmpdir(p2) };
	struct boot_context_opts o = { .sources = BOOT_CTX_SRC_ALL, .dirfds = fds, .ndirs = 2,
				       .work = work, .wcap = sizeof(work), .log = log_cb };
	struct boot_context ctx;
	struct boot_cfg c;
	const char *sec;
	size_t n, sl;

	(void)state;
	ctx_init(&ctx);
	assert_int_equal(boot_context_run(&o, boot_now_ms() + 1000, &ctx), -ENOENT);
	assert_non_null(strstr(logbuf, "no user-data source answered"));
	/* OpenNebula on the second CD: EC2_USER_DATA decoded, never run. */
	n = td_load_into(TD, "one-context.sh", sh, sizeof(sh));
	mkfile(fds[1], NULL, "context.sh", sh, n);
	assert_int_equal(boot_context_run(&o, boot_now_ms() + 1000, &ctx), 0);
	assert_int_equal(ctx.src, BOOT_SRC_OPENNEBULA);
	assert_int_equal(boot_userdata_extract(ctx.data, ctx.len, 1, work, sizeof(work), &sec,
					       &sl), 1);
	boot_cfg_init(&c);
	boot_cfg_userdata_parse(&c, sec, sl, log_cb, NULL);
	assert_string_equal(c.ud.repo, "test.example.org");
	/* A config drive on the first CD comes first. */
	mkfile(fds[0], "openstack", "openstack/latest", "", 0);
	unlinkat(fds[0], "openstack/latest", 0);
	mkdirat(fds[0], "openstack/latest", 0755);
	mkfile(fds[0], NULL, "openstack/latest/user_data", "CD", 2);
	assert_int_equal(boot_context_run(&o, boot_now_ms() + 1000, &ctx), 0);
	assert_int_equal(ctx.src, BOOT_SRC_CONFIG_DRIVE);
	assert_int_equal(ctx.len, 2);
	/* ... unless drives are not among the sources. */
	o.sources = BOOT_CTX_SRC_ONE;
	assert_int_equal(boot_context_run(&o, boot_now_ms() + 1000, &ctx), 0);
	assert_int_equal(ctx.src, BOOT_SRC_OPENNEBULA);
	o.sources = BOOT_CTX_SRC_DRIVE;
	mkfile(fds[1], NULL, "user-data", "nocloud", 7);
	unlinkat(fds[0], "openstack/latest/user_data", 0);
	assert_int_equal(boot_context_run(&o, boot_now_ms() + 1000, &ctx), 0);
	assert_int_equal(ctx.src, BOOT_SRC_NOCLOUD);
	assert_string_equal(boot_ctx_src_str(ctx.src), "nocloud");
	/* Too big for the buffer: a clear error, not a silent cut. */
	ctx.cap = 4;
	assert_int_equal(boot_context_run(&o, boot_now_ms() + 1000, &ctx), -EMSGSIZE);
	assert_non_null(strstr(logbuf, "larger than 4 bytes"));
	rm_rf(fds[0], p1);
	rm_rf(fds[1], p2);
}

/* ---- sources: metadata services through a fake fetch ---- */

struct route {
	const char *method, *url, *need_hdr;
	int status;
	const char *body;
};

struct fake {
	const struct route *routes;
	const char *dead;		/* URL prefix that never answers */
	char calls[16][256];
	uint64_t deadlines[16];
	size_t ncalls;
};

static int has_hdr(const char *const *h, const char *want)
{
	for (; h && *h; h++)
		if (strcmp(*h, want) == 0)
			return 1;
	return 0;
}

/* Answers from the route table: 401 when a required header is missing
 * (IMDSv2 enforced), 404 for unknown URLs, -ETIMEDOUT for a dead host. */
static int fetch(void *arg, const char *method, const char *url, const char *const *hdrs,
		 char *buf, size_t cap, size_t *len, uint64_t deadline_ms)
{
	struct fake *f = arg;
	const struct route *r;
	const char *const *h;
	size_t n;

	assert_true(f->ncalls < 16);
	n = (size_t)snprintf(f->calls[f->ncalls], 256, "%s %s", method, url);
	for (h = hdrs; h && *h; h++)
		n += (size_t)snprintf(f->calls[f->ncalls] + n, 256 - n, " [%s]", *h);
	f->deadlines[f->ncalls++] = deadline_ms;
	*len = 0;
	if (f->dead && strncmp(url, f->dead, strlen(f->dead)) == 0)
		return -ETIMEDOUT;
	for (r = f->routes; r && r->method; r++) {
		if (strcmp(r->method, method) || strcmp(r->url, url))
			continue;
		if (r->need_hdr && !has_hdr(hdrs, r->need_hdr))
			return 401;
		if (r->status != 200 || !r->body)
			return r->status;
		if (strlen(r->body) > cap)
			return -EMSGSIZE;
		*len = strlen(r->body);
		memcpy(buf, r->body, *len);
		return 200;
	}
	return 404;
}

#define MD "http://169.254.169.254"

static int run_fake(struct fake *f, unsigned sources, const char *dhcp, struct boot_context *ctx,
		    uint64_t deadline)
{
	struct boot_context_opts o = { .sources = sources, .fetch = fetch, .fetch_arg = f,
				       .dhcp_server = dhcp, .work = work, .wcap = sizeof(work),
				       .log = log_cb };

	ctx_init(ctx);
	return boot_context_run(&o, deadline ? deadline : boot_now_ms() + 5000, ctx);
}

static void ec2_imdsv2(void **state)
{
	static const struct route routes[] = {
		{ "PUT", MD "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 300", 200,
		  "TOKEN123" },
		{ "GET", MD "/latest/user-data", "X-aws-ec2-metadata-token: TOKEN123", 200,
		  "[ucernvm-begin]\ncvmfs_tag=ec2\n[ucernvm-end]\n" },
		{ NULL },
	};
	struct fake f = { routes };
	struct boot_context ctx;

	(void)state;
	assert_int_equal(run_fake(&f, BOOT_CTX_SRC_ALL, NULL, &ctx, 0), 0);
	assert_int_equal(ctx.src, BOOT_SRC_EC2);
	assert_int_equal(ctx.len, 44);
	assert_memory_equal(ctx.data, "[ucernvm-begin]\ncvmfs_tag=ec2", 29);
	/* GCE asked first (404 twice: not GCE), then the token, then the GET. */
	assert_int_equal(f.ncalls, 4);
	assert_string_equal(f.calls[0], "GET " MD "/computeMetadata/v1/instance/attributes/"
					"user-data [Metadata-Flavor: Google]");
	assert_string_equal(f.calls[1], "GET " MD "/computeMetadata/v1/instance/id "
					"[Metadata-Flavor: Google]");
	assert_string_equal(f.calls[2], "PUT " MD "/latest/api/token "
					"[X-aws-ec2-metadata-token-ttl-seconds: 300]");
	assert_string_equal(f.calls[3], "GET " MD "/latest/user-data "
					"[X-aws-ec2-metadata-token: TOKEN123]");
}

static void ec2_imdsv1_fallback(void **state)
{
	static const struct route routes[] = {
		{ "PUT", MD "/latest/api/token", NULL, 405, NULL },
		{ "GET", MD "/latest/user-data", NULL, 200, "v1-data" },
		{ NULL },
	};
	struct fake f = { routes };
	struct boot_context ctx;

	(void)state;
	assert_int_equal(run_fake(&f, BOOT_CTX_SRC_EC2, NULL, &ctx, 0), 0);
	assert_int_equal(ctx.src, BOOT_SRC_EC2);
	assert_int_equal(f.ncalls, 2);
	assert_string_equal(f.calls[1], "GET " MD "/latest/user-data");
	assert_non_null(strstr(logbuf, "trying IMDSv1"));
}

/* A transport that cannot PUT: IMDSv1, and the host is not written off. */
static int fetch_no_put(void *arg, const char *method, const char *url,
			const char *const *hdrs, char *buf, size_t cap, size_t *len,
			uint64_t deadline_ms)
{
	if (strcmp(method, "PUT") == 0) {
		*len = 0;
		return -EOPNOTSUPP;
	}
	return fetch(arg, method, url, hdrs, buf, cap, len, deadline_ms);
}

static void ec2_transport_without_put(void **state)
{
	static const struct route routes[] = {
		{ "GET", MD "/latest/user-data", NULL, 200, "v1-data" },
		{ NULL },
	};
	struct fake f = { routes };
	struct boot_context_opts o = { .sources = BOOT_CTX_SRC_EC2, .fetch = fetch_no_put,
				       .fetch_arg = &f, .log = log_cb };
	struct boot_context ctx;

	(void)state;
	ctx_init(&ctx);
	assert_int_equal(boot_context_run(&o, boot_now_ms() + 1000, &ctx), 0);
	assert_int_equal(ctx.src, BOOT_SRC_EC2);
	assert_int_equal(ctx.len, 7);
	assert_non_null(strstr(logbuf, "trying IMDSv1"));
}

static void ec2_token_required(void **state)
{
	/* IMDSv2 enforced and the token refused: no user-data, a clear log. */
	static const struct route routes[] = {
		{ "PUT", MD "/latest/api/token", NULL, 403, NULL },
		{ "GET", MD "/latest/user-data", "X-aws-ec2-metadata-token: T", 200, "x" },
		{ NULL },
	};
	struct fake f = { routes };
	struct boot_context ctx;

	(void)state;
	assert_int_equal(run_fake(&f, BOOT_CTX_SRC_EC2, NULL, &ctx, 0), -ENOENT);
	assert_non_null(strstr(logbuf, "HTTP 401"));
}

static void gce_and_empty_platform(void **state)
{
	static const struct route gce[] = {
		{ "GET", MD "/computeMetadata/v1/instance/attributes/user-data",
		  "Metadata-Flavor: Google", 200, "gce-data" },
		{ NULL },
	};
	static const struct route gce_empty[] = {
		{ "GET", MD "/computeMetadata/v1/instance/id", "Metadata-Flavor: Google", 200, "42" },
		{ NULL },
	};
	static const struct route os[] = {
		{ "PUT", MD "/latest/api/token", NULL, 200, "T" },
		{ "GET", MD "/openstack/latest/meta_data.json", NULL, 200, "{}" },
		{ NULL },
	};
	struct fake f1 = { gce }, f2 = { gce_empty }, f3 = { os };
	struct boot_context ctx;

	(void)state;
	assert_int_equal(run_fake(&f1, BOOT_CTX_SRC_ALL, NULL, &ctx, 0), 0);
	assert_int_equal(ctx.src, BOOT_SRC_GCE);
	assert_memory_equal(ctx.data, "gce-data", 8);
	assert_int_equal(f1.ncalls, 1);
	/* A platform without user-data is still found (uCernVM PR #2). */
	assert_int_equal(run_fake(&f2, BOOT_CTX_SRC_ALL, NULL, &ctx, 0), 0);
	assert_int_equal(ctx.src, BOOT_SRC_GCE);
	assert_int_equal(ctx.len, 0);
	assert_int_equal(run_fake(&f3, BOOT_CTX_SRC_ALL, NULL, &ctx, 0), 0);
	assert_int_equal(ctx.src, BOOT_SRC_OPENSTACK);
	assert_int_equal(ctx.len, 0);
	assert_string_equal(f3.calls[f3.ncalls - 2], "GET " MD "/openstack/latest/user_data");
}

static void dead_host_skipped(void **state)
{
	static const struct route cs[] = {
		{ "GET", "http://10.0.2.2/latest/user-data", NULL, 200, "cs" },
		{ NULL },
	};
	struct fake f = { cs, MD };
	struct fake none = { NULL, "http://" };
	struct boot_context ctx;

	(void)state;
	assert_int_equal(run_fake(&f, BOOT_CTX_SRC_ALL, "10.0.2.2", &ctx, 0), 0);
	assert_int_equal(ctx.src, BOOT_SRC_CLOUDSTACK);
	/* One probe of 169.254.169.254, then 10.1.1.1 (404s), then the DHCP server. */
	assert_string_equal(f.calls[0], "GET " MD "/computeMetadata/v1/instance/attributes/"
					"user-data [Metadata-Flavor: Google]");
	assert_string_equal(f.calls[1], "GET http://10.1.1.1/latest/user-data");
	assert_string_equal(f.calls[3], "GET http://10.0.2.2/latest/user-data");
	assert_int_equal(f.ncalls, 4);
	assert_non_null(strstr(logbuf, "169.254.169.254 did not answer within 2000 ms"));
	assert_int_equal(run_fake(&none, BOOT_CTX_SRC_ALL, "10.0.2.2", &ctx, 0), -ENOENT);
	assert_int_equal(none.ncalls, 3);
}

static void deadlines_bounded(void **state)
{
	struct fake f = { NULL, "http://" };
	struct boot_context ctx;
	uint64_t dl = boot_now_ms() + 700;
	size_t i;

	(void)state;
	/* Every request ends by the stage deadline, even with a 2 s probe. */
	assert_int_equal(run_fake(&f, BOOT_CTX_SRC_ALL, NULL, &ctx, dl), -ENOENT);
	for (i = 0; i < f.ncalls; i++)
		assert_true(f.deadlines[i] <= dl);
	/* A deadline already gone: no request at all. */
	f.ncalls = 0;
	assert_int_equal(run_fake(&f, BOOT_CTX_SRC_ALL, NULL, &ctx, boot_now_ms() - 1),
			 -ETIMEDOUT);
	assert_int_equal(f.ncalls, 0);
	assert_non_null(strstr(logbuf, "cvmboot.context_timeout"));
}

static void too_big_body(void **state)
{
	static const struct route r[] = {
		{ "GET", MD "/computeMetadata/v1/instance/attributes/user-data", NULL, 200,
		  "0123456789" },
		{ NULL },
	};
	struct fake f = { r };
	struct boot_context_opts o = { .sources = BOOT_CTX_SRC_GCE, .fetch = fetch,
				       .fetch_arg = &f, .log = log_cb };
	struct boot_context ctx;

	(void)state;
	ctx_init(&ctx);
	ctx.cap = 5;
	assert_int_equal(boot_context_run(&o, boot_now_ms() + 1000, &ctx), -EMSGSIZE);
	assert_non_null(strstr(logbuf, "gce: user-data at http://169.254.169.254/compute"));
}

/* ---- save / load ---- */

static void save_load(void **state)
{
	char path[64], buf[4096], src[128];
	int fd = tmpdir(path);
	struct boot_context ctx;
	struct boot_cfg a, b;
	static const char raw[] = "[ucernvm-begin]\ncvmfs_server='a;b'\ncvmfs_tag=v3\n"
				  "cernvm_inject=SGVsbG8=\n";

	(void)state;
	assert_int_equal(boot_context_load(fd, &b, buf, sizeof(buf), log_cb, NULL), -ENOENT);
	ctx_init(&ctx);
	memcpy(data, raw, sizeof(raw) - 1);
	ctx.len = sizeof(raw) - 1;
	ctx.src = BOOT_SRC_EC2;
	strcpy(ctx.where, "/latest/user-data");
	boot_cfg_init(&a);
	boot_cfg_userdata_parse(&a, raw + 16, sizeof(raw) - 17, log_cb, NULL);
	assert_int_equal(boot_context_save(fd, &ctx, &a, work, sizeof(work)), 0);
	assert_int_equal(boot_file_read(fd, "user-data", buf, sizeof(buf)), (long)sizeof(raw) - 1);
	assert_memory_equal(buf, raw, sizeof(raw) - 1);
	assert_int_equal(boot_file_read(fd, "source", src, sizeof(src)), 22);
	assert_memory_equal(src, "ec2 /latest/user-data\n", 22);
	boot_cfg_init(&b);
	assert_int_equal(boot_context_load(fd, &b, buf, sizeof(buf), log_cb, NULL), 3);
	assert_string_equal(b.ud.server, "a;b");
	assert_string_equal(b.ud.tag, "v3");
	assert_memory_equal(b.inject, "SGVsbG8=", 8);
	assert_int_equal(b.ud_set, a.ud_set);
	/* A 200 KB cernvm_inject needs no large work buffer to be saved. */
	memset(data, 'A', 200000);
	a.inject = data;
	a.inject_len = 200000;
	assert_int_equal(boot_context_save(fd, &ctx, &a, src, sizeof(src)), 0);
	boot_cfg_init(&b);
	assert_int_equal(boot_context_load(fd, &b, work, sizeof(work), log_cb, NULL), 3);
	assert_int_equal(b.inject_len, 200000);
	assert_int_equal(b.inject[199999], 'A');
	rm_rf(fd, path);
}

/* ---- tar / inject ---- */

static void tar_ok(void **state)
{
	char path[64], buf[64];
	int fd = tmpdir(path);
	size_t n = td_load_into(TD, "inject-ok.tar.gz", data, sizeof(data));
	struct stat a, b;

	(void)state;
	assert_int_equal(boot_tar_extract(fd, data, n, work, sizeof(work), log_cb, NULL), 7);
	assert_int_equal(boot_file_read(fd, "etc/motd", buf, sizeof(buf)), 18);
	assert_memory_equal(buf, "hello from inject\n", 18);
	assert_int_equal(fstatat(fd, "etc/motd", &a, 0), 0);
	assert_int_equal(a.st_mode & 07777, 0640);
	assert_int_equal(a.st_mtime, 1700000000);
	assert_int_equal(fstatat(fd, "etc/motd.hard", &b, 0), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(fstatat(fd, "etc", &b, 0), 0);
	assert_int_equal(b.st_mode & 07777, 0750);
	assert_int_equal(readlinkat(fd, "etc/motd.link", buf, sizeof(buf)), 4);
	assert_int_equal(readlinkat(fd, "abs.link", buf, sizeof(buf)), 9);
	assert_int_equal(faccessat(fd, "usr/local/bin/tool", F_OK, 0), 0);
	assert_int_equal(faccessat(fd, "dev-fifo", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_non_null(strstr(logbuf, "'dev-fifo' (type 6) skipped"));
	assert_int_equal(fstatat(fd, "deep", &b, 0), 0);
	rm_rf(fd, path);
}

static void tar_refuses_escapes(void **state)
{
	static const char *const bad[] = {
		"inject-abs.tar.gz", "inject-dotdot.tar.gz", "inject-symlink.tar.gz",
		"inject-hardlink.tar.gz",
	};
	char path[64];
	size_t i, n;
	int fd;

	(void)state;
	for (i = 0; i < BOOT_LEN(bad); i++) {
		fd = tmpdir(path);
		logbuf[0] = '\0';
		n = td_load_into(TD, bad[i], data, sizeof(data));
		assert_int_equal(boot_tar_extract(fd, data, n, work, sizeof(work), log_cb, NULL),
				 -EPERM);
		/* All or nothing: the harmless first member is not there either. */
		assert_int_equal(faccessat(fd, "ok", F_OK, 0), -1);
		assert_non_null(strstr(logbuf, "archive refused"));
		rm_rf(fd, path);
	}
}

static void tar_never_follows_links(void **state)
{
	char path[64], out[64], lnk[128];
	int fd = tmpdir(path), ofd = tmpdir(out), rc;
	size_t n = td_load_into(TD, "inject-ok.tar.gz", data, sizeof(data));

	(void)state;
	/* A symlink planted where the archive has a directory and a file. */
	assert_int_equal(symlinkat(out, fd, "etc"), 0);
	snprintf(lnk, sizeof(lnk), "%s/x", out);
	assert_int_equal(mkdirat(fd, "usr", 0755), 0);
	assert_int_equal(symlinkat(out, fd, "usr/local"), 0);
	rc = boot_tar_extract(fd, data, n, work, sizeof(work), log_cb, NULL);
	assert_true(rc == -ELOOP || rc == -ENOTDIR);
	assert_non_null(strstr(logbuf, "cannot write 'usr/local/bin/tool'"));
	/* etc was replaced by a real directory, not written through. */
	assert_int_equal(faccessat(fd, "etc/motd", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(faccessat(ofd, "motd", F_OK, 0), -1);
	assert_int_equal(faccessat(ofd, "bin", F_OK, 0), -1);
	rm_rf(ofd, out);
	rm_rf(fd, path);
}

static void tar_corrupt(void **state)
{
	char path[64];
	int fd = tmpdir(path);
	size_t n = td_load_into(TD, "inject-ok.tar.gz", data, sizeof(data));
	ssize_t t = boot_gunzip(data, n, work, sizeof(work));

	(void)state;
	assert_true(t > 1024);
	memcpy(data, work, (size_t)t);
	data[600] ^= 1;	/* the second header's checksum no longer matches */
	assert_int_equal(boot_tar_extract(fd, data, (size_t)t, work, sizeof(work), log_cb, NULL),
			 -EBADMSG);
	assert_non_null(strstr(logbuf, "corrupt"));
	assert_int_equal(boot_tar_extract(fd, data, 700, work, sizeof(work), log_cb, NULL),
			 -EBADMSG);
	rm_rf(fd, path);
}

static void inject_once(void **state)
{
	char rp[64], cp[64], ud[4096];
	int root = tmpdir(rp), cdir = tmpdir(cp);
	size_t n = td_load_into(TD, "ud-inject.txt", ud, sizeof(ud)), sl;
	const char *sec;
	struct boot_cfg c;

	(void)state;
	boot_cfg_init(&c);
	assert_int_equal(boot_inject_run(&c, root, cdir, work, sizeof(work), log_cb, NULL), 0);
	assert_int_equal(boot_userdata_extract(ud, n, 1, work, sizeof(work), &sec, &sl), 1);
	assert_int_equal(boot_cfg_userdata_parse(&c, sec, sl, log_cb, NULL), 1);
	assert_int_equal(boot_inject_run(&c, root, cdir, work, sizeof(work), log_cb, NULL), 7);
	assert_int_equal(faccessat(root, "etc/motd", F_OK, 0), 0);
	assert_int_equal(faccessat(cdir, "injected", F_OK, 0), 0);
	unlinkat(root, "etc/motd", 0);
	assert_int_equal(boot_inject_run(&c, root, cdir, work, sizeof(work), log_cb, NULL), 0);
	assert_int_equal(faccessat(root, "etc/motd", F_OK, 0), -1);
	assert_non_null(strstr(logbuf, "already done"));
	/* Not base64: refused once, with the fix in the message. */
	unlinkat(cdir, "injected", 0);
	c.inject = "!!";
	c.inject_len = 2;
	assert_int_equal(boot_inject_run(&c, root, cdir, work, sizeof(work), log_cb, NULL),
			 -EBADMSG);
	assert_non_null(strstr(logbuf, "base64 -w0"));
	assert_int_equal(faccessat(cdir, "injected", F_OK, 0), 0);
	rm_rf(root, rp);
	rm_rf(cdir, cp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(base64_vectors, setup),
		cmocka_unit_test_setup(gunzip_errors, setup),
		cmocka_unit_test_setup(userdata_formats, setup),
		cmocka_unit_test_setup(userdata_none_or_bad, setup),
		cmocka_unit_test_setup(shvars_as_data, setup),
		cmocka_unit_test_setup(drives, setup),
		cmocka_unit_test_setup(ec2_imdsv2, setup),
		cmocka_unit_test_setup(ec2_imdsv1_fallback, setup),
		cmocka_unit_test_setup(ec2_token_required, setup),
		cmocka_unit_test_setup(ec2_transport_without_put, setup),
		cmocka_unit_test_setup(gce_and_empty_platform, setup),
		cmocka_unit_test_setup(dead_host_skipped, setup),
		cmocka_unit_test_setup(deadlines_bounded, setup),
		cmocka_unit_test_setup(too_big_body, setup),
		cmocka_unit_test_setup(save_load, setup),
		cmocka_unit_test_setup(tar_ok, setup),
		cmocka_unit_test_setup(tar_refuses_escapes, setup),
		cmocka_unit_test_setup(tar_never_follows_links, setup),
		cmocka_unit_test_setup(tar_corrupt, setup),
		cmocka_unit_test_setup(inject_once, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
