// The dashboard's schedule pages inside workerd: closed without a session, cross-site actions
// refused, and pause / resume / trigger now changing the schedule as PATCH and trigger do.
// (The same flow in a real browser: test/browser/schedules.browser.test.ts.)
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getScheduleStub } from "../src/durable/schedule-stub";
import { createSessionValue, SESSION_COOKIE } from "../src/dashboard/session";
import { ScheduleDetail } from "../src/schedule-schemas";
import { api, TOKEN } from "./helpers";

const ORIGIN = "https://taskflare.test";
const uid = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

function dashboard(path: string, init: { method?: string; cookie?: string; origin?: string | null } = {}) {
	const { cookie, origin = ORIGIN, method = "GET" } = init;
	const headers = new Headers();
	if (cookie !== undefined) headers.set("Cookie", `${SESSION_COOKIE}=${cookie}`);
	if (origin !== null) headers.set("Origin", origin);
	return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method, headers, redirect: "manual" }));
}

/** A new hourly schedule (it will not fire by itself during a test). */
async function createSchedule(id: string, extra: Record<string, unknown> = {}): Promise<ScheduleDetail> {
	const response = await api(`/v1/schedules/${id}`, {
		method: "PUT",
		json: { every: 3600, task: { type: "echo", payload: { from: id } }, ...extra },
	});
	expect(response.status, await response.clone().text()).toBe(201);
	return ScheduleDetail.parse(await response.json());
}

async function viewOf(id: string) {
	const view = await getScheduleStub(env, id).get();
	if (view === null) throw new Error(`schedule ${id} is gone`);
	return view;
}

