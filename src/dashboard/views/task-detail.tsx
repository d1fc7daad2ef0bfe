/** @jsxImportSource hono/jsx */
// The task detail page. The "live" section is re-rendered on every change of the task (pushed
// over server-sent events by routes/task-pages.tsx); its [data-live-part] children are swapped
// one by one in the browser, only when they changed.
import { isTerminal, type TaskEvent, type TaskRecord } from "../../schemas";
import { JsonView } from "./json-view";
import { StatusBadge, Time } from "./layout";

export const taskPath = (id: string) => `/dashboard/tasks/${id}`;

export function TaskDetail(props: { record: TaskRecord; alert?: string }) {
	const { record } = props;
	const live = !isTerminal(record.status);
	return (
		<>
			<h1>
				Task <span class="mono">{record.id}</span>
			</h1>
			{props.alert ? (
				<p class="alert" role="alert">
					{props.alert}
				</p>
			) : null}
			<section id="live" aria-live="polite" data-live-events={live ? `${taskPath(record.id)}/live` : undefined}>
				<LiveParts record={record} />
			</section>
			<h2>Payload</h2>
			<JsonView value={record.payload} label="Payload" showAllUrl={`${taskPath(record.id)}/json/payload`} />
		</>
	);
}

/** The parts of the page that change while a task runs. */
export function LiveParts(props: { record: TaskEvent }) {
	const { record } = props;
	return (
		<>
			<div class="panel" data-live-part="status">
				<dl class="kv">
					<dt>Type</dt>
					<dd>{record.type}</dd>
					<dt>Status</dt>
					<dd>
						<StatusBadge status={record.status} />
					</dd>
					<dt>Progress</dt>
					<dd>
						<Progress value={record.progress} />
					</dd>
					<dt>Tags</dt>
					<dd>{record.tags && record.tags.length > 0 ? record.tags.join(", ") : <span class="muted">–</span>}</dd>
					<dt>Attempts</dt>
					<dd>
						{record.attempts} of {record.maxAttempts}
					</dd>
					<dt>Created</dt>
					<dd>
						<Time iso={record.createdAt} />
					</dd>
					{record.runAt ? (
						<>
							<dt>Runs at</dt>
							<dd>
								<Time iso={record.runAt} />
							</dd>
						</>
					) : null}
					<dt>Started</dt>
					<dd>
						<Time iso={record.startedAt} />
					</dd>
					<dt>Finished</dt>
					<dd>
						<Time iso={record.finishedAt} />
					</dd>
					<dt>Updated</dt>
					<dd>
						<Time iso={record.updatedAt} />
					</dd>
				</dl>
			</div>
			<div data-live-part="actions">
				<Actions record={record} />
			</div>
			<div data-live-part="outcome">
				{record.error ? (
					<>
						<h2>Error</h2>
						<div class="panel">
							<strong>{record.error.name}</strong>: <span>{record.error.message}</span>
						</div>
					</>
				) : null}
				{record.status === "succeeded" ? (
					<>
						<h2>Result</h2>
						<JsonView value={record.result ?? null} label="Result" showAllUrl={`${taskPath(record.id)}/json/result`} />
					</>
				) : null}
			</div>
		</>
	);
}

function Progress(props: { value: TaskEvent["progress"] }) {
	const { value } = props;
	if (value === undefined) return <span class="muted">–</span>;
	if (typeof value === "number") {
		const percent = Math.max(0, Math.min(100, value));
		return (
			<>
				<progress max={100} value={percent} aria-label="Progress">
					{`${percent}%`}
				</progress>{" "}
				<span data-progress={String(percent)}>{`${Math.round(percent)}%`}</span>
			</>
		);
	}
	return <JsonView value={value} label="Progress" />;
}

function Actions(props: { record: TaskEvent }) {
	const { record } = props;
	const canCancel = record.status === "queued" || record.status === "retrying";
	if (!canCancel) return <></>;
	return (
		<div class="actions">
			<form method="post" action={`${taskPath(record.id)}/cancel`}>
				<button type="submit" class="danger">
					Cancel task
				</button>
			</form>
		</div>
	);
}
