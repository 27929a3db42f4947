/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/fuse.h: read-only FUSE server speaking the kernel protocol on
 * /dev/fuse directly (no libfuse), with several worker threads so that a slow
 * request (a download) never blocks the others. Internal to cvmfs-lite (and
 * its unit tests and fuzz targets), like internal.h, which includes it. */
#ifndef CVMFS_LITE_FUSE_H
#define CVMFS_LITE_FUSE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#define CVMFS_FUSE_THREADS_MAX 32
#define CVMFS_FUSE_ROOT_INO 1
#define CVMFS_FUSE_PT_BUCKETS 1024	/* hash buckets of inodes with a backing file */
/* Backing files kept after their inode's last close: a snapshot's inode never
 * changes content, so its next OPEN is answered from memory (no catalog row,
 * no cache lookup). Each is one open file in the kernel; the oldest goes. */
#define CVMFS_FUSE_PT_IDLE_MAX 2048

struct cvmfs_fuse_entry {
	uint64_t ino;			/* 0: negative entry (name does not exist) */
	struct stat st;
};

/* Adds one directory entry to a READDIR(PLUS) reply. e is the entry for
 * READDIRPLUS (its ino counts as one lookup iff the call returns 1), NULL
 * for READDIR. off is the offset of the *next* entry. Returns 1 if added,
 * 0 if the reply buffer is full (stop; the entry was not sent). */
typedef int (*cvmfs_fuse_fill_fn)(void *fill, const char *name, uint64_t ino, mode_t mode,
				  const struct cvmfs_fuse_entry *e, uint64_t off);

/* The file system behind the server. Every callback may run concurrently on
 * several worker threads and may block (e.g. downloading); errors are
 * -errno and reach the caller of the system call. ino is a FUSE node id
 * (CVMFS_FUSE_ROOT_INO for the root). */
struct cvmfs_fuse_ops {
	/* Resolves name in directory parent; counts one lookup of out->ino.
	 * -ENOENT may be answered by a cached negative entry (ino 0). */
	int (*lookup)(void *ctx, uint64_t parent, const char *name, struct cvmfs_fuse_entry *out);
	/* The kernel dropped nlookup references to ino. */
	void (*forget)(void *ctx, uint64_t ino, uint64_t nlookup);
	int (*getattr)(void *ctx, uint64_t ino, struct stat *st);
	/* Symlink target into buf (not NUL-terminated); returns its length. */
	ssize_t (*readlink)(void *ctx, uint64_t ino, char *buf, size_t len);
	/* Opens ino for reading; *fh is handed back to read/release. */
	int (*open)(void *ctx, uint64_t ino, uint64_t *fh);
	/* Reads up to len bytes at off; returns bytes (short only at EOF). */
	ssize_t (*read)(void *ctx, uint64_t ino, uint64_t fh, void *buf, size_t len, uint64_t off);
	void (*release)(void *ctx, uint64_t ino, uint64_t fh);
	int (*opendir)(void *ctx, uint64_t ino, uint64_t *fh);
	/* Emits entries from offset off (0 = start; "." and ".." included by the
	 * callee) through fill until it returns 0 or the listing ends. */
	int (*readdir)(void *ctx, uint64_t ino, uint64_t fh, uint64_t off, bool plus,
		       cvmfs_fuse_fill_fn fill, void *fill_arg);
	void (*releasedir)(void *ctx, uint64_t ino, uint64_t fh);
	int (*statfs)(void *ctx, struct statvfs *st);
	/* Value of name into buf (len 0: just the size); returns its length,
	 * -ENODATA, or -ERANGE when len is too small. */
	ssize_t (*getxattr)(void *ctx, uint64_t ino, const char *name, void *buf, size_t len);
	/* NUL-separated names into buf (len 0: just the size). */
	ssize_t (*listxattr)(void *ctx, uint64_t ino, char *buf, size_t len);
	/* The file system is going away (DESTROY or unmount). May be NULL. */
	void (*destroy)(void *ctx);
	/* FUSE passthrough: an fd (owned by fh, valid until release) of a file
	 * on a plain local file system holding ino's whole, verified content,
	 * for the kernel to read instead of asking the server; or -1 (no such
	 * file: the reads come to read). Called right after a successful open.
	 * NULL: never. */
	int (*backing_fd)(void *ctx, uint64_t ino, uint64_t fh);
};

/* Inode whose opens the kernel serves from a backing file (passthrough). */
struct cvmfs_fuse_backing {
	struct cvmfs_fuse_backing *next;
	uint64_t ino;
	int32_t id;			/* from FUSE_DEV_IOC_BACKING_OPEN */
	uint32_t nopen;			/* opens replied with it, not yet released */
	uint32_t ncached;		/* id 0: opens replied without passthrough */
	/* nopen 0: kept for the next open of ino, oldest first in f->idle */
	struct cvmfs_fuse_backing *idle_prev, *idle_next;
};

