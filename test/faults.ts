// Failing dependencies for fault tests: an `env` whose queue or Durable Object stubs fail the way
// an outage or an unreachable object would.
import { env } from "cloudflare:workers";

/** A property of a runtime object, with methods bound to it (they refuse other receivers). */
function passThrough(target: object, prop: string | symbol): unknown {
	const value: unknown = Reflect.get(target, prop);
	return typeof value === "function" ? value.bind(target) : value;
}

/** `env` whose `TASK_QUEUE.send` and `sendBatch` always throw (an outage, or 429 Too Many Requests). */
export function withFailingQueue(base: Env = env): Env {
	const fail = () => Promise.reject(new Error("injected: Too Many Requests"));
	const queue = new Proxy(base.TASK_QUEUE, {
		get: (target, prop) => (prop === "send" || prop === "sendBatch" ? fail : passThrough(target, prop)),
	});
	return { ...base, TASK_QUEUE: queue };
}

/**
 * `env` whose task stubs fail `method` on the `nth` call made through this env (1-based), and
 * which remembers the id of every task object it handed out (to look at them afterwards).
 */
export function withNthTaskCallFailing(method: "create", nth: number) {
	const ids: string[] = [];
	let calls = 0;
	const namespace = new Proxy(env.TASK_OBJECT, {
		get: (target, prop) => {
			if (prop !== "get") return passThrough(target, prop);
			return (id: DurableObjectId) => {
				ids.push(id.toString());
				const stub = target.get(id);
				return new Proxy(stub, {
					// RPC stub members are callable without a receiver: no binding needed (or possible).
					get: (s, p) => {
						const real: unknown = Reflect.get(s, p);
						if (p !== method) return real;
						return (...args: unknown[]) => {
							calls += 1;
							if (calls === nth) return Promise.reject(new Error("injected: object unreachable"));
							if (typeof real !== "function") throw new Error(`stub has no ${method}`);
							const result: unknown = Reflect.apply(real, s, args);
							return result;
						};
					},
				});
			};
		},
	});
	return { env: { ...env, TASK_OBJECT: namespace } satisfies Env, ids };
}
