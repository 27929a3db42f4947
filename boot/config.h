/* SPDX-License-Identifier: MIT */
/* boot/config.h: boot configuration (kernel command line, user-data keys,
 * build-time defaults), server selection and snapshot pinning. Pure logic. */
#ifndef BOOT_CONFIG_H
#define BOOT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Build knobs (make image REPO_URL=... passes -D...): the lead copies them into
 * struct boot_cfg_defaults with BOOT_CFG_DEFAULTS_INIT. */
#ifndef BOOT_CFG_REPO_URL	/* server URL list (',' or ';'), @fqrn@ = repository */
#define BOOT_CFG_REPO_URL "http://cvmfs-stratum-one.cern.ch/cvmfs/@fqrn@"
#endif
#ifndef BOOT_CFG_REPO_NAME	/* repository (fully qualified name) */
#define BOOT_CFG_REPO_NAME "cernvm-prod.cern.ch"
#endif
#ifndef BOOT_CFG_REPO_KEY	/* public key of the repository inside the initramfs */
#define BOOT_CFG_REPO_KEY "/etc/cvmfs/keys/repo.pub"
#endif
#ifndef BOOT_CFG_REPO_TAG	/* tag mounted when nothing else names one; "" = newest */
#define BOOT_CFG_REPO_TAG ""
#endif
#ifndef BOOT_CFG_PROXY		/* proxy list in CernVM-FS syntax */
#define BOOT_CFG_PROXY "DIRECT"
#endif

#define BOOT_CFG_LIST_MAX 512	/* a server, CDN, proxy or PAC list */
#define BOOT_CFG_NAME_MAX 128	/* repository or tag name */
#define BOOT_CFG_PATH_MAX 256	/* cernvm_path, init=, key path */
#define BOOT_CFG_URLS_MAX 16	/* resolved server URLs */
#define BOOT_CFG_URL_MAX 384
#define BOOT_CFG_HASH_MAX 96	/* root hash: hex digest plus "-suffix" */

/* Messages for humans (unknown keys, rejected values). msg is one line
 * without the newline; the callee copies what it keeps. */
typedef void (*boot_cfg_log_fn)(void *arg, const char *msg);

struct boot_cfg_defaults {
	const char *repo_url, *repo_name, *key_path, *tag, *proxy;
};
#define BOOT_CFG_DEFAULTS_INIT { BOOT_CFG_REPO_URL, BOOT_CFG_REPO_NAME, \
				 BOOT_CFG_REPO_KEY, BOOT_CFG_REPO_TAG, BOOT_CFG_PROXY }

enum boot_cfg_on_error {
	BOOT_CFG_ON_ERROR_POWEROFF = 0,	/* default: never hang a VM nobody watches */
	BOOT_CFG_ON_ERROR_RETRY,	/* re-run the boot after a pause (reboot) */
	BOOT_CFG_ON_ERROR_WAIT,		/* keep the console, wait forever */
};

/* Context sources (cvmboot.context=LIST; default all). */
enum {
	BOOT_CTX_SRC_DRIVE = 1 << 0,	/* config drive, NoCloud, vSphere, Azure files */
	BOOT_CTX_SRC_ONE = 1 << 1,	/* OpenNebula context.sh */
	BOOT_CTX_SRC_GCE = 1 << 2,
	BOOT_CTX_SRC_EC2 = 1 << 3,
	BOOT_CTX_SRC_OPENSTACK = 1 << 4,
	BOOT_CTX_SRC_CLOUDSTACK = 1 << 5,
	BOOT_CTX_SRC_VSPHERE = 1 << 6,	/* guestinfo through the VMware backdoor */
	BOOT_CTX_SRC_AZURE = 1 << 7,	/* ovf-env.xml on the CD, ready report */
	BOOT_CTX_SRC_ALL = (1 << 8) - 1,
};

/* Repository keys one source may set ("" = not set by that source). */
struct boot_cfg_repo_keys {
	char server[BOOT_CFG_LIST_MAX];
	char cdn[BOOT_CFG_LIST_MAX];
	char repo[BOOT_CFG_NAME_MAX];
	char proxy[BOOT_CFG_LIST_MAX];
	char tag[BOOT_CFG_NAME_MAX];
	char path[BOOT_CFG_PATH_MAX];
};

/* Everything configurable. Zero it with boot_cfg_init; the parsers then only
 * overwrite what their input names. Lives on the caller's stack (~6 KiB). */
struct boot_cfg {
	/* kernel command line */
	struct boot_cfg_repo_keys cmd;	/* cvmfs_server cvmfs_cdn cvmfs_repos cvmfs_proxy
					 * cvmfs_repository_tag cernvm_path */
	char url[BOOT_CFG_LIST_MAX];	/* cvmfs_url: overrides every server choice */
	char init[BOOT_CFG_PATH_MAX];	/* init=: the OS's init, default /sbin/init */
	int debug;			/* cvmdebug */
	int verbose;			/* cvmboot.verbose */
	enum boot_cfg_on_error on_error;	/* cvmboot.on_error */
	unsigned net_timeout_s;		/* cvmboot.net_timeout, default 30 */
	unsigned context_timeout_s;	/* cvmboot.context_timeout, default 20 */
	int use_geoapi;			/* cvmboot.geoapi: order servers by Geo-API (default 1) */
	unsigned context_sources;	/* cvmboot.context=drive,one,gce,ec2,openstack,cloudstack,vsphere,azure|none */

