// The list of schedules: one Durable Object for the whole Worker, holding one row per schedule
// (its id and its configuration as served by GET /v1/schedules). Each schedule's own object is the
// source of truth and keeps this list current when it is created, changed or deleted; fires never
// touch it, so it sees a few writes per schedule, not per fire.
//
// The bound: MAX_SCHEDULES rows (one object handles ~1,000 requests/s and 10 GB; a row is at most
// ~70 KB with a 64 KiB payload, so 10,000 schedules stay far below both).
import { DurableObject } from "cloudflare:workers";
import type { InternalEnv } from "../environment";

/** Most schedules one Worker may have (the directory's bound). */
const MAX_SCHEDULES = 10_000;

export type DirectoryAddResult = { kind: "ok" } | { kind: "full"; max: number };
export type DirectoryPage = { items: string[]; lastId: string | null; more: boolean };

export class ScheduleDirectory extends DurableObject<InternalEnv> {
	constructor(ctx: DurableObjectState, env: InternalEnv) {
		super(ctx, env);
		ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID");
	}

	/** Adds or updates the schedule's row; refuses a new one past MAX_SCHEDULES. */
	async put(id: string, json: string): Promise<DirectoryAddResult> {
		const sql = this.ctx.storage.sql;
		const exists = sql.exec("SELECT 1 FROM schedules WHERE id = ?", id).toArray().length > 0;
		if (!exists) {
			const count = Number(sql.exec("SELECT count(*) AS n FROM schedules").one().n);
			if (count >= MAX_SCHEDULES) return { kind: "full", max: MAX_SCHEDULES };
		}
		sql.exec("INSERT INTO schedules (id, json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json", id, json);
		return { kind: "ok" };
	}

	async remove(id: string): Promise<boolean> {
		return this.ctx.storage.sql.exec("DELETE FROM schedules WHERE id = ?", id).rowsWritten > 0;
	}

	/** Up to `limit` rows with ids after `after`, in id order (keyset pagination: stable under writes). */
	async list(after: string | null, limit: number): Promise<DirectoryPage> {
		const rows = this.ctx.storage.sql
			.exec<{ id: string; json: string }>("SELECT id, json FROM schedules WHERE id > ? ORDER BY id LIMIT ?", after ?? "", limit + 1)
			.toArray();
		const page = rows.slice(0, limit);
		return { items: page.map((row) => row.json), lastId: page.at(-1)?.id ?? null, more: rows.length > limit };
	}
}
