/* SPDX-License-Identifier: MIT */
/* boot/azure.c: Azure's provisioning data (ovf-env.xml on the attached CD,
 * CustomData as base64 user-data) and the "Ready" health report to the
 * fabric (WireServer: GET the goal state, POST the health of its role
 * instance), which Azure waits for before it calls a VM provisioned. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/context.h"

#define AZ_VERSION_HDR "x-ms-version: 2012-11-30"

/* see context.h */
int boot_xml_text(const char *xml, size_t len, const char *local, const char **text,
		  size_t *tlen)
{
	const char *p = xml, *end = xml + len, *q, *name, *close;
	size_t ll = strlen(local);

	while (p < end && (p = memchr(p, '<', (size_t)(end - p)))) {
		p++;
		if (p >= end || *p == '/' || *p == '?' || *p == '!')
			continue;
		/* the element's name, without a namespace prefix */
		for (q = p, name = p; q < end && *q != '>' && *q != ' ' && *q != '/' &&
		     *q != '\t' && *q != '\r' && *q != '\n'; q++)
			if (*q == ':')
				name = q + 1;
		if ((size_t)(q - name) != ll || memcmp(name, local, ll) != 0)
			continue;
		while (q < end && *q != '>')
			q++;
		if (q >= end)
			return -EBADMSG;
		if (q[-1] == '/') {	/* <CustomData/> */
			*text = q;
			*tlen = 0;
			return 1;
		}
		q++;
		close = q;
		while (close < end && *close != '<')
			close++;
		if (close >= end)
			return -EBADMSG;
		/* trim blanks around the text */
		while (q < close && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t'))
			q++;
		while (close > q && (close[-1] == ' ' || close[-1] == '\n' || close[-1] == '\r' ||
				     close[-1] == '\t'))
			close--;
		*text = q;
		*tlen = (size_t)(close - q);
		return 1;
	}
	return 0;
}

/* see context.h */
ssize_t boot_azure_ovf_parse(char *buf, size_t len, size_t cap)
{
	const char *t;
	size_t tl;
	ssize_t n;
	int rc;

	if (boot_xml_text(buf, len, "ProvisioningSection", &t, &tl) != 1)
		return -EBADMSG;	/* not an ovf-env.xml */
	rc = boot_xml_text(buf, len, "CustomData", &t, &tl);
	if (rc < 0)
		return rc;
	if (rc == 0 || tl == 0)
		return 0;	/* Azure, without custom data */
	memmove(buf, t, tl);
	n = boot_base64_decode(buf, tl, buf, cap);
	return n < 0 ? -EBADMSG : n;
}

static int copy_text(const char *xml, size_t len, const char *local, char *out, size_t cap)
{
	const char *t;
	size_t tl, i;

	if (boot_xml_text(xml, len, local, &t, &tl) != 1 || tl == 0 || tl >= cap)
		return -EBADMSG;
	for (i = 0; i < tl; i++)	/* ids and numbers only: they go into XML again */
		if (t[i] == '<' || t[i] == '&' || t[i] == '>' || (unsigned char)t[i] < ' ')
			return -EBADMSG;
	memcpy(out, t, tl);
	out[tl] = '\0';
	return 0;
}

/* see context.h */
int boot_azure_report_ready(const struct boot_azure_fabric *f, uint64_t deadline_ms,
			    boot_cfg_log_fn log, void *arg)
{
	static const char *const get_hdrs[] = { AZ_VERSION_HDR, NULL };
	static const char *const post_hdrs[] = { AZ_VERSION_HDR,
		"Content-Type: text/xml;charset=utf-8", NULL };
	char gs[16 * 1024], url[128], body[1024], inc[32], cont[128], inst[160];
	size_t len;
	int st, n;

	snprintf(url, sizeof(url), "http://%s/machine/?comp=goalstate", f->host);
	st = f->fetch(f->arg, "GET", url, get_hdrs, gs, sizeof(gs), &len, deadline_ms);
	if (st != 200) {
		boot_cfg_say(log, arg, "azure: goal state from %s: %s %d; not reported ready "
			     "(Azure will time the provisioning out)", f->host,
			     st < 0 ? "error" : "HTTP", st < 0 ? -st : st);
		return st < 0 ? st : -EPROTO;
	}
	if (copy_text(gs, len, "Incarnation", inc, sizeof(inc)) < 0 ||
	    copy_text(gs, len, "ContainerId", cont, sizeof(cont)) < 0 ||
	    copy_text(gs, len, "InstanceId", inst, sizeof(inst)) < 0) {
		boot_cfg_say(log, arg, "azure: the goal state from %s lacks Incarnation, "
			     "ContainerId or InstanceId; not reported ready", f->host);
		return -EBADMSG;
	}
	n = snprintf(body, sizeof(body),
		     "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		     "<Health xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
		     "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n"
		     "  <GoalStateIncarnation>%s</GoalStateIncarnation>\n"
		     "  <Container>\n"
		     "    <ContainerId>%s</ContainerId>\n"
		     "    <RoleInstanceList>\n"
		     "      <Role>\n"
		     "        <InstanceId>%s</InstanceId>\n"
		     "        <Health>\n"
		     "          <State>Ready</State>\n"
		     "        </Health>\n"
		     "      </Role>\n"
		     "    </RoleInstanceList>\n"
		     "  </Container>\n"
		     "</Health>\n", inc, cont, inst);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -ENOSPC;
	snprintf(url, sizeof(url), "http://%s/machine/?comp=health", f->host);
	st = f->post(f->arg, url, post_hdrs, body, (size_t)n, gs, sizeof(gs), &len, deadline_ms);
	if (st < 200 || st > 299) {
		boot_cfg_say(log, arg, "azure: health report to %s: %s %d", f->host,
			     st < 0 ? "error" : "HTTP", st < 0 ? -st : st);
		return st < 0 ? st : -EPROTO;
	}
	boot_cfg_say(log, arg, "azure: reported Ready to %s (incarnation %s, instance %s)",
		     f->host, inc, inst);
	return 0;
}
