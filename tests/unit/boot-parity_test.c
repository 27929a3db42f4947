/* SPDX-License-Identifier: MIT */
/* tests/unit/boot-parity_test.c: the μCernVM parity pieces of boot/: the
 * console list PID 1 logs to, extra context from other partitions, the
 * VMware backdoor RPC against a fake port, Azure's ovf-env.xml and its
 * ready report against a fake fabric, image signatures, the boot-loader
 * update's choice and copy, and the shutdown verb. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "boot/boot.h"
#include "boot/context.h"

static char logbuf[16384];

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

/* ---- consoles ---- */

static void consoles_all_writable(void **state)
{
	/* "console=ttyS0 console=tty0": tty0 is /dev/console (C), ttyS0 is not. */
	static const char text[] =
		"tty0                 -WU (EC p  )    4:1\n"
		"ttyS0                -W- (E  p a)    4:64\n"
		"ttyprintk            -W- (E   p)    5:3\n"
		"netcon0              --- (E     )\n"
		"ttyS0                -W- (E  p a)    4:64\n"
		"../etc/x             -W- (E  p a)    4:64\n"
		"a_name_far_too_long_for_any_console_0 -W- (E) 4:1\n"
		"ttyS1                -W-";	/* no newline at the end */
	char names[BOOT_CONSOLES_MAX][BOOT_CONSOLE_NAME_MAX];
	size_t n;

	(void)state;
	n = boot_consoles_parse(text, sizeof(text) - 1, names, BOOT_CONSOLES_MAX);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "tty0");
	assert_string_equal(names[1], "ttyS0");
	assert_string_equal(names[2], "ttyprintk");
	assert_string_equal(names[3], "ttyS1");
	n = boot_consoles_parse(text, sizeof(text) - 1, names, 1);
	assert_int_equal(n, 1);
	assert_int_equal(boot_consoles_parse("", 0, names, 4), 0);
}

/* ---- extra context ---- */

