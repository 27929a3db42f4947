/* SPDX-License-Identifier: MIT */
/* net/url.c: absolute URL parsing for the HTTP client. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

/* see http.h */
int net_url_parse(const char *s, struct net_url *out)
{
	const char *p = strstr(s, "://"), *h, *hend, *pend;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!p || p == s || (size_t)(p - s) >= sizeof(out->scheme))
		return -EINVAL;
	for (n = 0; s + n < p; n++) {
		char ch = s[n];

		if (ch >= 'A' && ch <= 'Z')
			ch += 'a' - 'A';
		if (!((ch >= 'a' && ch <= 'z') || (n > 0 && ch >= '0' && ch <= '9') ||
		      ch == '+' || ch == '-' || ch == '.'))
			return -EINVAL;
		out->scheme[n] = ch;
	}
	h = p + 3;
	pend = h + strcspn(h, "/?#");
	if (memchr(h, '@', pend - h))
		return -EINVAL;		/* no userinfo: never send credentials */
	if (*h == '[') {
		hend = memchr(h, ']', pend - h);
		if (!hend)
			return -EINVAL;
		n = hend - h - 1;
		h++;
		hend++;
	} else {
		hend = memchr(h, ':', pend - h);
		if (!hend)
			hend = pend;
		n = hend - h;
	}
	if (n == 0 || n >= sizeof(out->host))
		return -EINVAL;
	memcpy(out->host, h, n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out->host[i] <= ' ')
			return -EINVAL;
	if (hend < pend) {
		char *end;
		unsigned long port;

		if (*hend != ':' || hend + 1 == pend)
			return -EINVAL;
		port = strtoul(hend + 1, &end, 10);
		if (end != pend || port == 0 || port > 65535 || hend[1] < '0' || hend[1] > '9')
			return -EINVAL;
		out->port = (uint16_t)port;
	}
	n = strcspn(pend, "#");
	if (n + 2 > sizeof(out->path))
		return -EINVAL;
	if (*pend != '/')
		out->path[0] = '/';
	memcpy(out->path + strlen(out->path), pend, n);
	for (size_t i = 0; out->path[i]; i++)
		if ((unsigned char)out->path[i] <= ' ' || out->path[i] == 0x7f)
			return -EINVAL;
	return 0;
}
