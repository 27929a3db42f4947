/* SPDX-License-Identifier: MIT */
/* fuzz_http_head: the pure HTTP codecs: net_http_head_parse on the input as
 * a response head, net_http_chunk_size_parse on its first line, and
 * net_url_parse on it as a URL (e.g. a Location header or a server list). */
#include "tests/fuzz/fuzz.h"
#include "net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct net_http_head h;
	enum net_http_why why = NET_HTTP_WHY_NONE;
	static struct net_url u;
	uint64_t size;
	char *buf;
	const char *eol;

	if (n > NET_HTTP_HEAD_MAX + 16)
		return 0;
	buf = malloc(n ? n : 1);	/* exactly n bytes: no NUL to lean on */
	memcpy(buf, d, n);
	memset(&h, 0, sizeof(h));
	if (net_http_head_parse(buf, n, &h, &why) == 0 &&
	    (h.status < 100 || h.status > 599 || h.content_length < -1))
		abort();	/* the header contract: 100..599, length -1 or >= 0 */
	eol = memchr(buf, '\n', n);
	net_http_chunk_size_parse(buf, eol ? (size_t)(eol - buf) : n, &size);
	free(buf);
	buf = fuzz_strdup(d, n);
	net_url_parse(buf, &u);
	free(buf);
	return 0;
}
