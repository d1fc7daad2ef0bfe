/** @jsxImportSource hono/jsx */
// /dashboard/tasks/{id}: the detail page, its live event stream, "show all" for large JSON values,
// and the actions. Talks to the task's Durable Object through the same stub helper as the API.
import { type Context, Hono } from "hono";
import { findTaskStub } from "../../durable/task-stub";
import type { InternalEnv } from "../../environment";
import { ProblemError } from "../../errors";
import { isTerminal, TaskEvent, TaskRecord } from "../../schemas";
import { sendOrLeaveToAlarm } from "../../task-queue";
import { JsonFull, prettyJson } from "../views/json-view";
import { renderPage } from "../views/layout";
import { LiveParts, TaskDetail, taskPath } from "../views/task-detail";

type TaskStub = NonNullable<ReturnType<typeof findTaskStub>>;

/** The task's stub and record, or a 404 problem (rendered as a page by the dashboard). */
async function loadTask(env: InternalEnv, id: string): Promise<{ stub: TaskStub; record: TaskRecord; json: string }> {
	const stub = findTaskStub(env, id);
	const json = stub ? await stub.get() : null;
	if (!stub || json === null) throw new ProblemError("not-found", "No such task: it never existed, or its retention ended.");
	return { stub, record: parseRecord(json), json };
}

/** A record as the task object serialised it, checked rather than cast. */
function parseRecord(json: string): TaskRecord {
	return TaskRecord.parse(JSON.parse(json));
}

export const taskPages = new Hono<{ Bindings: InternalEnv }>()
	.get("/tasks/:id", async (c) => {
		const { record } = await loadTask(c.env, c.req.param("id"));
		return renderPage(c, { title: `Task ${record.id.slice(0, 8)}…`, section: "tasks" }, <TaskDetail record={record} />);
	})
	.get("/tasks/:id/live", async (c) => {
		const { stub } = await loadTask(c.env, c.req.param("id"));
		const events = await stub.events();
		if (events.kind === "not-found") throw new ProblemError("not-found", "No such task.");
		if (events.kind === "too-many-streams") {
			throw new ProblemError("too-many-requests", `This task already has ${events.limit} open event streams; try again later.`);
		}
		return c.body(events.stream.pipeThrough(liveFragments()), 200, {
			"Content-Type": "text/event-stream; charset=utf-8",
			"Cache-Control": "no-store",
			"X-Accel-Buffering": "no",
		});
	})
	.get("/tasks/:id/json/:field{payload|result}", async (c) => {
		const { record } = await loadTask(c.env, c.req.param("id"));
		const field = c.req.param("field");
		const value = field === "payload" ? record.payload : (record.result ?? null);
		const text = prettyJson(value, JSON.stringify(value) ?? "null");
		if (c.req.query("download") !== undefined) {
			return c.body(text, 200, {
				"Content-Type": "application/json; charset=utf-8",
				"Content-Disposition": `attachment; filename="${record.id}-${field}.json"`,
			});
		}
		return c.html(<JsonFull text={text} label={field === "payload" ? "Payload" : "Result"} />);
	})
	.post("/tasks/:id/cancel", async (c) => {
		const id = c.req.param("id");
		const result = await (await loadTask(c.env, id)).stub.cancel();
		if (result.kind === "cancelled") return c.redirect(taskPath(id), 303);
		return refused(c, id, result, "only queued or retrying tasks can be cancelled");
	})
	.post("/tasks/:id/retry", async (c) => {
		const id = c.req.param("id");
		const result = await (await loadTask(c.env, id)).stub.retry();
		if (result.kind !== "retried") return refused(c, id, result, "only failed or cancelled tasks can be retried");
		// As POST /v1/tasks/{id}/retry: the object is queued again; send its message now.
		await sendOrLeaveToAlarm(c.env, [{ body: { id: result.id, type: result.type } }]);
		return c.redirect(taskPath(id), 303);
	})
	.post("/tasks/:id/delete", async (c) => {
		const id = c.req.param("id");
		const result = await (await loadTask(c.env, id)).stub.delete();
		if (result.kind !== "deleted") return refused(c, id, result, "only succeeded, failed or cancelled tasks can be deleted");
		return c.redirect("/dashboard/tasks", 303);
	});

/** The detail page again, with why the action was refused (409; 404 if the task is gone). */
async function refused(
	c: Context<{ Bindings: InternalEnv }>,
	id: string,
	result: { kind: "conflict"; status: string } | { kind: "not-found" },
	rule: string,
) {
	if (result.kind === "not-found") throw new ProblemError("not-found", "No such task.");
	const { record } = await loadTask(c.env, id);
	const alert = `The task is ${result.status}; ${rule}.`;
	return renderPage(c, { title: "Task", section: "tasks", status: 409 }, <TaskDetail record={record} alert={alert} />);
}

/**
 * Turns the task object's event stream (`event: task` + TaskEvent JSON, one per change) into
 * `event: live` events carrying the re-rendered live parts of the page, then `event: end` after
 * the final state. Keep-alive comments pass through.
 */
function liveFragments(): TransformStream<Uint8Array, Uint8Array> {
	const decoder = new TextDecoder();
	const encoder = new TextEncoder();
	let buffer = "";
	return new TransformStream({
		async transform(chunk, controller) {
			buffer += decoder.decode(chunk, { stream: true });
			let end = buffer.indexOf("\n\n");
			while (end !== -1) {
				const frame = buffer.slice(0, end);
				buffer = buffer.slice(end + 2);
				end = buffer.indexOf("\n\n");
				if (frame.startsWith(":")) {
					controller.enqueue(encoder.encode(`${frame}\n\n`));
					continue;
				}
				const data = frame
					.split("\n")
					.filter((line) => line.startsWith("data: "))
					.map((line) => line.slice("data: ".length))
					.join("\n");
				if (data === "") continue;
				// A TaskEvent: the record without its payload (the page shows that once, statically).
				const record = TaskEvent.parse(JSON.parse(data));
				const rendered = <LiveParts record={record} />;
				const html = String(rendered instanceof Promise ? await rendered : rendered);
				// Every line of the fragment becomes a data line; the browser joins them with "\n".
				controller.enqueue(
					encoder.encode(
						`event: live\n${html
							.split(/\r\n|\r|\n/)
							.map((line) => `data: ${line}`)
							.join("\n")}\n\n`,
					),
				);
				if (isTerminal(record.status)) controller.enqueue(encoder.encode("event: end\ndata: end\n\n"));
			}
		},
	});
}
