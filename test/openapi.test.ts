// The OpenAPI document and docs page (the document is also run through a standard validator
// in the end-to-end tests, which run in Node), and what clients generated from it rely on: a
// submit body per task type, no member-less objects, always-sent fields and headers required.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { taskTypeSchemas } from "../src/openapi-document";
import { defineTask } from "../src/tasks/define-task";
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

const JsonObject = z.record(z.string(), z.unknown());
/** Every JSON object (of any depth) in `value`, with its JSON Pointer. */
function objectsIn(value: unknown, pointer = ""): { pointer: string; node: Record<string, unknown> }[] {
	if (Array.isArray(value)) return value.flatMap((item, i) => objectsIn(item, `${pointer}/${i}`));
	const node = JsonObject.safeParse(value);
	if (!node.success) return [];
	return [{ pointer, node: node.data }, ...Object.entries(node.data).flatMap(([key, member]) => objectsIn(member, `${pointer}/${key}`))];
}

const Schema = z.looseObject({
	type: z.union([z.string(), z.array(z.string())]).optional(),
	properties: z.record(z.string(), z.looseObject({ $ref: z.string().optional() })).optional(),
	required: z.array(z.string()).optional(),
	oneOf: z.array(z.object({ $ref: z.string() })).optional(),
	discriminator: z.object({ propertyName: z.string(), mapping: z.record(z.string(), z.string()) }).optional(),
	additionalProperties: z.unknown().optional(),
});
const Header = z.looseObject({ required: z.boolean().optional() });
const Responses = z.record(z.string(), z.looseObject({ headers: z.record(z.string(), Header).optional() }));
const FullDocument = z.object({
	paths: z.record(z.string(), z.record(z.string(), z.looseObject({ responses: Responses }))),
	components: z.object({ schemas: z.record(z.string(), Schema) }),
});

async function fullDocument() {
	const response = await api("/openapi.json", { token: null });
	expect(response.status).toBe(200);
	const json: unknown = await response.json();
	return { json, doc: FullDocument.parse(json) };
}

