/** @jsxImportSource hono/jsx */
// /dashboard/limits: every task type's limits and usage, read from the types' limiters through
// the same function as GET /v1/limits (src/limits.ts). Read-only.
import { Hono } from "hono";
import { describeLimits } from "../../limits";
import type { AppEnv } from "../../router";
import { renderPage } from "../views/layout";
import { LimitsPage } from "../views/limits";

export const limitPages = new Hono<AppEnv>().get("/limits", async (c) => {
	const infos = await Promise.all([...c.var.taskTypes.values()].map((definition) => describeLimits(c.env, definition)));
	return renderPage(c, { title: "Limits", section: "limits" }, <LimitsPage infos={infos} />);
});