static void put(const char *dir, const char *rel, const char *text)
{
	size_t len = strlen(text);
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static long get(int dirfd, const char *name, char *buf, size_t cap)
{
	long n = boot_file_read(dirfd, name, buf, cap - 1);

	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static void extra_collect(void **state)
{
	static char ud[4096], xwork[BOOT_CONTEXT_WORK_MAX], buf[4096];
	char tmp[] = "/tmp/cvmboot-extra-XXXXXX", a[600], b[600], c[600], out[600], path[700];
	struct boot_extra x = { ud, xwork, sizeof(ud), 0, sizeof(xwork), 0, "" };
	struct boot_cfg cfg;
	int fa, fb, fc, fo;

	(void)state;
	assert_non_null(mkdtemp(tmp));
	snprintf(a, sizeof(a), "%s/a", tmp);
	snprintf(b, sizeof(b), "%s/b", tmp);
	snprintf(c, sizeof(c), "%s/c", tmp);
	snprintf(out, sizeof(out), "%s/out", tmp);
	mkdir(a, 0755);
	mkdir(b, 0755);
	mkdir(c, 0755);
	mkdir(out, 0755);
	snprintf(path, sizeof(path), "%s/cernvm", a);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/cernvm", b);
	mkdir(path, 0755);
	put(a, "cernvm/extra-user-data",
	    "[ucernvm-begin]\ncvmfs_tag=from-a\ncvmfs_server=a.example\n[ucernvm-end]");
	put(a, "cernvm/pickup.tar.gz", "AAAA");
	put(b, "cernvm/extra-user-data", "[ucernvm-begin]\ncvmfs_tag=from-b\n[ucernvm-end]\n");
	put(b, "cernvm/pickup.tar.gz", "BBBBBB");
	/* c: cernvm is a symlink into a (a partition must not lead elsewhere). */
	snprintf(path, sizeof(path), "%s/cernvm", c);
	assert_int_equal(symlink(a, path), 0);

	boot_cfg_init(&cfg);
	assert_int_equal(boot_cfg_userdata_parse(&cfg, "cvmfs_tag=from-user-data\n"
						 "cvmfs_http_proxy=DIRECT\n", 49, log_cb, NULL), 2);
	fa = open(a, O_RDONLY | O_DIRECTORY);
	fb = open(b, O_RDONLY | O_DIRECTORY);
	fc = open(c, O_RDONLY | O_DIRECTORY);
	fo = open(out, O_RDONLY | O_DIRECTORY);
	assert_int_equal(boot_extra_collect(fa, "/dev/vdb1", fo, &x, &cfg, log_cb, NULL), 2);
	assert_string_equal(cfg.ud.tag, "from-a");
	assert_string_equal(cfg.ud.server, "a.example");
	assert_int_equal(boot_extra_collect(fb, "/dev/vdc", fo, &x, &cfg, log_cb, NULL), 2);
	/* b's key overrides a's and the user-data's; the rest stays. */
	assert_string_equal(cfg.ud.tag, "from-b");
	assert_string_equal(cfg.ud.server, "a.example");
	assert_string_equal(cfg.ud.proxy, "DIRECT");
	assert_int_equal(boot_extra_collect(fc, "/dev/vdd", fo, &x, &cfg, log_cb, NULL), 0);
	assert_int_equal(x.nud, 2);
	assert_string_equal(x.pickup_dev, "/dev/vdc");
	/* Appended together, each on its own line; the last pickup wins. */
	assert_true(get(fo, "extra-user-data", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "[ucernvm-begin]\ncvmfs_tag=from-a\ncvmfs_server=a.example\n"
			    "[ucernvm-end]\n[ucernvm-begin]\ncvmfs_tag=from-b\n[ucernvm-end]\n");
	assert_int_equal(get(fo, "pickup.tar.gz", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "BBBBBB");
	/* Too large for what is left: ignored with a reason, nothing applied. */
	x.udcap = x.udlen + 10;
	assert_int_equal(boot_extra_collect(fa, "/dev/vdb1", fo, &x, &cfg, log_cb, NULL), 1);
	assert_string_equal(cfg.ud.tag, "from-b");
	assert_non_null(strstr(logbuf, "does not fit"));
	close(fa);
	close(fb);
	close(fc);
	close(fo);
}

/* ---- VMware backdoor against a fake host ---- */

struct fake_vmw {
	const char *ud, *enc;		/* guestinfo values (NULL: unset) */
	int cookies;			/* host supports cookie channels */
	int cpt_once;			/* report a checkpoint on the first payload word */
	int open_chan;			/* -1: closed */
	char req[256];
	size_t rlen, rwant;
	char rep[BOOT_CONTEXT_DATA_MAX + 8];
	size_t replen, rpos;
	unsigned calls[8];		/* per subcommand */
	int bad;			/* a register was wrong */
};

static void fake_port(void *arg, struct boot_vmw_regs *r)
{
	struct fake_vmw *f = arg;
	unsigned sub = r->ecx >> 16;

	if (r->eax != 0x564D5868u || (r->ecx & 0xffff) != 30 || (r->edx & 0xffff) != 0x5658) {
		f->bad++;
		r->ecx = 0;
		return;
	}
	f->calls[sub & 7]++;
	if (sub == 0) {
		if ((r->ebx & 0x7fffffff) != 0x49435052u ||
		    (!f->cookies && (r->ebx & 0x80000000u))) {
			r->ecx = 0;
			return;
		}
		f->open_chan = 7;
		r->edx = (7u << 16) | 0x5658;
		r->esi = f->cookies ? 0x1234 : 0;
		r->edi = f->cookies ? 0x5678 : 0;
		r->ecx = 1u << 16;
		return;
	}
	if ((r->edx >> 16) != 7 || f->open_chan != 7 ||
	    (f->cookies && (r->esi != 0x1234 || r->edi != 0x5678))) {
		f->bad++;
		r->ecx = 0;
		return;
	}
	switch (sub) {
	case 1:
		f->rwant = r->ebx;
		f->rlen = 0;
		r->ecx = 1u << 16;
		break;
	case 2:
		if (f->cpt_once) {
			f->cpt_once = 0;
			r->ecx = 0x10u << 16;	/* checkpoint: no success */
			break;
		}
		memcpy(f->req + f->rlen, &r->ebx, 4);
		f->rlen += 4;
		r->ecx = 1u << 16;
		if (f->rlen >= f->rwant) {
			const char *v = NULL;

			f->req[f->rwant] = '\0';
			if (strcmp(f->req, "info-get guestinfo.userdata") == 0)
				v = f->ud;
			else if (strcmp(f->req, "info-get guestinfo.userdata.encoding") == 0)
				v = f->enc;
			f->replen = (size_t)snprintf(f->rep, sizeof(f->rep), "%s%s",
						     v ? "1 " : "0 No value found", v ? v : "");
			f->rpos = 0;
		}
		break;
	case 3:
		r->ebx = (uint32_t)f->replen;
		r->ecx = (1u | 2u) << 16;
		r->edx = (7u << 16) | (1u << 0);
		break;
	case 4:
		if (r->ebx != 1)
			f->bad++;
		r->ebx = 0;
		memcpy(&r->ebx, f->rep + f->rpos, f->replen - f->rpos < 4 ? f->replen - f->rpos : 4);
		f->rpos += 4;
		r->ecx = 1u << 16;
		break;
	case 5:
		r->ecx = 1u << 16;
		break;
	case 6:
		f->open_chan = -1;
		r->ecx = 1u << 16;
		break;
	}
}

static void vmware_guestinfo(void **state)
{
	static struct fake_vmw f;
	static char buf[4096], w[4096];
	ssize_t n;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.cookies = 1;
	f.ud = "[ucernvm-begin]\ncvmfs_tag=v7\n[ucernvm-end]\n";
	n = boot_vmw_userdata(fake_port, &f, buf, sizeof(buf), w, sizeof(w), log_cb, NULL);
	assert_int_equal(n, (ssize_t)strlen(f.ud));
	assert_memory_equal(buf, f.ud, (size_t)n);
	assert_int_equal(f.bad, 0);
	/* two RPCs (value, encoding), each: open, size, words, recv, close */
	assert_int_equal(f.calls[0], 2);
	assert_int_equal(f.calls[1], 2);
	assert_int_equal(f.calls[2], (strlen("info-get guestinfo.userdata") + 3) / 4 +
			 (strlen("info-get guestinfo.userdata.encoding") + 3) / 4);
	assert_int_equal(f.calls[4], (strlen(f.ud) + 2 + 3) / 4 + 4);	/* + "0 No value found" */
	assert_int_equal(f.calls[6], 2);
	assert_int_equal(f.open_chan, -1);

	/* base64 (cloud-init's encoding key), an old host without cookies, and
	 * a checkpoint in the middle (the message is redone) */
	memset(&f, 0, sizeof(f));
	f.ud = "W3VjZXJudm0tYmVnaW5dCmN2bWZzX3RhZz12OApbdWNlcm52bS1lbmRdCg==";
	f.enc = "base64";
	f.cpt_once = 1;
	n = boot_vmw_userdata(fake_port, &f, buf, sizeof(buf), w, sizeof(w), log_cb, NULL);
	assert_int_equal(n, 43);
	assert_memory_equal(buf, "[ucernvm-begin]\ncvmfs_tag=v8\n[ucernvm-end]\n", 43);
	assert_int_equal(f.bad, 0);

	/* unset key, unknown encoding, bad base64 */
	memset(&f, 0, sizeof(f));
	f.cookies = 1;
	assert_int_equal(boot_vmw_userdata(fake_port, &f, buf, sizeof(buf), w, sizeof(w), log_cb,
					   NULL), -ENOENT);
	f.ud = "abc";
	f.enc = "rot13";
	assert_int_equal(boot_vmw_userdata(fake_port, &f, buf, sizeof(buf), w, sizeof(w), log_cb,
					   NULL), -EBADMSG);
	assert_non_null(strstr(logbuf, "'rot13' unknown"));
	f.ud = "!!!";
	f.enc = "gzip+base64";
	assert_int_equal(boot_vmw_userdata(fake_port, &f, buf, sizeof(buf), w, sizeof(w), log_cb,
					   NULL), -EBADMSG);
	/* a reply larger than the buffer */
	f.ud = "0123456789";
	f.enc = NULL;
	assert_int_equal(boot_vmw_userdata(fake_port, &f, buf, 8, w, sizeof(w), log_cb, NULL),
			 -EMSGSIZE);
}

static void vmware_detect(void **state)
{
	(void)state;
	assert_true(boot_vmw_is_vmware("VMwareVMware", ""));
	assert_true(boot_vmw_is_vmware("", "VMware, Inc."));
	assert_false(boot_vmw_is_vmware("KVMKVMKVM", "QEMU"));
	assert_false(boot_vmw_is_vmware("TCGTCGTCGTCG", NULL));
	assert_false(boot_vmw_is_vmware("Microsoft Hv", "Microsoft Corporation"));
	assert_false(boot_vmw_is_vmware(NULL, NULL));
}

/* ---- Azure ---- */

static const char ovf_env[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	"<ns0:Environment xmlns:ns0=\"http://schemas.dmtf.org/ovf/environment/1\" "
	"xmlns:ns1=\"http://schemas.microsoft.com/windowsazure\">\n"
	" <ns1:ProvisioningSection><ns1:Version>1.0</ns1:Version>\n"
	"  <ns1:LinuxProvisioningConfigurationSet>\n"
	"   <ns1:HostName>vm1</ns1:HostName>\n"
	"   <ns1:CustomDataX>bm8=</ns1:CustomDataX>\n"
	"   <ns1:CustomData>\n  W3VjZXJudm0tYmVnaW5dCmN2bWZzX3RhZz12OApbdWNlcm52bS1lbmRdCg==\n"
	"   </ns1:CustomData>\n"
	"  </ns1:LinuxProvisioningConfigurationSet>\n"
	" </ns1:ProvisioningSection>\n</ns0:Environment>\n";

static void azure_ovf(void **state)
{
	static char buf[4096];
	ssize_t n;

	(void)state;
	memcpy(buf, ovf_env, sizeof(ovf_env) - 1);
	n = boot_azure_ovf_parse(buf, sizeof(ovf_env) - 1, sizeof(buf));
	assert_int_equal(n, 43);
	assert_memory_equal(buf, "[ucernvm-begin]\ncvmfs_tag=v8\n[ucernvm-end]\n", 43);
	n = snprintf(buf, sizeof(buf), "<Environment><ProvisioningSection><CustomData/>"
		     "</ProvisioningSection></Environment>");
	assert_int_equal(boot_azure_ovf_parse(buf, (size_t)n, sizeof(buf)), 0);
	n = snprintf(buf, sizeof(buf), "<Environment><ProvisioningSection><wa:CustomData>%%%%"
		     "</wa:CustomData></ProvisioningSection></Environment>");
	assert_int_equal(boot_azure_ovf_parse(buf, (size_t)n, sizeof(buf)), -EBADMSG);
	n = snprintf(buf, sizeof(buf), "<html>no</html>");
	assert_int_equal(boot_azure_ovf_parse(buf, (size_t)n, sizeof(buf)), -EBADMSG);
}

struct fake_fabric {
	int gets, posts, post_status;
	const char *goalstate;
	char body[2048], url[256];
	int had_version;
};

static int fabric_get(void *arg, const char *method, const char *url, const char *const *h,
		      char *buf, size_t cap, size_t *len, uint64_t dl)
{
	struct fake_fabric *f = arg;

	(void)dl;
	f->gets++;
	assert_string_equal(method, "GET");
	assert_string_equal(url, "http://168.63.129.16/machine/?comp=goalstate");
	assert_string_equal(h[0], "x-ms-version: 2012-11-30");
	*len = strlen(f->goalstate);
	assert_true(*len <= cap);
	memcpy(buf, f->goalstate, *len);
	return 200;
}

static int fabric_post(void *arg, const char *url, const char *const *h, const char *body,
		       size_t blen, char *buf, size_t cap, size_t *len, uint64_t dl)
{
	struct fake_fabric *f = arg;

	(void)buf;
	(void)cap;
	(void)dl;
	f->posts++;
	snprintf(f->url, sizeof(f->url), "%s", url);
	snprintf(f->body, sizeof(f->body), "%.*s", (int)blen, body);
	f->had_version = strcmp(h[0], "x-ms-version: 2012-11-30") == 0 &&
			 strstr(h[1], "text/xml") != NULL;
	*len = 0;
	return f->post_status;
}

static void azure_ready(void **state)
{
	static struct fake_fabric f;
	struct boot_azure_fabric fab = { BOOT_AZURE_WIRESERVER, fabric_get, fabric_post, &f };

	(void)state;
	memset(&f, 0, sizeof(f));
	f.post_status = 200;
	f.goalstate = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<GoalState "
		"xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n"
		"<Version>2012-11-30</Version><Incarnation>3</Incarnation>\n"
		"<Machine><ExpectedState>Started</ExpectedState></Machine>\n"
		"<Container><ContainerId>c0ffee-01</ContainerId><RoleInstanceList>"
		"<RoleInstance><InstanceId>c0ffee-02.vm1</InstanceId><State>Started</State>"
		"</RoleInstance></RoleInstanceList></Container></GoalState>\n";
	assert_int_equal(boot_azure_report_ready(&fab, 0, log_cb, NULL), 0);
	assert_int_equal(f.gets, 1);
	assert_int_equal(f.posts, 1);
	assert_true(f.had_version);
	assert_string_equal(f.url, "http://168.63.129.16/machine/?comp=health");
	assert_non_null(strstr(f.body, "<GoalStateIncarnation>3</GoalStateIncarnation>"));
	assert_non_null(strstr(f.body, "<ContainerId>c0ffee-01</ContainerId>"));
	assert_non_null(strstr(f.body, "<InstanceId>c0ffee-02.vm1</InstanceId>"));
	assert_non_null(strstr(f.body, "<State>Ready</State>"));
	/* a refused report and an unusable goal state are errors, logged */
	f.post_status = 400;
	assert_int_equal(boot_azure_report_ready(&fab, 0, log_cb, NULL), -EPROTO);
	f.goalstate = "<GoalState><Incarnation>1</Incarnation><Container><ContainerId>"
		      "x<y</ContainerId></Container></GoalState>";
	f.posts = 0;
	assert_int_equal(boot_azure_report_ready(&fab, 0, log_cb, NULL), -EBADMSG);
	assert_int_equal(f.posts, 0);
	assert_non_null(strstr(logbuf, "lacks Incarnation"));
}

/* ---- Geo-API ---- */

static void geo_parse(void **state)
{
	size_t o[BOOT_CFG_URLS_MAX];

	(void)state;
	assert_int_equal(boot_geo_parse("3,1,2\n", 6, 3, o), 0);
	assert_int_equal(o[0], 2);
	assert_int_equal(o[1], 0);
	assert_int_equal(o[2], 1);
	assert_int_equal(boot_geo_parse("1", 1, 1, o), 0);
	assert_int_equal(boot_geo_parse("1,2,", 4, 2, o), -EBADMSG);
	assert_int_equal(boot_geo_parse("1,1", 3, 2, o), -EBADMSG);
	assert_int_equal(boot_geo_parse("0,1", 3, 2, o), -EBADMSG);
	assert_int_equal(boot_geo_parse("1", 1, 2, o), -EBADMSG);
	assert_int_equal(boot_geo_parse("1,2,3", 5, 2, o), -EBADMSG);
	assert_int_equal(boot_geo_parse("1;2", 3, 2, o), -EBADMSG);
	assert_int_equal(boot_geo_parse("", 0, 2, o), -EBADMSG);
	assert_int_equal(boot_geo_parse("99999,1", 7, 2, o), -EBADMSG);
}

/* ---- kexec update ---- */

static void kexec_apply(void **state)
{
	static struct boot_kexec_apply a;
	static const char ok[] = "# written by cvmboot mkupdate\nversion=0.2.0\n"
		"kernel=vmlinuz-0.2.0\r\nkernel_sha256=ab\ninitrd=initrd-0.2.0.img\n"
		"initrd_sha256=cd\ncmdline=\nunknown=x\n";

	(void)state;
	assert_int_equal(boot_kexec_apply_parse(ok, sizeof(ok) - 1, &a), 0);
	assert_string_equal(a.version, "0.2.0");
	assert_string_equal(a.kernel, "vmlinuz-0.2.0");
	assert_string_equal(a.initrd, "initrd-0.2.0.img");
	assert_string_equal(a.kernel_sha256, "ab");
	assert_string_equal(a.cmdline, "");
	assert_int_equal(boot_kexec_apply_parse("version=1\nkernel=k\n", 20, &a), -EBADMSG);
	assert_int_equal(boot_kexec_apply_parse("version=1\nkernel=../k\ninitrd=i\n", 32, &a),
			 -EPERM);
	assert_int_equal(boot_kexec_apply_parse("version=1\nkernel=k\ninitrd=/etc/x\n", 33, &a),
			 -EPERM);
	assert_true(boot_version_cmp("0.1.1", "0.1.0") > 0);
	assert_true(boot_version_cmp("0.10", "0.9.9") > 0);
	assert_true(boot_version_cmp("0.1", "0.1.0") == 0);
	assert_true(boot_version_cmp("1.0", "1.0.1") < 0);
	assert_true(boot_version_cmp("2", "10") < 0);
	assert_true(boot_version_cmp("0.1.0", "0.1.0") == 0);
}

/* Writes name in dirfd. */
static void put_text(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int mkdir_fd(char *tmpl)
{
	assert_non_null(mkdtemp(tmpl));
	return open(tmpl, O_RDONLY | O_DIRECTORY);
}

static void kexec_take(void **state)
{
	static struct boot_kexec_apply a;
	char sd[] = "/tmp/kexec-srcXXXXXX", dd[] = "/tmp/kexec-dstXXXXXX", why[400];
	char apply[600], buf[64], ksha[65], isha[65];
	int src = mkdir_fd(sd), dst = mkdir_fd(dd);
	FILE *p;

	(void)state;
	/* the hashes of the two files, as mkupdate would record them */
	put_text(src, "vmlinuz-0.3", "kernel-bytes");
	put_text(src, "initrd-0.3.img", "initrd-bytes");
	p = popen("cd /tmp && printf kernel-bytes | sha256sum && printf initrd-bytes | sha256sum",
		  "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s -\n%64s -", ksha, isha), 2);
	pclose(p);
	snprintf(apply, sizeof(apply), "version=0.3\nkernel=vmlinuz-0.3\nkernel_sha256=%s\n"
		 "initrd=initrd-0.3.img\ninitrd_sha256=%s\ncmdline=\n", ksha, isha);
	put_text(src, "apply", apply);
	/* no newer than the running one: nothing taken, and said so when older */
	assert_int_equal(boot_kexec_take(src, dst, "0.3", "", 0, &a, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(boot_kexec_take(src, dst, "0.4", "", 0, &a, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "payload 0.3 is not newer than 0.4"));
	/* this boot came from it: no loop */
	assert_int_equal(boot_kexec_take(src, dst, "0.2", "quiet " BOOT_KEXEC_MARK "0.3", 0, &a,
					 why, sizeof(why)), 0);
	assert_non_null(strstr(why, "booted from payload 0.3"));
	assert_int_equal(faccessat(dst, "apply", F_OK, 0), -1);
	/* newer: copied, verified, apply last */
	assert_int_equal(boot_kexec_take(src, dst, "0.2", "quiet", 0, &a, why, sizeof(why)), 1);
	assert_string_equal(a.version, "0.3");
	assert_int_equal(boot_file_read(dst, "vmlinuz-0.3", buf, sizeof(buf)), 12);
	assert_int_equal(boot_file_read(dst, "apply", apply, sizeof(apply)), (long)strlen(apply));
	/* already staged: quiet, nothing copied again */
	unlinkat(dst, "initrd-0.3.img", 0);
	assert_int_equal(boot_kexec_take(src, dst, "0.2", "quiet", 0, &a, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(faccessat(dst, "initrd-0.3.img", F_OK, 0), -1);
	/* a newer payload whose initrd does not match its hash: refused, and
	 * the scratch side keeps no apply (the old payload is gone too) */
	put_text(src, "initrd-0.4.img", "initrd-bytes, changed");
	snprintf(apply, sizeof(apply), "version=0.4\nkernel=vmlinuz-0.3\nkernel_sha256=%s\n"
		 "initrd=initrd-0.4.img\ninitrd_sha256=%s\n", ksha, isha);
	put_text(src, "apply", apply);
	assert_int_equal(boot_kexec_take(src, dst, "0.2", "", 0, &a, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "initrd-0.4.img: SHA-256 "));
	assert_non_null(strstr(why, "corrupt payload refused"));
	assert_int_equal(faccessat(dst, "apply", F_OK, 0), -1);
	assert_int_equal(faccessat(dst, ".initrd-0.4.img.part", F_OK, 0), -1);
	/* a missing file and a malformed apply: refused with the cause */
	put_text(src, "apply", "version=0.5\nkernel=vmlinuz-0.5\ninitrd=initrd-0.3.img\n");
	assert_int_equal(boot_kexec_take(src, dst, "0.2", "", 0, &a, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "vmlinuz-0.5: No such file"));
	put_text(src, "apply", "version=0.5\nkernel=../etc/passwd\ninitrd=i\n");
	assert_int_equal(boot_kexec_take(src, dst, "0.2", "", 0, &a, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "apply unreadable"));
	/* no apply at all: nothing to say */
	unlinkat(src, "apply", 0);
	assert_int_equal(boot_kexec_take(src, dst, "0.2", "", 0, &a, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	close(src);
	close(dst);
	assert_int_equal(system("rm -rf /tmp/kexec-src?????? /tmp/kexec-dst??????"), 0);
}

#define CMD(verb, loaded) ((unsigned)boot_shutdown_cmd(verb, loaded, why, sizeof(why)))

static void shutdown_verb(void **state)
{
	char why[300];

	(void)state;
	assert_int_equal(CMD("poweroff", NULL), (unsigned)RB_POWER_OFF);
	assert_string_equal(why, "");
	assert_int_equal(CMD("reboot", "0\n"), (unsigned)RB_AUTOBOOT);
	assert_int_equal(CMD("halt", NULL), (unsigned)RB_HALT_SYSTEM);
	/* kexec with a loaded kernel, or when that cannot be told: kexec */
	assert_int_equal(CMD("kexec", "1\n"), (unsigned)RB_KEXEC);
	assert_string_equal(why, "");
	assert_int_equal(CMD("kexec", NULL), (unsigned)RB_KEXEC);
	/* none loaded: one line, and a normal reboot */
	assert_int_equal(CMD("kexec", "0\n"), (unsigned)RB_AUTOBOOT);
	assert_non_null(strstr(why, "kexec: no kernel loaded"));
	assert_int_equal(CMD("suspend", NULL), (unsigned)RB_POWER_OFF);
	assert_non_null(strstr(why, "unknown verb 'suspend'"));
	assert_int_equal(CMD(NULL, NULL), (unsigned)RB_POWER_OFF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(consoles_all_writable, setup),
		cmocka_unit_test_setup(extra_collect, setup),
		cmocka_unit_test_setup(vmware_guestinfo, setup),
		cmocka_unit_test_setup(vmware_detect, setup),
		cmocka_unit_test_setup(azure_ovf, setup),
		cmocka_unit_test_setup(azure_ready, setup),
		cmocka_unit_test_setup(geo_parse, setup),
		cmocka_unit_test_setup(kexec_apply, setup),
		cmocka_unit_test_setup(kexec_take, setup),
		cmocka_unit_test_setup(shutdown_verb, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
