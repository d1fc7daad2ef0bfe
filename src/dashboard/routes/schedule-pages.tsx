/** @jsxImportSource hono/jsx */
// /dashboard/schedules: the list, a schedule's detail page, and its actions (pause, resume,
// trigger now). Talks to the schedule directory and each schedule's object through the same stub
// helpers as /v1/schedules (src/routes/schedules.ts).
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ScheduleView, taskStatus } from "../../durable/schedule-object";
import { scheduleDirectoryStub } from "../../durable/schedule-directory-stub";
import { getScheduleStub, scheduleNotFound } from "../../durable/schedule-stub";
import type { InternalEnv } from "../../environment";
import { ProblemError } from "../../errors";
import { SCHEDULE_ID, Schedule, type ScheduleDetail } from "../../schedule-schemas";
import { renderPage } from "../views/layout";
import { ScheduleDetailView, ScheduleList, type ScheduleRow, schedulePath } from "../views/schedules";

/** Rows per list page. Each row asks its schedule's object for its next fire (one call each). */
const PAGE_SIZE = 50;

type Ctx = Context<{ Bindings: InternalEnv }>;

export const schedulePages = new Hono<{ Bindings: InternalEnv }>()
	.get("/schedules", async (c) => {
		const after = c.req.query("after") ?? null;
		if (after !== null && !SCHEDULE_ID.test(after)) {
			throw new ProblemError("validation-failed", "The page link is not valid; start again from the first page.");
		}
		const page = await scheduleDirectoryStub(c.env).list(after, PAGE_SIZE);
		const rows = await Promise.all(
			page.items.map(async (json): Promise<ScheduleRow> => {
				const schedule = Schedule.parse(JSON.parse(json));
				// Null when the schedule was deleted after the directory page was read.
				const view = await getScheduleStub(c.env, schedule.id).get();
				return { schedule, state: view?.state ?? null, nextFire: view?.nextFires[0] ?? null };
			}),
		);
		return renderPage(
			c,
			{ title: "Schedules", section: "schedules" },
			<ScheduleList rows={rows} nextAfter={page.more ? page.lastId : null} />,
		);
	})
	.get("/schedules/:id", async (c) => {
		const id = c.req.param("id");
		const view = await getScheduleStub(c.env, id).get();
		if (view === null) throw scheduleNotFound(id);
		return detailPage(c, view);
	})
	.post("/schedules/:id/pause", (c) => setPaused(c, true))
	.post("/schedules/:id/resume", (c) => setPaused(c, false))
	.post("/schedules/:id/trigger", async (c) => {
		const id = c.req.param("id");
		const stub = getScheduleStub(c.env, id);
		const result = await stub.trigger();
		if (result.kind === "not-found") throw scheduleNotFound(id);
		// Submitted (or this second's fire already had its task): the new run is on the detail page.
		if (result.kind === "submitted") return c.redirect(schedulePath(id), 303);
		const view = await stub.get();
		if (view === null) throw scheduleNotFound(id);
		if (result.kind === "rejected") {
			const why = result.errors.map((error) => `${error.path}: ${error.message}`).join("; ");
			return detailPage(c, view, `The task was not submitted: ${why}`, 422);
		}
		return detailPage(c, view, "The task could not be recorded just now; try again.", 503);
	});

/** PATCH { paused } as the JSON route does it; resuming applies the schedule's catchUp. */
async function setPaused(c: Ctx, paused: boolean) {
	const id = c.req.param("id") ?? "";
	const stub = getScheduleStub(c.env, id);
	const result = await stub.patch({ paused });
	if (result.kind === "not-found") throw scheduleNotFound(id);
	if (result.kind === "invalid") {
		const view = await stub.get();
		if (view === null) throw scheduleNotFound(id);
		return detailPage(c, view, result.errors.map((error) => `${error.path}: ${error.message}`).join("; "), 422);
	}
	return c.redirect(schedulePath(id), 303);
}

/** The detail page: the object's view, its configuration checked, each run's task status looked up now. */
async function detailPage(c: Ctx, view: ScheduleView, alert?: string, status: ContentfulStatusCode = 200) {
	const schedule = Schedule.parse(JSON.parse(view.configJson));
	const runs = await Promise.all(
		view.runs.map(async (run) => {
			const taskState = run.taskId === undefined ? null : await taskStatus(c.env, run.taskId);
			return taskState === null ? run : { ...run, status: taskState };
		}),
	);
	const detail: ScheduleDetail = { ...schedule, state: view.state, nextFires: view.nextFires, runs, counts: view.counts };
	return renderPage(
		c,
		{ title: `Schedule ${schedule.id}`, section: "schedules", status },
		<ScheduleDetailView detail={detail} alert={alert} />,
	);
}
