// The OpenAPI document (GET /openapi.json, and /docs rendered from it). The routes' zod schemas
// describe everything but what depends on the task types: that part is added here from the task
// definitions it is given, so that a client generated from the document (openapi-typescript etc.)
// types each task type's payload. The definitions are a parameter, never a module-level import.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { headerAsWritten } from "./errors";
import type { AppEnv } from "./router";
import { inputJsonSchema, type TaskDefinition } from "./tasks/define-task";

type OpenApiDocument = ReturnType<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>;
type Schemas = NonNullable<NonNullable<OpenApiDocument["components"]>["schemas"]>;

const CONFIG = {
	openapi: "3.1.0",
	info: {
		title: "taskflare",
		version: "1.0.0",
		description:
			"A task queue on Cloudflare Workers: submit tasks over HTTP, a queue consumer runs them, " +
			"each task's Durable Object holds its status and result. Errors are application/problem+json (RFC 9457).",
	},
};

/** The bodies that name a task type and carry its payload, made one variant per type below. */
const TASK_BODIES = ["SubmitTaskBody", "ScheduleTask"] as const;

const ref = (name: string) => `#/components/schemas/${name}`;

/** The document of `app`'s routes, with a submit body (and schedule task) per type of `definitions`. */
export function openApiDocument(app: OpenAPIHono<AppEnv>, definitions: Iterable<TaskDefinition>): OpenApiDocument {
	const document = app.getOpenAPI31Document(CONFIG);
	const schemas = ((document.components ??= {}).schemas ??= {});
	Object.assign(schemas, taskTypeSchemas(schemas, [...definitions]));
	// Header parameters are keyed in lowercase (Hono validates headers so); named as written, as
	// the problems about them are (a generated client then sends `Idempotency-Key`).
	for (const item of Object.values(document.paths ?? {})) {
		for (const operation of [item.get, item.put, item.post, item.delete, item.patch]) {
			for (const parameter of operation?.parameters ?? []) {
				if ("in" in parameter && parameter.in === "header") parameter.name = headerAsWritten(parameter.name);
			}
		}
	}
	return document;
}

/**
 * The schemas that replace each of TASK_BODIES (generated for any type and any JSON payload) by a
 * `oneOf` discriminated by `type`: one variant per task type, whose payload is that type's zod
 * `input` as JSON Schema (the same as GET /v1/task-types gives), required when `{}` (what a missing
 * payload stands for) would not pass. Also the payload schemas themselves, named `<Type>Payload`.
 */
export function taskTypeSchemas(generated: Readonly<Schemas>, definitions: readonly TaskDefinition[]): Schemas {
	if (definitions.length === 0) return {};
	const taken = new Set(Object.keys(generated));
	const schemas: Schemas = {};
	const types = definitions.map((definition) => {
		const prefix = uniquePrefix(pascalCase(definition.type), taken);
		const payload = `${prefix}Payload`;
		Object.assign(schemas, payloadSchemas(definition, payload));
		return { definition, prefix, payload, payloadRequired: !acceptsEmptyPayload(definition) };
	});
	for (const body of TASK_BODIES) {
		const base = generated[body];
		if (base === undefined || "$ref" in base || base.properties === undefined) {
			throw new Error(`The OpenAPI document has no object schema ${body} to split by task type.`);
		}
		const mapping: Record<string, string> = {};
		for (const { definition, prefix, payload, payloadRequired } of types) {
			const name = `${prefix}${body}`;
			mapping[definition.type] = ref(name);
			schemas[name] = {
				...base,
				description: definition.description,
				properties: {
					...base.properties,
					type: { type: "string", enum: [definition.type] },
					payload: {
						$ref: ref(payload),
						description: payloadRequired ? `The ${definition.type} input.` : `The ${definition.type} input (default {}).`,
					},
				},
				required: [...new Set([...(base.required ?? []), "type", ...(payloadRequired ? ["payload"] : [])])],
			};
		}
		schemas[body] = {
			description: `${base.description ? `${base.description} ` : ""}One variant per task type, chosen by \`type\`.`,
			oneOf: Object.values(mapping).map(($ref) => ({ $ref })),
			discriminator: { propertyName: "type", mapping },
		};
	}
	return schemas;
}

/**
 * The payload's JSON Schema as the component `name`. Schemas that zod puts under `$defs` (recursive
 * ones, or ones with an `id` in zod's registry) become components `<name>.<def>`, and references to
 * them and to the root (`#`) are rewritten to point there.
 */