#define CVMFS_FUSE_OPCODES 64	/* FUSE opcodes counted (all but CUSE_INIT) */

/* Counters, read with cvmfs_fuse_stats. */
struct cvmfs_fuse_stats {
	bool passthrough;		/* the kernel offered it, we asked, no failure yet */
	int pt_error;			/* first FUSE_DEV_IOC_BACKING_OPEN -errno (then off) */
	uint64_t opens;			/* regular files opened */
	uint64_t pt_opens;		/* ... of which the kernel reads itself */
	uint64_t pt_kept;		/* ... of which with a kept backing file */
	uint64_t reads;			/* READ requests the server answered */
	/* Requests by opcode (index < CVMFS_FUSE_OPCODES) and the time the
	 * daemon spent on them, from read(2) of the request to its reply. */
	uint64_t op_n[CVMFS_FUSE_OPCODES], op_ns[CVMFS_FUSE_OPCODES];
};

struct cvmfs_fuse_cfg {
	const char *fsname;		/* source shown in /proc/mounts */
	const char *subtype;		/* "fuse.<subtype>"; NULL = plain "fuse" */
	bool allow_other;		/* everyone may use the mount (PID 1: yes) */
	bool suid;			/* honour setuid bits and device files (OS root) */
	unsigned threads;		/* worker threads, 1..CVMFS_FUSE_THREADS_MAX */
	unsigned timeout_s;		/* entry/attr/negative cache time in the kernel */
	bool passthrough;		/* ask for FUSE passthrough (Linux >= 6.9) at INIT */
};

struct cvmfs_fuse {
	int fd;				/* /dev/fuse, O_CLOEXEC; -1 when closed */
	const struct cvmfs_fuse_ops *ops;
	void *ctx;
	struct cvmfs_fuse_cfg cfg;
	uint32_t proto_minor;		/* negotiated at INIT */
	uint32_t max_read;		/* largest READ reply */
	pthread_t tid[CVMFS_FUSE_THREADS_MAX];
	unsigned nthreads;
	volatile int stop;
	pthread_mutex_t lock;
	int destroyed;
	/* The request each worker is serving (guarded by lock), so that an
	 * INTERRUPT for a reader being killed is answered -EINTR at once and
	 * the worker's own late reply is dropped. unique 0: idle. */
	struct {
		uint64_t unique;
		uint32_t pid;		/* the requesting thread (fuse_in_header.pid) */
		bool answered;
	} busy[CVMFS_FUSE_THREADS_MAX];
	/* passthrough: on from INIT until a backing open fails; pt guarded by lock */
	volatile bool passthrough;
	int pt_error;
	struct cvmfs_fuse_backing *pt[CVMFS_FUSE_PT_BUCKETS];
	struct cvmfs_fuse_backing *idle_head, *idle_tail;	/* nopen 0, by lock */
	unsigned nidle;
	uint64_t nopens, npt_opens, npt_kept, nreads;	/* relaxed atomics */
	uint64_t op_n[CVMFS_FUSE_OPCODES], op_ns[CVMFS_FUSE_OPCODES];	/* likewise */
};

/* Opens /dev/fuse and mounts it read-only on mountpoint (an existing
 * directory) with mount(2). Nothing is served yet: the kernel queues
 * requests until cvmfs_fuse_serve. Returns 0, -ENODEV (no fuse module),
 * -EPERM, or the mount -errno. */
int cvmfs_fuse_mount(struct cvmfs_fuse *f, const char *mountpoint, const struct cvmfs_fuse_cfg *cfg,
		     const struct cvmfs_fuse_ops *ops, void *ctx);

/* Serves requests with cfg.threads threads until the file system is
 * unmounted, then joins them and calls ops->destroy.
 * Blocks. Returns 0 or -errno from /dev/fuse. */
int cvmfs_fuse_serve(struct cvmfs_fuse *f);


/* Closes /dev/fuse (aborting the connection if still mounted; the kernel
 * then drops every backing file). */
void cvmfs_fuse_close(struct cvmfs_fuse *f);

/* Copies the counters (any thread, any time). */
void cvmfs_fuse_stats(struct cvmfs_fuse *f, struct cvmfs_fuse_stats *st);

/* Writes "lookup 812/1234ms getattr ..." into buf (opcodes seen, by count,
 * with the daemon's time on them): one line for the log. Returns buf. */
char *cvmfs_fuse_stats_ops(const struct cvmfs_fuse_stats *st, char *buf, size_t len);

/* Unmounts mountpoint: umount2, then a lazy detach if it is busy. */
int cvmfs_fuse_unmount(const char *mountpoint);

#endif
