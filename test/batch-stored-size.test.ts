// What one batch submit may store: payloads are stored re-serialised, which can be longer than
// the JSON sent (`1E20` → `100000000000000000000`), so the stored bytes of the whole batch are
// bounded by the batch body limit (10 MiB) as well.
import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_BATCH_BODY_BYTES, TaskRecordList } from "../src/schemas";
import { api, expectProblem } from "./helpers";

/** A batch body of `items` echo tasks whose payloads hold `numbers` literals `1E20` each. */
function bigNumberBatch(items: number, numbers: number): string {
	const payload = `{"n":[${Array.from({ length: numbers }, () => "1E20").join(",")}]}`;
	return `{"tasks":[${Array.from({ length: items }, () => `{"type":"echo","payload":${payload}}`).join(",")}]}`;
}

describe("POST /v1/tasks/batch stored size", () => {
	it("refuses a batch under 10 MiB whose payloads would store 4.4 times as much, creating nothing", async () => {
		// 100 items of 20,000 literals: ~10 MB sent, ~44 MB once re-serialised (each item ~440 KB,
		// under the 1 MiB payload limit on its own).
		const body = bigNumberBatch(100, 20_000);
		expect(body.length).toBeLessThanOrEqual(MAX_BATCH_BODY_BYTES);
		const before = (await listDurableObjectIds(env.TASK_OBJECT)).length;
		const response = await api("/v1/tasks/batch", { method: "POST", headers: { "Content-Type": "application/json" }, body });
		const problem = await expectProblem(response, 422);
		expect(problem.errors?.map((e) => e.path)).toEqual(["tasks"]);
		expect(problem.errors?.[0]?.message).toContain("10 MiB");
		expect((await listDurableObjectIds(env.TASK_OBJECT)).length).toBe(before);
	});

	it("accepts a batch whose stored payloads stay within 10 MiB, and returns them as stored", async () => {
		const response = await api("/v1/tasks/batch", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: bigNumberBatch(10, 20_000),
		});
		expect(response.status).toBe(202);
		const text = await response.text();
		// ~4.4 MB returned for ~1 MB sent: within the stated bound.
		expect(text.length).toBeLessThan(MAX_BATCH_BODY_BYTES + 100 * 1024);
		const { tasks } = TaskRecordList.parse(JSON.parse(text));
		expect(tasks).toHaveLength(10);
		expect(tasks[0]?.payload).toEqual({ n: Array.from({ length: 20_000 }, () => 1e20) });
	});
});
