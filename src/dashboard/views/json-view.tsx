/** @jsxImportSource hono/jsx */
// Readable, collapsible JSON that never freezes the page: the server renders at most NODE_BUDGET
// values (objects and arrays as nested <details>, long strings cut), so a 1 MiB payload costs a
// few kilobytes of HTML. When something was cut, "Show all" fetches the whole value as
// pretty-printed text (one <pre>, which browsers lay out quickly whatever its size).
import type { Child } from "hono/jsx";

/** Values rendered before the rest is cut. */
const NODE_BUDGET = 300;
/** Characters of a string shown before it is cut. */
const STRING_CHARS = 240;
/** Levels open by default. */
const OPEN_LEVELS = 2;

type Budget = { left: number; cut: boolean };

export function JsonView(props: { value: unknown; showAllUrl?: string; label: string }) {
	const budget: Budget = { left: NODE_BUDGET, cut: false };
	const tree = renderValue(props.value, 0, budget);
	return (
		<div class="json" role="group" aria-label={props.label}>
			{tree}
			{budget.cut && props.showAllUrl ? (
				<p>
					<span class="cut">Large value: parts are cut. </span>
					<button type="button" hx-get={props.showAllUrl} hx-target="closest .json" hx-swap="outerHTML" data-show-all="">
						Show all
					</button>{" "}
					<a href={`${props.showAllUrl}?download=1`}>Download</a>
				</p>
			) : null}
		</div>
	);
}

/** The whole value, pretty-printed (what "Show all" loads). */
export function JsonFull(props: { text: string; label: string }) {
	return (
		<div class="json" role="group" aria-label={props.label}>
			<pre tabindex={0}>{props.text}</pre>
		</div>
	);
}

function renderValue(value: unknown, depth: number, budget: Budget): Child {
	budget.left--;
	if (value === null) return <span class="lit">null</span>;
	if (typeof value === "string") {
		if (value.length <= STRING_CHARS) return <span class="str">{JSON.stringify(value)}</span>;
		budget.cut = true;
		return (
			<span class="str">
				{JSON.stringify(value.slice(0, STRING_CHARS))}
				<span class="cut"> … {value.length - STRING_CHARS} more characters</span>
			</span>
		);
	}
	if (typeof value === "number") return <span class="num">{String(value)}</span>;
	if (typeof value === "boolean") return <span class="lit">{String(value)}</span>;
	if (Array.isArray(value)) {
		return container("[", "]", `${value.length} item${value.length === 1 ? "" : "s"}`, value.entries(), value.length, depth, budget, false);
	}
	if (typeof value === "object") {
		const entries = Object.entries(value);
		return container(
			"{",
			"}",
			`${entries.length} key${entries.length === 1 ? "" : "s"}`,
			entries.values(),
			entries.length,
			depth,
			budget,
			true,
		);
	}
	// Not reachable for parsed JSON; shown rather than dropped.
	return <span class="lit">{typeof value}</span>;
}

function container(
	open: string,
	close: string,
	summary: string,
	entries: Iterable<[number | string, unknown]>,
	size: number,
	depth: number,
	budget: Budget,
	keyed: boolean,
): Child {
	if (size === 0) return <span>{`${open}${close}`}</span>;
	const rows: Child[] = [];
	let shown = 0;
	for (const [key, item] of entries) {
		if (budget.left <= 0) break;
		rows.push(
			<div class="row">
				{keyed ? <span class="k">{JSON.stringify(key)}</span> : <span class="muted">{String(key)}</span>}
				{": "}
				{renderValue(item, depth + 1, budget)}
			</div>,
		);
		shown++;
	}
	if (shown < size) {
		budget.cut = true;
		rows.push(<div class="cut">… {size - shown} more</div>);
	}
	return (
		<details open={depth < OPEN_LEVELS}>
			<summary>
				{open} <span class="muted">{summary}</span> {close}
			</summary>
			{rows}
		</details>
	);
}

/** Pretty-printed JSON text; the stored text itself if the value is too deep to re-print. */
export function prettyJson(value: unknown, rawText: string): string {
	try {
		return JSON.stringify(value, null, 2) ?? rawText;
	} catch {
		return rawText;
	}
}
