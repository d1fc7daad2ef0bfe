// Bulk operations: POST /v1/tasks/bulk records one and answers at once; its Durable Object works
// through the tasks in the background (operation-object.ts); GET /v1/operations/{id} shows progress,
// and POST /v1/operations/{id}/cancel stops it.
import { createRoute } from "@hono/zod-openapi";
import type { BeginOperationInput } from "../durable/operation-object";
import { getOperationStub, keyedOperationStub, newOperationStub, operationNotFound } from "../durable/operation-stub";
import { ProblemError } from "../errors";
import { keyConflict, requestFingerprint } from "../idempotency";
import { jsonBody } from "../middleware/json-body";
import { createRouter } from "../router";
import { BULK_ACTION_STATUSES, BulkActionBody, IdempotencyHeaders, type JsonValue, OperationIdParams, OperationRecord } from "../schemas";
import { bearerSecurity, locationHeader, problemResponses, replayedHeader } from "./responses";

const operationContent = { "application/json": { schema: OperationRecord } };

export const operations = createRouter()
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/tasks/bulk",
			summary: "Retry, cancel or delete many tasks in the background",
			description:
				"Names the tasks by `ids` (up to 1,000) or by a `filter` (as for GET /v1/tasks; any number of tasks). " +
				"Answers 202 at once with the operation; its tasks are handled in the background, 100 at a time. " +
				"Follow `Location` to watch it. Each task is acted on only if its status allows the action " +
				"(else it is counted as skipped). A filter reaches the tasks created before the operation that the " +
				"task index shows in a status the action applies to (retry: failed, cancelled; cancel: queued, " +
				"retrying; delete: succeeded, failed, cancelled). With an Idempotency-Key, a repeat of the request " +
				"answers the operation it started (200) instead of starting another.",
			security: bearerSecurity,
			middleware: [jsonBody()],
			request: {
				headers: IdempotencyHeaders,
				body: { required: true, content: { "application/json": { schema: BulkActionBody } } },
			},
			responses: {
				202: {
					description: "Recorded and started.",
					headers: locationHeader("/v1/operations/{id}"),
					content: operationContent,
				},
				200: {
					description: "A repeat of an earlier request with the same Idempotency-Key and body: the operation it started.",
					headers: { ...locationHeader("/v1/operations/{id}"), ...replayedHeader },
					content: operationContent,
				},
				...problemResponses("bad-request", "unauthorized", "payload-too-large", "unsupported-media-type", "validation-failed"),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			const key = c.req.valid("header")["idempotency-key"];
			const input: BeginOperationInput =
				body.filter === undefined ? { action: body.action, ids: body.ids ?? [] } : { action: body.action, filter: body.filter };
			if (key === undefined) {
				const { id, stub } = newOperationStub(c.env);
				return c.json(await stub.begin(input), 202, { Location: `/v1/operations/${id}` });
			}
			const { id, stub } = keyedOperationStub(c.env, key);
			const begun = await stub.beginOnce(input, await requestFingerprint("POST /v1/tasks/bulk", bulkMeaning(input)));
			if (begun.kind === "conflict") throw keyConflict();
			const location = { Location: `/v1/operations/${id}` };
			return begun.kind === "replayed"
				? c.json(begun.record, 200, { ...location, "Idempotent-Replayed": "true" })
				: c.json(begun.record, 202, location);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/v1/operations/{id}",
			summary: "Get a bulk operation's progress",
			security: bearerSecurity,
			request: { params: OperationIdParams },
			responses: {
				200: { description: "The operation's counts and state.", content: operationContent },
				...problemResponses("unauthorized", "not-found"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const record = await getOperationStub(c.env, id).get();
			if (record === null) throw operationNotFound(id);
			return c.json(record, 200);
		},
	)
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/operations/{id}/cancel",
			summary: "Stop a running bulk operation",
			description:
				"No task call starts after the cancel: the few under way (at most 20) finish and are counted, and " +
				"the tasks not reached are left as they are. Answers the operation, now `cancelled`, once the chunk " +
				"under way has saved its counts (so they are final). Cancelling a cancelled operation answers 200 " +
				"again; one that already succeeded or failed answers 409.",
			security: bearerSecurity,
			request: { params: OperationIdParams },
			responses: {
				200: { description: "The cancelled operation.", content: operationContent },
				...problemResponses("unauthorized", "not-found", "conflict"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const result = await getOperationStub(c.env, id).cancel();
			if (result === null) throw operationNotFound(id);
			if (result.kind === "conflict") {
				throw new ProblemError("conflict", `The operation has already ${result.state}; only a running operation can be cancelled.`);
			}
			return c.json(result.record, 200);
		},
	);

/**
 * What a bulk request means, for its Idempotency-Key: ids as a set (order and repeats do not change
 * what it does); a filter's statuses as a set, an omitted `status` as every status the action
 * applies to (what the operation uses), and its times as instants (`…T00:00:00Z` is
 * `…T00:00:00.000Z`).
 */
function bulkMeaning(input: BeginOperationInput): JsonValue {
	if ("ids" in input) return { action: input.action, ids: [...new Set(input.ids)].sort() };
	const { status, createdAfter, createdBefore, ...rest } = input.filter;
	const instant = (iso: string | undefined): JsonValue => (iso === undefined ? null : Date.parse(iso));
	const filter: Record<string, JsonValue> = {
		...Object.fromEntries(Object.entries(rest).filter((entry): entry is [string, string] => entry[1] !== undefined)),
		status: [...new Set(status ?? BULK_ACTION_STATUSES[input.action])].sort(),
		createdAfter: instant(createdAfter),
		createdBefore: instant(createdBefore),
	};
	return { action: input.action, filter };
}
