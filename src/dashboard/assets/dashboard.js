// taskflare dashboard: the little behaviour htmx does not cover. Served from the Worker as a file
// (CSP script-src 'self'): no eval, no inline handlers, nothing stored in the browser.
// Edit this file, then run `npm run dashboard:assets` (CI checks the generated module is current).
(function () {
	"use strict";
	/* global htmx */

	// 1. Nothing is polled while the tab is hidden. htmx's "every 2s" timers keep ticking, but the
	//    requests of polling elements ([data-poll]) are cancelled; when the tab shows again they are
	//    refreshed at once (hx-trigger includes "tf:refresh").
	document.addEventListener("htmx:beforeRequest", function (event) {
		var elt = event.detail && event.detail.elt;
		if (document.hidden && elt && elt.hasAttribute("data-poll")) event.preventDefault();
	});

	// 2. Live panels ([data-live-events]): an EventSource of server-rendered HTML fragments for a
	//    task. Each fragment's [data-live-part] children replace the page's only when they changed,
	//    so a focused button keeps its focus while progress ticks. Closed while the tab is hidden.
	var streams = [];

	function applyFragment(panel, html) {
		var template = document.createElement("template");
		template.innerHTML = html;
		var parts = template.content.querySelectorAll("[data-live-part]");
		for (var i = 0; i < parts.length; i++) {
			var fresh = parts[i];
			var current = panel.querySelector('[data-live-part="' + fresh.getAttribute("data-live-part") + '"]');
			if (!current) continue;
			if (current.outerHTML === fresh.outerHTML) continue;
			current.replaceWith(fresh);
			if (window.htmx) htmx.process(fresh);
		}
	}

	function openStreams() {
		// Streams of panels no longer in the page (swapped out) are closed first.
		streams = streams.filter(function (stream) {
			if (document.body.contains(stream.panel)) return true;
			stream.source.close();
			return false;
		});
		var panels = document.querySelectorAll("[data-live-events]");
		for (var i = 0; i < panels.length; i++) {
			(function (panel) {
				if (panel.getAttribute("data-live-done") === "true") return;
				for (var j = 0; j < streams.length; j++) if (streams[j].panel === panel) return;
				var source = new EventSource(panel.getAttribute("data-live-events"));
				source.addEventListener("live", function (event) {
					applyFragment(panel, event.data);
				});
				// Sent after the final state: stop, or EventSource would reconnect.
				source.addEventListener("end", function () {
					source.close();
					panel.setAttribute("data-live-done", "true");
				});
				streams.push({ panel: panel, source: source });
			})(panels[i]);
		}
	}

	function closeStreams() {
		for (var i = 0; i < streams.length; i++) streams[i].source.close();
		streams = [];
	}

	document.addEventListener("visibilitychange", function () {
		if (document.hidden) {
			closeStreams();
			return;
		}
		var polled = document.querySelectorAll("[data-poll]");
		for (var i = 0; i < polled.length; i++) htmx.trigger(polled[i], "tf:refresh");
		openStreams();
	});

	// A panel swapped in by htmx (e.g. after "retry") may start a new live stream.
	document.addEventListener("htmx:afterSettle", function () {
		if (!document.hidden) openStreams();
	});

	if (document.readyState === "loading") {
		document.addEventListener("DOMContentLoaded", function () {
			if (!document.hidden) openStreams();
		});
	} else if (!document.hidden) {
		openStreams();
	}
})();
