// GET /openapi.json and GET /docs against the shared `wrangler dev` (see global-setup.ts): the
// document the Worker serves must be valid OpenAPI 3.1 according to an independent validator
// (@apidevtools/swagger-parser), not only according to the generator that produced it, and true:
// real answers of every route (successes and errors) match it, checked with a JSON Schema
// validator (ajv), as a validating proxy such as Prism would.
import { randomUUID } from "node:crypto";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { z } from "zod";
import { ApiClient, type ApiResponse, expectStatus, parseJson, type RequestOptions } from "./client";
import { OperationRecord, TaskRecord } from "../../src/schemas";
import { pathTemplate } from "./openapi-routes";
import { DOCUMENTED_ROUTES } from "../documented-routes";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));

/** The document type swagger-parser takes (from its own declarations, without naming openapi-types). */
type OpenApiDocument = NonNullable<Parameters<SwaggerParser.ApiCallback>[1]>;

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const Operation = z.looseObject({
	summary: z.string().optional(),
	security: z.array(z.record(z.string(), z.array(z.string()))).optional(),
	responses: z.record(z.string(), z.unknown()),
});
const PathItem = z.looseObject(Object.fromEntries(HTTP_METHODS.map((method) => [method, Operation.optional()])));
/** Just the parts this test reads. Only structure is checked here; the validator checks the rest. */
const OpenApi31 = z.looseObject({
	openapi: z.string().regex(/^3\.1\.\d+$/),
	info: z.looseObject({ title: z.string(), version: z.string() }),
	paths: z.record(z.string(), PathItem),
	components: z.looseObject({ securitySchemes: z.record(z.string(), z.unknown()).optional() }).optional(),
});
/**
 * The same document as swagger-parser's input type, which zod cannot spell out (a union over
 * OpenAPI 2.0/3.0/3.1 declarations): accepted when it has the shape above.
 */
const ValidatorInput = z.custom<OpenApiDocument>((value) => OpenApi31.safeParse(value).success, "Not an OpenAPI 3.1 document");

/** Public routes: no security requirement in the document. */
const PUBLIC_ROUTES = new Set(["GET /healthz"]);

let doc: z.output<typeof OpenApi31>;
/** The unchanged document, for the validator. */
let validatorInput: OpenApiDocument;

beforeAll(async () => {
	// Public: fetched without a token.
	const response = await api.request("GET", "/openapi.json", { token: null });
	expectStatus(response, 200);
	expect(response.headers.get("Content-Type")).toMatch(/^application\/json\b/);
	doc = parseJson(response, OpenApi31);
	validatorInput = parseJson(response, ValidatorInput);
});

afterAll(() => {
	expect(api.serverErrors).toEqual([]);
});

/** "METHOD path" of every operation in the document. */
function operations(): { route: string; operation: z.output<typeof Operation> }[] {
	return Object.entries(doc.paths).flatMap(([path, item]) =>
		HTTP_METHODS.flatMap((method) => {
			const operation = item[method];
			return operation ? [{ route: `${method.toUpperCase()} ${path}`, operation }] : [];
		}),
	);
}

describe("GET /openapi.json", () => {
	it("is OpenAPI 3.1 and passes swagger-parser's validation", async () => {
		expect(doc.openapi).toMatch(/^3\.1\./);
		expect(doc.info.title).toBe("taskflare");
		// validate() dereferences $refs in place: give it a copy, keep ours intact.
		const validated = await SwaggerParser.validate(structuredClone(validatorInput));
		expect(validated).toHaveProperty("openapi", doc.openapi);
	});

	it("the validator is not a rubber stamp: it rejects a broken copy", async () => {
		// A $ref to a schema that does not exist must fail; otherwise the test above proves nothing.
		const withBadRef: unknown = JSON.parse(
			JSON.stringify(validatorInput).replace('"#/components/schemas/TaskRecord"', '"#/components/schemas/NoSuchSchema"'),
		);
		expect(JSON.stringify(withBadRef)).toContain("NoSuchSchema");
		await expect(SwaggerParser.validate(ValidatorInput.parse(withBadRef))).rejects.toThrow(/NoSuchSchema/);
	});

	it("describes every documented route, each with responses, the protected ones with bearer auth", () => {
		const routes = operations();
		expect(routes.map((r) => r.route)).toEqual(expect.arrayContaining(DOCUMENTED_ROUTES));
		expect(doc.components?.securitySchemes).toHaveProperty("bearerAuth");
		for (const { route, operation } of routes) {
			expect(Object.keys(operation.responses).length, route).toBeGreaterThan(0);
			const security = operation.security?.map((requirement) => Object.keys(requirement)).flat() ?? [];
			expect(security, route).toEqual(PUBLIC_ROUTES.has(route) ? [] : ["bearerAuth"]);
		}
	});
});

