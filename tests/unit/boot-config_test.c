/* SPDX-License-Identifier: MIT */
/* tests/unit/boot-config_test.c: command line and user-data keys, server
 * selection precedence, snapshot pinning files and the mount decision. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "boot/config.h"

static char logbuf[8192];

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

static void cmdline(struct boot_cfg *c, const char *line)
{
	boot_cfg_cmdline_parse(c, line, strlen(line), log_cb, NULL);
}

static void ud(struct boot_cfg *c, const char *text)
{
	boot_cfg_userdata_parse(c, text, strlen(text), log_cb, NULL);
}

static void cmdline_keys(void **state)
{
	struct boot_cfg c;

	(void)state;
	boot_cfg_init(&c);
	cmdline(&c, "root=first quiet cvmfs_server=a.org,b.org cvmfs_repos=r.example.org "
		    "cvmfs_proxy=\"http://p:3128;DIRECT\" cvmdebug cvmboot.on_error=wait "
		    "cvmboot.net_timeout=45 cvmboot.context=ec2,GCE init=/bin/sh cvmboot.verbose "
		    "cvmfs_repository_tag=HEAD4 cernvm_path=cvm4 cvmfs_url=\"http://u/cvmfs/x\"\n");
	assert_string_equal(c.cmd.server, "a.org,b.org");
	assert_string_equal(c.cmd.repo, "r.example.org");
	assert_string_equal(c.cmd.proxy, "http://p:3128;DIRECT");
	assert_string_equal(c.cmd.tag, "HEAD4");
	assert_string_equal(c.cmd.path, "cvm4");
	assert_string_equal(c.url, "http://u/cvmfs/x");
	assert_string_equal(c.init, "/bin/sh");
	assert_int_equal(c.debug, 1);
	assert_int_equal(c.verbose, 1);
	assert_int_equal(c.on_error, BOOT_CFG_ON_ERROR_WAIT);
	assert_int_equal(c.net_timeout_s, 45);
	assert_int_equal(c.context_sources, BOOT_CTX_SRC_EC2 | BOOT_CTX_SRC_GCE);
	assert_int_equal(c.context_timeout_s, 20);	/* default kept */
	assert_string_equal(logbuf, "");		/* root=, quiet: the kernel's */
}

static void cmdline_bad_values_logged(void **state)
{
	struct boot_cfg c;

	(void)state;
	boot_cfg_init(&c);
	cmdline(&c, "cvmfs_bogus=1 cvmboot.on_error=explode cvmboot.net_timeout=9x "
		    "cvmboot.context=ec2,rhevm cvmssh cvmfs_proxy=\"a b\" -- cvmfs_repos=arg");
	assert_non_null(strstr(logbuf, "unknown key 'cvmfs_bogus'"));
	assert_non_null(strstr(logbuf, "cvmboot.on_error: value 'explode' is not one of"));
	assert_non_null(strstr(logbuf, "cvmboot.net_timeout: value '9x'"));
	assert_non_null(strstr(logbuf, "cvmboot.context: value 'ec2,rhevm'"));
	assert_non_null(strstr(logbuf, "cvmssh"));
	assert_int_equal(c.on_error, BOOT_CFG_ON_ERROR_POWEROFF);
	assert_int_equal(c.net_timeout_s, 30);
	assert_int_equal(c.context_sources, BOOT_CTX_SRC_ALL);
	/* The kernel keeps blanks inside double quotes in one word. */
	assert_string_equal(c.cmd.proxy, "a b");
	/* After "--" the words are init's arguments. */
	assert_string_equal(c.cmd.repo, "");
}

