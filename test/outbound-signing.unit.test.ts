// The allow-list (HTTP_ALLOWED_HOSTS) and the Standard Webhooks signatures, as plain functions:
// hostile URLs, entries, wildcards; the specification's test vector; rotation with two secrets.
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { checkUrl, parseAllowList } from "../src/outbound/allow-list";
import { outboundProblem, retryAfterSeconds } from "../src/outbound/send";
import { decodeSecret, signatureHeader, signingSetup } from "../src/outbound/signing";

function allowList(text: string) {
	const parsed = parseAllowList(text);
	if (!parsed.ok) throw new Error(parsed.message);
	return parsed.list;
}
const allowed = (url: string, list: string) => checkUrl(url, allowList(list)).ok;
/** The Worker's env with other secrets (as `wrangler secret put` would give them). */
const withSecrets = (secrets: Record<string, string | undefined>): Env => ({ ...env, ...secrets });

describe("the allow-list", () => {
	it("is closed when empty", () => {
		expect(checkUrl("https://api.example.com/", allowList(""))).toEqual({
			ok: false,
			message: "Outgoing requests are disabled: HTTP_ALLOWED_HOSTS is empty.",
		});
		expect(allowList(" , ")).toEqual([]);
	});

	it("matches exact hosts, wildcards over subdomains (not the domain itself), and ports", () => {
		const list = "api.example.com, *.hooks.example.org, localhost:8788";
		expect(allowed("https://api.example.com/x", list)).toBe(true);
		expect(allowed("https://API.EXAMPLE.COM./x", list)).toBe(true);
		expect(allowed("https://sub.api.example.com/", list)).toBe(false);
		expect(allowed("https://a.hooks.example.org/", list)).toBe(true);
		expect(allowed("https://a.b.hooks.example.org/", list)).toBe(true);
		expect(allowed("https://hooks.example.org/", list)).toBe(false);
		expect(allowed("https://evilhooks.example.org/", list)).toBe(false);
		expect(allowed("https://hooks.example.org.evil.com/", list)).toBe(false);
		expect(allowed("http://localhost:8788/cb", list)).toBe(true);
		expect(allowed("http://localhost:8789/cb", list)).toBe(false);
		expect(allowed("http://localhost/cb", list)).toBe(false);
	});

	it("reaches loopback, private and link-local addresses only when listed exactly, never through a wildcard", () => {
		const wildcardOnly = "*.example.com";
		for (const url of [
			"http://127.0.0.1/",
			"http://127.1/",
			"http://0x7f.1/",
			"http://0x7f000001/",
			"http://2130706433/",
			"http://017700000001/",
			"http://[::1]/",
			"http://[0:0:0:0:0:0:0:1]/",
			"http://[::ffff:127.0.0.1]/",
			"http://[::ffff:7f00:1]/",
			"http://[fe80::1]/",
			"http://[fc00::1]/",
			"http://169.254.169.254/",
			"http://10.1.2.3/",
			"http://172.16.0.1/",
			"http://192.168.0.1/",
			"http://0.0.0.0/",
			"http://localhost/",
			"http://a.localhost/",
			"http://127.0.0.1.example.com@127.0.0.1/",
		]) {
			expect(allowed(url, wildcardOnly), url).toBe(false);
		}
		// Listed exactly: every spelling of that address is the address (the URL parser normalises it).
		const loopback = "127.0.0.1,[::1],localhost";
		for (const url of [
			"http://127.0.0.1:9000/",
			"http://127.1/",
			"http://0x7f.1/",
			"http://2130706433/",
			"http://[::1]:8080/",
			"http://localhost/",
		]) {
			expect(allowed(url, loopback), url).toBe(true);
		}
		// …and only that address: the IPv4-mapped IPv6 form or another loopback address is not it.
		expect(allowed("http://[::ffff:127.0.0.1]/", loopback)).toBe(false);
		expect(allowed("http://127.0.0.2/", loopback)).toBe(false);
	});

	it("refuses user info, other schemes, malformed and overlong URLs", () => {
		const list = "allowed.com";
		expect(checkUrl("http://allowed.com@evil.com/", allowList(list))).toMatchObject({
			ok: false,
			message: "A URL must not contain a user name or password.",
		});
		expect(allowed("http://allowed.com:pw@allowed.com/", list)).toBe(false);
		expect(allowed("http://evil.com\\@allowed.com/", list)).toBe(false);
		expect(allowed("javascript:alert(1)", list)).toBe(false);
		expect(allowed("//allowed.com/", list)).toBe(false);
		expect(allowed(`https://allowed.com/${"a".repeat(2048)}`, list)).toBe(false);
	});

	it("rejects entries that are no host, and wildcards over addresses or bare names", () => {
		for (const entry of [
			"https://example.com",
			"example.com/path",
			"user@example.com",
			"*",
			"*.com.",
			"*.localhost",
			"*.127.0.0.1",
			"*.[::1]",
			"ex ample.com",
		]) {
			expect(parseAllowList(entry).ok, entry).toBe(false);
		}
		expect(parseAllowList("*.co.uk").ok).toBe(true);
	});

	it("closes outgoing requests when HTTP_ALLOWED_HOSTS has a malformed entry (and says which)", () => {
		const env = withSecrets({ HTTP_ALLOWED_HOSTS: "api.example.com, *.127.0.0.1" });
		expect(outboundProblem(env, "https://api.example.com/")).toBe(
			'Outgoing requests are disabled: HTTP_ALLOWED_HOSTS entry "*.127.0.0.1" is malformed ' +
				"(a wildcard must cover a domain name with a dot (like *.example.com)).",
		);
		expect(outboundProblem(withSecrets({}), "https://api.example.com/")).toBeNull();
	});
});

