// Standard Webhooks signatures (https://www.standardwebhooks.com) of everything taskflare sends:
// `webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`, one
// `v1,…` per secret, space-separated, so during a rotation a receiver holding either secret verifies.
// With Web Crypto only (no dependency). The secrets never leave this module: not in records, logs
// or error messages.
import { z } from "zod";
import type { InternalEnv } from "../environment";

/** The secrets as set with `wrangler secret put` (not [vars]): the current one and, while rotating, the previous one. */
const SecretVars = z.object({
	WEBHOOK_SECRET: z.string().optional(),
	WEBHOOK_SECRET_PREVIOUS: z.string().optional(),
});

/** The spec's bounds of a secret's key: 24 to 64 bytes. */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** `whsec_` + base64 of the key (the prefix is optional, as in the Standard Webhooks libraries). */
export function decodeSecret(secret: string): Uint8Array | null {
	const base64 = secret.trim().replace(/^whsec_/, "");
	if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return null;
	let binary: string;
	try {
		binary = atob(base64);
	} catch {
		return null;
	}
	if (binary.length < MIN_KEY_BYTES || binary.length > MAX_KEY_BYTES) return null;
	return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

export type SigningSetup = { ok: true; keys: Uint8Array[] } | { ok: false; message: string };

/** The keys to sign with (current first), or why outgoing requests cannot be signed. Never names a secret's value. */
export function signingSetup(env: InternalEnv): SigningSetup {
	const vars = SecretVars.parse(env);
	const keys: Uint8Array[] = [];
	for (const name of ["WEBHOOK_SECRET", "WEBHOOK_SECRET_PREVIOUS"] as const) {
		const secret = vars[name];
		if (secret === undefined || secret.trim() === "") {
			if (name === "WEBHOOK_SECRET") return { ok: false, message: "Outgoing requests are disabled: the WEBHOOK_SECRET secret is not set." };
			continue;
		}
		const key = decodeSecret(secret);
		if (!key) return { ok: false, message: `Outgoing requests are disabled: ${name} is not a whsec_ secret (base64 of 24 to 64 bytes).` };
		keys.push(key);
	}
	return { ok: true, keys };
}

const encoder = new TextEncoder();

/** The `webhook-signature` value for one message: `v1,<base64>` per key, space-separated. */
export async function signatureHeader(keys: readonly Uint8Array[], id: string, timestamp: number, body: string): Promise<string> {
	const content = encoder.encode(`${id}.${timestamp}.${body}`);
	const signatures = await Promise.all(
		keys.map(async (raw) => {
			const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
			return `v1,${toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", key, content)))}`;
		}),
	);
	return signatures.join(" ");
}

function toBase64(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary);
}
