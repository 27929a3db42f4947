/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/log.c: the client's log lines (monotonic time stamp, one
 * write per line so that threads do not interleave). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

/* see internal.h */
void cvmfs_log(const struct cvmfs_client *c, const char *fmt, ...)
{
	char buf[1024];
	struct timespec ts;
	va_list ap;
	unsigned i;
	int n;

	if (!c || (c->log_fd < 0 && !c->nlog_more))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(buf, sizeof(buf), "[%5ld.%03ld] cvmfs-lite: ", (long)ts.tv_sec,
		     ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (c->log_fd >= 0)
		(void)!write(c->log_fd, buf, n);
	for (i = 0; i < c->nlog_more; i++)
		(void)!write(c->log_more[i], buf, n);
}