describe("Standard Webhooks signatures", () => {
	// The specification's test vector (standard-webhooks, libraries/javascript "sign function works").
	const vector = {
		secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
		timestamp: 1614265330,
		body: '{"test": 2432232314}',
		signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	};

	it("produces the specification's test-vector signature, byte for byte", async () => {
		const key = decodeSecret(vector.secret);
		if (!key) throw new Error("the vector's secret did not decode");
		expect(await signatureHeader([key], vector.id, vector.timestamp, vector.body)).toBe(vector.signature);
		// The prefix is optional, as in the libraries.
		expect(decodeSecret(vector.secret.slice("whsec_".length))).toEqual(key);
	});

	it("signs with both secrets during a rotation, so a receiver with either one verifies", async () => {
		const next = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
		const setup = signingSetup(withSecrets({ WEBHOOK_SECRET: next, WEBHOOK_SECRET_PREVIOUS: vector.secret }));
		if (!setup.ok) throw new Error(setup.message);
		const timestamp = Math.floor(Date.now() / 1000);
		const header = await signatureHeader(setup.keys, "msg_1", timestamp, '{"a":1}');
		expect(header.split(" ")).toHaveLength(2);
		const headers = { "webhook-id": "msg_1", "webhook-timestamp": String(timestamp), "webhook-signature": header };
		for (const secret of [next, vector.secret]) expect(new Webhook(secret).verify('{"a":1}', headers)).toEqual({ a: 1 });
		expect(() => new Webhook(`whsec_${btoa("another key, 24+ bytes long")}`).verify('{"a":1}', headers)).toThrow(
			"No matching signature found",
		);
	});

	it("is off without a valid secret, and never names the secret's value", () => {
		expect(signingSetup(withSecrets({ WEBHOOK_SECRET: undefined }))).toEqual({
			ok: false,
			message: "Outgoing requests are disabled: the WEBHOOK_SECRET secret is not set.",
		});
		for (const bad of ["whsec_short", "whsec_not base64!!", `whsec_${btoa("x".repeat(65))}`]) {
			const setup = signingSetup(withSecrets({ WEBHOOK_SECRET: bad }));
			expect(setup.ok).toBe(false);
			expect(JSON.stringify(setup)).not.toContain(bad);
		}
		expect(signingSetup(withSecrets({ WEBHOOK_SECRET_PREVIOUS: "oops" }))).toEqual({
			ok: false,
			message: "Outgoing requests are disabled: WEBHOOK_SECRET_PREVIOUS is not a whsec_ secret (base64 of 24 to 64 bytes).",
		});
	});
});

describe("Retry-After", () => {
	it("reads delta-seconds and HTTP dates", () => {
		const now = Date.parse("2026-12-01T10:00:00Z");
		expect(retryAfterSeconds("120", now)).toBe(120);
		expect(retryAfterSeconds(" 0 ", now)).toBe(0);
		expect(retryAfterSeconds("Tue, 01 Dec 2026 10:00:30 GMT", now)).toBe(30);
		expect(retryAfterSeconds("Tue, 01 Dec 2026 09:00:00 GMT", now)).toBe(0);
		expect(retryAfterSeconds("soon", now)).toBeNull();
		expect(retryAfterSeconds(null, now)).toBeNull();
	});
});
