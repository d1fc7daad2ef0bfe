// The routes kept for clients of the original FastAPI + Redis design.
import { describe, expect, it, vi } from "vitest";
import { SeedSubmitResponse, SeedTaskResponse } from "../src/schemas";
import { api, expectProblem, submit } from "./helpers";

describe("seed-compatible routes", () => {
	it("POST /process_task enqueues the default type; GET /task/{id} shows status and result", async () => {
		const response = await api("/process_task", { json: { a: 1 } });
		expect(response.status).toBe(202);
		const { id, message } = SeedSubmitResponse.parse(await response.json());
		expect(message).toMatch(/submitted/i);
		const done = await vi.waitUntil(async () => {
			const seen = SeedTaskResponse.parse(await (await api(`/task/${id}`)).json());
			return seen.status === "succeeded" ? seen : false;
		});
		expect(done).toEqual({ id, status: "succeeded", result: { a: 1 } });
	});

	it("shows a null result until the task succeeds", async () => {
		const queued = await submit({ type: "echo", payload: { later: true }, delaySeconds: 600 });
		const body = SeedTaskResponse.parse(await (await api(`/task/${queued.id}`)).json());
		expect(body).toEqual({ id: queued.id, status: "queued", result: null });
	});

	it("refuses a body that is not an object, and unknown ids", async () => {
		await expectProblem(await api("/process_task", { json: [1] }), 422);
		await expectProblem(await api("/process_task", { method: "POST", body: "x", headers: { "Content-Type": "application/json" } }), 400);
		await expectProblem(await api("/task/nope"), 404);
	});
});
