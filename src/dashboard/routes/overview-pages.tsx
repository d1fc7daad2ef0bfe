/** @jsxImportSource hono/jsx */
// /dashboard: the overview, from the same readStats() as GET /v1/stats.
import { Hono } from "hono";
import type { InternalEnv } from "../../environment";
import { readStats } from "../../stats";
import { renderPage } from "../views/layout";
import { Overview, OverviewLive } from "../views/overview";

export const overviewPages = new Hono<{ Bindings: InternalEnv }>()
	.get("/", async (c) => renderPage(c, { title: "Overview", section: "overview" }, <Overview stats={await readStats(c.env)} />))
	.get("/overview/live", async (c) => c.html(<OverviewLive stats={await readStats(c.env)} />));
