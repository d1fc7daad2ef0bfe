/** @jsxImportSource hono/jsx */
// The overview: counts per status and type, the queues' backlogs, and tasks created / succeeded /
// failed per minute over the last hour as a small SVG chart drawn on the server (no chart library,
// no script). The live part is re-fetched every 2 s by htmx while the tab is visible.
import type { QueueBacklog, TaskStats } from "../../schemas";
import { TaskStatus } from "../../schemas";

type MinuteStats = TaskStats["lastHour"][number];

const OVERVIEW_LIVE_PATH = "/dashboard/overview/live";

export function Overview(props: { stats: TaskStats }) {
	return (
		<>
			<h1>Overview</h1>
			<div id="overview-live" hx-get={OVERVIEW_LIVE_PATH} hx-trigger="every 2s, tf:refresh" hx-swap="innerHTML" data-poll="">
				<OverviewLive stats={props.stats} />
			</div>
		</>
	);
}

export function OverviewLive(props: { stats: TaskStats }) {
	const { stats } = props;
	const types = Object.entries(stats.byType).sort(([a], [b]) => a.localeCompare(b));
	return (
		<>
			<h2>Tasks by status</h2>
			<div class="grid" data-testid="status-counts">
				{TaskStatus.options.map((status) => (
					<div class="stat">
						<a href={`/dashboard/tasks?status=${status}`} id={`count-${status}`}>
							<span class="n" data-count={status}>
								{stats.byStatus[status].toLocaleString("en-US")}
							</span>
							<span class={`badge s-${status}`}>{status}</span>
						</a>
					</div>
				))}
			</div>
			<h2>Queues</h2>
			<div class="grid">
				<Backlog title="Task queue" backlog={stats.queues.tasks} id="queue-tasks" />
				<Backlog title="Dead-letter queue" backlog={stats.queues.deadLetter} id="queue-dlq" />
			</div>
			<h2>Last hour, per minute</h2>
			<Chart minutes={stats.lastHour} />
			<h2>By type</h2>
			<div class="table-wrap">
				<table>
					<thead>
						<tr>
							<th scope="col">Type</th>
							{TaskStatus.options.map((status) => (
								<th scope="col">{status}</th>
							))}
						</tr>
					</thead>
					<tbody>
						{types.length === 0 ? (
							<tr>
								<td colspan={TaskStatus.options.length + 1} class="muted">
									No tasks yet.
								</td>
							</tr>
						) : (
							types.map(([type, counts]) => (
								<tr>
									<th scope="row">
										<a href={`/dashboard/tasks?type=${encodeURIComponent(type)}`} id={`type-${type}`}>
											{type}
										</a>
									</th>
									{TaskStatus.options.map((status) => (
										<td>{counts[status].toLocaleString("en-US")}</td>
									))}
								</tr>
							))
						)}
					</tbody>
				</table>
			</div>
			<p class="muted">
				Updated <time datetime={stats.generatedAt}>{stats.generatedAt.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>. Finished tasks are
				counted while their record is kept ({Math.round(stats.retentionSeconds / 3600)} h).
			</p>
		</>
	);
}

function Backlog(props: { title: string; backlog: QueueBacklog | null; id: string }) {
	const { backlog } = props;
	return (
		<div class="stat" id={props.id}>
			<strong>{props.title}</strong>
			{backlog === null ? (
				<p class="muted">Backlog unavailable.</p>
			) : (
				<>
					<span class="n" data-backlog={props.id}>
						{backlog.backlogCount.toLocaleString("en-US")}
					</span>
					<span class="muted">
						messages · {formatBytes(backlog.backlogBytes)} · oldest{" "}
						{backlog.oldestMessageAgeSeconds === null ? "–" : formatAge(backlog.oldestMessageAgeSeconds)}
					</span>
				</>
			)}
		</div>
	);
}

const CHART = { width: 600, height: 150, left: 36, bottom: 18, top: 6 };
const SERIES = ["created", "succeeded", "failed"] as const;

function Chart(props: { minutes: MinuteStats[] }) {
	const { minutes } = props;
	const max = Math.max(1, ...minutes.flatMap((m) => SERIES.map((s) => m[s])));
	const plotWidth = CHART.width - CHART.left - 4;
	const plotHeight = CHART.height - CHART.bottom - CHART.top;
	const x = (i: number) => CHART.left + (minutes.length <= 1 ? 0 : (i * plotWidth) / (minutes.length - 1));
	const y = (value: number) => CHART.top + plotHeight - (value * plotHeight) / max;
	const totals = Object.fromEntries(SERIES.map((s) => [s, minutes.reduce((sum, m) => sum + m[s], 0)]));
	const summary = `Last hour: ${totals.created} created, ${totals.succeeded} succeeded, ${totals.failed} failed; at most ${max} in one minute.`;
	return (
		<div class="panel">
			<svg class="chart" viewBox={`0 0 ${CHART.width} ${CHART.height}`} role="img" aria-label={summary}>
				<line class="axis" x1={CHART.left} y1={y(0)} x2={CHART.width - 4} y2={y(0)} />
				<line class="axis" x1={CHART.left} y1={CHART.top} x2={CHART.left} y2={y(0)} />
				<text x={CHART.left - 4} y={CHART.top + 8} text-anchor="end">
					{String(max)}
				</text>
				<text x={CHART.left - 4} y={y(0)} text-anchor="end">
					0
				</text>
				<text x={CHART.left} y={CHART.height - 4}>
					−60 min
				</text>
				<text x={CHART.width - 4} y={CHART.height - 4} text-anchor="end">
					now
				</text>
				{SERIES.map((series) => (
					<polyline
						class={series}
						fill="none"
						stroke-width="2"
						points={minutes.map((m, i) => `${x(i).toFixed(1)},${y(m[series]).toFixed(1)}`).join(" ")}
					/>
				))}
			</svg>
			<p class="legend">
				<span class="created">━ created {totals.created}</span>
				<span class="succeeded">━ succeeded {totals.succeeded}</span>
				<span class="failed">━ failed {totals.failed}</span>
			</p>
		</div>
	);
}

function formatBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} B`;
	if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
	return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function formatAge(seconds: number): string {
	if (seconds < 90) return `${Math.round(seconds)} s`;
	if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
	if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
	return `${(seconds / 86400).toFixed(1)} days`;
}
