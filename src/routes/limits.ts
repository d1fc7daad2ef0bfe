// /v1/limits: every task type's flow-control limits (as declared in code, the override, what is in
// effect) with their usage; PUT overrides a type's limits without a deploy, DELETE returns to the
// code's. The override is kept by the type's limiter object (durable/limiter-object.ts).
import type { InternalEnv } from "../environment";
import { createRoute } from "@hono/zod-openapi";
import type { LimitSpec } from "../durable/limiter-object";
import { typeLimiterStub } from "../durable/limiter-stub";
import { ProblemError } from "../errors";
import { effectiveLimits, LimitList, LimitInfo as LimitInfoSchema, LimitsOverride, LimitTypeParams } from "../limit-schemas";
import { codeLimits, describeLimits, limiterSpecs, rememberOverride } from "../limits";
import { jsonBody } from "../middleware/json-body";
import { createRouter } from "../router";
import type { TaskDefinition } from "../tasks/define-task";
import type { TaskRegistry } from "../tasks/registry";
import { bearerSecurity, problemResponses } from "./responses";

const NONE: LimitSpec = { concurrency: null, rateLimit: null };

function definitionOf(taskTypes: TaskRegistry, type: string): TaskDefinition {
	const definition = taskTypes.get(type);
	if (!definition) throw new ProblemError("not-found", `No task type "${type}". Known types: ${[...taskTypes.keys()].join(", ")}.`);
	return definition;
}

/** Stores the override (null: none), tells the limiters, and remembers it in this isolate. */
async function setOverride(env: InternalEnv, definition: TaskDefinition, override: LimitsOverride | null): Promise<void> {
	const specs = limiterSpecs(effectiveLimits(codeLimits(definition), override));
	let stored;
	try {
		stored = await typeLimiterStub(env, definition.type).setOverride(definition.type, override, specs.type ?? NONE, specs.key ?? NONE);
	} catch {
		throw new ProblemError("unavailable", "The type's limiter could not be reached; nothing may have changed. Retry.", {
			headers: { "Retry-After": "1" },
		});
	}
	rememberOverride(env, definition.type, stored.override, stored.version);
}

const infoContent = { "application/json": { schema: LimitInfoSchema } };

export const limits = createRouter()
	.openapi(
		createRoute({
			method: "get",
			path: "/v1/limits",
			summary: "Every task type's limits, with usage and waiting tasks",
			description:
				"For each registered type: the limits in effect (the code's with the override applied), the code's, the " +
				"override, the permits in use and tasks waiting at the type's own limiter, and its keys' usage.",
			security: bearerSecurity,
			responses: {
				200: { description: "Every task type.", content: { "application/json": { schema: LimitList } } },
				...problemResponses("unauthorized", "unavailable"),
			},
		}),
		async (c) =>
			c.json({ limits: await Promise.all([...c.var.taskTypes.values()].map((definition) => describeLimits(c.env, definition))) }, 200),
	)
	.openapi(
		createRoute({
			method: "put",
			path: "/v1/limits/{type}",
			summary: "Override a task type's limits (kept until DELETE)",
			description:
				"Each field given replaces the code's value (null removes that limit); fields left out keep the code's value. " +
				"Replaces any earlier override. Applied at once by the type's limiters (waiting tasks that now fit are " +
				"admitted); consumers in other isolates learn of it within 10 s.",
			security: bearerSecurity,
			middleware: [jsonBody()],
			request: { params: LimitTypeParams, body: { required: true, content: { "application/json": { schema: LimitsOverride } } } },
			responses: {
				200: { description: "The type's limits now.", content: infoContent },
				...problemResponses(
					"bad-request",
					"unauthorized",
					"not-found",
					"payload-too-large",
					"unsupported-media-type",
					"validation-failed",
					"unavailable",
				),
			},
		}),
		async (c) => {
			const definition = definitionOf(c.var.taskTypes, c.req.valid("param").type);
			await setOverride(c.env, definition, c.req.valid("json"));
			return c.json(await describeLimits(c.env, definition), 200);
		},
	)
	.openapi(
		createRoute({
			method: "delete",
			path: "/v1/limits/{type}",
			summary: "Remove a task type's override: back to the limits in its code",
			security: bearerSecurity,
			request: { params: LimitTypeParams },
			responses: {
				204: { description: "The code's limits apply again." },
				...problemResponses("unauthorized", "not-found", "unavailable"),
			},
		}),
		async (c) => {
			await setOverride(c.env, definitionOf(c.var.taskTypes, c.req.valid("param").type), null);
			return c.body(null, 204);
		},
	);
