/* SPDX-License-Identifier: MIT */
/* boot/context.h: contextualization: where user-data comes from (config
 * drives, OpenNebula, cloud metadata services), how it is unpacked (gzip,
 * MIME, base64, glideinWMS), saved and reloaded, and cernvm_inject's tar. */
#ifndef BOOT_CONTEXT_H
#define BOOT_CONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "boot/config.h"

#define BOOT_CONTEXT_DATA_MAX (256 * 1024)	/* user-data (GCE allows 256 KiB) */
#define BOOT_CONTEXT_WORK_MAX (1024 * 1024)	/* room for unpacking it */
#define BOOT_CONTEXT_TOKEN_MAX 128		/* IMDSv2 session token */
#define BOOT_CONTEXT_DIR "context"		/* on the scratch disk */
#define BOOT_CONTEXT_PROBE_MS 2000	/* first request to a metadata host */
#define BOOT_CONTEXT_FETCH_MS 10000	/* later requests to a host that answered */
#define BOOT_METADATA_HOST "169.254.169.254"
#define BOOT_CLOUDSTACK_HOST "10.1.1.1"

/* ---- HTTP, injected ---- */

/* One HTTP/1.1 request, backed in PID 1 by net/http.h and in tests by a fake.
 * method is "GET" or "PUT" (PUT is sent with an empty body). headers are
 * "Name: value" lines, NULL-terminated (net_http_req.headers' form). A 2xx
 * body goes to buf (at most cap bytes); *len is its length (0 otherwise).
 * Blocks until deadline_ms (CLOCK_MONOTONIC) at most. Returns the status
 * (100..599) when a response came, -EMSGSIZE for a body larger than cap, or
 * -errno when none came (-ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, ...). */
typedef int (*boot_fetch_fn)(void *arg, const char *method, const char *url,
			     const char *const *headers, char *buf, size_t cap, size_t *len,
			     uint64_t deadline_ms);

/* The fetch callback of PID 1 and the host tool: arg is a
 * struct net_http_client * (net/http.h), already initialised. GETs go
 * through net_http_get without a proxy and without redirects; the PUT (for
 * the IMDSv2 token) is one request on its own connection. */
int boot_context_http_fetch(void *arg, const char *method, const char *url,
			    const char *const *headers, char *buf, size_t cap, size_t *len,
			    uint64_t deadline_ms);

/* A one-shot POST of blen bytes of body (own connection, Connection:
 * close), otherwise as boot_fetch_fn. */
typedef int (*boot_post_fn)(void *arg, const char *url, const char *const *headers,
			    const char *body, size_t blen, char *buf, size_t cap, size_t *len,
			    uint64_t deadline_ms);
int boot_context_http_post(void *arg, const char *url, const char *const *headers,
			   const char *body, size_t blen, char *buf, size_t cap, size_t *len,
			   uint64_t deadline_ms);

/* ---- OpenNebula context.sh and other shell-variable files, as data ---- */

/* Parsed NAME=value assignments, stored as "NAME\0value\0" pairs in buf. */
struct boot_shvars {
	char *buf;
	size_t cap, len;
};

/* Parses shell variable assignments: NAME=word, optionally after "export ";
 * a word joins unquoted text (backslash escapes), '...' (literal, may span
 * lines; OpenNebula writes ' as '\'') and "..." (\\ \" \$ \` escapes).
 * Nothing is expanded or run: $x, $(..) and `..` stay literal text. '#'
 * starts a comment at the start of a word. Lines that are not assignments
 * are skipped. A later assignment wins. Returns the number of variables, or
 * -ENOSPC (v->buf too small) or -EBADMSG (unterminated quote; the variables
 * before it are kept). */
int boot_shvars_parse(struct boot_shvars *v, const char *text, size_t len);
/* Returns the value of NAME (the last assignment), or NULL. */
const char *boot_shvars_get(const struct boot_shvars *v, const char *name);