static void userdata_values_are_data(void **state)
{
	struct boot_cfg c;
	/* CRLF, blanks around '=', both quote kinds, a ';' and '|' that a shell
	 * would have run, a comment, an unknown key, no newline at the end. */
	static const char text[] =
		"# comment\r\n"
		"cvmfs_http_proxy = \"http://a:3128|http://b:3128;DIRECT\"\r\n"
		"cvmfs_pac_urls='http://wpad/wpad.dat;http://x/y.dat'\r\n"
		"\r\n"
		"resize_rootfs=OFF\r\n"
		"use_boothd=yes\r\n"
		"useglideinwms=false\r\n"
		"cvmfs_wait_on_squid=12\r\n"
		"cvmfs_branch=dev.example.org\r\n"
		"cvmfs_tag=\"$(reboot)\"\r\n"
		"bogus_key=1\r\n"
		"cvmfs_cdn=\"only-one-quote\r\n"
		"cvm_cluster_pin=1234\r\n"
		"cernvm_inject=QUJD";

	(void)state;
	boot_cfg_init(&c);
	assert_int_equal(boot_cfg_userdata_parse(&c, text, strlen(text), log_cb, NULL), 11);
	assert_string_equal(c.ud.proxy, "http://a:3128|http://b:3128;DIRECT");
	assert_string_equal(c.pac_urls, "http://wpad/wpad.dat;http://x/y.dat");
	assert_int_equal(c.resize_rootfs, 0);
	assert_int_equal(c.use_boothd, 1);
	assert_int_equal(c.useglideinwms, 0);
	assert_int_equal(c.wait_on_squid_s, 12);
	assert_string_equal(c.ud.repo, "dev.example.org");
	assert_string_equal(c.ud.tag, "$(reboot)");
	assert_string_equal(c.ud.cdn, "\"only-one-quote");
	assert_string_equal(c.cluster_pin, "1234");
	assert_int_equal(c.inject_len, 4);
	assert_memory_equal(c.inject, "QUJD", 4);
	assert_non_null(strstr(logbuf, "unknown key 'bogus_key'"));
}

static void userdata_bad_values(void **state)
{
	struct boot_cfg c;
	char big[BOOT_CFG_LIST_MAX + 40];

	(void)state;
	boot_cfg_init(&c);
	ud(&c, "resize_rootfs=maybe\nno equals sign\ncvmfs_wait_on_squid=-3\n"
	       "cvmfs_tag=a\tb\n");
	assert_int_equal(c.resize_rootfs, 1);
	assert_int_equal(c.wait_on_squid_s, 0);
	assert_string_equal(c.ud.tag, "");
	assert_int_equal(c.ud_set, 0);
	assert_non_null(strstr(logbuf, "resize_rootfs: value 'maybe' is not a flag"));
	assert_non_null(strstr(logbuf, "'no equals sign' is not key=value"));
	assert_non_null(strstr(logbuf, "control character"));
	memset(big, 'x', sizeof(big));
	memcpy(big, "cvmfs_server=", 13);
	big[sizeof(big) - 1] = '\0';
	ud(&c, big);
	assert_string_equal(c.ud.server, "");
	assert_non_null(strstr(logbuf, "too long"));
}

static void userdata_fmt_round_trip(void **state)
{
	struct boot_cfg a, b;
	char out[4096], out2[4096];
	static const char text[] =
		"cvmfs_server='s1;s2'\ncvmfs_tag=\"x\"y\"\"\nresize_rootfs=no\n"
		"cernvm_path=/cvm4\ncernvm_inject=SGVsbG8=\n";

	(void)state;
	boot_cfg_init(&a);
	ud(&a, text);
	assert_true(boot_cfg_userdata_fmt(&a, 1, out, sizeof(out)) > 0);
	boot_cfg_init(&b);
	assert_int_equal(boot_cfg_userdata_parse(&b, out, strlen(out), log_cb, NULL), 5);
	assert_string_equal(b.ud.server, "s1;s2");
	assert_string_equal(b.ud.tag, "x\"y\"");
	assert_int_equal(b.resize_rootfs, 0);
	assert_memory_equal(b.inject, "SGVsbG8=", b.inject_len);
	assert_true(boot_cfg_userdata_fmt(&b, 1, out2, sizeof(out2)) > 0);
	assert_string_equal(out, out2);
	assert_int_equal(boot_cfg_userdata_fmt(&b, 1, out2, 10), -ENOSPC);
	assert_string_equal(logbuf, "");
}

static const struct boot_cfg_defaults defs = {
	"http://s0.example.org/cvmfs/@fqrn@", "repo.example.org", "/etc/k.pub", "", NULL,
};

