// MEASURING STICK for the taskflare benchmark (bench/run.ts) — not part of taskflare, never
// deployed. The minimum a task queue built like taskflare has to do, so the benchmark can tell
// what taskflare's own code costs on top of the platform (wrangler dev / workerd / Queues / DOs):
//   POST /tasks      one Durable Object per task (newUniqueId), ONE storage write, send {id} to
//                    the queue, answer 202 {id};
//   queue consumer   a batch (up to 100) worked on concurrently: per message ONE RPC, finish(),
//                    which writes ONCE (status done, result = the payload), then ack;
//   GET /tasks/{id}  ONE RPC returning the stored record.
// Deliberately absent: auth, validation, retries, leases, alarms, long-polling (?wait), errors
// beyond the bare minimum. Types: only the runtime types (no generated Env; see BaselineEnv), so
// the repository's tsconfig.json checks this file as it is.
import { DurableObject } from "cloudflare:workers";

type BaselineEnv = {
	BASELINE_OBJECT: DurableObjectNamespace<BaselineObject>;
	BASELINE_QUEUE: Queue<BaselineMessage>;
};

type BaselineMessage = { id: string };

type BaselineRecord = {
	id: string;
	status: "queued" | "done";
	createdAt: string;
	finishedAt?: string;
	payload: unknown;
	result?: unknown;
};

const RECORD_KEY = "record";

export class BaselineObject extends DurableObject<BaselineEnv> {
	/** Stores the new task's record: the one write of a submit. */
	create(payload: unknown): BaselineRecord {
		const record: BaselineRecord = {
			id: this.ctx.id.toString(),
			status: "queued",
			createdAt: new Date().toISOString(),
			payload,
		};
		this.ctx.storage.kv.put(RECORD_KEY, record);
		return record;
	}

	/** "Runs" the task (echo) and stores the outcome: the one write of a consume. */
	finish(): boolean {
		const record = this.ctx.storage.kv.get<BaselineRecord>(RECORD_KEY);
		if (record === undefined || record.status === "done") return false;
		const done: BaselineRecord = { ...record, status: "done", finishedAt: new Date().toISOString(), result: record.payload };
		this.ctx.storage.kv.put(RECORD_KEY, done);
		return true;
	}

	get(): BaselineRecord | null {
		return this.ctx.storage.kv.get<BaselineRecord>(RECORD_KEY) ?? null;
	}
}

const json = (body: unknown, status = 200) =>
	new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const TASK_PATH = /^\/tasks\/([0-9a-f]{64})$/;

export default {
	async fetch(request, env) {
		const { pathname } = new URL(request.url);
		if (pathname === "/healthz") return json({ status: "ok" });
		if (pathname === "/tasks" && request.method === "POST") {
			const body: unknown = await request.json();
			const payload = typeof body === "object" && body !== null && "payload" in body ? body.payload : null;
			const objectId = env.BASELINE_OBJECT.newUniqueId();
			// The stub types create() as `never` (workers-types cannot prove a record with `unknown`
			// fields serializable), but over RPC it is a promise like any other call.
			// oxlint-disable-next-line typescript/await-thenable
			const { id } = await env.BASELINE_OBJECT.get(objectId).create(payload);
			await env.BASELINE_QUEUE.send({ id });
			return json({ id }, 202);
		}
		const match = TASK_PATH.exec(pathname);
		if (match?.[1] !== undefined && request.method === "GET") {
			let objectId: DurableObjectId;
			try {
				objectId = env.BASELINE_OBJECT.idFromString(match[1]);
			} catch {
				return json({ error: "not found" }, 404); // Not an id of this namespace.
			}
			const record = await env.BASELINE_OBJECT.get(objectId).get();
			return record === null ? json({ error: "not found" }, 404) : json(record);
		}
		return json({ error: "not found" }, 404);
	},

	async queue(batch, env) {
		await Promise.all(
			batch.messages.map(async (message) => {
				try {
					await env.BASELINE_OBJECT.get(env.BASELINE_OBJECT.idFromString(message.body.id)).finish();
					message.ack();
				} catch {
					message.retry();
				}
			}),
		);
	},
} satisfies ExportedHandler<BaselineEnv, BaselineMessage>;
