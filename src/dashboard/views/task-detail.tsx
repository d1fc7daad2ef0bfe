/** @jsxImportSource hono/jsx */
// The task detail page. The "live" section is re-rendered on every change of the task (pushed
// over server-sent events by routes/task-pages.tsx); its [data-live-part] children are swapped
// one by one in the browser, only when they changed.
import type { WaitReason } from "../../limit-schemas";
import { isTerminal, type TaskAttempt, type TaskEvent, type TaskRecord } from "../../schemas";
import { JsonView } from "./json-view";
import { DetailHeading, StatusBadge, Time } from "./layout";

export const taskPath = (id: string) => `/dashboard/tasks/${id}`;

/** A queued task held back by flow control: the limit it waits for, in words. */
const WAITING_FOR: Record<WaitReason, string> = {
	concurrency: "a free slot of its type's concurrency limit",
	rate: "its type's rate limit",
	"key-concurrency": "a free slot of its key's concurrency limit",
	"key-rate": "its key's rate limit",
};

export function TaskDetail(props: { record: TaskRecord; alert?: string }) {
	const { record } = props;
	const live = !isTerminal(record.status);
	return (
		<>
			<DetailHeading kind="Task" id={record.id} alert={props.alert} />
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
					{record.waitingFor ? (
						<>
							<dt>Waiting for</dt>
							<dd data-waiting-for={record.waitingFor}>{WAITING_FOR[record.waitingFor]}</dd>
						</>
					) : null}
					<dt>Tags</dt>
					<dd>{record.tags && record.tags.length > 0 ? record.tags.join(", ") : <span class="muted">–</span>}</dd>
					{record.priority !== undefined ? (
						<>
							<dt>Priority</dt>
							<dd>{record.priority}</dd>
						</>
					) : null}
					{record.concurrencyKey !== undefined ? (
						<>
							<dt>Concurrency key</dt>
							<dd class="mono">{record.concurrencyKey}</dd>
						</>
					) : null}
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
			<div data-live-part="history">
				<History attempts={record.attemptHistory} />
			</div>
			<div data-live-part="callback">{record.callback ? <Callback callback={record.callback} /> : null}</div>
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
	const path = taskPath(record.id);
	const canCancel = record.status === "queued" || record.status === "retrying";
	const canRetry = record.status === "failed" || record.status === "cancelled";
	const canDelete = isTerminal(record.status);
	if (!canCancel && !canRetry && !canDelete) return <></>;
	return (
		<div class="actions">
			{canCancel ? (
				<form method="post" action={`${path}/cancel`}>
					<button type="submit" class="danger">
						Cancel task
					</button>
				</form>
			) : null}
			{canRetry ? (
				<form method="post" action={`${path}/retry`}>
					<button type="submit" class="primary">
						Retry task
					</button>
				</form>
			) : null}
			{canDelete ? (
				// A second, explicit step before deleting (no script needed: a disclosure).
				<details class="confirm">
					<summary class="button">Delete…</summary>
					<form method="post" action={`${path}/delete`}>
						<p>The record, payload and result are removed now, for good.</p>
						<button type="submit" class="danger">
							Delete permanently
						</button>
					</form>
				</details>
			) : null}
		</div>
	);
}

function History(props: { attempts: TaskAttempt[] }) {
	if (props.attempts.length === 0) return <></>;
	return (
		<>
			<h2>Attempts</h2>
			<ol class="timeline" aria-label="Attempt history, oldest first">
				{props.attempts.map((attempt) => (
					<li class={`o-${attempt.outcome}`}>
						<strong>Attempt {attempt.attempt}</strong> · <span class="outcome">{attempt.outcome}</span>
						{attempt.durationMs === undefined ? null : <span class="muted"> · {formatDuration(attempt.durationMs)}</span>}
						<br />
						<span class="muted">
							<Time iso={attempt.startedAt} />
							{attempt.finishedAt ? (
								<>
									{" → "}
									<Time iso={attempt.finishedAt} />
								</>
							) : null}
						</span>
						{attempt.error ? (
							<div>
								<strong>{attempt.error.name}</strong>: {attempt.error.message}
							</div>
						) : null}
						{attempt.retryAt ? (
							<div class="muted">
								next attempt due <Time iso={attempt.retryAt} />
							</div>
						) : null}
					</li>
				))}
			</ol>
		</>
	);
}

/** The completion callback: its state and every delivery attempt kept (time, status code, error). */
function Callback(props: { callback: NonNullable<TaskEvent["callback"]> }) {
	const { callback } = props;
	return (
		<>
			<h2>Completion callback</h2>
			<div class="panel">
				<dl class="kv">
					<dt>URL</dt>
					<dd class="mono">{callback.url}</dd>
					<dt>Delivery</dt>
					<dd>
						<span data-callback-state={callback.state}>{callback.state}</span>
						{callback.nextAttemptAt ? (
							<span class="muted">
								{" "}
								· next attempt <Time iso={callback.nextAttemptAt} />
							</span>
						) : null}
					</dd>
				</dl>
			</div>
			{callback.deliveries.length > 0 ? (
				<div class="table-wrap">
					<table id="deliveries">
						<caption class="skip">Delivery attempts, oldest first</caption>
						<thead>
							<tr>
								<th scope="col">Attempt</th>
								<th scope="col">At</th>
								<th scope="col">Status code</th>
								<th scope="col">Error</th>
								<th scope="col">Webhook id</th>
							</tr>
						</thead>
						<tbody>
							{callback.deliveries.map((delivery) => (
								<tr>
									<td>{delivery.attempt}</td>
									<td>
										<Time iso={delivery.at} /> <span class="muted">· {formatDuration(delivery.durationMs)}</span>
									</td>
									<td>{delivery.statusCode ?? <span class="muted">–</span>}</td>
									<td>{delivery.error ?? <span class="muted">–</span>}</td>
									<td class="mono">{delivery.webhookId}</td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			) : null}
		</>
	);
}

function formatDuration(ms: number): string {
	return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