describe("dashboard schedule pages", () => {
	it("send a visitor without a session to sign-in, and refuse actions without one", async () => {
		const id = uid("ds-closed");
		await createSchedule(id);
		for (const path of ["/dashboard/schedules", `/dashboard/schedules/${id}`]) {
			const response = await dashboard(path);
			expect(response.status, path).toBe(303);
			expect(response.headers.get("Location")).toBe(`/dashboard/sign-in?next=${encodeURIComponent(path)}`);
		}
		for (const action of ["pause", "trigger"]) {
			const response = await dashboard(`/dashboard/schedules/${id}/${action}`, { method: "POST" });
			expect(response.status, action).toBe(401);
		}
		const view = await viewOf(id);
		expect(view.state).toBe("active");
		expect(view.runs).toEqual([]);
	});

	it("refuse pause, resume and trigger from another origin, even with a valid session", async () => {
		const cookie = await createSessionValue(TOKEN);
		const id = uid("ds-csrf");
		await createSchedule(id);
		const paused = uid("ds-csrf-p");
		await createSchedule(paused, { paused: true });
		for (const origin of ["https://evil.example", "null", "http://taskflare.test", null]) {
			for (const [target, action] of [
				[id, "pause"],
				[id, "trigger"],
				[paused, "resume"],
			] as const) {
				const response = await dashboard(`/dashboard/schedules/${target}/${action}`, { method: "POST", cookie, origin });
				expect(response.status, `${action} from ${origin}`).toBe(403);
			}
		}
		expect((await viewOf(id)).state).toBe("active");
		expect((await viewOf(id)).runs).toEqual([]);
		expect((await viewOf(paused)).state).toBe("paused");
	});

	it("list a schedule with its cadence, type, state and next fire, and show its detail", async () => {
		const cookie = await createSessionValue(TOKEN);
		const id = uid("ds-list");
		const created = await createSchedule(id);
		const cron = uid("ds-cron");
		await createSchedule(cron, {
			every: undefined,
			cron: "0 9 * * 1-5",
			timezone: "Europe/Berlin",
			paused: true,
			task: { type: "echo", priority: 8, concurrencyKey: "<b>tenant&7</b>" },
		});

		// The directory lists by id; page through until both are seen (other tests add schedules too).
		let html = "";
		let next: string | null = "/dashboard/schedules";
		while (next !== null) {
			const response = await dashboard(next, { cookie });
			expect(response.status).toBe(200);
			const page = await response.text();
			html += page;
			const more = /href="(\/dashboard\/schedules\?after=[^"]+)">Next page/.exec(page);
			next = more?.[1]?.replaceAll("&amp;", "&") ?? null;
		}
		const row = (sid: string) => new RegExp(`<tr data-schedule-id="${sid}">[\\s\\S]*?</tr>`).exec(html)?.[0] ?? "";
		expect(row(id)).toContain(`href="/dashboard/schedules/${id}"`);
		expect(row(id)).toContain("every 3600 s");
		expect(row(id)).toContain("echo");
		expect(row(id)).toContain(">active<");
		expect(row(id)).toContain(`datetime="${created.nextFires[0]}"`);
		expect(row(cron)).toContain("0 9 * * 1-5");
		expect(row(cron)).toContain("Europe/Berlin");
		expect(row(cron)).toContain(">paused<");

		const detail = await (await dashboard(`/dashboard/schedules/${id}`, { cookie })).text();
		expect(detail.length).toBeLessThan(100_000);
		for (const fire of created.nextFires) expect(detail).toContain(`datetime="${fire}"`);
		expect(created.nextFires).toHaveLength(5);
		expect(detail).toContain(`action="/dashboard/schedules/${id}/pause"`);
		expect(detail).toContain(`action="/dashboard/schedules/${id}/trigger"`);
		expect(detail).toContain("No runs yet.");
		// No inline scripts, styles or handlers (the CSP would block them).
		expect(detail).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
		expect(detail).not.toMatch(/<style|\sstyle=|\son[a-z]+=|hx-on|javascript:/i);

		// Priority and concurrency key appear only where the schedule's task sets them, escaped.
		expect(detail).not.toContain("Concurrency key");
		const limited = await (await dashboard(`/dashboard/schedules/${cron}`, { cookie })).text();
		expect(limited).toMatch(/<dt>Priority<\/dt>\s*<dd>8<\/dd>/);
		expect(limited).toContain("&lt;b&gt;tenant&amp;7&lt;/b&gt;");
		expect(limited).not.toContain("<b>tenant");

		const missing = await dashboard(`/dashboard/schedules/${uid("ds-none")}`, { cookie });
		expect(missing.status).toBe(404);
		expect((await dashboard("/dashboard/schedules?after=%3Cscript%3E", { cookie })).status).toBe(422);
	});

	it("pause, resume and trigger now change the schedule, and the run links to its task", async () => {
		const cookie = await createSessionValue(TOKEN);
		const id = uid("ds-act");
		await createSchedule(id);

		const pause = await dashboard(`/dashboard/schedules/${id}/pause`, { method: "POST", cookie });
		expect(pause.status).toBe(303);
		expect(pause.headers.get("Location")).toBe(`/dashboard/schedules/${id}`);
		expect((await viewOf(id)).state).toBe("paused");
		expect((await viewOf(id)).nextFires).toEqual([]);
		const pausedPage = await (await dashboard(`/dashboard/schedules/${id}`, { cookie })).text();
		expect(pausedPage).toContain(`action="/dashboard/schedules/${id}/resume"`);

		expect((await dashboard(`/dashboard/schedules/${id}/resume`, { method: "POST", cookie })).status).toBe(303);
		const resumed = await viewOf(id);
		expect(resumed.state).toBe("active");
		expect(resumed.nextFires).toHaveLength(5);

		const trigger = await dashboard(`/dashboard/schedules/${id}/trigger`, { method: "POST", cookie });
		expect(trigger.status).toBe(303);
		expect(trigger.headers.get("Location")).toBe(`/dashboard/schedules/${id}`);
		const [run] = (await viewOf(id)).runs;
		expect(run).toMatchObject({ trigger: "manual", outcome: "submitted" });
		const taskId = run?.taskId ?? "";
		expect(taskId).not.toBe("");

		const page = await (await dashboard(`/dashboard/schedules/${id}`, { cookie })).text();
		expect(page).toContain(`href="/dashboard/tasks/${taskId}"`);
		expect(page).toMatch(/class="badge s-(queued|running|succeeded)"/);

		// Actions on a schedule that does not exist are 404 pages, not 5xx.
		for (const action of ["pause", "resume", "trigger"]) {
			const response = await dashboard(`/dashboard/schedules/${uid("ds-gone")}/${action}`, { method: "POST", cookie });
			expect(response.status, action).toBe(404);
		}
	});
});
