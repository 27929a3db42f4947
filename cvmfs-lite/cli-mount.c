/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/cli-mount.c: `cvmboot mount`, the client on the host. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cvmfs-lite/cli.h"
#include "cvmfs-lite/cvmfs-lite.h"
#include "cvmfs-lite/fuse.h"
#include "tls/tls.h"

#define HOST_CA "/etc/ssl/certs/ca-certificates.crt"

static const char usage_text[] =
	"usage: cvmboot mount URL MOUNTPOINT --name FQRN --key PUB [options]\n"
	"  URL                 server base URL(s), ';'-separated for failover\n"
	"  --name FQRN         repository name\n"
	"  --key PUB           master public key (PEM); repeat for several\n"
	"  --proxy P           proxies 'a|b;c|DIRECT' (default DIRECT)\n"
	"  --tag T | --date YYYY-MM-DDTHH:MM:SSZ | --root-hash H   snapshot (default: newest)\n"
	"  --cache DIR         cache directory (default /var/lib/cvmboot/cache/FQRN)\n"
	"  --cache-limit MB    LRU size limit (default unlimited)\n"
	"  --pin FILE          pin the paths listed in FILE (local file; '@/path' = in the repository)\n"
	"  --prefetch FILE     fetch the paths listed in FILE ahead ('@/path' = in the repository)\n"
	"  --bundles PATH      first fetch the boot-profile bundles of the index at PATH in the\n"
	"                      repository (e.g. /.cvmboot_bundles, written by cvmboot bundle)\n"
	"  --uid-map FILE, --gid-map FILE   '<upstream> <local>' lines\n"
	"  --timeout MS        connect/low-speed timeout (direct and proxied)\n"
	"  --retries N         same-source retries of transfer errors (default 1)\n"
	"  --threads N         FUSE worker threads (default 8)\n"
	"  --log FILE          log file (default: stderr in the foreground, none otherwise)\n"
	"  --ca FILE           CA bundle for https:// servers (default " HOST_CA ")\n"
	"  --accept-expired-whitelist   accept an expired whitelist (old test fixtures only; logged)\n"
	"  --no-passthrough    the daemon serves every read (no FUSE passthrough)\n"
	"  --allow-other --suid --foreground\n";

struct sigctx {
	const char *mountpoint;
	sigset_t set;
};

/* Waits for SIGTERM/SIGINT and unmounts, which ends the FUSE workers. */
static void *sig_thread(void *arg)
{
	struct sigctx *s = arg;
	int sig;

	if (sigwait(&s->set, &sig) == 0)
		cvmfs_fuse_unmount(s->mountpoint);
	return NULL;
}

static int load_text(const char *path, const char *what, char **out)
{
	int rc = cvmfs_read_text(path, 1 << 20, out);

	if (rc < 0)
		fprintf(stderr, "cvmboot mount: cannot read %s %s: %s\n", what, path, strerror(-rc));
	return rc;
}

/* What one `cvmboot mount` holds; mount_fini frees all of it. */
struct mount {
	struct cvmfs_client_cfg cfg;
	const char *cache, *logpath, *pin, *prefetch, *ca, *mnt;
	bool fg;
	char *pinbuf, *prefbuf, *umap, *gmap;	/* heap, read from files */
	struct tls_ctx *tls;
	struct tls_https *https;
	char defcache[512];
};

#define GO_ON (-1)	/* a step's result: carry on (else the exit status) */

static void mount_fini(struct mount *m)
{
	for (size_t i = 0; i < m->cfg.npubkeys; i++)
		free((char *)m->cfg.pubkeys[i]);
	free(m->pinbuf);
	free(m->prefbuf);
	free(m->umap);
	free(m->gmap);
	if (m->cfg.cache_dirfd >= 0)
		close(m->cfg.cache_dirfd);
	if (m->logpath && m->cfg.log_fd >= 0)
		close(m->cfg.log_fd);
	if (m->tls)
		tls_ctx_fini(m->tls);
	free(m->tls);
	free(m->https);
}

