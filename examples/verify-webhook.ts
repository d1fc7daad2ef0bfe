// Verifies that a request came from taskflare (Standard Webhooks). Node.js 22+, Deno, Bun and
// Workers (Web Crypto only). `secret`: your WEBHOOK_SECRET ("whsec_…"); `body`: the raw request
// body exactly as received (read it as text before any JSON parsing: re-serialised JSON fails).
export async function verifyWebhook(secret: string, headers: Headers, body: string, toleranceSeconds = 300): Promise<boolean> {
	const id = headers.get("webhook-id");
	const timestamp = headers.get("webhook-timestamp");
	const signatures = headers.get("webhook-signature");
	if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) return false;
	// Refuse old (replayed) and future-dated messages.
	if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
	const bytes = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
	const key = await crypto.subtle.importKey("raw", bytes(secret.replace(/^whsec_/, "")), { name: "HMAC", hash: "SHA-256" }, false, [
		"verify",
	]);
	const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
	// One "v1,<base64>" per secret taskflare signs with (two while it rotates its secret).
	for (const entry of signatures.split(" ")) {
		const [version, signature] = entry.split(",");
		if (version !== "v1" || !signature) continue;
		try {
			// crypto.subtle.verify compares in constant time.
			if (await crypto.subtle.verify("HMAC", key, bytes(signature), signed)) return true;
		} catch {
			// Not base64: not a signature of ours.
		}
	}
	return false;
}
