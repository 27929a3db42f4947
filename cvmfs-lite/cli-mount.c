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

/* see cli.h. Long but linear, like a main: options, cache and log, then
 * daemonising with a pipe that carries the verdict, then the client. */
int cvmfs_cli_mount(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", 1, 0, 'n' }, { "key", 1, 0, 'k' }, { "proxy", 1, 0, 'p' },
		{ "tag", 1, 0, 't' }, { "date", 1, 0, 'd' }, { "root-hash", 1, 0, 'r' },
		{ "cache", 1, 0, 'c' }, { "cache-limit", 1, 0, 'L' }, { "pin", 1, 0, 'P' },
		{ "prefetch", 1, 0, 'F' }, { "uid-map", 1, 0, 'U' }, { "gid-map", 1, 0, 'G' },
		{ "timeout", 1, 0, 'T' }, { "retries", 1, 0, 'R' }, { "threads", 1, 0, 'j' },
		{ "log", 1, 0, 'l' }, { "accept-expired-whitelist", 0, 0, 'E' },
		{ "allow-other", 0, 0, 'A' }, { "suid", 0, 0, 'S' }, { "foreground", 0, 0, 'f' },
		{ "ca", 1, 0, 'C' }, { "no-passthrough", 0, 0, 'N' }, { "bundles", 1, 0, 'B' }, { "help", 0, 0, 'h' }, { 0 },
	};
	struct cvmfs_client_cfg cfg = { .log_fd = -1, .max_retries = 1, .cache_dirfd = -1 };
	const char *cache = NULL, *logpath = NULL, *pin = NULL, *prefetch = NULL, *ca = NULL;
	struct tls_ctx *tls = NULL;
	struct tls_https *https = NULL;
	char *pinbuf = NULL, *prefbuf = NULL, *umap = NULL, *gmap = NULL, *mnt;
	char defcache[512], line[1024];
	bool fg = false;
	int opt, rc = 1, pfd[2] = { -1, -1 };
	struct sigctx sc;
	pthread_t st;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'n': cfg.fqrn = optarg; break;
		case 'k':
			if (cfg.npubkeys == CVMFS_CLIENT_KEYS_MAX) {
				fprintf(stderr, "cvmboot mount: at most %d keys\n", CVMFS_CLIENT_KEYS_MAX);
				return 2;
			}
			if (load_text(optarg, "public key", (char **)&cfg.pubkeys[cfg.npubkeys++]) < 0)
				return 1;
			break;
		case 'p': cfg.proxies = optarg; break;
		case 't': cfg.tag = optarg; break;
		case 'd': cfg.date = optarg; break;
		case 'r': cfg.root_hash = optarg; break;
		case 'c': cache = optarg; break;
		case 'L': cfg.cache_limit = strtoull(optarg, NULL, 10) << 20; break;
		case 'P': pin = optarg; break;
		case 'F': prefetch = optarg; break;
		case 'U': if (load_text(optarg, "uid map", &umap) < 0) return 1; break;
		case 'G': if (load_text(optarg, "gid map", &gmap) < 0) return 1; break;
		case 'T': cfg.timeout_ms = cfg.timeout_direct_ms = atoi(optarg); break;
		case 'R': cfg.max_retries = atoi(optarg); break;
		case 'j': cfg.fuse_threads = atoi(optarg); break;
		case 'l': logpath = optarg; break;
		case 'E': cfg.flags |= CVMFS_CLIENT_ACCEPT_EXPIRED; break;
		case 'A': cfg.flags |= CVMFS_CLIENT_ALLOW_OTHER; break;
		case 'S': cfg.flags |= CVMFS_CLIENT_SUID; break;
		case 'f': fg = true; break;
		case 'C': ca = optarg; break;
		case 'B': cfg.bundle_file = optarg; break;
		case 'N': cfg.flags |= CVMFS_CLIENT_NO_PASSTHROUGH; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (argc - optind != 2 || !cfg.fqrn) {
		fputs(usage_text, stderr);
		return 2;
	}
	cfg.servers = argv[optind];
	mnt = argv[optind + 1];
	cfg.uid_map = umap;
	cfg.gid_map = gmap;
	if (pin && pin[0] == '@')
		cfg.pin_file = pin + 1;
	else if (pin && load_text(pin, "pin list", &pinbuf) < 0)
		return 1;
	cfg.pin_text = pinbuf;
	if (prefetch && prefetch[0] == '@')
		cfg.prefetch_file = prefetch + 1;
	else if (prefetch && load_text(prefetch, "prefetch list", &prefbuf) < 0)
		return 1;
	cfg.prefetch_text = prefbuf;
	if (!cache) {
		snprintf(defcache, sizeof(defcache), "/var/lib/cvmboot/cache/%s", cfg.fqrn);
		cache = defcache;
		mkdir("/var/lib/cvmboot", 0755);
		mkdir("/var/lib/cvmboot/cache", 0700);
	}
	if (mkdir(cache, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "cvmboot mount: cannot create cache %s: %s\n", cache, strerror(errno));
		return 1;
	}
	cfg.cache_dirfd = open(cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfg.cache_dirfd < 0) {
		fprintf(stderr, "cvmboot mount: cannot open cache %s: %s\n", cache, strerror(errno));
		return 1;
	}
	if (logpath) {
		cfg.log_fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (cfg.log_fd < 0) {
			fprintf(stderr, "cvmboot mount: cannot open log %s: %s\n", logpath, strerror(errno));
			return 1;
		}
	} else if (fg) {
		cfg.log_fd = 2;
	}
	if (ca || strstr(cfg.servers, "https://") || (cfg.proxies && strstr(cfg.proxies, "https://"))) {
		/* HTTPS through tls/: the client only sees the net_http wrap hook. */
		tls = calloc(1, sizeof(*tls));
		https = calloc(1, sizeof(*https));
		if (!tls || !https || tls_ctx_init(tls) < 0) {
			fprintf(stderr, "cvmboot mount: cannot set up TLS\n");
			return 1;
		}
		rc = tls_ctx_ca_add_file(tls, ca ? ca : HOST_CA, NULL);
		if (rc < 0 || tls_https_init(https, tls) < 0) {
			fprintf(stderr, "cvmboot mount: CA bundle %s unusable (%s); give one with --ca\n",
				ca ? ca : HOST_CA, rc < 0 ? strerror(-rc) : "init failed");
			return 1;
		}
		cfg.https_wrap = tls_https_wrap;
		cfg.https_ctx = https;
		rc = 1;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return 1;
	if (!fg) {
		pid_t pid = fork();
		ssize_t n;

		if (pid < 0) {
			perror("cvmboot mount: fork");
			return 1;
		}
		if (pid > 0) {
			/* Parent: wait for the daemon's verdict, print it, exit. */
			close(pfd[1]);
			n = read(pfd[0], line, sizeof(line) - 1);
			line[n > 0 ? n : 0] = 0;
			if (strncmp(line, "OK ", 3) == 0) {
				printf("mounted %s on %s: %s", cfg.fqrn, mnt, line + 3);
				return 0;
			}
			fprintf(stderr, "cvmboot mount: %s: %s", cfg.fqrn,
				n > 0 ? line : "the daemon died before mounting\n");
			waitpid(pid, NULL, 0);
			return 1;
		}
		close(pfd[0]);
		pfd[0] = -1;
		setsid();
		{
			int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				dup2(nul, 2);
				close(nul);
			}
		}
	}
	/* Signals go to one thread that unmounts; block them everywhere else. */
	sc.mountpoint = mnt;
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&st, NULL, sig_thread, &sc) == 0)
		pthread_detach(st);
	if (fg) {
		/* Foreground: report to stdout through the same pipe protocol. */
		int r = dup(1);

		close(pfd[1]);
		pfd[1] = r;
	}
	rc = cvmfs_client_run(&cfg, mnt, pfd[1]) < 0 ? 1 : 0;
	if (pfd[0] >= 0)
		close(pfd[0]);
	for (size_t i = 0; i < cfg.npubkeys; i++)
		free((char *)cfg.pubkeys[i]);
	free(pinbuf);
	free(prefbuf);
	free(umap);
	free(gmap);
	if (tls)
		tls_ctx_fini(tls);
	free(tls);
	free(https);
	return rc;
}