static void resolve(struct boot_cfg *c, const char *cmd, const char *udt,
		    struct boot_cfg_repo *r, int want)
{
	boot_cfg_init(c);
	cmdline(c, cmd);
	ud(c, udt);
	assert_int_equal(boot_cfg_repo_resolve(c, &defs, r, log_cb, NULL), want);
}

static void resolve_precedence(void **state)
{
	struct boot_cfg c;
	struct boot_cfg_repo r;

	(void)state;
	/* Build default only. */
	resolve(&c, "", "", &r, 0);
	assert_int_equal(r.nurls, 1);
	assert_string_equal(r.urls[0], "http://s0.example.org/cvmfs/repo.example.org");
	assert_string_equal(r.proxy, "DIRECT");
	assert_string_equal(r.key_path, "/etc/k.pub");
	/* Command line servers, ',' and ';' both split (uCernVM bug 7). */
	resolve(&c, "cvmfs_server=a,b;c:8000", "", &r, 0);
	assert_int_equal(r.nurls, 3);
	assert_string_equal(r.urls[1], "http://b/cvmfs/repo.example.org");
	assert_string_equal(r.urls[2], "http://c:8000/cvmfs/repo.example.org");
	/* A CDN on the command line replaces the servers. */
	resolve(&c, "cvmfs_server=a cvmfs_cdn=cdn1;cdn2", "", &r, 0);
	assert_int_equal(r.nurls, 2);
	assert_string_equal(r.urls[0], "http://cdn1/cvmfs/repo.example.org");
	resolve(&c, "cvmfs_server=a cvmfs_cdn=NONE", "", &r, 0);
	assert_string_equal(r.urls[0], "http://a/cvmfs/repo.example.org");
	/* A context proxy turns the CDN off: the command line servers again. */
	resolve(&c, "cvmfs_server=a cvmfs_cdn=cdn1", "cvmfs_http_proxy=http://sq:3128", &r, 0);
	assert_int_equal(r.nurls, 1);
	assert_string_equal(r.urls[0], "http://a/cvmfs/repo.example.org");
	assert_string_equal(r.proxy, "http://sq:3128");
	/* A context server wins over both. */
	resolve(&c, "cvmfs_server=a cvmfs_cdn=cdn1", "cvmfs_server=u1,u2", &r, 0);
	assert_int_equal(r.nurls, 2);
	assert_string_equal(r.urls[0], "http://u1/cvmfs/repo.example.org");
	/* ... unless the context names a CDN too: it is applied last. */
	resolve(&c, "cvmfs_server=a", "cvmfs_server=u1\ncvmfs_cdn=cdnx", &r, 0);
	assert_string_equal(r.urls[0], "http://cdnx/cvmfs/repo.example.org");
	/* cvmfs_url overrides everything; @fqrn@ becomes the repository. */
	resolve(&c, "cvmfs_url=https://x.org/cvmfs/@fqrn@;http://y/z cvmfs_cdn=cdn1",
		"cvmfs_server=u1\ncvmfs_cdn=cdnx\ncvmfs_branch=b.example.org", &r, 0);
	assert_int_equal(r.nurls, 2);
	assert_string_equal(r.urls[0], "https://x.org/cvmfs/b.example.org");
	assert_string_equal(r.urls[1], "http://y/z");
	assert_string_equal(r.name, "b.example.org");
	/* Tag and path: user-data over command line; path loses its slashes. */
	resolve(&c, "cvmfs_repository_tag=HEAD4 cernvm_path=cvm3", "cvmfs_tag=v2\ncernvm_path=/cvm4/",
		&r, 0);
	assert_string_equal(r.tag, "v2");
	assert_string_equal(r.path, "cvm4");
}

