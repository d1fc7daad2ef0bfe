/** @jsxImportSource hono/jsx */
// Sign-in and sign-out. The token is posted once (form body, never the URL), compared in constant
// time like a bearer token, and exchanged for the signed session cookie (session.ts).
import { Hono } from "hono";
import type { InternalEnv } from "../../environment";
import { sameToken } from "../../middleware/bearer-auth";
import { endSession, hasSession, startSession } from "../session";
import { renderPage } from "../views/layout";

/** Where to go after signing in: only a dashboard path of this site (no open redirect). */
function safeNext(next: string | undefined): string {
	if (next && /^\/dashboard(?:[/?#]|$)/.test(next) && !next.includes("\\")) return next;
	return "/dashboard";
}

function SignInForm(props: { next: string; error?: string; closed: boolean }) {
	return (
		<div class="signin">
			<h1>Sign in</h1>
			{props.closed ? (
				<p class="alert" role="alert">
					This server has no API token configured, so the dashboard is closed. Set API_TOKEN (locally, <code>npm run dev</code> uses{" "}
					<code>dev-token</code>).
				</p>
			) : null}
			{props.error ? (
				<p class="alert" role="alert" id="signin-error">
					{props.error}
				</p>
			) : null}
			<form method="post" action="/dashboard/sign-in" class="panel">
				<input type="hidden" name="next" value={props.next} />
				<div class="field">
					<label for="token">
						API token <span class="hint">(the bearer token of the API; asked for once per session)</span>
					</label>
					<input
						id="token"
						name="token"
						type="password"
						autocomplete="current-password"
						required
						autofocus
						aria-invalid={props.error ? "true" : undefined}
						aria-describedby={props.error ? "signin-error" : undefined}
					/>
				</div>
				<button type="submit" class="primary">
					Sign in
				</button>
			</form>
		</div>
	);
}

export const sessionPages = new Hono<{ Bindings: InternalEnv }>()
	.get("/sign-in", async (c) => {
		const next = safeNext(c.req.query("next"));
		if (await hasSession(c)) return c.redirect(next, 303);
		return renderPage(c, { title: "Sign in", section: null, signedIn: false }, <SignInForm next={next} closed={!c.env.API_TOKEN} />);
	})
	.post("/sign-in", async (c) => {
		const form = await c.req.parseBody();
		const token = typeof form.token === "string" ? form.token : "";
		const next = safeNext(typeof form.next === "string" ? form.next : undefined);
		const expected = c.env.API_TOKEN;
		if (!expected || token === "" || !(await sameToken(token, expected))) {
			const error = expected ? "That is not the API token." : "The dashboard is closed: no API token is configured.";
			return renderPage(
				c,
				{ title: "Sign in", section: null, signedIn: false, status: 401 },
				<SignInForm next={next} error={error} closed={!expected} />,
			);
		}
		await startSession(c, expected);
		return c.redirect(next, 303);
	})
	.post("/sign-out", (c) => {
		endSession(c);
		return c.redirect("/dashboard/sign-in", 303);
	});
