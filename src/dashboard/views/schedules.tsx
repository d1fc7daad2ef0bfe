/** @jsxImportSource hono/jsx */
// The schedule pages: the list (one directory page, each row with its state and next fire) and a
// schedule's detail (settings, next fires, last runs with their tasks, pause/resume, trigger now).
import type { Schedule, ScheduleDetail } from "../../schedule-schemas";
import { JsonView } from "./json-view";
import { DetailHeading, StatusBadge, Time } from "./layout";
import { taskPath } from "./task-detail";

export const schedulePath = (id: string) => `/dashboard/schedules/${encodeURIComponent(id)}`;

/** One row of the list: the configuration plus what only the schedule's object knows. */
export type ScheduleRow = { schedule: Schedule; state: ScheduleDetail["state"] | null; nextFire: string | null };

function Cadence(props: { schedule: Schedule }) {
	const { schedule } = props;
	if (schedule.cron !== undefined) {
		return (
			<>
				<code>{schedule.cron}</code> <span class="muted">{schedule.timezone ?? "UTC"}</span>
			</>
		);
	}
	return <>every {schedule.every ?? "?"} s</>;
}

export function ScheduleList(props: { rows: ScheduleRow[]; nextAfter: string | null }) {
	return (
		<>
			<h1>Schedules</h1>
			<div class="table-wrap">
				<table>
					<caption class="skip">Schedules, by id</caption>
					<thead>
						<tr>
							<th scope="col">Schedule</th>
							<th scope="col">Cadence</th>
							<th scope="col">Task type</th>
							<th scope="col">State</th>
							<th scope="col">Next fire</th>
						</tr>
					</thead>
					<tbody>
						{props.rows.length === 0 ? (
							<tr>
								<td colspan={5} class="muted">
									No schedules yet. Create one with <code>POST /v1/schedules</code>.
								</td>
							</tr>
						) : (
							props.rows.map(({ schedule, state, nextFire }) => (
								<tr data-schedule-id={schedule.id}>
									<td class="id">
										<a href={schedulePath(schedule.id)} class="mono">
											{schedule.id}
										</a>
									</td>
									<td>
										<Cadence schedule={schedule} />
									</td>
									<td>{schedule.task.type}</td>
									<td>{state === null ? <span class="muted">–</span> : <StatusBadge status={state} />}</td>
									<td>
										<Time iso={nextFire} />
									</td>
								</tr>
							))
						)}
					</tbody>
				</table>
			</div>
			{props.nextAfter === null ? null : (
				<nav class="pager" aria-label="Pages">
					<a href="/dashboard/schedules">First page</a>
					<a href={`/dashboard/schedules?after=${encodeURIComponent(props.nextAfter)}`}>Next page</a>
				</nav>
			)}
		</>
	);
}

export function ScheduleDetailView(props: { detail: ScheduleDetail; alert?: string }) {
	const { detail } = props;
	const path = schedulePath(detail.id);
	return (
		<>
			<DetailHeading kind="Schedule" id={detail.id} alert={props.alert} />
			<div class="panel">
				<dl class="kv">
					<dt>State</dt>
					<dd>
						<StatusBadge status={detail.state} />
					</dd>
					<dt>Cadence</dt>
					<dd>
						<Cadence schedule={detail} />
					</dd>
					<dt>Task type</dt>
					<dd>{detail.task.type}</dd>
					<dt>Max attempts</dt>
					<dd>{detail.task.maxAttempts ?? <span class="muted">type default</span>}</dd>
					<dt>Tags</dt>
					<dd>{detail.task.tags && detail.task.tags.length > 0 ? detail.task.tags.join(", ") : <span class="muted">–</span>}</dd>
					{detail.task.priority !== undefined ? (
						<>
							<dt>Priority</dt>
							<dd>{detail.task.priority}</dd>
						</>
					) : null}
					{detail.task.concurrencyKey !== undefined ? (
						<>
							<dt>Concurrency key</dt>
							<dd class="mono">{detail.task.concurrencyKey}</dd>
						</>
					) : null}
					<dt>Starts</dt>
					<dd>
						<Time iso={detail.startAt} />
					</dd>
					<dt>Ends</dt>
					<dd>
						<Time iso={detail.endAt} />
					</dd>
					<dt>Overlap</dt>
					<dd>{detail.overlap}</dd>
					<dt>Catch-up</dt>
					<dd>{detail.catchUp}</dd>
					<dt>Fires so far</dt>
					<dd>
						{detail.counts.submitted} submitted, {detail.counts.skipped} skipped, {detail.counts.missed} missed
					</dd>
					<dt>Created</dt>
					<dd>
						<Time iso={detail.createdAt} />
					</dd>
					<dt>Updated</dt>
					<dd>
						<Time iso={detail.updatedAt} />
					</dd>
				</dl>
			</div>
			<div class="actions">
				{detail.paused ? (
					<form method="post" action={`${path}/resume`}>
						<button type="submit" class="primary">
							Resume
						</button>
					</form>
				) : (
					<form method="post" action={`${path}/pause`}>
						<button type="submit">Pause</button>
					</form>
				)}
				<form method="post" action={`${path}/trigger`}>
					<button type="submit">Trigger now</button>
				</form>
			</div>
			<h2>Next fires</h2>
			{detail.nextFires.length === 0 ? (
				<p class="muted">None: the schedule is {detail.state}.</p>
			) : (
				<ol id="next-fires">
					{detail.nextFires.map((iso) => (
						<li>
							<Time iso={iso} />
						</li>
					))}
				</ol>
			)}
			<h2>Last runs</h2>
			<div class="table-wrap">
				<table id="runs">
					<caption class="skip">The last 20 runs, newest first</caption>
					<thead>
						<tr>
							<th scope="col">Fire time</th>
							<th scope="col">Trigger</th>
							<th scope="col">Outcome</th>
							<th scope="col">Task</th>
							<th scope="col">Task status</th>
						</tr>
					</thead>
					<tbody>
						{detail.runs.length === 0 ? (
							<tr>
								<td colspan={5} class="muted">
									No runs yet.
								</td>
							</tr>
						) : (
							detail.runs.map((run) => (
								<tr>
									<td>
										<Time iso={run.scheduledFor} />
									</td>
									<td>{run.trigger}</td>
									<td>
										{run.outcome}
										{run.missedFires === undefined ? null : <span class="muted"> ({run.missedFires} fires)</span>}
										{run.error === undefined ? null : <div class="muted">{run.error}</div>}
									</td>
									<td class="id">
										{run.taskId === undefined ? (
											<span class="muted">–</span>
										) : (
											<a href={taskPath(run.taskId)} class="mono">
												{run.taskId.slice(0, 8)}…
											</a>
										)}
									</td>
									<td>
										{run.status === undefined ? (
											<span class="muted">{run.taskId === undefined ? "–" : "expired"}</span>
										) : (
											<StatusBadge status={run.status} />
										)}
									</td>
								</tr>
							))
						)}
					</tbody>
				</table>
			</div>
			<h2>Payload</h2>
			<JsonView value={detail.task.payload} label="Payload" />
		</>
	);
}