/* The options into m; GO_ON, 0 (--help), 1 (a file unreadable), 2 (usage). */
static int parse_args(struct mount *m, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", 1, 0, 'n' }, { "key", 1, 0, 'k' }, { "proxy", 1, 0, 'p' },
		{ "tag", 1, 0, 't' }, { "date", 1, 0, 'd' }, { "root-hash", 1, 0, 'r' },
		{ "cache", 1, 0, 'c' }, { "cache-limit", 1, 0, 'L' }, { "pin", 1, 0, 'P' },
		{ "prefetch", 1, 0, 'F' }, { "uid-map", 1, 0, 'U' }, { "gid-map", 1, 0, 'G' },
		{ "timeout", 1, 0, 'T' }, { "retries", 1, 0, 'R' }, { "threads", 1, 0, 'j' },
		{ "log", 1, 0, 'l' }, { "accept-expired-whitelist", 0, 0, 'E' },
		{ "allow-other", 0, 0, 'A' }, { "suid", 0, 0, 'S' }, { "foreground", 0, 0, 'f' },
		{ "ca", 1, 0, 'C' }, { "no-passthrough", 0, 0, 'N' }, { "bundles", 1, 0, 'B' },
		{ "help", 0, 0, 'h' }, { 0 },
	};
	struct cvmfs_client_cfg *cfg = &m->cfg;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n': cfg->fqrn = optarg; break;
		case 'k':
			if (cfg->npubkeys == CVMFS_CLIENT_KEYS_MAX) {
				fprintf(stderr, "cvmboot mount: at most %d keys\n", CVMFS_CLIENT_KEYS_MAX);
				return 2;
			}
			if (load_text(optarg, "public key", (char **)&cfg->pubkeys[cfg->npubkeys]) < 0)
				return 1;
			cfg->npubkeys++;
			break;
		case 'p': cfg->proxies = optarg; break;
		case 't': cfg->tag = optarg; break;
		case 'd': cfg->date = optarg; break;
		case 'r': cfg->root_hash = optarg; break;
		case 'c': m->cache = optarg; break;
		case 'L': cfg->cache_limit = strtoull(optarg, NULL, 10) << 20; break;
		case 'P': m->pin = optarg; break;
		case 'F': m->prefetch = optarg; break;
		case 'U': if (load_text(optarg, "uid map", &m->umap) < 0) return 1; break;
		case 'G': if (load_text(optarg, "gid map", &m->gmap) < 0) return 1; break;
		case 'T': cfg->timeout_ms = cfg->timeout_direct_ms = atoi(optarg); break;
		case 'R': cfg->max_retries = atoi(optarg); break;
		case 'j': cfg->fuse_threads = atoi(optarg); break;
		case 'l': m->logpath = optarg; break;
		case 'E': cfg->flags |= CVMFS_CLIENT_ACCEPT_EXPIRED; break;
		case 'A': cfg->flags |= CVMFS_CLIENT_ALLOW_OTHER; break;
		case 'S': cfg->flags |= CVMFS_CLIENT_SUID; break;
		case 'f': m->fg = true; break;
		case 'C': m->ca = optarg; break;
		case 'B': cfg->bundle_file = optarg; break;
		case 'N': cfg->flags |= CVMFS_CLIENT_NO_PASSTHROUGH; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (argc - optind != 2 || !cfg->fqrn) {
		fputs(usage_text, stderr);
		return 2;
	}
	cfg->servers = argv[optind];
	m->mnt = argv[optind + 1];
	cfg->uid_map = m->umap;
	cfg->gid_map = m->gmap;
	return GO_ON;
}

/* A list option: '@/path' names a file in the repository, else a local file
 * is read now. GO_ON or 1. */
static int load_list(const char *arg, const char *what, const char **file, char **text)
{
	if (arg && arg[0] == '@')
		*file = arg + 1;
	else if (arg && load_text(arg, what, text) < 0)
		return 1;
	return GO_ON;
}