/* ---- Codecs ---- */

/* Decodes base64 (RFC 4648 alphabet, '=' padding optional, blanks and line
 * breaks skipped). out may equal in (decodes in place). Returns the decoded
 * length, -EINVAL (a character outside the alphabet or data after padding),
 * or -ENOSPC (more than cap bytes). */
ssize_t boot_base64_decode(const char *in, size_t len, void *out, size_t cap);

/* Decompresses a gzip (or zlib) stream. Returns the length, -EBADMSG
 * (corrupt or truncated), or -ENOSPC (more than cap bytes). */
ssize_t boot_gunzip(const void *in, size_t len, void *out, size_t cap);

/* Finds the uCernVM configuration in user-data of len bytes: plain text,
 * gzip'd, or MIME multipart (parts may be base64 or gzip'd, the first part
 * holding the section wins), and, if useglideinwms, glideinWMS single-line
 * user-data (proxy and PAC URLs become cvmfs_http_proxy= and
 * cvmfs_pac_urls= lines). The text between the "[ucernvm-begin]" and
 * "[ucernvm-end]" lines (CRLF accepted; a missing end marker means to the
 * end) is returned in *sec and *sec_len, pointing into data or work (wcap
 * bytes, used for unpacking). data is not modified. Returns 1 if a section
 * was found, 0 if not (plain cloud-init user-data: nothing for us),
 * -EBADMSG (corrupt gzip/MIME/base64) or -ENOSPC (work too small). */
int boot_userdata_extract(const char *data, size_t len, int useglideinwms, char *work,
			  size_t wcap, const char **sec, size_t *sec_len);

/* ---- Sources ---- */

enum boot_ctx_src {
	BOOT_SRC_NONE = 0,
	BOOT_SRC_CONFIG_DRIVE,	/* openstack/latest/user_data */
	BOOT_SRC_NOCLOUD,	/* user-data (cidata) */
	BOOT_SRC_OPENNEBULA,	/* context.sh EC2_USER_DATA / USER_DATA */
	BOOT_SRC_VSPHERE,	/* user-data.txt */
	BOOT_SRC_AZURE,		/* CustomData.bin, ovf-env.xml */
	BOOT_SRC_GCE,
	BOOT_SRC_EC2,
	BOOT_SRC_OPENSTACK,
	BOOT_SRC_CLOUDSTACK,
	BOOT_SRC_SAVED,		/* context/ of an earlier boot */
	BOOT_SRC_GUESTINFO,	/* vSphere guestinfo.userdata */
};
/* Short name of a source ("ec2", "config-drive", ...). */
const char *boot_ctx_src_str(enum boot_ctx_src s);

/* ---- vSphere: guestinfo through the VMware backdoor ---- */

/* The registers of one backdoor call ("inl (%dx)" with all six set). */
struct boot_vmw_regs {
	uint32_t eax, ebx, ecx, edx, esi, edi;
};
/* Performs one backdoor call: PID 1's does the port read, tests fake it. */
typedef void (*boot_vmw_io_fn)(void *arg, struct boot_vmw_regs *r);

/* One guest RPC (RPCI channel: open with cookie, else without; send size
 * and 4-byte payload words; receive size, payload words, status; close;
 * redone up to 3 times when the VM was checkpointed meanwhile). The reply
 * (*len bytes, not NUL-terminated) goes to reply. Returns 0, -ENOTCONN (no
 * channel: not VMware, or RPC disabled), -EPROTO, or -EMSGSIZE. */
int boot_vmw_rpc(boot_vmw_io_fn io, void *arg, const char *req, char *reply, size_t cap,
		 size_t *len);
/* "info-get guestinfo.KEY": the value's length (in buf), -ENOENT when the
 * key is unset, or boot_vmw_rpc's errors. */
