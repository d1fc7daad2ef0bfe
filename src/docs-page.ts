// GET /docs: a self-contained HTML page rendered from the OpenAPI document (no scripts, no CDN,
// so it works offline under `wrangler dev` too), served under a strict Content-Security-Policy. The document is the source of truth; this page
// only lays it out for people.
import { z } from "zod";

const Operation = z.object({
	summary: z.string().optional(),
	description: z.string().optional(),
	security: z.array(z.unknown()).optional(),
	parameters: z
		.array(
			z.object({
				name: z.string(),
				in: z.string(),
				required: z.boolean().optional(),
				description: z.string().optional(),
				schema: z.unknown().optional(),
			}),
		)
		.optional(),
	requestBody: z.object({ content: z.record(z.string(), z.object({ schema: z.unknown().optional() })) }).optional(),
	responses: z.record(
		z.string(),
		z.object({ description: z.string(), content: z.record(z.string(), z.object({ schema: z.unknown().optional() })).optional() }),
	),
});
const Document = z.object({
	info: z.object({ title: z.string(), version: z.string(), description: z.string().optional() }),
	paths: z.record(z.string(), z.record(z.string(), z.unknown())),
	components: z.object({ schemas: z.record(z.string(), z.unknown()).optional() }).optional(),
});

const escape = (text: string) =>
	text.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);
const json = (value: unknown) => `<pre>${escape(JSON.stringify(value, null, 2))}</pre>`;
const METHODS = ["get", "post", "put", "patch", "delete"];

/** The page's only style, inline; the Content-Security-Policy allows exactly this text by its hash. */
const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f7;padding:.75rem;overflow:auto;border-radius:6px}
section{border-top:1px solid #ddd;padding:.5rem 0}h3{margin:.5rem 0}
.m{display:inline-block;min-width:3.5rem;text-align:center;border-radius:4px;color:#fff;font-size:12px;padding:2px 6px}
.get{background:#0a7d32}.post{background:#0b5cad}.lock{font-size:12px;color:#8a5a00}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
`;

let policy: Promise<string> | undefined;
/**
 * The Content-Security-Policy of GET /docs: nothing may load or run but the page's own inline
 * style, and no other site may frame it (clickjacking).
 */
export function docsContentSecurityPolicy(): Promise<string> {
	policy ??= crypto.subtle.digest("SHA-256", new TextEncoder().encode(STYLE)).then((digest) => {
		const hash = btoa(String.fromCharCode(...new Uint8Array(digest)));
		return `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
	});
	return policy;
}

export function renderDocsPage(openapi: unknown): string {
	const doc = Document.parse(openapi);
	const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
		METHODS.flatMap((method) => {
			const parsed = Operation.safeParse(item[method]);
			return parsed.success ? [{ path, method, op: parsed.data }] : [];
		}),
	);
	const section = ({ path, method, op }: (typeof operations)[number]) => `
<section id="${escape(`${method}-${path}`)}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code>${op.security?.length ? ' <span class="lock">bearer token</span>' : ""}</h3>
${op.summary ? `<p><strong>${escape(op.summary)}</strong></p>` : ""}
${op.description ? `<p>${escape(op.description)}</p>` : ""}
${
	op.parameters?.length
		? `<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>${op.parameters
				.map(
					(p) =>
						`<tr><td><code>${escape(p.name)}</code>${p.required ? " *" : ""}</td><td>${escape(p.in)}</td><td><code>${escape(JSON.stringify(p.schema ?? {}))}</code></td><td>${escape(p.description ?? "")}</td></tr>`,
				)
				.join("")}</table>`
		: ""
}
${
	op.requestBody
		? Object.entries(op.requestBody.content)
				.map(([type, c]) => `<p>Request body (<code>${escape(type)}</code>):</p>${json(c.schema)}`)
				.join("")
		: ""
}
<p>Responses:</p><ul>${Object.entries(op.responses)
		.map(
			([status, r]) =>
				`<li><code>${escape(status)}</code> ${escape(r.description)}${Object.entries(r.content ?? {})
					.map(([type, c]) => ` — <code>${escape(type)}</code> ${escape(JSON.stringify(c.schema ?? {}))}`)
					.join("")}</li>`,
		)
		.join("")}</ul>
</section>`;
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(doc.info.title)} API</title>
<style>${STYLE}</style></head><body>
<h1>${escape(doc.info.title)} <small>${escape(doc.info.version)}</small></h1>
${doc.info.description ? `<p>${escape(doc.info.description)}</p>` : ""}
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<h2>Routes</h2>
<ul>${operations.map(({ path, method, op }) => `<li><a href="#${escape(`${method}-${path}`)}">${method.toUpperCase()} ${escape(path)}</a> ${escape(op.summary ?? "")}</li>`).join("")}</ul>
${operations.map(section).join("")}
<h2>Schemas</h2>
${Object.entries(doc.components?.schemas ?? {})
	.map(([name, schema]) => `<h3 id="schema-${escape(name)}">${escape(name)}</h3>${json(schema)}`)
	.join("")}
</body></html>`;
}
