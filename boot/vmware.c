/* SPDX-License-Identifier: MIT */
/* boot/vmware.c: vSphere's guestinfo.userdata through the VMware backdoor
 * (I/O port 0x5658, the "RPCI" guest RPC channel that vmware-rpctool uses),
 * and the platform check that keeps the port untouched elsewhere. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/io.h>
#endif

#include "boot/boot.h"
#include "boot/context.h"

/* Backdoor facts: magic in eax, command in cx (message subcommand in the
 * high word of ecx), port in dx (channel id in the high word of edx), the
 * channel's cookie in esi:edi. Status comes back in the high word of ecx. */
#define VMW_MAGIC 0x564D5868u		/* "VMXh" */
#define VMW_PORT 0x5658u		/* "VX" */
#define VMW_CMD_MESSAGE 30u
#define VMW_MSG_OPEN 0u
#define VMW_MSG_SENDSIZE 1u
#define VMW_MSG_SENDPAYLOAD 2u
#define VMW_MSG_RECVSIZE 3u
#define VMW_MSG_RECVPAYLOAD 4u
#define VMW_MSG_RECVSTATUS 5u
#define VMW_MSG_CLOSE 6u
#define VMW_RPCI 0x49435052u		/* "RPCI": the guest-to-host RPC protocol */
#define VMW_FLAG_COOKIE 0x80000000u
#define VMW_ST_SUCCESS 0x0001u
#define VMW_ST_DORECV 0x0002u
#define VMW_ST_CPT 0x0010u		/* checkpointed meanwhile: redo the message */

struct vmw_chan {
	boot_vmw_io_fn io;
	void *arg;
	uint32_t id, c1, c2;
};

static uint32_t msg(struct vmw_chan *ch, uint32_t sub, uint32_t ebx, uint32_t *out_ebx)
{
	struct boot_vmw_regs r = { VMW_MAGIC, ebx, (sub << 16) | VMW_CMD_MESSAGE,
				   (ch->id << 16) | VMW_PORT, ch->c1, ch->c2 };

	ch->io(ch->arg, &r);
	if (out_ebx)
		*out_ebx = r.ebx;
	if (sub == VMW_MSG_OPEN) {
		ch->id = r.edx >> 16;
		ch->c1 = r.esi;
		ch->c2 = r.edi;
	}
	return r.ecx >> 16;
}

static int chan_open(struct vmw_chan *ch)
{
	ch->id = ch->c1 = ch->c2 = 0;
	if (msg(ch, VMW_MSG_OPEN, VMW_RPCI | VMW_FLAG_COOKIE, NULL) & VMW_ST_SUCCESS)
		return 0;
	/* Hosts from before cookies open the channel without one. */
	ch->id = ch->c1 = ch->c2 = 0;
	if (msg(ch, VMW_MSG_OPEN, VMW_RPCI, NULL) & VMW_ST_SUCCESS)
		return 0;
	return -ENOTCONN;
}

/* One request and its reply; -EAGAIN on a checkpoint in between. */
static int exchange(struct vmw_chan *ch, const char *req, size_t rlen, char *reply, size_t cap,
		    size_t *len)
{
	uint32_t st, size, word;
	size_t i, n;

	st = msg(ch, VMW_MSG_SENDSIZE, (uint32_t)rlen, NULL);
	if (!(st & VMW_ST_SUCCESS))
		return st & VMW_ST_CPT ? -EAGAIN : -EPROTO;
	for (i = 0; i < rlen; i += 4) {
		word = 0;
		n = rlen - i < 4 ? rlen - i : 4;
		memcpy(&word, req + i, n);	/* little-endian, as the port expects */
		st = msg(ch, VMW_MSG_SENDPAYLOAD, word, NULL);
		if (!(st & VMW_ST_SUCCESS))
			return st & VMW_ST_CPT ? -EAGAIN : -EPROTO;
	}
	st = msg(ch, VMW_MSG_RECVSIZE, 0, &size);
	if (!(st & VMW_ST_SUCCESS))
		return st & VMW_ST_CPT ? -EAGAIN : -EPROTO;
	if (!(st & VMW_ST_DORECV)) {
		*len = 0;
		return 0;
	}
	if (size > cap)
		return -EMSGSIZE;
	for (i = 0; i < size; i += 4) {
		st = msg(ch, VMW_MSG_RECVPAYLOAD, VMW_ST_SUCCESS, &word);
		if (!(st & VMW_ST_SUCCESS))
			return st & VMW_ST_CPT ? -EAGAIN : -EPROTO;
		n = size - i < 4 ? size - i : 4;
		memcpy(reply + i, &word, n);
	}
	st = msg(ch, VMW_MSG_RECVSTATUS, VMW_ST_SUCCESS, NULL);
	if (!(st & VMW_ST_SUCCESS))
		return st & VMW_ST_CPT ? -EAGAIN : -EPROTO;
	*len = size;
	return 0;
}

