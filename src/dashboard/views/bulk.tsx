/** @jsxImportSource hono/jsx */
// Bulk actions: a confirmation naming how many tasks the filter matches, then the operation's
// progress, re-fetched every second while it runs (the work happens in its Durable Object).
import type { BulkAction, OperationRecord, TaskFilter } from "../../schemas";
import { filterSearch } from "../task-filter";

const BULK_LABELS: Record<BulkAction, { verb: string; statuses: string }> = {
	retry: { verb: "Retry", statuses: "failed or cancelled" },
	cancel: { verb: "Cancel", statuses: "queued or retrying" },
	delete: { verb: "Delete", statuses: "succeeded, failed or cancelled" },
};

export function BulkConfirm(props: { action: BulkAction; filter: TaskFilter; count: number; capped: boolean }) {
	const { action, filter, count } = props;
	const label = BULK_LABELS[action];
	const search = filterSearch(filter);
	const described = describeFilter(filter);
	return (
		<div class="panel" role="region" aria-label="Confirm bulk action">
			{count === 0 ? (
				<p>
					No {label.statuses} task matches {described}. <a href={`/dashboard/tasks${search ? `?${search}` : ""}`}>Back</a>
				</p>
			) : (
				<form method="post" action="/dashboard/bulk" hx-post="/dashboard/bulk" hx-target="#bulk" hx-swap="innerHTML">
					<p>
						<strong data-match-count={String(count)}>
							{label.verb} {count.toLocaleString("en-US")}
							{props.capped ? "+" : ""} task{count === 1 ? "" : "s"}
						</strong>{" "}
						({label.statuses}) matching {described}? This runs in the background.
					</p>
					<input type="hidden" name="action" value={action} />
					{(filter.status ?? []).map((status) => (
						<input type="hidden" name="status" value={status} />
					))}
					{filter.type ? <input type="hidden" name="type" value={filter.type} /> : null}
					{filter.tag ? <input type="hidden" name="tag" value={filter.tag} /> : null}
					{filter.createdAfter ? <input type="hidden" name="createdAfter" value={filter.createdAfter} /> : null}
					{filter.createdBefore ? <input type="hidden" name="createdBefore" value={filter.createdBefore} /> : null}
					<div class="actions">
						<button type="submit" class={action === "delete" ? "danger" : "primary"} autofocus>
							{label.verb} {count.toLocaleString("en-US")}
							{props.capped ? "+" : ""}
						</button>
						<a class="button" href={`/dashboard/tasks${search ? `?${search}` : ""}`}>
							Not now
						</a>
					</div>
				</form>
			)}
		</div>
	);
}

export function OperationProgress(props: { operation: OperationRecord }) {
	const { operation } = props;
	const running = operation.state === "running";
	const handled = operation.done + operation.skipped + operation.failed;
	const label = BULK_LABELS[operation.action];
	const polling = running
		? { "hx-get": `/dashboard/operations/${operation.id}`, "hx-trigger": "every 1s, tf:refresh", "hx-swap": "outerHTML", "data-poll": "" }
		: {};
	return (
		<div class="panel" id="operation" data-operation-state={operation.state} role="status" aria-live="polite" {...polling}>
			<p>
				<strong>
					{label.verb}: {operation.state}
				</strong>{" "}
				· {handled.toLocaleString("en-US")} of {operation.matched.toLocaleString("en-US")} handled
			</p>
			<progress max={Math.max(1, operation.matched)} value={handled} aria-label="Bulk progress">
				{`${handled}/${operation.matched}`}
			</progress>
			<p class="muted" data-operation-counts="">
				done {operation.done} · skipped {operation.skipped} · failed {operation.failed}
				{operation.error ? ` · ${operation.error}` : ""}
			</p>
			{operation.state === "cancelled" ? <p class="muted">Stopped: the tasks it had not reached were left as they were.</p> : null}
			{running ? (
				<form method="post" action={`/dashboard/operations/${operation.id}/cancel`} class="actions">
					<button type="submit" class="danger">
						Stop
					</button>
				</form>
			) : (
				<p>
					<a href="">Reload the list</a>
				</p>
			)}
		</div>
	);
}

function describeFilter(filter: TaskFilter): string {
	const parts: string[] = [];
	if (filter.status?.length) parts.push(`status ${filter.status.join(" or ")}`);
	if (filter.type) parts.push(`type ${filter.type}`);
	if (filter.tag) parts.push(`tag ${filter.tag}`);
	if (filter.createdAfter) parts.push(`created from ${filter.createdAfter}`);
	if (filter.createdBefore) parts.push(`created before ${filter.createdBefore}`);
	return parts.length === 0 ? "all tasks" : `the filter (${parts.join(", ")})`;
}
