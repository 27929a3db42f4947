// SPDX-License-Identifier: MIT
// tests/web/browser.mjs: drives a real headless Chromium (Debian's, through
// playwright-core from npm, pinned in boot/web/package-lock.json) through the
// web flavour's page, and prints one JSON object on stdout: seconds from page
// load to each awaited console text, what the page transferred, the console.
// Used by tests/web/test_web.py and tests/bench/bench_web.py.
//
//   node tests/web/browser.mjs --modules DIR --url URL --json-out F
//        [--wait REGEX]... [--type TEXT --expect REGEX]... [--screenshot F]
//        [--fail REGEX] [--timeout S]
//
// Each --wait REGEX is awaited in turn on the page's console (the guest's
// serial port), each within --timeout seconds of page load. Then each --type
// TEXT is typed into the console (followed by Enter) and its --expect REGEX
// awaited on the console output that follows. --fail REGEX (e.g. PID 1's
// "hint:" line) ends a wait at once when the console shows it. On a
// timeout or a --fail match it exits 1 after
// writing the JSON (with "failed" saying what was awaited) and the console.
// Chromium reaches nothing but 127.0.0.1: every host name resolves to nothing
// except 127.0.0.1, no proxy, no background networking.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

function args(argv) {
	const a = { wait: [], type: [], expect: [], timeout: 120, fail: "(?!)" };
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i].replace(/^--/, "").replace(/-/g, "_"), v = argv[i + 1];
		if (v === undefined)
			throw new Error("browser.mjs: " + argv[i] + " needs a value");
		if (Array.isArray(a[k]))
			a[k].push(v);
		else
			a[k] = v;
	}
	for (const k of ["modules", "url", "json_out"])
		if (!a[k])
			throw new Error("browser.mjs: --" + k.replace(/_/g, "-") + " is required");
	if (a.type.length !== a.expect.length)
		throw new Error("browser.mjs: one --expect per --type");
	a.timeout = Number(a.timeout);
	return a;
}

const CHROMIUM_ARGS = [
	"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
	"--no-proxy-server",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-domain-reliability",
	"--disable-client-side-phishing-detection",
	"--disable-default-apps",
	"--disable-extensions",
	"--no-first-run",
	"--no-default-browser-check",
	"--metrics-recording-only",
	"--disable-breakpad",
	"--safebrowsing-disable-auto-update",
	"--no-sandbox",	// runs as root in the test container
];

// Seconds since page load at which the console first matched re (from the
// page's time-stamped chunks), or null.
function firstMatch(chunks, re, from) {
	let text = "";
	for (const [t, s] of chunks) {
		text += s;
		if (text.length > from && re.test(text.slice(from)))
			return t / 1000;
	}
	return null;
}

async function main() {
	const a = args(process.argv.slice(2));
	const require = createRequire(path.join(path.resolve(a.modules), "x.js"));
	const { chromium } = require("playwright-core");
	const out = { url: a.url, waits: [], typed: [], console: "", page_log: [], failed: null };
	const t_start = Date.now();
	const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
		headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
	let page;
	try {
		const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
		page = await context.newPage();
		page.on("console", (m) => out.page_log.push(m.type() + ": " + m.text()));
		page.on("pageerror", (e) => out.page_log.push("pageerror: " + e.message));
		const origins = new Set();
		page.on("request", (r) => origins.add(new URL(r.url()).origin));
		await page.goto(a.url, { waitUntil: "load", timeout: 60000 });
		const deadline = t_start + a.timeout * 1000;
		const remaining = () => Math.max(1000, deadline - Date.now());
		const text = () => page.evaluate(() => window.cvmbootWeb ? window.cvmbootWeb.text() : "");

		for (const w of a.wait) {
			const re = new RegExp(w);
			try {
				await page.waitForFunction(([src, bad]) => window.cvmbootWeb &&
					(new RegExp(src).test(window.cvmbootWeb.text()) ||
					 new RegExp(bad).test(window.cvmbootWeb.text())), [w, a.fail],
					{ timeout: remaining(), polling: 100 });
			} catch (e) {
				out.failed = "the console never showed /" + w + "/ within " + a.timeout + " s of page load";
				break;
			}
			if (!re.test(await text())) {
				out.failed = "the console showed /" + a.fail + "/ while waiting for /" + w + "/";
				break;
			}
			const chunks = await page.evaluate(() => window.cvmbootWeb.chunks);
			out.waits.push({ regex: w, s: firstMatch(chunks, re, 0) });
		}
		for (let i = 0; !out.failed && i < a.type.length; i++) {
			const from = (await text()).length;
			await page.click("#console");
			await page.keyboard.type(a.type[i], { delay: 5 });
			await page.keyboard.press("Enter");
			try {
				await page.waitForFunction(([src, n]) =>
					new RegExp(src).test(window.cvmbootWeb.text().slice(n)), [a.expect[i], from],
					{ timeout: 30000, polling: 100 });
				out.typed.push({ text: a.type[i], output: (await text()).slice(from) });
			} catch (e) {
				out.failed = "after typing '" + a.type[i] + "', the console never showed /" +
					a.expect[i] + "/ within 30 s";
			}
		}
		// What the page transferred: the document and every resource,
		// the guest's fetch() calls included (Resource Timing).
		out.transfer = await page.evaluate(() => {
			const e = performance.getEntriesByType("navigation").concat(
				performance.getEntriesByType("resource"));
			return { requests: e.length,
				bytes: e.reduce((n, x) => n + (x.transferSize || x.encodedBodySize || 0), 0),
				each: e.map((x) => ({ name: x.name, start_s: x.startTime / 1000,
					end_s: x.responseEnd / 1000, bytes: x.transferSize || x.encodedBodySize || 0 })) };
		});
		out.origins = [...origins];
		out.cmdline = await page.evaluate(() => window.cvmbootWeb && window.cvmbootWeb.cmdline);
		out.console = await text();
		if (a.screenshot) {
			fs.mkdirSync(path.dirname(a.screenshot), { recursive: true });
			await page.screenshot({ path: a.screenshot });
		}
	} catch (e) {
		out.failed = out.failed || "browser: " + (e.stack || e);
		if (page)
			out.console = await page.evaluate(() => window.cvmbootWeb ?
				window.cvmbootWeb.text() : "").catch(() => out.console);
	} finally {
		await browser.close();
	}
	fs.writeFileSync(a.json_out, JSON.stringify(out, null, 1));
	if (out.failed) {
		process.stderr.write("browser.mjs: " + out.failed + "\n--- page console (serial), last 4000 chars:\n" +
			out.console.slice(-4000) + "\n--- page's own log:\n" + out.page_log.slice(-40).join("\n") + "\n");
		process.exit(1);
	}
}

main().catch((e) => { process.stderr.write("browser.mjs: " + (e.stack || e) + "\n"); process.exit(2); });
