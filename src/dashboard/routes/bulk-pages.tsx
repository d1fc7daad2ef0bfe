/** @jsxImportSource hono/jsx */
// /dashboard/bulk and /dashboard/operations/{id}: bulk actions on the list's current filter. The
// confirmation counts the matching tasks; confirming starts the same background operation as
// POST /v1/tasks/bulk; its progress is then re-fetched every second while it runs, with a button
// that stops it (as POST /v1/operations/{id}/cancel).
import { type Context, Hono } from "hono";
import { getOperationStub, newOperationStub, operationNotFound } from "../../durable/operation-stub";
import { listTasks } from "../../durable/task-index-stub";
import type { InternalEnv } from "../../environment";
import { ProblemError } from "../../errors";
import { BulkAction, type TaskFilter, TaskStatus } from "../../schemas";
import { readStats } from "../../stats";
import { filterOf, readListView } from "../task-filter";
import { BulkConfirm, OperationProgress } from "../views/bulk";
import { renderPage } from "../views/layout";

/** The statuses each action applies to (the operation skips any other). */
const APPLIES_TO: Record<BulkAction, readonly TaskStatus[]> = {
	retry: ["failed", "cancelled"],
	cancel: ["queued", "retrying"],
	delete: ["succeeded", "failed", "cancelled"],
};
/** Counting by listing stops here ("10,000+"); counts from the stats have no cap. */
const COUNT_CAP = 10_000;

/** The filter narrowed to the statuses the action applies to; null when none is left. */
function actionFilter(action: BulkAction, filter: TaskFilter): TaskFilter | null {
	const statuses = (filter.status ?? TaskStatus.options).filter((status) => APPLIES_TO[action].includes(status));
	return statuses.length === 0 ? null : { ...filter, status: statuses };
}

/**
 * How many tasks the filter matches. Status and type alone are answered from the index's counters
 * (one call per shard); a tag or a time range is counted by listing, up to COUNT_CAP.
 */
async function countMatches(env: InternalEnv, filter: TaskFilter): Promise<{ count: number; capped: boolean }> {
	const statuses = filter.status ?? TaskStatus.options;
	if (filter.tag === undefined && filter.createdAfter === undefined && filter.createdBefore === undefined) {
		const stats = await readStats(env);
		const counts = filter.type === undefined ? stats.byStatus : stats.byType[filter.type];
		return { count: counts ? statuses.reduce((sum, status) => sum + counts[status], 0) : 0, capped: false };
	}
	let count = 0;
	let cursor: string | undefined;
	do {
		const page = await listTasks(env, { ...filter, limit: 200, cursor });
		count += page.tasks.length;
		cursor = page.nextCursor ?? undefined;
	} while (cursor !== undefined && count < COUNT_CAP);
	return { count, capped: cursor !== undefined };
}

function readAction(value: unknown): BulkAction {
	const parsed = BulkAction.safeParse(value);
	if (!parsed.success) throw new ProblemError("bad-request", "Unknown bulk action.");
	return parsed.data;
}

const isHtmx = (c: Context) => c.req.header("HX-Request") === "true";

export const bulkPages = new Hono<{ Bindings: InternalEnv }>()
	.get("/bulk", async (c) => {
		const url = new URL(c.req.url);
		const action = readAction(url.searchParams.get("action"));
		const { query, errors } = readListView(url);
		if (errors.length > 0) throw new ProblemError("bad-request", "The filter is not valid; fix it on the task list first.");
		const filter = filterOf(query);
		const narrowed = actionFilter(action, filter);
		const { count, capped } = narrowed === null ? { count: 0, capped: false } : await countMatches(c.env, narrowed);
		const view = <BulkConfirm action={action} filter={filter} count={count} capped={capped} />;
		if (isHtmx(c)) return c.html(view);
		return renderPage(c, { title: "Bulk action", section: "tasks" }, <div id="bulk">{view}</div>);
	})
	.post("/bulk", async (c) => {
		const form = await c.req.parseBody({ all: true });
		const action = readAction(form.action);
		const url = new URL("https://dashboard.invalid/");
		for (const [name, value] of Object.entries(form)) {
			for (const item of Array.isArray(value) ? value : [value]) if (typeof item === "string") url.searchParams.append(name, item);
		}
		const { query, errors } = readListView(url);
		if (errors.length > 0) throw new ProblemError("bad-request", "The filter is not valid.");
		const narrowed = actionFilter(action, filterOf(query));
		if (narrowed === null) throw new ProblemError("bad-request", "No task status of the filter is one this action applies to.");
		const { id, stub } = newOperationStub(c.env);
		const operation = await stub.begin({ action, filter: narrowed });
		if (isHtmx(c)) return c.html(<OperationProgress operation={operation} />);
		return c.redirect(`/dashboard/operations/${id}`, 303);
	})
	.get("/operations/:id", async (c) => {
		const id = c.req.param("id");
		const operation = await getOperationStub(c.env, id).get();
		if (operation === null) throw operationNotFound(id);
		const view = <OperationProgress operation={operation} />;
		if (isHtmx(c)) return c.html(view);
		return renderPage(c, { title: "Bulk operation", section: "tasks" }, view);
	})
	.post("/operations/:id/cancel", async (c) => {
		const id = c.req.param("id");
		// An operation that ended meanwhile is not an error here: its page shows how it ended.
		if ((await getOperationStub(c.env, id).cancel()) === null) throw operationNotFound(id);
		return c.redirect(`/dashboard/operations/${id}`, 303);
	});
