/** @jsxImportSource hono/jsx */
// The task list: filters (in the URL), one page of summaries newest first, cursor paging, a
// "N new tasks" notice polled every 2 s (rows never shift under the reader), and bulk actions on
// everything the filter matches.
import type { FieldError } from "../../errors";
import { type TaskFilter, type TaskPage, TaskStatus } from "../../schemas";
import { filterSearch, type FilterForm } from "../task-filter";
import { StatusBadge, Time } from "./layout";
import { taskPath } from "./task-detail";

export function TaskList(props: {
	page: TaskPage;
	filter: TaskFilter;
	form: FilterForm;
	errors: FieldError[];
	firstPage: boolean;
	types: string[];
	/** Newest createdAt (ms) on the first page, or when it was rendered: what "new" means. */
	since: number;
}) {
	const { page, filter, form, errors } = props;
	const search = filterSearch(filter);
	return (
		<>
			<h1>Tasks</h1>
			<FilterFormView form={form} types={props.types} />
			{errors.length > 0 ? (
				<div class="alert" role="alert">
					<p>The filter was not applied:</p>
					<ul>
						{errors.map((error) => (
							<li>
								{error.path}: {error.message}
							</li>
						))}
					</ul>
				</div>
			) : null}
			{props.firstPage ? (
				<div
					id="new-tasks"
					class="notice"
					role="status"
					aria-live="polite"
					hx-get={`/dashboard/tasks/new?${filterSearch(filter, { since: String(props.since) })}`}
					hx-trigger="every 2s, tf:refresh"
					hx-swap="innerHTML"
					data-poll=""
				></div>
			) : null}
			<div id="bulk" aria-live="polite">
				<BulkButtons search={search} />
			</div>
			<div class="table-wrap">
				<table>
					<caption class="skip">Tasks, newest first</caption>
					<thead>
						<tr>
							<th scope="col">Task</th>
							<th scope="col">Type</th>
							<th scope="col">Status</th>
							<th scope="col" class="hide-narrow">
								Tags
							</th>
							<th scope="col" class="hide-narrow">
								Attempts
							</th>
							<th scope="col">Created</th>
							<th scope="col" class="hide-narrow">
								Error
							</th>
						</tr>
					</thead>
					<tbody id="task-rows">
						{page.tasks.length === 0 ? (
							<tr>
								<td colspan={7} class="muted">
									No tasks match.
								</td>
							</tr>
						) : (
							page.tasks.map((task) => (
								<tr data-task-id={task.id}>
									<td class="id">
										<a href={taskPath(task.id)}>{task.id.slice(0, 12)}…</a>
									</td>
									<td>{task.type}</td>
									<td>
										<StatusBadge status={task.status} />
									</td>
									<td class="hide-narrow">{task.tags.join(", ")}</td>
									<td class="hide-narrow">
										{task.attempts}/{task.maxAttempts}
									</td>
									<td>
										<Time iso={task.createdAt} />
									</td>
									<td class="hide-narrow">{task.errorName ?? ""}</td>
								</tr>
							))
						)}
					</tbody>
				</table>
			</div>
			<nav class="pager" aria-label="Pages">
				{props.firstPage ? null : <a href={`/dashboard/tasks${search ? `?${search}` : ""}`}>« Newest</a>}
				{page.nextCursor ? (
					<a href={`/dashboard/tasks?${filterSearch(filter, { cursor: page.nextCursor })}`} rel="next">
						Older »
					</a>
				) : (
					<span class="muted">End of the list.</span>
				)}
			</nav>
		</>
	);
}

function FilterFormView(props: { form: FilterForm; types: string[] }) {
	const { form } = props;
	return (
		<form method="get" action="/dashboard/tasks" class="filters panel" aria-label="Filter tasks">
			<fieldset class="statuses">
				<legend class="muted">Status</legend>
				{TaskStatus.options.map((status) => (
					<label>
						<input type="checkbox" name="status" value={status} checked={form.status.includes(status)} /> {status}
					</label>
				))}
			</fieldset>
			<div class="field">
				<label for="filter-type">Type</label>
				<select id="filter-type" name="type">
					<option value="">any</option>
					{props.types.map((type) => (
						<option value={type} selected={form.type === type}>
							{type}
						</option>
					))}
				</select>
			</div>
			<div class="field">
				<label for="filter-tag">Tag</label>
				<input id="filter-tag" name="tag" type="text" value={form.tag} placeholder="customer:42" size={14} />
			</div>
			<div class="field">
				<label for="filter-after">Created after (UTC)</label>
				<input id="filter-after" name="createdAfter" type="datetime-local" value={form.createdAfter.replace(/:00(\.000)?Z$/, "")} />
			</div>
			<div class="field">
				<label for="filter-before">Created before (UTC)</label>
				<input id="filter-before" name="createdBefore" type="datetime-local" value={form.createdBefore.replace(/:00(\.000)?Z$/, "")} />
			</div>
			<button type="submit" class="primary">
				Apply
			</button>
			<a class="button" href="/dashboard/tasks">
				Clear
			</a>
		</form>
	);
}

export function NewTasksNotice(props: { count: number; capped: boolean; href: string }) {
	if (props.count === 0) return <></>;
	const label = `${props.count}${props.capped ? "+" : ""} new task${props.count === 1 && !props.capped ? "" : "s"}`;
	return (
		<a href={props.href} id="new-tasks-link">
			{label} · show them
		</a>
	);
}

/** The bulk actions on the current filter; each first asks for confirmation with the match count. */
function BulkButtons(props: { search: string }) {
	const actions = [
		{ action: "retry", label: "Retry failed…" },
		{ action: "cancel", label: "Cancel queued…" },
		{ action: "delete", label: "Delete finished…" },
	];
	return (
		<div class="actions" aria-label="Bulk actions on every task the filter matches">
			{actions.map(({ action, label }) => (
				<a
					class="button"
					href={`/dashboard/bulk?${props.search ? `${props.search}&` : ""}action=${action}`}
					hx-get={`/dashboard/bulk?${props.search ? `${props.search}&` : ""}action=${action}`}
					hx-target="#bulk"
					hx-swap="innerHTML"
				>
					{label}
				</a>
			))}
		</div>
	);
}