static void resolve_errors(void **state)
{
	struct boot_cfg c;
	struct boot_cfg_repo r;
	char many[1024] = "cvmfs_server=";
	int i;

	(void)state;
	resolve(&c, "cvmfs_repos=../etc", "", &r, -EINVAL);
	assert_non_null(strstr(logbuf, "repository name '../etc' is not valid"));
	resolve(&c, "", "cernvm_path=a/../../b", &r, -EINVAL);
	assert_non_null(strstr(logbuf, "cernvm_path"));
	resolve(&c, "cvmfs_server=ftp://x/y,a/b", "", &r, -EINVAL);
	assert_non_null(strstr(logbuf, "no usable repository server in cvmfs_server"));
	resolve(&c, "", "cvmfs_tag=-x", &r, -EINVAL);
	for (i = 0; i < 17; i++)
		sprintf(many + strlen(many), "h%d,", i);
	resolve(&c, many, "", &r, 0);
	assert_int_equal(r.nurls, BOOT_CFG_URLS_MAX);
	assert_non_null(strstr(logbuf, "'h16' and the rest ignored"));
}

static const char hash1[] = "0123456789abcdef0123456789abcdef01234567";

static int tmpdir(char *path)
{
	int fd;

	strcpy(path, "/tmp/cvmboot-cfg-XXXXXX");
	assert_non_null(mkdtemp(path));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void rmdir_all(int fd, const char *path)
{
	static const char *const names[] = { "cvmfs_snapshot", "cvmfs_force_tag", "x" };
	size_t i;

	for (i = 0; i < 3; i++)
		unlinkat(fd, names[i], 0);
	close(fd);
	assert_int_equal(rmdir(path), 0);
}

static void put(int fd, const char *name, const char *s)
{
	assert_int_equal(boot_file_write(fd, name, s, strlen(s)), 0);
}

static void snapshot_files(void **state)
{
	struct boot_snapshot s = { "", "" }, t;
	char path[64], tag[BOOT_CFG_NAME_MAX];
	int fd = tmpdir(path);

	(void)state;
	assert_int_equal(boot_snapshot_read(fd, &t), -ENOENT);
	strcpy(s.hash, hash1);
	strcpy(s.tag, "v1.0");
	assert_int_equal(boot_snapshot_write(fd, &s), 0);
	assert_int_equal(faccessat(fd, "cvmfs_snapshot.tmp", F_OK, 0), -1);
	assert_int_equal(boot_snapshot_read(fd, &t), 0);
	assert_string_equal(t.hash, hash1);
	assert_string_equal(t.tag, "v1.0");
	/* Written by hand on Windows: CRLF; a suffixed hash; no tag line. */
	put(fd, "cvmfs_snapshot", "0123456789abcdef0123456789abcdef01234567-rmd160\r\n");
	assert_int_equal(boot_snapshot_read(fd, &t), 0);
	assert_string_equal(t.hash, "0123456789abcdef0123456789abcdef01234567-rmd160");
	assert_string_equal(t.tag, "");
	put(fd, "cvmfs_snapshot", "not-a-hash\nv1\n");
	assert_int_equal(boot_snapshot_read(fd, &t), -EBADMSG);
	put(fd, "cvmfs_snapshot", "0123456789ABCDEF0123456789ABCDEF01234567\n");
	assert_int_equal(boot_snapshot_read(fd, &t), -EBADMSG);
	strcpy(s.hash, "123");
	assert_int_equal(boot_snapshot_write(fd, &s), -EINVAL);
	assert_int_equal(boot_snapshot_unpin(fd), 0);
	assert_int_equal(boot_snapshot_read(fd, &t), -ENOENT);
	assert_int_equal(boot_snapshot_unpin(fd), 0);
	/* Force tag: read, then consumed once used. */
	assert_int_equal(boot_force_tag_read(fd, tag, sizeof(tag)), -ENOENT);
	put(fd, "cvmfs_force_tag", "  v0.9 \r\n");
	assert_int_equal(boot_force_tag_read(fd, tag, sizeof(tag)), 0);
	assert_string_equal(tag, "v0.9");
	assert_int_equal(boot_force_tag_read(fd, tag, 3), -ENAMETOOLONG);
	assert_int_equal(boot_force_tag_consume(fd), 0);
	assert_int_equal(boot_force_tag_read(fd, tag, sizeof(tag)), -ENOENT);
	put(fd, "cvmfs_force_tag", "\n");
	assert_int_equal(boot_force_tag_read(fd, tag, sizeof(tag)), -EBADMSG);
	rmdir_all(fd, path);
}

static void file_helpers(void **state)
{
	char path[64], buf[8];
	int fd = tmpdir(path);

	(void)state;
	put(fd, "x", "12345678");
	assert_int_equal(boot_file_read(fd, "x", buf, 8), 8);
	assert_int_equal(boot_file_read(fd, "x", buf, 7), -EFBIG);
	assert_int_equal(boot_file_read(fd, "missing", buf, 8), -ENOENT);
	rmdir_all(fd, path);
}

static void snapshot_plan(void **state)
{
	struct boot_snapshot pin;
	struct boot_mount_plan p;

	(void)state;
	strcpy(pin.hash, hash1);
	strcpy(pin.tag, "v1");
	/* First boot: the user-data tag beats the command line and the default. */
	boot_snapshot_plan(NULL, NULL, "ud", "cmd", "def", &p);
	assert_string_equal(p.tag, "ud");
	assert_string_equal(p.hash, "");
	assert_int_equal(p.record, 1);
	assert_int_equal(p.consume_force, 0);
	boot_snapshot_plan(NULL, "", "", "cmd", "def", &p);
	assert_string_equal(p.tag, "cmd");
	boot_snapshot_plan(NULL, NULL, NULL, NULL, "def", &p);
	assert_string_equal(p.tag, "def");
	boot_snapshot_plan(NULL, NULL, NULL, NULL, NULL, &p);
	assert_string_equal(p.tag, "");
	assert_non_null(strstr(p.why, "newest"));
	/* Pinned: the hash, whatever the context asks for now. */
	boot_snapshot_plan(&pin, NULL, "ud", "cmd", "def", &p);
	assert_string_equal(p.hash, hash1);
	assert_string_equal(p.tag, "v1");
	assert_int_equal(p.record, 0);
	/* A force tag beats the pin, is recorded and then consumed. */
	boot_snapshot_plan(&pin, "v0", "ud", "cmd", "def", &p);
	assert_string_equal(p.tag, "v0");
	assert_string_equal(p.hash, "");
	assert_int_equal(p.record, 1);
	assert_int_equal(p.consume_force, 1);
	/* A broken pin is no pin. */
	strcpy(pin.hash, "zz");
	boot_snapshot_plan(&pin, NULL, NULL, "cmd", NULL, &p);
	assert_string_equal(p.tag, "cmd");
	assert_int_equal(p.record, 1);
}

static void validators(void **state)
{
	(void)state;
	assert_true(boot_snapshot_hash_is_valid(hash1));
	assert_true(boot_snapshot_hash_is_valid("0123456789abcdef0123456789abcdef0123456789abcdef"
						"0123456789abcdef"));
	assert_false(boot_snapshot_hash_is_valid("0123456789abcdef0123456789abcdef0123456"));
	assert_false(boot_snapshot_hash_is_valid("0123456789abcdef0123456789abcdef01234567-"));
	assert_false(boot_snapshot_hash_is_valid("0123456789abcdef0123456789abcdef01234567 "));
	assert_true(boot_snapshot_tag_is_valid("HEAD4"));
	assert_false(boot_snapshot_tag_is_valid(""));
	assert_false(boot_snapshot_tag_is_valid("a b"));
	assert_false(boot_snapshot_tag_is_valid("-rf"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(cmdline_keys, setup),
		cmocka_unit_test_setup(cmdline_bad_values_logged, setup),
		cmocka_unit_test_setup(userdata_values_are_data, setup),
		cmocka_unit_test_setup(userdata_bad_values, setup),
		cmocka_unit_test_setup(userdata_fmt_round_trip, setup),
		cmocka_unit_test_setup(resolve_precedence, setup),
		cmocka_unit_test_setup(resolve_errors, setup),
		cmocka_unit_test_setup(snapshot_files, setup),
		cmocka_unit_test_setup(file_helpers, setup),
		cmocka_unit_test_setup(snapshot_plan, setup),
		cmocka_unit_test_setup(validators, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
