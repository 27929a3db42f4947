// SPDX-License-Identifier: MIT
// boot/web/web.js: starts v86 (libv86.js, loaded before this file) on our
// kernel and initramfs, connects its serial port to the page's console, and
// keeps every guest request on this page's origin.
//
// The guest network is v86's "fetch" back-end: an emulated DHCP server and
// gateway (192.168.86.1) that turns the guest's HTTP into fetch() calls; it
// only listens on port 80 and takes the URL from the request line or the
// Host header. So PID 1 uses the gateway as its HTTP proxy and the
// repository's URL names this origin: a proxy request carries the absolute
// URL, which becomes the fetch() of that URL here.
//
// Query parameters (all optional): repo=/PATH (the repository's path on this
// origin, default /cvmfs/@fqrn@), append=WORDS (more kernel command line),
// mtu=N (the guest network's MTU, default 65000).
// window.cvmbootWeb exposes the console for tests: text(), chunks, send(s).
"use strict";

(function () {
	const GATEWAY = "192.168.86.1";
	const params = new URLSearchParams(location.search);
	const MEMORY_MIB = 192;
	const SCRATCH_MIB = 256;
	// v86's TCP sends one segment and waits for the guest's ACK before the
	// next: throughput is one segment per round trip, so segments are large.
	// virtio-net tells the guest this MTU (VIRTIO_NET_F_MTU).
	const MTU = Number(params.get("mtu")) || 4000;
	const con = document.getElementById("console");
	const status = document.getElementById("status");
	const chunks = [];	// [ms since page load, text] as the serial port wrote it
	let text = "";

	function setStatus(s) {
		status.textContent = s;
	}

	// Only this origin: the guest's requests become fetch() calls, and a
	// guest can name any host (a cloud metadata address, say).
	const pageFetch = window.fetch.bind(window);
	window.fetch = function (input, init) {
		const url = new URL(input instanceof Request ? input.url : String(input), location.href);
		if (url.origin !== location.origin) {
			const why = "cvmboot web: refused a request to " + url.origin +
				" (only " + location.origin + " is reachable from this page)";
			console.warn(why);
			return Promise.resolve(new Response(why + "\n",
				{ status: 403, statusText: "Forbidden", headers: { "Content-Type": "text/plain" } }));
		}
		return pageFetch(input, init);
	};

	let repo = params.get("repo") || "/cvmfs/@fqrn@";
	if (!/^\/[A-Za-z0-9._@\/-]*$/.test(repo)) {
		con.textContent = "cvmboot web: repo=" + repo + " is not a path on this origin " +
			"(it must start with / and use only A-Z a-z 0-9 . _ @ / -); using /cvmfs/@fqrn@\n";
		repo = "/cvmfs/@fqrn@";
	}
	const append = params.get("append") || "";
	const cmdline = [
		"console=ttyS0", "quiet", "panic=-1",
		"cvmfs_url=http://" + location.host + repo,
		"cvmfs_proxy=http://" + GATEWAY + ":80",
		"cvmboot.context=none", "cvmboot.geoapi=0",
		append,
	].join(" ").trim();

	// Serial output: a minimal terminal. Escape sequences are dropped, CR is
	// ignored, backspace erases (BusyBox's line editing echoes with them).
	let esc = "";
	function write(s) {
		let out = con.textContent;
		for (const c of s) {
			if (esc) {
				esc += c;
				if (esc.length > 1 && (esc[1] !== "[" || /[@-~]/.test(c) && esc.length > 2))
					esc = "";
				if (esc.length > 32)
					esc = "";
				continue;
			}
			if (c === "\x1b") {
				esc = c;
			} else if (c === "\b") {
				out = out.slice(0, -1);
			} else if (c !== "\r" && c !== "\x07") {
				out += c;
			}
		}
		if (out.length > 400000)
			out = out.slice(-300000);
		con.textContent = out;
		con.scrollTop = con.scrollHeight;
	}

	const emulator = new V86({
		wasm_path: "v86/v86.wasm",
		bios: { url: "bios/seabios.bin" },
		vga_bios: { url: "bios/vgabios.bin" },
		bzimage: { url: "vmlinuz" },
		initrd: { url: "initrd.img" },
		cmdline: cmdline,
		memory_size: MEMORY_MIB << 20,
		vga_memory_size: 2 << 20,
		// The scratch disk: in memory, empty; PID 1 partitions and formats it.
		hda: { buffer: new ArrayBuffer(SCRATCH_MIB << 20) },
		net_device: { type: "virtio", relay_url: "fetch", router_ip: GATEWAY, mtu: MTU },
		disable_keyboard: true,
		disable_mouse: true,
		disable_speaker: true,
		autostart: true,
	});

	let pending = "";
	let flushing = false;
	emulator.add_listener("serial0-output-byte", function (b) {
		pending += String.fromCharCode(b);
		if (!flushing) {
			flushing = true;
			requestAnimationFrame(flush);
			setTimeout(flush, 50);	// a hidden tab gets no frames
		}
	});
	// PID 1 and the OS write UTF-8; bytes are collected and decoded per flush.
	function flush() {
		if (!flushing)
			return;
		flushing = false;
		const bytes = Uint8Array.from(pending, (c) => c.charCodeAt(0));
		pending = "";
		const s = new TextDecoder().decode(bytes);
		chunks.push([performance.now(), s]);
		text += s;
		write(s);
	}
	emulator.add_listener("emulator-ready", () => setStatus("running: click the console and type"));
	emulator.add_listener("download-error", (e) => setStatus("download failed: " + (e && e.file_name)));

	// Typing: printable keys as they are, the usual control keys as a
	// terminal sends them. Pasting works too.
	const KEYS = { Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b",
		ArrowUp: "\x1b[A", ArrowDown: "\x1b[B", ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D" };
	con.addEventListener("keydown", function (e) {
		let s = null;
		if (e.ctrlKey && e.key.length === 1 && /[a-z]/i.test(e.key))
			s = String.fromCharCode(e.key.toUpperCase().charCodeAt(0) - 64);
		else if (KEYS[e.key])
			s = KEYS[e.key];
		else if (e.key.length === 1 && !e.ctrlKey && !e.metaKey)
			s = e.key;
		if (s !== null) {
			e.preventDefault();
			emulator.serial0_send(s);
		}
	});
	con.addEventListener("paste", function (e) {
		e.preventDefault();
		emulator.serial0_send(e.clipboardData.getData("text").replace(/\n/g, "\r"));
	});
	con.focus();

	window.cvmbootWeb = {
		cmdline: cmdline,
		chunks: chunks,
		text: () => text,
		send: (s) => emulator.serial0_send(s),
		emulator: emulator,
	};
})();