ssize_t boot_vmw_guestinfo(boot_vmw_io_fn io, void *arg, const char *key, char *buf, size_t cap);
/* guestinfo.userdata, base64-decoded when guestinfo.userdata.encoding says
 * base64/b64/gzip+base64/gz+b64 (gzip is left to boot_userdata_extract).
 * work (wcap) holds the encoded copy. Returns the length in buf, -ENOENT,
 * -EBADMSG (bad or unknown encoding, logged) or the RPC's errors. */
ssize_t boot_vmw_userdata(boot_vmw_io_fn io, void *arg, char *buf, size_t cap, char *work,
			  size_t wcap, boot_cfg_log_fn log, void *larg);
/* 1 if the CPUID hypervisor vendor ("VMwareVMware") or the DMI system
 * vendor ("VMware, Inc.") says VMware; either may be NULL. */
int boot_vmw_is_vmware(const char *cpuid_vendor, const char *dmi_vendor);
/* The CPUID leaf 0x40000000 vendor, "" without a hypervisor. */
void boot_vmw_cpuid_vendor(char out[13]);
/* PID 1: boot_vmw_userdata through the real port, only on VMware (else
 * -ENOENT at once, the port untouched), in a child process killed after
 * timeout_ms (-ETIMEDOUT) or dead on a fault (-EIO). */
ssize_t boot_vmw_userdata_run(char *buf, size_t cap, char *work, size_t wcap,
			      unsigned timeout_ms, boot_cfg_log_fn log, void *larg);

/* ---- Azure ---- */

#define BOOT_AZURE_WIRESERVER "168.63.129.16"

/* Finds the first element whose local name (namespace prefix dropped) is
 * local; *text and *tlen give its text, blanks trimmed. Returns 1, 0 (absent) or
 * -EBADMSG (unterminated). A scanner for the two small documents Azure
 * sends, not an XML parser: no entities, no CDATA. */
int boot_xml_text(const char *xml, size_t len, const char *local, const char **text,
		  size_t *tlen);
/* ovf-env.xml in buf (len bytes, cap of room): replaces it with the
 * base64-decoded CustomData. Returns its length (0: no CustomData), or
 * -EBADMSG (not an ovf-env.xml, or CustomData not base64). */
ssize_t boot_azure_ovf_parse(char *buf, size_t len, size_t cap);

struct boot_azure_fabric {
	const char *host;		/* BOOT_AZURE_WIRESERVER (tests: 127.0.0.1:PORT) */
	boot_fetch_fn fetch;
	boot_post_fn post;
	void *arg;
};
/* GET /machine/?comp=goalstate, then POST /machine/?comp=health with the
 * role instance's State Ready (x-ms-version 2012-11-30). Returns 0, or
 * -errno / -EPROTO (HTTP error) / -EBADMSG (goal state unreadable), logged. */
int boot_azure_report_ready(const struct boot_azure_fabric *f, uint64_t deadline_ms,
			    boot_cfg_log_fn log, void *arg);

struct boot_context_opts {
	unsigned sources;		/* BOOT_CTX_SRC_* mask (cfg.context_sources) */
	const int *dirfds;		/* mounted CDs/drives to look at, read-only */
	size_t ndirs;
	boot_fetch_fn fetch;		/* NULL: no network sources */
	void *fetch_arg;
	/* vSphere guestinfo (boot_vmw_userdata_run's form); NULL: skipped */
	ssize_t (*guestinfo)(char *buf, size_t cap, char *work, size_t wcap,
			     unsigned timeout_ms, boot_cfg_log_fn log, void *larg);
	const char *dhcp_server;	/* dotted quad or NULL (CloudStack's 2nd try) */
	const char *metadata_host;	/* NULL: 169.254.169.254 (tests set 127.0.0.1:PORT) */
	const char *cloudstack_host;	/* NULL: 10.1.1.1 */
	unsigned probe_ms, fetch_ms;	/* 0: BOOT_CONTEXT_PROBE_MS / _FETCH_MS */
	char *work;			/* scratch for context.sh (>= 2 x its size) */
	size_t wcap;
	boot_cfg_log_fn log;
	void *log_arg;
};