	/* user-data ([ucernvm-begin] section) */
	struct boot_cfg_repo_keys ud;	/* cvmfs_server cvmfs_cdn cvmfs_branch cvmfs_http_proxy
					 * cvmfs_tag cernvm_path */
	char pac_urls[BOOT_CFG_LIST_MAX];	/* cvmfs_pac_urls */
	unsigned wait_on_squid_s;	/* cvmfs_wait_on_squid, 0 = no wait */
	int resize_rootfs;		/* 1 (default): whole disk; 0 (off): 20 GiB cap */
	int use_boothd;			/* 1: use the boot disk, ignore empty disks */
	int useglideinwms;		/* 0 disables glideinWMS detection; default 1 */
	char cluster_pin[BOOT_CFG_NAME_MAX];	/* cvm_cluster_pin */
	char cluster_master[BOOT_CFG_NAME_MAX];	/* cvm_cluster_master */
	char service_url[BOOT_CFG_URL_MAX];	/* cvm_service_url */
	/* cernvm_inject: base64 of a tar.gz. Points INTO the buffer given to
	 * boot_cfg_userdata_parse, which the caller keeps alive; NULL if unset. */
	const char *inject;
	size_t inject_len;
	uint64_t ud_set;		/* one bit per user-data key seen (for fmt) */
};

/* Resolved repository settings for cvmfs-lite. */
struct boot_cfg_repo {
	char name[BOOT_CFG_NAME_MAX];
	char urls[BOOT_CFG_URLS_MAX][BOOT_CFG_URL_MAX];
	size_t nurls;
	char proxy[BOOT_CFG_LIST_MAX];	/* CernVM-FS syntax: ';' groups, '|' members */
	char pac_urls[BOOT_CFG_LIST_MAX];
	char tag[BOOT_CFG_NAME_MAX];	/* requested tag; "" = newest */
	char path[BOOT_CFG_PATH_MAX];	/* cernvm_path, no leading or trailing '/' */
	char key_path[BOOT_CFG_PATH_MAX];
	unsigned wait_on_squid_s;
};

/* Sets the documented defaults (everything unset, resize_rootfs=1,
 * useglideinwms=1, on_error=poweroff, timeouts, all context sources). */
void boot_cfg_init(struct boot_cfg *cfg);

/* Parses a kernel command line (the contents of /proc/cmdline, len bytes,
 * need not be NUL-terminated). Words are split at blanks; "key=..." values
 * may be double-quoted (the kernel keeps the quotes) and lose one pair of
 * quotes. Unknown cvmfs_*, cernvm_* and cvmboot.* keys and bad values are
 * logged and ignored; other words belong to the kernel and are skipped.
 * Words after "--" are the init's arguments and are skipped. Never fails. */
void boot_cfg_cmdline_parse(struct boot_cfg *cfg, const char *line, size_t len,
			    boot_cfg_log_fn log, void *arg);

/* Applies key=value lines (user-data section text, or a saved ucontext) to
 * cfg. Lines end in LF or CRLF; the last one needs no newline. Blank lines
 * and '#' comments are skipped; keys are split at the first '=' and trimmed;
 * one pair of matching quotes (' or ") is stripped from the value;
 * yes/on/true -> 1 and no/off/false -> 0 for flags. Unknown keys, values too
 * long and bad numbers are logged and ignored. A later call overrides an
 * earlier one key by key (extra user-data). cfg->inject points into text.
 * Returns the number of keys applied (>= 0). */
int boot_cfg_userdata_parse(struct boot_cfg *cfg, const char *text, size_t len,
			    boot_cfg_log_fn log, void *arg);

/* Writes the user-data keys cfg->ud_set marks as "key=\"value\"\n" lines
 * (a form boot_cfg_userdata_parse reads back to the same cfg) into buf;
 * cernvm_inject (up to the size of the user-data) only if with_inject.
 * Returns the length written (NUL-terminated), or -ENOSPC. */
long boot_cfg_userdata_fmt(const struct boot_cfg *cfg, int with_inject, char *buf, size_t cap);

/* Resolves repository, server URLs, proxy, tag and path with the precedence
 * of the uCernVM scheme: defaults < command line < user-data for each key; a
 * user-data cvmfs_http_proxy or cvmfs_server sets the CDN to NONE, a user-data
 * cvmfs_cdn enables it again; a CDN other than NONE replaces the server list;
 * the command line's cvmfs_url overrides all. Lists split at ',' and ';'. A
 * bare host becomes http://HOST/cvmfs/REPO; an entry with "://" is a URL
 * whose @fqrn@ becomes REPO. Returns 0, or -EINVAL (no server or no
 * repository: logged with the key to set), or -ENAMETOOLONG. Entries that
 * are not usable and those past BOOT_CFG_URLS_MAX are logged and dropped. */