describe("GET /docs", () => {
	it("is an HTML page (no token) listing every route of the document", async () => {
		const response = await api.request("GET", "/docs", { token: null });
		expectStatus(response, 200);
		expect(response.headers.get("Content-Type")).toMatch(/^text\/html\b/);
		expect(response.text).toMatch(/^<!doctype html>/i);
		expect(response.text).toContain('href="/openapi.json"');
		// The page is rendered from the document: one entry per operation, "METHOD path".
		for (const { route, operation } of operations()) {
			expect(response.text, route).toContain(`>${route}</a>`);
			if (operation.summary) expect(response.text, route).toContain(escapeHtml(operation.summary));
		}
	});
});

function escapeHtml(text: string): string {
	const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
	return text.replace(/[&<>"']/g, (ch) => entities[ch] ?? ch);
}

/** The parts of an operation's responses that an answer is held against. */
const DocumentedResponses = z.record(
	z.string(),
	z.looseObject({
		headers: z.record(z.string(), z.looseObject({ required: z.boolean().optional() })).optional(),
		content: z.record(z.string(), z.unknown()).optional(),
	}),
);
const SubmitVariants = z.object({
	components: z.object({
		schemas: z.object({ SubmitTaskBody: z.object({ discriminator: z.object({ mapping: z.record(z.string(), z.string()) }) }) }),
	}),
});
const TaskTypeNames = z.object({ types: z.array(z.object({ type: z.string() })) });
const Delivered = z.object({ callback: z.object({ deliveries: z.array(z.unknown()) }) });

/** The document as a JSON Schema resource, so that its schemas (and their $refs) can be validated against. */
const DOCUMENT_ID = "https://taskflare.test/openapi.json";

describe("answers hold to the document", () => {
	// Formats (date-time) and OpenAPI's own keywords (discriminator, example) are not checked here.
	const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
	let documented = 0;

	beforeAll(() => {
		ajv.addSchema({ ...structuredClone(validatorInput), $id: DOCUMENT_ID });
	});

	/** Sends the request and holds the answer against the document: status, required headers, media type, body schema. */
	async function expectDocumented(method: string, path: string, status: number, options: RequestOptions = {}): Promise<ApiResponse> {
		const response = await api.request(method, path, options);
		expectStatus(response, status);
		const route = pathTemplate(Object.keys(doc.paths), path);
		const operation = route === undefined ? undefined : doc.paths[route.template]?.[method.toLowerCase()];
		const answer = operation === undefined ? undefined : DocumentedResponses.parse(operation.responses)[String(status)];
		if (route === undefined || answer === undefined) throw new Error(`${method} ${path} → ${status} is not in the document.`);
		const where = `${method} ${route.template} ${status}`;
		for (const [name, header] of Object.entries(answer.headers ?? {})) {
			if (header.required) expect(response.headers.get(name), `${where}: header ${name}`).not.toBeNull();
		}
		const mediaType = response.headers.get("Content-Type")?.split(";")[0] ?? null;
		if (answer.content === undefined) {
			expect(response.text, where).toBe("");
		} else {
			expect(Object.keys(answer.content), where).toContain(mediaType);
			if (mediaType?.endsWith("json")) {
				const pointer = ["paths", route.template, method.toLowerCase(), "responses", String(status), "content", mediaType, "schema"]
					.map((segment) => encodeURIComponent(segment.replaceAll("~", "~0").replaceAll("/", "~1")))
					.join("/");
				const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#/${pointer}` });
				const body: unknown = JSON.parse(response.text);
				expect(validate(body) ? "" : ajv.errorsText(validate.errors), `${where}: ${response.text.slice(0, 300)}`).toBe("");
			}
		}
		documented++;
		return response;
	}

	const idOf = (response: ApiResponse) => parseJson(response, z.object({ id: z.string() })).id;

	it("every protected route answers 401 with its WWW-Authenticate challenge, as documented", async () => {
		for (const { route, operation } of operations()) {
			if (PUBLIC_ROUTES.has(route)) continue;
			const [method = "", template = ""] = route.split(" ");
			expect(DocumentedResponses.parse(operation.responses)["401"]?.headers?.["WWW-Authenticate"]?.required, route).toBe(true);
			const response = await expectDocumented(method, template.replaceAll(/\{[^}]+\}/g, "x"), 401, { token: null });
			expect(response.headers.get("WWW-Authenticate"), route).toBe('Bearer realm="taskflare"');
		}
	});

	it("has one submit body variant per registered task type", async () => {
		const response = await expectDocumented("GET", "/v1/task-types", 200);
		const types = parseJson(response, TaskTypeNames).types.map(({ type }) => type);
		expect(Object.keys(SubmitVariants.parse(validatorInput).components.schemas.SubmitTaskBody.discriminator.mapping)).toEqual(types);
	});

	it("tasks: submit, replay, batch, get, wait, events, list, stats, cancel, retry, delete, bulk, and their errors", async () => {
		const key = `openapi-${randomUUID()}`;
		const tag = `openapi:${randomUUID().slice(0, 8)}`;
		await expectDocumented("GET", "/healthz", 200, { token: null });
		await expectDocumented("POST", "/v1/tasks", 202, {
			json: { type: "echo", payload: { n: 1 }, tags: [tag] },
			headers: { "Idempotency-Key": key },
		});
		await expectDocumented("POST", "/v1/tasks", 200, {
			json: { type: "echo", payload: { n: 1 }, tags: [tag] },
			headers: { "Idempotency-Key": key },
		});
		const sleep = idOf(await expectDocumented("POST", "/v1/tasks", 202, { json: { type: "sleep", payload: { ms: 100 }, tags: [tag] } }));
		const failing = idOf(await expectDocumented("POST", "/v1/tasks", 202, { json: { type: "fail", payload: { message: "no" } } }));
		await expectDocumented("POST", "/v1/tasks/batch", 202, {
			json: { tasks: [{ type: "echo" }, { type: "sha256", payload: { text: "a" } }] },
		});
		await expectDocumented("POST", "/v1/tasks/batch", 202, {
			json: { tasks: [{ type: "echo" }] },
			headers: { "Idempotency-Key": `${key}-batch` },
		});
		await expectDocumented("POST", "/v1/tasks/batch", 200, {
			json: { tasks: [{ type: "echo" }] },
			headers: { "Idempotency-Key": `${key}-batch` },
		});
		await api.waitForTerminal(sleep, 60_000);
		await api.waitForTerminal(failing, 60_000);
		await expectDocumented("GET", `/v1/tasks/${sleep}?wait=1`, 200); // succeeded: result and progress
		await expectDocumented("GET", `/v1/tasks/${failing}`, 200); // failed: error and attempt history
		await expectDocumented("GET", `/v1/tasks/${sleep}/events`, 200);
		await expectDocumented("GET", `/v1/tasks?tag=${encodeURIComponent(tag)}&limit=2`, 200);
		await expectDocumented("GET", "/v1/stats", 200);
		const delayed = idOf(await expectDocumented("POST", "/v1/tasks", 202, { json: { type: "echo", delaySeconds: 3600 } }));
		await expectDocumented("DELETE", `/v1/tasks/${delayed}`, 409);
		await expectDocumented("POST", `/v1/tasks/${delayed}/retry`, 409);
		await expectDocumented("POST", `/v1/tasks/${delayed}/cancel`, 200);
		await expectDocumented("POST", `/v1/tasks/${delayed}/retry`, 202);
		await expectDocumented("POST", `/v1/tasks/${sleep}/cancel`, 409);
		await expectDocumented("DELETE", `/v1/tasks/${sleep}`, 204);
		await expectDocumented("GET", `/v1/tasks/${sleep}`, 404);
		const later = idOf(await expectDocumented("POST", "/v1/tasks", 202, { json: { type: "echo", delaySeconds: 3600 } }));
		const operation = idOf(await expectDocumented("POST", "/v1/tasks/bulk", 202, { json: { action: "cancel", ids: [later] } }));
		await expectDocumented("GET", `/v1/operations/${operation}`, 200);
		await expectDocumented("GET", "/v1/operations/nope", 404);
		// A running operation's cancel (200) is covered by operations.e2e.test.ts; here, one that ended.
		await vi.waitUntil(
			async () => parseJson(await api.request("GET", `/v1/operations/${operation}`), OperationRecord).state !== "running",
			{
				timeout: 30_000,
				interval: 100,
			},
		);
		await expectDocumented("POST", `/v1/operations/${operation}/cancel`, 409);
		await expectDocumented("POST", "/v1/operations/nope/cancel", 404);
		await expectDocumented("POST", "/v1/tasks", 422, { json: { type: "sleep", payload: { ms: -1 } } });
		await expectDocumented("POST", "/v1/tasks", 422, { json: { type: "echo" }, headers: { "Idempotency-Key": "two words" } });
		await expectDocumented("POST", "/v1/tasks", 415, { body: "{}", contentType: "text/plain" });
		await expectDocumented("POST", "/v1/tasks", 400, { body: "{", contentType: "application/json" });
		await expectDocumented("GET", "/v1/tasks?limit=0", 422);
		const seed = idOf(await expectDocumented("POST", "/process_task", 202, { json: { a: 1 } }));
		await expectDocumented("GET", `/task/${seed}`, 200);
	});

	it("an http task and its callback: the result and the delivery attempts as documented", async () => {
		// This server's own /healthz answers the request; its POST answers the callback 405, so the
		// record gets a failed delivery attempt (the e2e Worker may call 127.0.0.1).
		const json = { type: "http", payload: { url: `${api.baseUrl}/healthz`, method: "GET" }, callback: { url: `${api.baseUrl}/healthz` } };
		const id = idOf(await expectDocumented("POST", "/v1/tasks", 202, { json }));
		await api.waitForTerminal(id, 60_000);
		await vi.waitUntil(async () => parseJson(await api.request("GET", `/v1/tasks/${id}`), Delivered).callback.deliveries.length > 0, {
			timeout: 60_000,
			interval: 250,
		});
		const record = parseJson(await expectDocumented("GET", `/v1/tasks/${id}`, 200), TaskRecord);
		expect(record).toMatchObject({ status: "succeeded", result: { status: 200 }, callback: { deliveries: [{ statusCode: 405 }] } });
	});

	it("schedules: create, replace, get, list, change, trigger, delete", async () => {
		const id = `openapi-${randomUUID().slice(0, 8)}`;
		const body = { cron: "0 9 * * *", timezone: "Europe/Berlin", task: { type: "echo", payload: { report: "daily" } } };
		await expectDocumented("PUT", `/v1/schedules/${id}`, 201, { json: body });
		await expectDocumented("PUT", `/v1/schedules/${id}`, 200, { json: body });
		await expectDocumented("PATCH", `/v1/schedules/${id}`, 200, { json: { paused: true } });
		await expectDocumented("POST", `/v1/schedules/${id}/trigger`, 202);
		await expectDocumented("GET", `/v1/schedules/${id}`, 200);
		await expectDocumented("GET", "/v1/schedules?limit=1", 200);
		await expectDocumented("DELETE", `/v1/schedules/${id}`, 204);
		await expectDocumented("GET", `/v1/schedules/${id}`, 404);
		const every = idOf(
			await expectDocumented("POST", "/v1/schedules", 201, { json: { every: 3600, task: { type: "sleep", payload: { ms: 1 } } } }),
		);
		await expectDocumented("DELETE", `/v1/schedules/${every}`, 204);
		await expectDocumented("PUT", "/v1/schedules/bad", 422, { json: { ...body, timezone: "Europe/Berln" } });
	});

	it("limits: list, override, remove, a task with a priority and a key, and their errors", async () => {
		await expectDocumented("GET", "/v1/limits", 200);
		await expectDocumented("PUT", "/v1/limits/limited-rate", 200, { json: { concurrency: 4, rateLimit: null } });
		await expectDocumented("DELETE", "/v1/limits/limited-rate", 204);
		await expectDocumented("PUT", "/v1/limits/limited-rate", 422, { json: {} });
		await expectDocumented("PUT", "/v1/limits/no-such-type", 404, { json: { concurrency: 1 } });
		await expectDocumented("DELETE", "/v1/limits/no-such-type", 404);
		const json = { type: "limited-key", payload: { ms: 0 }, priority: 9, concurrencyKey: `openapi-${randomUUID().slice(0, 8)}` };
		const id = idOf(await expectDocumented("POST", "/v1/tasks", 202, { json }));
		await api.waitForTerminal(id, 60_000);
		await expectDocumented("GET", `/v1/tasks/${id}`, 200);
	});

	it("held every answer above against the document", () => {
		// The validator is not a rubber stamp either: a record without its payload fails.
		const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/TaskRecord` });
		expect(
			validate({ id: "x", type: "echo", status: "queued", attempts: 0, maxAttempts: 1, createdAt: "", updatedAt: "", attemptHistory: [] }),
		).toBe(false);
		expect(documented).toBeGreaterThan(50);
	});
});