function payloadSchemas(definition: TaskDefinition, name: string): Schemas {
	const { $schema: _dialect, $defs, ...root } = inputJsonSchema(definition);
	const defNames = new Map(Object.keys($defs ?? {}).map((key) => [key, `${name}.${key.replace(/[^A-Za-z0-9._-]/g, "_")}`]));
	const rewrite = (reference: string): string => {
		if (reference === "#") return ref(name);
		const def = /^#\/\$defs\/(.+)$/.exec(reference)?.[1];
		const target = def === undefined ? undefined : defNames.get(decodePointerSegment(def));
		return target === undefined ? reference : ref(target);
	};
	const schemas: Schemas = { [name]: requestSchema(root, rewrite) };
	for (const [key, schema] of Object.entries($defs ?? {})) {
		const defName = defNames.get(key);
		if (defName !== undefined && isRecord(schema)) schemas[defName] = requestSchema(schema, rewrite);
	}
	return schemas;
}

/** Keywords whose value is a schema, a list of schemas, or a map of names to schemas (JSON Schema 2020-12). */
const SUBSCHEMA = new Set([
	"items",
	"additionalProperties",
	"not",
	"if",
	"then",
	"else",
	"contains",
	"propertyNames",
	"unevaluatedItems",
	"unevaluatedProperties",
]);
const SUBSCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
const SUBSCHEMA_MAPS = new Set(["properties", "patternProperties", "dependentSchemas"]);

/**
 * A copy of a payload schema for request bodies: each `$ref` passed through `rewrite`, and each
 * `default` moved into the description. (Generators such as openapi-typescript make a property
 * with a default required in component schemas, as if it were always in a response; a client
 * would then have to send what the server fills in.)
 */
function requestSchema(schema: Readonly<Record<string, unknown>>, rewrite: (reference: string) => string): Record<string, unknown> {
	const copy: Record<string, unknown> = {};
	for (const [keyword, value] of Object.entries(schema)) {
		if (keyword === "$ref" && typeof value === "string") copy[keyword] = rewrite(value);
		else if (keyword === "default") continue;
		else if (SUBSCHEMA.has(keyword) && isRecord(value)) copy[keyword] = requestSchema(value, rewrite);
		else if (SUBSCHEMA_LISTS.has(keyword) && Array.isArray(value)) {
			copy[keyword] = value.map((item: unknown) => (isRecord(item) ? requestSchema(item, rewrite) : item));
		} else if (SUBSCHEMA_MAPS.has(keyword) && isRecord(value)) {
			copy[keyword] = Object.fromEntries(
				Object.entries(value).map(([key, item]) => [key, isRecord(item) ? requestSchema(item, rewrite) : item]),
			);
		} else copy[keyword] = value;
	}
	if ("default" in schema) {
		const note = `Default: ${JSON.stringify(schema.default)}.`;
		copy.description = typeof schema.description === "string" ? `${schema.description} ${note}` : note;
	}
	return copy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `~1` is `/` and `~0` is `~` in a JSON Pointer segment (RFC 6901); refs are also URI-encoded. */
function decodePointerSegment(segment: string): string {
	let decoded = segment;
	try {
		decoded = decodeURIComponent(segment);
	} catch {
		// Not percent-encoded after all: use it as it is.
	}
	return decoded.replaceAll("~1", "/").replaceAll("~0", "~");
}

/** Whether a submit without payload (which stands for `{}`) would pass the type's validation. */
function acceptsEmptyPayload(definition: TaskDefinition): boolean {
	try {
		return definition.input.safeParse({}).success;
	} catch {
		// An async or throwing schema: a submit without payload would not pass either.
		return false;
	}
}

/** `resize-image` → `ResizeImage`, `sha256` → `Sha256`: the part of component names for a type. */
function pascalCase(type: string): string {
	const words = type.split(/[^A-Za-z0-9]+/).filter((word) => word.length > 0);
	const name = words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join("");
	return name === "" ? "Type" : name;
}

/** `prefix`, or `prefix2`, `prefix3`, … if a component of its names exists (types `a-b` and `a_b`). */
function uniquePrefix(prefix: string, taken: Set<string>): string {
	const clashes = (candidate: string) => ["Payload", ...TASK_BODIES].some((suffix) => taken.has(`${candidate}${suffix}`));
	let candidate = prefix;
	for (let n = 2; clashes(candidate); n++) candidate = `${prefix}${n}`;
	for (const suffix of ["Payload", ...TASK_BODIES]) taken.add(`${candidate}${suffix}`);
	return candidate;
}
