/** @jsxImportSource hono/jsx */
// /dashboard/tasks: the task list, from the same listTasks() as GET /v1/tasks, and its
// "N new tasks" notice.
import { Hono } from "hono";
import { listTasks } from "../../durable/task-index-stub";
import type { AppEnv } from "../../router";
import { filterOf, filterSearch, readListView } from "../task-filter";
import { renderPage } from "../views/layout";
import { NewTasksNotice, TaskList } from "../views/task-list";

/** The notice counts up to this many new tasks ("100+ new tasks"). */
const NEW_TASKS_CAP = 100;

export const listPages = new Hono<AppEnv>()
	.get("/tasks", async (c) => {
		const { query, errors, form } = readListView(new URL(c.req.url));
		const page = await listTasks(c.env, query);
		const newest = page.tasks[0];
		const firstPage = query.cursor === undefined;
		return renderPage(
			c,
			{ title: "Tasks", section: "tasks", status: errors.length > 0 ? 422 : 200 },
			<TaskList
				page={page}
				filter={filterOf(query)}
				form={form}
				errors={errors}
				firstPage={firstPage}
				types={[...c.var.taskTypes.keys()]}
				since={newest ? Date.parse(newest.createdAt) : Date.now()}
			/>,
		);
	})
	.get("/tasks/new", async (c) => {
		const url = new URL(c.req.url);
		const since = Number(url.searchParams.get("since"));
		url.searchParams.delete("since");
		const { query, errors } = readListView(url);
		if (errors.length > 0 || !Number.isSafeInteger(since) || since < 0) return c.html(<></>);
		// Strictly newer than the newest row shown (createdAfter is inclusive), and still in the filter.
		const from = Math.max(since + 1, query.createdAfter === undefined ? 0 : Date.parse(query.createdAfter));
		const createdAfter = new Date(from).toISOString();
		const page = await listTasks(c.env, { ...query, createdAfter, limit: NEW_TASKS_CAP });
		const href = `/dashboard/tasks${filterSearch(filterOf(query)) ? `?${filterSearch(filterOf(query))}` : ""}`;
		return c.html(<NewTasksNotice count={page.tasks.length} capped={page.nextCursor !== null} href={href} />);
	});
