// The dashboard's static files (vendored htmx, its script, stylesheet and icon), served from the
// Worker itself: no CDN. URLs carry a content hash, so they are cached for a year.
import { Hono } from "hono";
import type { InternalEnv } from "../../environment";
import { ASSETS } from "../assets/generated";

const byPath = new Map<string, { contentType: string; body: string }>(Object.values(ASSETS).map((asset) => [asset.path, asset]));

export const assetFiles = new Hono<{ Bindings: InternalEnv }>().get("/assets/:file", (c) => {
	const asset = byPath.get(`/dashboard/assets/${c.req.param("file")}`);
	if (!asset) return c.text("Not found", 404);
	return c.body(asset.body, 200, {
		"Content-Type": asset.contentType,
		"Cache-Control": "public, max-age=31536000, immutable",
	});
});