/* see context.h */
int boot_vmw_rpc(boot_vmw_io_fn io, void *arg, const char *req, char *reply, size_t cap,
		 size_t *len)
{
	struct vmw_chan ch = { io, arg, 0, 0, 0 };
	int rc = -EAGAIN, tries;

	*len = 0;
	for (tries = 0; tries < 3 && rc == -EAGAIN; tries++) {
		if ((rc = chan_open(&ch)) < 0)
			return rc;
		rc = exchange(&ch, req, strlen(req), reply, cap, len);
		msg(&ch, VMW_MSG_CLOSE, 0, NULL);
	}
	return rc;
}

/* see context.h */
ssize_t boot_vmw_guestinfo(boot_vmw_io_fn io, void *arg, const char *key, char *buf, size_t cap)
{
	char req[128];
	size_t len;
	int rc;

	if ((size_t)snprintf(req, sizeof(req), "info-get guestinfo.%s", key) >= sizeof(req))
		return -ENAMETOOLONG;
	rc = boot_vmw_rpc(io, arg, req, buf, cap, &len);
	if (rc < 0)
		return rc;
	/* "1 <value>" on success, "0 <why>" (e.g. "No value found") if not. */
	if (len < 2 || buf[0] != '1' || buf[1] != ' ')
		return -ENOENT;
	memmove(buf, buf + 2, len - 2);
	return (ssize_t)(len - 2);
}

/* see context.h */
int boot_vmw_is_vmware(const char *cpuid_vendor, const char *dmi_vendor)
{
	if (cpuid_vendor && strcmp(cpuid_vendor, "VMwareVMware") == 0)
		return 1;
	return dmi_vendor && strncmp(dmi_vendor, "VMware", 6) == 0;
}

/* see context.h */
ssize_t boot_vmw_userdata(boot_vmw_io_fn io, void *arg, char *buf, size_t cap, char *work,
			  size_t wcap, boot_cfg_log_fn log, void *larg)
{
	char enc[64];
	ssize_t n, e;

	n = boot_vmw_guestinfo(io, arg, "userdata", buf, cap);
	if (n == -ENOENT || n < 0)
		return n;
	e = boot_vmw_guestinfo(io, arg, "userdata.encoding", enc, sizeof(enc) - 1);
	if (e == -ENOENT || e == 0)
		return n;
	if (e < 0)
		return e;
	enc[e] = '\0';
	/* cloud-init's names; gzip itself is undone by boot_userdata_extract. */
	if (strcmp(enc, "base64") == 0 || strcmp(enc, "b64") == 0 ||
	    strcmp(enc, "gzip+base64") == 0 || strcmp(enc, "gz+b64") == 0) {
		if ((size_t)n > wcap)
			return -ENOSPC;
		memcpy(work, buf, (size_t)n);
		n = boot_base64_decode(work, (size_t)n, buf, cap);
		if (n < 0)
			boot_cfg_say(log, larg, "vsphere: guestinfo.userdata is not base64 although "
				     "guestinfo.userdata.encoding says %s; fix one of them", enc);
		return n < 0 ? -EBADMSG : n;
	}
	boot_cfg_say(log, larg, "vsphere: guestinfo.userdata.encoding '%s' unknown (base64, "
		     "gzip+base64); ignoring user-data", enc);
	return -EBADMSG;
}

