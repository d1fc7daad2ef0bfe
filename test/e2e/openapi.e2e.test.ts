// GET /openapi.json and GET /docs against the shared `wrangler dev` (see global-setup.ts): the
// document the Worker serves must be valid OpenAPI 3.1 according to an independent validator
// (@apidevtools/swagger-parser), not only according to the generator that produced it.
import SwaggerParser from "@apidevtools/swagger-parser";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { ApiClient, expectStatus, parseJson } from "./client";
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