/* The result; caller-allocated, data points to the caller's buffer. */
struct boot_context {
	enum boot_ctx_src src;
	char where[96];			/* e.g. the URL or file it came from */
	char *data;			/* raw user-data as fetched (gzip etc. kept) */
	size_t len, cap;
};

/* Looks for user-data in the order of uCernVM's 06context: each dirfd
 * (openstack/latest/user_data, user-data, context.sh, user-data.txt,
 * CustomData.bin), then GCE, EC2 (IMDSv2 token, falling back to IMDSv1),
 * OpenStack, CloudStack (10.1.1.1, then the DHCP server). The first source
 * that answers wins, also with empty user-data when the platform's metadata
 * answers but has none (then len = 0). A metadata host that does not answer
 * the first request within probe_ms is skipped for the rest of the run.
 * Blocks until deadline_ms at most; every request gets min(its timeout,
 * deadline). Logs each miss with the source and what it got. Returns 0 (ctx
 * filled), -ENOENT (no source answered: boot on with the command line),
 * -ETIMEDOUT (deadline hit first), or -EMSGSIZE (user-data over ctx->cap). */
int boot_context_run(const struct boot_context_opts *o, uint64_t deadline_ms,
		     struct boot_context *ctx);

/* OpenNebula context.sh of one mounted dir into *v. Returns 0, -ENOENT (no
 * context.sh there), or boot_shvars_parse's errors. For the static network
 * setup (ETH0_IP, ETH0_MASK, ETH0_GATEWAY, ETH0_DNS, ETH0_MTU, ETH0_MAC),
 * which has to happen before the network stage, on every boot. */
int boot_context_one_read(int dirfd, struct boot_shvars *v, char *file, size_t fcap);

struct net_kv;
/* Copies the ETH<n>_* variables of v (last assignment wins) into kv, at most
 * max, as borrowed pointers into v, for net_cfg.ctx (net/net.h). Returns
 * the number filled. */
size_t boot_context_one_net(const struct boot_shvars *v, struct net_kv *kv, size_t max);

/* Saves the context in the directory ctxdirfd (context/ on the scratch
 * disk): "user-data" (raw), "source" (one line: name and where) and
 * "ucontext" (cfg's user-data keys, boot_cfg_userdata_fmt form). Each file
 * is replaced atomically. work is scratch space for the keys other than
 * cernvm_inject (4 KiB is plenty). 0 or -errno. */
int boot_context_save(int ctxdirfd, const struct boot_context *ctx,
		      const struct boot_cfg *cfg, char *work, size_t wcap);

/* Later boots: reads "ucontext" back into buf (cap bytes: at least the size
 * of the user-data, for cernvm_inject) and
 * applies it to cfg with boot_cfg_userdata_parse; cfg->inject then points
 * into buf. Returns the number of keys applied, -ENOENT (nothing saved: a
 * first boot), -EFBIG, or -errno. */
int boot_context_load(int ctxdirfd, struct boot_cfg *cfg, char *buf, size_t cap,
		      boot_cfg_log_fn log, void *arg);

/* ---- cernvm_inject ---- */

/* Opens rel (a path in the new root, "/" = rootfd) for PID 1 to write in:
 * every component resolved inside rootfd (openat2 RESOLVE_IN_ROOT: ".." and
 * absolute symlinks stay in it; where the kernel lacks openat2, each directory
 * opened with O_NOFOLLOW, so a symlink on the way is refused), the last one
 * never followed (O_NOFOLLOW: -ELOOP on a symlink), a fifo or device refused
 * without blocking (-ENXIO/-EPERM). Returns an fd (O_CLOEXEC) or -errno. */
int boot_root_open(int rootfd, const char *rel, int flags, mode_t mode);