/* ---- PID 1: the real port and the platform check ---- */

#if defined(__x86_64__) || defined(__i386__)
static void port_io(void *arg, struct boot_vmw_regs *r)
{
	(void)arg;
	__asm__ __volatile__("inl %%dx, %%eax"
			     : "+a"(r->eax), "+b"(r->ebx), "+c"(r->ecx), "+d"(r->edx),
			       "+S"(r->esi), "+D"(r->edi)
			     :
			     : "memory");
}

/* see context.h */
void boot_vmw_cpuid_vendor(char out[13])
{
	unsigned a, b, c, d;

	out[0] = '\0';
	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 31)))	/* no hypervisor */
		return;
	__cpuid(0x40000000, a, b, c, d);
	memcpy(out, &b, 4);
	memcpy(out + 4, &c, 4);
	memcpy(out + 8, &d, 4);
	out[12] = '\0';
}
#else
static void port_io(void *arg, struct boot_vmw_regs *r)
{
	(void)arg;
	r->ecx = 0;	/* no backdoor off x86: every message fails */
}

void boot_vmw_cpuid_vendor(char out[13])
{
	out[0] = '\0';
}
#endif

/* see context.h */
ssize_t boot_vmw_userdata_run(char *buf, size_t cap, char *work, size_t wcap,
			      unsigned timeout_ms, boot_cfg_log_fn log, void *larg)
{
	char vendor[13], dmi[64] = "";
	struct timespec tick = { 0, 10 * 1000000 };
	int p[2], st, fd;
	ssize_t n, got = 0;
	uint64_t end;
	pid_t pid;

	boot_vmw_cpuid_vendor(vendor);
	fd = open("/sys/class/dmi/id/sys_vendor", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, dmi, sizeof(dmi) - 1);
		dmi[n > 0 ? n : 0] = '\0';
		dmi[strcspn(dmi, "\n")] = '\0';
		close(fd);
	}
	if (!boot_vmw_is_vmware(vendor, dmi)) {
		boot_cfg_say(log, larg, "vsphere: not VMware (hypervisor '%s', vendor '%s'); "
			     "backdoor not touched", vendor, dmi);
		return -ENOENT;
	}
	/* The port is only safe to touch on VMware, and even there a host
	 * may refuse user-level access: a child does it, so a fault or a
	 * hang costs the child, not PID 1. */
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
#if defined(__x86_64__) || defined(__i386__)
		if (ioperm(VMW_PORT, 1, 1) < 0)
			iopl(3);
#endif
		n = boot_vmw_userdata(port_io, NULL, buf, cap, work, wcap, NULL, NULL);
		if (write(p[1], &n, sizeof(n)) != sizeof(n) ||
		    (n > 0 && write(p[1], buf, (size_t)n) != n))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -errno;
	}
	end = boot_now_ms() + timeout_ms;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	/* Read the reply (length word, then bytes) until the child is done. */
	n = -ETIMEDOUT;
	for (;;) {
		ssize_t r;
		size_t want;

		if (got < (ssize_t)sizeof(n)) {
			r = read(p[0], (char *)&n + got, sizeof(n) - (size_t)got);
		} else {
			want = n > 0 ? (size_t)n : 0;
			if ((size_t)got - sizeof(n) >= want)
				break;
			r = read(p[0], buf + got - sizeof(n), want - ((size_t)got - sizeof(n)));
		}
		if (r > 0) {
			got += r;
			if (got == (ssize_t)sizeof(n) && (n <= 0 || (size_t)n > cap))
				break;
			continue;
		}
		if (r == 0) {	/* the child died before a full answer */
			if (got < (ssize_t)sizeof(n) || (n > 0 && (size_t)got - sizeof(n) < (size_t)n))
				n = -EIO;
			break;
		}
		if (boot_now_ms() >= end) {
			n = -ETIMEDOUT;
			break;
		}
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(p[0]);
	if (n > (ssize_t)cap)
		n = -EMSGSIZE;
	if (n == -EIO)
		boot_cfg_say(log, larg, "vsphere: the backdoor probe died (signal %d): the host "
			     "refuses guest RPC", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return n;
}
