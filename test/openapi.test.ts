// The OpenAPI document and docs page (the document is also run through a standard validator
// in the end-to-end tests, which run in Node).
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DOCUMENTED_ROUTES } from "./documented-routes";
import { api } from "./helpers";

const Document = z.object({
	openapi: z.string(),
	paths: z.record(z.string(), z.record(z.string(), z.unknown())),
	components: z.object({ schemas: z.record(z.string(), z.unknown()) }),
});

describe("OpenAPI", () => {
	it("serves an OpenAPI 3.1 document covering every route, without a token", async () => {
		const response = await api("/openapi.json", { token: null });
		expect(response.status).toBe(200);
		const doc = Document.parse(await response.json());
		expect(doc.openapi).toBe("3.1.0");
		const routes = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
		expect(routes.sort()).toEqual([...DOCUMENTED_ROUTES].sort());
		expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["TaskRecord", "SubmitTaskBody", "Problem"]));
	});

	it("serves a human docs page", async () => {
		const response = await api("/docs", { token: null });
		expect(response.status).toBe(200);
		expect(response.headers.get("Content-Type")).toMatch(/^text\/html/);
		const html = await response.text();
		expect(html).toContain("/v1/tasks/{id}/events");
		expect(html).toContain("TaskRecord");
	});
});