/* Unpacks a tar (ustar, GNU long names, pax path/linkpath), gzip'd or not,
 * into rootfd: regular files, directories, symlinks and hard links with
 * their mode and owner. A first pass checks every member and refuses the
 * whole archive (-EPERM, logged with the member) for an absolute name, a
 * ".." component, a hard link to such a name, or a symlink whose relative
 * target climbs out of the root or has ".." after another component (which
 * may be a symlink); extraction never follows a symlink on the way
 * (O_NOFOLLOW on each component). Devices and fifos are skipped with a
 * log line. work (wcap bytes) holds the decompressed tar. Returns the
 * number of members written, -EPERM, -EBADMSG (corrupt), -ENOSPC, or -errno
 * from the file system. */
int boot_tar_extract(int rootfd, const void *data, size_t len, char *work, size_t wcap,
		     boot_cfg_log_fn log, void *arg);

/* Decodes cfg->inject (base64 of a tar.gz) and unpacks it into rootfd, once:
 * the marker context/injected (in ctxdirfd) is written afterwards and a
 * present marker skips it. work needs room for the decoded and the
 * decompressed archive. Returns members written, 0 when there is nothing
 * to do, or the errors above. */
int boot_inject_run(const struct boot_cfg *cfg, int rootfd, int ctxdirfd, char *work,
		    size_t wcap, boot_cfg_log_fn log, void *arg);

/* ---- extra context from other partitions (μCernVM 07extracontext) ---- */

#define BOOT_EXTRA_UD_MAX (64 * 1024)		/* all extra-user-data together */
#define BOOT_EXTRA_PICKUP_MAX (16u << 20)	/* one pickup.tar.gz */
#define BOOT_EXTRA_UNPACK_MAX (64u << 20)	/* its tar, decompressed */
#define BOOT_EXTRA_DEVS_MAX 32			/* block devices looked at */
#define BOOT_EXTRA_MS 15000			/* the whole search */
#define BOOT_EXTRA_DIR "/run/extra"		/* what was found, until context/ */

/* What the search found so far; caller-allocated. ud (udcap bytes) keeps
 * every extra-user-data, appended, and whatever boot_cfg_userdata_parse
 * points into (cernvm_inject): it must outlive cfg. work is scratch for
 * unpacking a gzip'd or MIME file. */
struct boot_extra {
	char *ud, *work;
	size_t udcap, udlen, wcap;
	unsigned nud;			/* extra-user-data files found */
	char pickup_dev[64];		/* where the kept pickup.tar.gz came from */
};

/* Looks in dirfd (the root of one read-only mounted partition, named dev in
 * logs) for cernvm/extra-user-data and cernvm/pickup.tar.gz, never
 * following a symlink. The user-data is appended to x->ud and (if outdirfd
 * >= 0) written to OUTDIRFD/extra-user-data; its [ucernvm] section is
 * applied to cfg, so its keys override the user-data's and earlier
 * partitions'. The pickup (at most BOOT_EXTRA_PICKUP_MAX) replaces
 * OUTDIRFD/pickup.tar.gz: the last one found wins. Never writes to dirfd.
 * Returns how many of the two it found (0..2), or -errno from outdirfd. */
int boot_extra_collect(int dirfd, const char *dev, int outdirfd, struct boot_extra *x,
		       struct boot_cfg *cfg, boot_cfg_log_fn log, void *arg);

/* ---- Geo-API server order ---- */

#define BOOT_GEO_SERVER_MS 3000	/* one server's answer */
#define BOOT_GEO_MS 8000	/* the whole question */

/* Parses a Geo-API answer ("3,1,2\n": 1-based indices, nearest first) for
 * n servers into order (0-based). Returns 0, or -EBADMSG unless it is a
 * permutation of 1..n. */
