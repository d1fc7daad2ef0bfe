/** @jsxImportSource hono/jsx */
// The dashboard: server-rendered pages (hono/jsx) with htmx for partial updates, mounted at
// /dashboard by src/app.ts. It calls the same internal functions as the JSON routes (stub
// helpers, submit, task types), never the JSON API over HTTP. Every response carries a strict
// CSP; every state-changing request must come from this origin; every page but sign-in needs a
// session (session.ts). The JSON API keeps its bearer auth and is unaffected.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { InternalEnv } from "../environment";
import { ProblemError } from "../errors";
import { assetFiles } from "./routes/asset-files";
import { bulkPages } from "./routes/bulk-pages";
import { limitPages } from "./routes/limit-pages";
import { listPages } from "./routes/list-pages";
import { overviewPages } from "./routes/overview-pages";
import { schedulePages } from "./routes/schedule-pages";
import { sessionPages } from "./routes/session-pages";
import { submitPages } from "./routes/submit-pages";
import { taskPages } from "./routes/task-pages";
import { dashboardHeaders, sameOriginOnly } from "./security";
import { requireSession } from "./session";
import { renderPage } from "./views/layout";

/** Largest form a dashboard page posts: a 1 MiB payload typed as JSON, URL-encoded. */
const MAX_FORM_BYTES = 4 * 1024 * 1024;

export const dashboard = new Hono<{ Bindings: InternalEnv }>();

dashboard.use("*", dashboardHeaders());
dashboard.use("*", sameOriginOnly());
dashboard.use("*", bodyLimit({ maxSize: MAX_FORM_BYTES, onError: (c) => c.text("The form is too large.", 413) }));
dashboard.route("/", assetFiles);
dashboard.route("/", sessionPages);
dashboard.use("*", requireSession());
dashboard.route("/", overviewPages);
dashboard.route("/", listPages);
dashboard.route("/", taskPages);
dashboard.route("/", bulkPages);
dashboard.route("/", submitPages);
dashboard.route("/", schedulePages);
dashboard.route("/", limitPages);
dashboard.all("*", (c) => renderError(c, new ProblemError("not-found", "There is no such dashboard page.")));

// Dashboard errors are pages, not problem+json: the same ProblemError, rendered for people. Like
// the API's onError, nothing internal is shown.
dashboard.onError((error, c) => {
	if (error instanceof ProblemError) return renderError(c, error);
	console.error("taskflare dashboard: unhandled error", error);
	return renderError(c, new ProblemError("internal", "Something went wrong on our side; try again."));
});

function renderError(c: Parameters<typeof renderPage>[0], error: ProblemError) {
	const title = error.toProblem().title;
	return renderPage(
		c,
		{ title, section: null, status: error.status },
		<>
			<h1>{title}</h1>
			<p>{error.detail}</p>
			<p>
				<a href="/dashboard">Back to the dashboard</a>
			</p>
		</>,
	);
}
