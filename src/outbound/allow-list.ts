// Where taskflare may send requests (HTTP tasks and completion callbacks): HTTP_ALLOWED_HOSTS, a
// comma-separated list of host patterns. Empty means nowhere: the feature is closed until
// configured. Every URL is judged by the host the WHATWG URL parser (the one fetch() uses) makes
// of it, so spellings like `http://127.1`, `http://0x7f.1`, `http://2130706433` or
// `http://EXAMPLE.com.` are judged as the address they reach, never as the text they are.

/**
 * One entry: `api.example.com`, `*.example.com` (subdomains at any depth, not the domain itself),
 * `127.0.0.1`, `[::1]`, `localhost`, each optionally with `:port` (else any port).
 */
type HostPattern = { kind: "exact"; host: string; port?: string } | { kind: "wildcard"; suffix: string; port?: string };
export type AllowList = readonly HostPattern[];

/** Longest URL an HTTP task or a callback may name. */
export const MAX_URL_LENGTH = 2048;

export type ParsedAllowList = { ok: true; list: AllowList } | { ok: false; entry: string; message: string };

const parsedLists = new WeakMap<object, ParsedAllowList>();

/**
 * The env's HTTP_ALLOWED_HOSTS, parsed once per env. Kept out of config.ts on purpose: a malformed
 * list closes outgoing requests (with a message naming the entry) instead of failing every request
 * and alarm of the Worker.
 */
export function allowListOf(env: object): ParsedAllowList {
	let parsed = parsedLists.get(env);
	if (!parsed) {
		const text: unknown = Reflect.get(env, "HTTP_ALLOWED_HOSTS");
		parsed = parseAllowList(typeof text === "string" ? text : "");
		parsedLists.set(env, parsed);
	}
	return parsed;
}

/** Parses HTTP_ALLOWED_HOSTS; a malformed entry is reported (never silently widened or dropped). */
export function parseAllowList(text: string): ParsedAllowList {
	const list: HostPattern[] = [];
	for (const raw of text.split(",")) {
		const entry = raw.trim();
		if (entry === "") continue;
		const pattern = parseEntry(entry);
		if (typeof pattern === "string") return { ok: false, entry, message: pattern };
		list.push(pattern);
	}
	return { ok: true, list };
}

function parseEntry(entry: string): HostPattern | string {
	const wildcard = entry.startsWith("*.");
	const hostText = wildcard ? entry.slice(2) : entry;
	if (!/^[A-Za-z0-9.\-[\]:]+$/.test(hostText)) return "only a host name, an IP address or *.domain, with an optional :port";
	let url: URL;
	try {
		url = new URL(`http://${hostText}/`);
	} catch {
		return "not a valid host";
	}
	const host = withoutTrailingDot(url.hostname);
	const port = url.port === "" ? {} : { port: url.port };
	if (!wildcard) return { kind: "exact", host, ...port };
	// A wildcard covers names only: never an address and never localhost (see isAddressOrLocal).
	if (isAddressOrLocal(host) || !host.includes(".")) return "a wildcard must cover a domain name with a dot (like *.example.com)";
	return { kind: "wildcard", suffix: `.${host}`, ...port };
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; message: string };

/** Whether `text` is an http(s) URL whose host the allow-list names. */
export function checkUrl(text: string, allowList: AllowList): UrlCheck {
	if (text.length > MAX_URL_LENGTH) return { ok: false, message: `A URL is limited to ${MAX_URL_LENGTH} characters.` };
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		return { ok: false, message: "Not a valid absolute URL." };
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return { ok: false, message: "Only http and https URLs are allowed." };
	// `http://allowed.com@evil.com` goes to evil.com; credentials have no place in a stored URL either.
	if (url.username !== "" || url.password !== "") return { ok: false, message: "A URL must not contain a user name or password." };
	if (allowList.length === 0) {
		return { ok: false, message: "Outgoing requests are disabled: HTTP_ALLOWED_HOSTS is empty." };
	}
	const host = withoutTrailingDot(url.hostname);
	const port = url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port;
	if (allowList.some((pattern) => matches(pattern, host, port))) return { ok: true, url };
	return {
		ok: false,
		message:
			`The host "${host}" is not allowed by HTTP_ALLOWED_HOSTS ` +
			"(IP addresses and localhost are allowed only by entries that name them exactly, never by a wildcard).",
	};
}

function matches(pattern: HostPattern, host: string, port: string): boolean {
	if (pattern.port !== undefined && pattern.port !== port) return false;
	if (pattern.kind === "exact") return pattern.host === host;
	return !isAddressOrLocal(host) && host.endsWith(pattern.suffix);
}

/**
 * IP literals (v4 as the URL parser normalises them, v6 in brackets) and localhost names: loopback,
 * private and link-local addresses are among them, so none of them is ever reached through a
 * wildcard; each must be listed as it is. (A name is judged as a name: DNS is not resolved here.)
 */
function isAddressOrLocal(host: string): boolean {
	return host.startsWith("[") || /^[0-9.]+$/.test(host) || host === "localhost" || host.endsWith(".localhost");
}

/** `example.com.` is the same host as `example.com` (the root label). */
function withoutTrailingDot(host: string): string {
	return host.endsWith(".") ? host.slice(0, -1) : host;
}