const schemaName = (ref: string | undefined) => ref?.replace(/^#\/components\/schemas\//, "") ?? "";

describe("OpenAPI for generated clients", () => {
	it("describes the submit body per task type: a oneOf by `type`, each with the type's payload schema", async () => {
		const { doc } = await fullDocument();
		const schemas = doc.components.schemas;
		const response = await api("/v1/task-types");
		const types = z
			.object({ types: z.array(z.object({ type: z.string() })) })
			.parse(await response.json())
			.types.map(({ type }) => type);
		expect(types).toEqual(expect.arrayContaining(["echo", "sleep"]));
		for (const body of ["SubmitTaskBody", "ScheduleTask"]) {
			const union = schemas[body];
			expect(union?.discriminator?.propertyName, body).toBe("type");
			const mapping = union?.discriminator?.mapping ?? {};
			expect(Object.keys(mapping), body).toEqual(types);
			expect(
				union?.oneOf?.map((variant) => variant.$ref),
				body,
			).toEqual(Object.values(mapping));
			for (const [type, ref] of Object.entries(mapping)) {
				const variant = schemas[schemaName(ref)];
				expect(variant?.properties?.type, `${body} ${type}`).toEqual({ type: "string", enum: [type] });
				expect(variant?.required, `${body} ${type}`).toContain("type");
				expect(schemas[schemaName(variant?.properties?.payload?.$ref)], `${body} ${type} payload`).toBeDefined();
			}
		}
		const sleep = schemas[schemaName(schemas.SubmitTaskBody?.discriminator?.mapping.sleep)];
		expect(schemas[schemaName(sleep?.properties?.payload?.$ref)]).toEqual({
			type: "object",
			properties: { ms: { type: "integer", minimum: 0, maximum: 600_000 } },
			required: ["ms"],
			additionalProperties: false,
		});
		// A missing payload stands for {}: required where {} would not pass.
		expect(sleep?.required).toContain("payload");
		expect(schemas[schemaName(schemas.SubmitTaskBody?.discriminator?.mapping.echo)]?.required).not.toContain("payload");
		expect(schemas.SubmitBatchBody?.properties?.tasks).toMatchObject({ items: { $ref: "#/components/schemas/SubmitTaskBody" } });
	});

	it("leaves no object schema without members (a generator's Record<string, never>)", async () => {
		const { json } = await fullDocument();
		const empty = objectsIn(json)
			.filter(({ pointer }) => pointer.startsWith("/components/schemas/") || pointer.includes("/schema"))
			.filter(({ node }) => node.type === "object" || (Array.isArray(node.type) && node.type.includes("object")))
			.filter(({ node }) => !("properties" in node || "additionalProperties" in node || "patternProperties" in node))
			.map(({ pointer }) => pointer);
		expect(empty).toEqual([]);
	});

	it("names the Idempotency-Key header as it is written (and as its problems do)", async () => {
		const { json } = await fullDocument();
		const parameters = objectsIn(json).flatMap(({ node }) => (node.in === "header" && typeof node.name === "string" ? [node.name] : []));
		expect(new Set(parameters)).toEqual(new Set(["Idempotency-Key"]));
	});

	it("marks what is always sent as required", async () => {
		const { doc } = await fullDocument();
		const schemas = doc.components.schemas;
		expect(schemas.TaskRecord?.required).toContain("payload");
		expect(schemas.SeedTaskResponse?.required).toContain("result");
		expect(schemas.Problem?.required).toContain("detail");
		const headers = Object.entries(doc.paths).flatMap(([path, item]) =>
			Object.entries(item).flatMap(([method, operation]) =>
				Object.entries(operation.responses).map(([status, response]) => ({
					route: `${method} ${path} ${status}`,
					status,
					headers: response.headers ?? {},
				})),
			),
		);
		// Every created (or accepted) thing is pointed at, but a batch's tasks and the seed route's task.
		const created = headers.filter(({ status }) => status === "201" || status === "202");
		expect(created.filter(({ headers: h }) => h.Location === undefined).map(({ route }) => route)).toEqual([
			"post /v1/tasks/batch 202",
			"post /process_task 202",
		]);
		for (const { route, headers: h } of headers) if (h.Location) expect(h.Location.required, route).toBe(true);
		const unauthorized = headers.filter(({ status }) => status === "401");
		expect(unauthorized.length).toBe(DOCUMENTED_ROUTES.length - 1); // all but GET /healthz
		for (const { route, headers: h } of unauthorized) expect(h["WWW-Authenticate"]?.required, route).toBe(true);
		for (const { route, headers: h } of headers.filter(({ status }) => status === "429" || status === "503")) {
			expect(h["Retry-After"]?.required, route).toBe(true);
		}
	});
});

describe("taskTypeSchemas", () => {
	const run = () => null;

	it("names each type's schemas uniquely and keeps the references of recursive payloads inside the document", () => {
		type Tree = { label: string; children: Tree[] };
		const Tree: z.ZodType<Tree> = z.object({ label: z.string(), children: z.array(z.lazy(() => Tree)) });
		const definitions = [
			defineTask({ type: "a-b", description: "tree", input: z.object({ root: Tree, count: z.int().default(1) }), run }),
			defineTask({ type: "a_b", description: "self", input: Tree, run }),
		];
		const generated = { SubmitTaskBody: submitBody(), ScheduleTask: submitBody() };
		const schemas = taskTypeSchemas(generated, definitions);
		expect(Object.keys(schemas)).toEqual(expect.arrayContaining(["ABPayload", "AB2Payload", "ABSubmitTaskBody", "AB2SubmitTaskBody"]));
		const refs = objectsIn(schemas).flatMap(({ node }) => (typeof node.$ref === "string" ? [node.$ref] : []));
		expect(refs.length).toBeGreaterThan(4);
		for (const ref of refs) expect({ ...generated, ...schemas }, ref).toHaveProperty([schemaName(ref)]);
		// A default is left to the server (a generator would make the field required): noted in words.
		expect(schemas.ABPayload).toMatchObject({ properties: { count: { type: "integer", description: "Default: 1." } } });
		expect(JSON.stringify(schemas)).not.toContain('"default"');
	});

	function submitBody() {
		return {
			type: "object" as const,
			properties: { type: { type: "string" as const }, payload: {} },
			required: ["type"],
			additionalProperties: false,
		};
	}
});
