/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/cvmfs-lite.h: the public header of cvmfs-lite, the CernVM-FS
 * client: verifies a repository, mounts it read-only through the in-tree FUSE
 * server and serves it. Used by PID 1 (in a forked child, the "cvmfs-lite
 * daemon") and by `cvmboot mount`. Everything else of the module is internal
 * (internal.h, fuse.h), except format.h, the repository format it shares with
 * the publisher (cvmfs-pub/), and cli.h, the host tool's verb. */
#ifndef CVMFS_LITE_CVMFS_LITE_H
#define CVMFS_LITE_CVMFS_LITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

#define CVMFS_CLIENT_KEYS_MAX 8

/* cfg.flags */
#define CVMFS_CLIENT_ACCEPT_EXPIRED 1u	/* accept an expired whitelist (test fixtures only; logged) */
#define CVMFS_CLIENT_SUID 2u		/* honour setuid bits and devices (the OS root) */
#define CVMFS_CLIENT_ALLOW_OTHER 4u	/* everyone may use the mount */
#define CVMFS_CLIENT_FOLLOW_REDIRECTS 8u
#define CVMFS_CLIENT_NO_PASSTHROUGH 16u	/* the daemon serves every read, even where the kernel could */

#define CVMFS_CLIENT_LOG_FDS 4	/* cfg.log_fds taken */

struct cvmfs_client_cfg {
	const char *fqrn;		/* repository name, e.g. "cernvm-prod.cern.ch" */
	const char *servers;		/* ';'-separated base URLs (failover order); @fqrn@ and @org@ expanded */
	const char *proxies;		/* "a|b;c|DIRECT" (groups ';', load-balanced members '|'); NULL = DIRECT */
	const char *pubkeys[CVMFS_CLIENT_KEYS_MAX];	/* master public keys, PEM text (NUL-terminated) */
	size_t npubkeys;
	/* Snapshot: at most one of these; none = the newest revision. */
	const char *tag;		/* named tag of the history database */
	const char *date;		/* "YYYY-MM-DDTHH:MM:SSZ": newest trunk tag not after it */
	const char *root_hash;		/* root catalog hash (hex): mounted as is, no manifest needed */
	int cache_dirfd;		/* cache directory, opened by the caller before switch_root (the client takes it) */
	uint64_t cache_limit;		/* bytes; 0 = unlimited. Pinned objects are never evicted */
	const char *uid_map;		/* text of "<upstream> <local>" lines, or NULL */
	const char *gid_map;
	/* Pin list: repository path of a file in /.ucernvm_pinfiles format (one
	 * path per line, '#' comments), read through the repository itself
	 * once mounted, e.g. "/.ucernvm_pinfiles"; or NULL. path_prefix (e.g.
	 * the cernvm_path "/cvm4") is prepended to the list file and to every
	 * path in it. Pinned objects are fetched ahead and never evicted. */
	const char *pin_file;
	const char *pin_text;		/* alternatively: the list itself */
	const char *path_prefix;
	/* Boot profile: paths whose objects are fetched ahead with
	 * prefetch_conns parallel connections (same format as the pin list). */
	const char *prefetch_file;
	const char *prefetch_text;
	unsigned prefetch_conns;	/* 0 = 4 */
	/* Bundles of the boot profile's objects: repository path of the index
	 * that `cvmboot bundle` writes (e.g. "/.cvmboot_bundles"), fetched before
	 * the prefetch; a repository without it just logs that. Or NULL. */
	const char *bundle_file;
	unsigned timeout_ms;		/* via proxy: connect + low-speed window; 0 = 5000 */
	unsigned timeout_direct_ms;	/* direct; 0 = 10000 */
	unsigned low_speed_bytes;	/* per window; 0 = 1024 */
	unsigned max_retries;		/* same-source retries of transfer errors; default 1 */
	unsigned backoff_init_ms, backoff_max_ms;	/* 0 = 2000 / 10000 */
	unsigned fuse_threads;		/* 0 = 8 */
	unsigned kcache_timeout_s;	/* kernel entry/attr cache; 0 = 3600 */
	unsigned flags;			/* CVMFS_CLIENT_* */
	int log_fd;			/* one line per event; -1 = none */
	/* More fds each line goes to as well (boot: every console of
	 * /proc/consoles, as PID 1's own log); at most CVMFS_CLIENT_LOG_FDS. */
	const int *log_fds;
	unsigned nlog_fds;
	/* HTTPS: the wrap hook of tls/ (net/http.h). NULL = http only. */
	net_http_wrap_fn https_wrap;
	void *https_ctx;
};

/* What was mounted (reported to the caller, written by boot to
 * aux/cvmfs_snapshot). */
struct cvmfs_client_info {
	char root_hash[64];		/* hex of the root catalog */
	uint64_t revision;
	char tag[256];			/* tag name if mounted by tag/date, else "" */
	bool offline;			/* served from the cache without verification online */
};

struct cvmfs_client;

/*
 * The daemon contract (PID 1 forks a child and calls this in it):
 *  1. Verifies the repository (whitelist with cfg.pubkeys, certificate,
 *     manifest; or uses cfg.root_hash), selects the snapshot, fetches the
 *     root catalog into the cache (or finds it there when the network is
 *     gone and the snapshot was mounted before).
 *  2. Mounts it read-only on mountpoint (a path resolved now, before
 *     switch_root) with mount(2).
 *  3. Writes one line to ready_fd and closes it:
 *         "OK <root_hash> <revision> <tag or ->\n"   or
 *         "ERR <errno> <reason text>\n"
 *     (ready_fd < 0: nothing is written).
 *  4. Serves the file system until it is unmounted, then returns. For a
 *     clean stop on SIGTERM, use the steps below and unmount from a thread
 *     with the signal blocked, as `cvmboot mount` does (cli-mount.c).
 *     Pinning (cfg.pin_*) and prefetch (cfg.prefetch_*) run in a background
 *     thread from here on.
 * After step 2 it uses no path at all: only the cache dir fd, /dev/fuse and
 * sockets. Exception: host names are resolved by musl's getaddrinfo, which
 * reads /etc/resolv.conf relative to the daemon's root, i.e. the initramfs
 * even after PID 1's switch_root: keep that file there (and current), or
 * give servers/proxies as IP addresses.
 * PID 1 sets cfg.flags = CVMFS_CLIENT_SUID | CVMFS_CLIENT_ALLOW_OTHER for the
 * OS root. Objects are cached decompressed under <cache>/<xx>/<rest> (those
 * stored uncompressed in the repository under <xx>/<rest>.raw) with txn/ for
 * downloads in progress, "pinned" (hashes never evicted), "snapshot.<fqrn>"
 * (the last verified choice, used offline) and "newest.<fqrn>" (timestamp
 * and revision of the newest manifest ever verified: the replay floor).
 * Sets SIGPIPE to ignored (a daemon). Blocks for the life of the mount.
 * Returns 0 after a clean unmount, or
 * -errno (also reported on ready_fd when the failure happened before 3).
 * cfg and its strings must stay valid until it returns.
 */
int cvmfs_client_run(const struct cvmfs_client_cfg *cfg, const char *mountpoint, int ready_fd);

/* The same in steps, for callers that want control (cvmboot mount): */
/* Verifies and opens the repository into a new client (heap; free with
 * cvmfs_client_close). Fills *info. Returns 0 or -errno (reason logged and
 * in why, which may be NULL, of size whylen). */
int cvmfs_client_open(const struct cvmfs_client_cfg *cfg, struct cvmfs_client **out,
		      struct cvmfs_client_info *info, char *why, size_t whylen);
/* Mounts c on mountpoint (step 2). */
int cvmfs_client_mount(struct cvmfs_client *c, const char *mountpoint);
/* Serves until unmounted (step 4); starts pinning/prefetch first. */
int cvmfs_client_serve(struct cvmfs_client *c);
void cvmfs_client_close(struct cvmfs_client *c);

/* Reads a whole small file (keys, maps) into a NUL-terminated heap buffer. */
int cvmfs_read_text(const char *path, size_t max, char **out);

#endif
