// The benchmark's expected failures and how any error is shown in a report line.

/** An expected way to fail (a server that does not start, refuses the token, dies): no stack. */
export class BenchError extends Error {
	override name = "BenchError";
}

function errorCode(error: unknown): string | undefined {
	return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

export function describe(error: unknown): string {
	if (error instanceof Error) return `${error.name}: ${error.message}${errorCode(error) ? ` (${errorCode(error)})` : ""}`;
	return String(error);
}