/* The cache directory (made if missing) and the log. GO_ON or 1. */
static int open_cache_and_log(struct mount *m)
{
	if (!m->cache) {
		snprintf(m->defcache, sizeof(m->defcache), "/var/lib/cvmboot/cache/%s", m->cfg.fqrn);
		m->cache = m->defcache;
		mkdir("/var/lib/cvmboot", 0755);
		mkdir("/var/lib/cvmboot/cache", 0700);
	}
	if (mkdir(m->cache, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "cvmboot mount: cannot create cache %s: %s\n", m->cache, strerror(errno));
		return 1;
	}
	m->cfg.cache_dirfd = open(m->cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->cfg.cache_dirfd < 0) {
		fprintf(stderr, "cvmboot mount: cannot open cache %s: %s\n", m->cache, strerror(errno));
		return 1;
	}
	if (m->logpath) {
		m->cfg.log_fd = open(m->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (m->cfg.log_fd < 0) {
			fprintf(stderr, "cvmboot mount: cannot open log %s: %s\n", m->logpath,
				strerror(errno));
			return 1;
		}
	} else if (m->fg) {
		m->cfg.log_fd = 2;
	}
	return GO_ON;
}

/* HTTPS through tls/ when a URL or --ca asks for it: the client only sees
 * the net_http wrap hook. GO_ON or 1. */
static int setup_https(struct mount *m)
{
	const char *ca = m->ca ? m->ca : HOST_CA;
	int rc;

	if (!m->ca && !strstr(m->cfg.servers, "https://") &&
	    !(m->cfg.proxies && strstr(m->cfg.proxies, "https://")))
		return GO_ON;
	m->tls = calloc(1, sizeof(*m->tls));
	m->https = calloc(1, sizeof(*m->https));
	if (!m->tls || !m->https || tls_ctx_init(m->tls) < 0) {
		fprintf(stderr, "cvmboot mount: cannot set up TLS\n");
		free(m->tls);
		m->tls = NULL;
		return 1;
	}
	rc = tls_ctx_ca_add_file(m->tls, ca, NULL);
	if (rc < 0 || tls_https_init(m->https, m->tls) < 0) {
		fprintf(stderr, "cvmboot mount: CA bundle %s unusable (%s); give one with --ca\n",
			ca, rc < 0 ? strerror(-rc) : "init failed");
		return 1;
	}
	m->cfg.https_wrap = tls_https_wrap;
	m->cfg.https_ctx = m->https;
	return GO_ON;
}

/* Without --foreground: forks; the parent waits for the daemon's verdict on
 * the pipe, prints it and returns the exit status; the child (GO_ON) goes
 * on detached, its stdio on /dev/null. */
static int daemonise(struct mount *m, int pfd[2])
{
	char line[1024];
	pid_t pid;
	ssize_t n;
	int nul;

	if (m->fg)
		return GO_ON;
	if ((pid = fork()) < 0) {
		perror("cvmboot mount: fork");
		return 1;
	}
	if (pid > 0) {
		close(pfd[1]);
		pfd[1] = -1;
		n = read(pfd[0], line, sizeof(line) - 1);
		line[n > 0 ? n : 0] = 0;
		if (strncmp(line, "OK ", 3) == 0) {
			printf("mounted %s on %s: %s", m->cfg.fqrn, m->mnt, line + 3);
			return 0;
		}
		fprintf(stderr, "cvmboot mount: %s: %s", m->cfg.fqrn,
			n > 0 ? line : "the daemon died before mounting\n");
		waitpid(pid, NULL, 0);
		return 1;
	}
	close(pfd[0]);
	pfd[0] = -1;
	setsid();
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		close(nul);
	}
	return GO_ON;
}

/* Mounts and serves until unmounted; signals go to one thread that
 * unmounts, blocked everywhere else. The exit status. */
static int serve(struct mount *m, int pfd[2])
{
	static struct sigctx sc;	/* the detached thread may outlive this frame */
	sigset_t usr1;
	pthread_t st;
	int rc;

	sc.mountpoint = m->mnt;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);	/* the client's own thread takes it */
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&st, NULL, sig_thread, &sc) == 0)
		pthread_detach(st);
	if (m->fg) {
		/* Foreground: report to stdout through the same pipe protocol. */
		close(pfd[1]);
		pfd[1] = dup(1);
	}
	rc = cvmfs_client_run(&m->cfg, m->mnt, pfd[1]) < 0 ? 1 : 0;
	pfd[1] = -1;			/* cvmfs_client_run closed it */
	m->cfg.cache_dirfd = -1;	/* the client owned it */
	return rc;
}

/* see cli.h: options, cache and log, TLS, then daemonising with a pipe that
 * carries the verdict, then the client. Every step frees nothing itself:
 * mount_fini does, whichever step ended it. */
int cvmfs_cli_mount(int argc, char **argv)
{
	struct mount *m = calloc(1, sizeof(*m));
	int pfd[2] = { -1, -1 }, rc;

	if (!m)
		return 1;
	m->cfg = (struct cvmfs_client_cfg){ .log_fd = -1, .max_retries = 1, .cache_dirfd = -1 };
	if ((rc = parse_args(m, argc, argv)) == GO_ON &&
	    (rc = load_list(m->pin, "pin list", &m->cfg.pin_file, &m->pinbuf)) == GO_ON &&
	    (rc = load_list(m->prefetch, "prefetch list", &m->cfg.prefetch_file,
			    &m->prefbuf)) == GO_ON &&
	    (rc = open_cache_and_log(m)) == GO_ON && (rc = setup_https(m)) == GO_ON) {
		m->cfg.pin_text = m->pinbuf;
		m->cfg.prefetch_text = m->prefbuf;
		if (pipe2(pfd, O_CLOEXEC) < 0)
			rc = 1;
		else if ((rc = daemonise(m, pfd)) == GO_ON)
			rc = serve(m, pfd);
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i] >= 0)
			close(pfd[i]);
	mount_fini(m);
	free(m);
	return rc;
}