int boot_geo_parse(const char *body, size_t len, size_t n, size_t *order);
/* Asks the servers of r in turn (at most BOOT_GEO_SERVER_MS each, until
 * deadline_ms) GET URL/api/v1.0/geo/PROXY/HOST1,HOST2,... (PROXY: the first
 * proxy's host, or x for DIRECT) and reorders r->urls by the first answer.
 * An HTTP error or a malformed answer keeps the order; an unreachable server
 * passes the question to the next. Returns 1 (reordered), 0 (kept), or
 * -EINVAL (a URL without a host). */
struct boot_cfg_repo;
/* The Geo API's transport: net/http.h's client (struct net_http_client),
 * through proxy ("": direct), as cvmfs-lite's own requests go. */
struct boot_geo_net {
	void *http;
	char proxy[BOOT_CFG_URL_MAX];
};
/* boot_fetch_fn (GET) over a struct boot_geo_net. */
int boot_geo_http_fetch(void *arg, const char *method, const char *url,
			const char *const *headers, char *buf, size_t cap, size_t *len,
			uint64_t deadline_ms);
/* The first proxy of a CVMFS_HTTP_PROXY list ("http://p1:3128|p2;DIRECT":
 * "http://p1:3128") into out, or "" when the first is DIRECT or none. */
void boot_geo_proxy(const char *proxies, char *out, size_t cap);
int boot_geo_order(struct boot_cfg_repo *r, boot_fetch_fn fetch, void *arg,
		   uint64_t deadline_ms, boot_cfg_log_fn log, void *larg);

/* ---- boot-loader update by kexec ---- */

#define BOOT_KEXEC_APPLY_MAX 8192
#define BOOT_KEXEC_MARK "cvmboot_kexec="	/* appended to the kexec'd command line */

/* kexec/apply: "key=value" lines. */
struct boot_kexec_apply {
	char version[64];
	char kernel[128], initrd[128];	/* file names inside kexec/ */
	char cmdline[4096];		/* "" = the running /proc/cmdline */
	char kernel_sha256[65], initrd_sha256[65];
};
/* Parses apply. Returns 0, -EBADMSG (version, kernel or initrd missing),
 * -EPERM (a file name with '/' or a leading '.'), -ENAMETOOLONG. */
int boot_kexec_apply_parse(const char *text, size_t len, struct boot_kexec_apply *a);
/* Compares dotted numeric versions ("0.10.1" > "0.9"): <0, 0, >0. */
int boot_version_cmp(const char *a, const char *b);
/* Whether payload a is to be booted by boot loader `running` started with
 * cmdline: 1 if its version is newer and cmdline does not carry its
 * BOOT_KEXEC_MARK (then this boot came from it: no loop); else 0, with the
 * line to log in why ("" when there is nothing worth saying). */
int boot_kexec_wanted(const struct boot_kexec_apply *a, const char *running,
		      const char *cmdline, int verbose, char *why, size_t cap);

#define BOOT_UPDATE_DIR "/.cvmboot/update"	/* in the repository: a mkupdate payload */
#define BOOT_KEXEC_FILE_MAX (512LL << 20)	/* a kernel or initrd taken from it */
/* Takes the payload in directory src (apply and its two files, as `cvmboot
 * mkupdate` writes them) into directory dst when boot_kexec_wanted says so
 * and dst/apply is not that same payload already: the files are copied
 * through temporary names and kept only if their SHA-256 match apply's,
 * apply is written last (the old payload's files and apply go first).
 * Returns 1 (taken: a filled in), 0 (nothing to take; why "" or the line to
 * log), or -errno with the one-line cause in why (-EBADMSG: a hash differs;
 * dst then holds no apply). */
int boot_kexec_take(int src, int dst, const char *running, const char *cmdline, int verbose,
		    struct boot_kexec_apply *a, char *why, size_t cap);

/* `cvmboot context-test ...` (host tool): the sources above through
 * net/http.h; prints the result as key=value lines. Returns the exit
 * status (0 found, 3 nothing found, 1 error, 2 usage). */
int boot_cli_context_test(int argc, char **argv);

#endif
