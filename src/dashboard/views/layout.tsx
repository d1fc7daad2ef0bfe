/** @jsxImportSource hono/jsx */
// The page shell: head (vendored htmx, the dashboard's own script and stylesheet, all served by
// this Worker under content-hashed URLs), the top navigation and the sign-out button.
import type { Context } from "hono";
import { html } from "hono/html";
import type { Child } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ASSETS } from "../assets/generated";

/**
 * htmx settings read from a meta tag (not from an inline script, which the CSP forbids): no eval,
 * no <script> in swapped content, no injected <style> (CSP style-src 'self'), no history snapshots
 * in localStorage, requests to this origin only.
 */
const HTMX_CONFIG = JSON.stringify({
	allowEval: false,
	allowScriptTags: false,
	includeIndicatorStyles: false,
	historyCacheSize: 0,
	refreshOnHistoryMiss: true,
	selfRequestsOnly: true,
});

export type Section = "overview" | "tasks" | "schedules" | "limits" | "submit" | null;

function Layout(props: { title: string; section: Section; signedIn?: boolean; children: Child }) {
	const signedIn = props.signedIn ?? true;
	const nav = (section: Exclude<Section, null>, href: string, label: string) => (
		<a href={href} aria-current={props.section === section ? "page" : undefined}>
			{label}
		</a>
	);
	return (
		<html lang="en">
			<head>
				<meta charset="utf-8" />
				<meta name="viewport" content="width=device-width, initial-scale=1" />
				<meta name="color-scheme" content="light dark" />
				<meta name="htmx-config" content={HTMX_CONFIG} />
				<title>{`${props.title} · taskflare`}</title>
				<link rel="icon" href={ASSETS["favicon.svg"].path} type="image/svg+xml" />
				<link rel="stylesheet" href={ASSETS["dashboard.css"].path} />
				<script src={ASSETS["htmx.min.js"].path} defer></script>
				<script src={ASSETS["dashboard.js"].path} defer></script>
			</head>
			<body>
				<a class="skip" href="#main">
					Skip to content
				</a>
				<header class="top">
					<a class="brand" href="/dashboard">
						taskflare
					</a>
					{signedIn ? (
						<>
							<nav aria-label="Dashboard">
								{nav("overview", "/dashboard", "Overview")}
								{nav("tasks", "/dashboard/tasks", "Tasks")}
								{nav("schedules", "/dashboard/schedules", "Schedules")}
								{nav("limits", "/dashboard/limits", "Limits")}
								{nav("submit", "/dashboard/submit", "Submit")}
							</nav>
							<form method="post" action="/dashboard/sign-out">
								<button type="submit">Sign out</button>
							</form>
						</>
					) : null}
				</header>
				<main id="main">{props.children}</main>
			</body>
		</html>
	);
}

/** A page's heading: a kind ("Task", "Schedule") and its id, then the alert of a refused action, if any. */
export function DetailHeading(props: { kind: string; id: string; alert?: string }) {
	return (
		<>
			<h1>
				{props.kind} <span class="mono">{props.id}</span>
			</h1>
			{props.alert ? (
				<p class="alert" role="alert">
					{props.alert}
				</p>
			) : null}
		</>
	);
}

export function StatusBadge(props: { status: string }) {
	return <span class={`badge s-${props.status}`}>{props.status}</span>;
}

/** A time as ISO text in a <time> element (readable and exact; no client-side formatting). */
export function Time(props: { iso: string | undefined | null }) {
	if (!props.iso) return <span class="muted">–</span>;
	return <time datetime={props.iso}>{props.iso.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>;
}

/** A whole page (doctype + shell) as the response. */
export function renderPage(
	c: Context,
	options: { title: string; section: Section; status?: ContentfulStatusCode; signedIn?: boolean },
	body: Child,
) {
	const shell = (
		<Layout title={options.title} section={options.section} signedIn={options.signedIn}>
			{body}
		</Layout>
	);
	return c.html(html`<!doctype html>${shell}`, options.status ?? 200);
}