int boot_cfg_repo_resolve(const struct boot_cfg *cfg, const struct boot_cfg_defaults *def,
			  struct boot_cfg_repo *out, boot_cfg_log_fn log, void *arg);

/* Formats one message and hands it to log (no-op when log is NULL); used by
 * every boot/ parser that reports through a boot_cfg_log_fn. */
void boot_cfg_say(boot_cfg_log_fn log, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parses a flag value: 1/yes/on/true -> 1, 0/no/off/false -> 0 (any case).
 * Returns 0 with *out set, or -EINVAL. */
int boot_cfg_flag_parse(const char *s, int *out);

/* Small-file helpers (the scratch disk's aux/ and context/ files). */
/* The one read loop of boot/: reads fd into buf until len bytes or end of
 * file (EINTR retried). Returns the bytes read (< len only at end of file)
 * or -errno. */
ssize_t boot_read_full(int fd, void *buf, size_t len);
/* Reads DIRFD/NAME (not following a final symlink) into buf, at most cap
 * bytes. Returns the length, -ENOENT, -EFBIG if it has more than cap bytes,
 * or -errno. */
long boot_file_read(int dirfd, const char *name, void *buf, size_t cap);
/* Replaces DIRFD/NAME atomically with len bytes of buf (mode 0600): writes
 * NAME.tmp, fsyncs, renames, fsyncs the directory. Returns 0 or -errno. */
int boot_file_write(int dirfd, const char *name, const void *buf, size_t len);
struct iovec;
/* The same for the concatenation of n buffers. */
int boot_file_writev(int dirfd, const char *name, const struct iovec *iov, size_t n);

/* ---- Snapshot pinning (aux/cvmfs_snapshot, aux/cvmfs_force_tag) ---- */

struct boot_snapshot {
	char hash[BOOT_CFG_HASH_MAX];	/* root hash, lowercase hex [+ "-suffix"] */
	char tag[BOOT_CFG_NAME_MAX];	/* tag it was resolved from ("" = newest) */
};

#define BOOT_SNAPSHOT_FILE "cvmfs_snapshot"
#define BOOT_FORCE_TAG_FILE "cvmfs_force_tag"

/* Returns 1 if s is a root hash we accept: 40..64 lowercase hex digits,
 * optionally followed by '-' and 1..16 of [a-z0-9]. */
int boot_snapshot_hash_is_valid(const char *s);
/* Returns 1 if s is a usable tag name: 1..BOOT_CFG_NAME_MAX-1 printable
 * non-blank ASCII characters, not starting with '-'. */
int boot_snapshot_tag_is_valid(const char *s);

/* Reads AUX/cvmfs_snapshot (line 1 root hash, line 2 tag; CRLF accepted).
 * Returns 0, -ENOENT (not pinned), -EBADMSG (malformed: the caller logs and
 * treats the VM as unpinned or stops, its choice), or -errno. */
int boot_snapshot_read(int auxfd, struct boot_snapshot *s);
/* Writes AUX/cvmfs_snapshot atomically (temp file, fsync, rename, fsync of
 * the directory). Returns 0, -EINVAL (bad hash or tag), or -errno. */
int boot_snapshot_write(int auxfd, const struct boot_snapshot *s);
/* Removes the pin: the next boot resolves its tag again. 0 or -errno
 * (0 if it was not pinned). */
int boot_snapshot_unpin(int auxfd);
/* Reads AUX/cvmfs_force_tag (first line, trimmed). Returns 0, -ENOENT,
 * -EBADMSG (empty or not a valid tag), or -errno. */
int boot_force_tag_read(int auxfd, char *tag, size_t cap);
/* Removes AUX/cvmfs_force_tag once the forced tag is mounted and recorded,
 * so that the request happens once (uCernVM kept it and re-based on every
 * boot). Returns 0 or -errno (0 if already gone). */
int boot_force_tag_consume(int auxfd);

/* What to mount this boot. */
struct boot_mount_plan {
	char tag[BOOT_CFG_NAME_MAX];	/* tag to resolve ("" = newest), when hash is "" */
	char hash[BOOT_CFG_HASH_MAX];	/* pinned root hash to mount, or "" */
	int record;			/* 1: write aux/cvmfs_snapshot after mounting */
	int consume_force;		/* 1: boot_force_tag_consume after recording */
	const char *why;		/* one line for the log */
};

/* Decides the snapshot: a force tag wins (fresh mount, recorded, consumed);
 * else a valid pin is mounted by hash; else the tag is, in order, the
 * user-data cvmfs_tag, the command line's cvmfs_repository_tag, the build
 * default (first boot, or after an unpin), and the result is recorded. Any
 * argument may be NULL or "". Pure; never fails. */
void boot_snapshot_plan(const struct boot_snapshot *pinned, const char *force_tag,
			const char *ud_tag, const char *cmd_tag, const char *def_tag,
			struct boot_mount_plan *out);

#endif
