// Which documented route a concrete request path belongs to, for the e2e tests that hold real
// requests against the OpenAPI document.

/**
 * The path template of the document (`/v1/tasks/{id}`) that `concrete` (`/v1/tasks/ab12…`) is an
 * instance of, with its path parameters; the most specific one (`/v1/tasks/batch` rather than
 * `/v1/tasks/{id}`) when several fit. Undefined if none does.
 */
export function pathTemplate(
	templates: readonly string[],
	concrete: string,
): { template: string; params: Record<string, string> } | undefined {
	const segments = concrete.split("?")[0]?.split("/") ?? [];
	const fitting = templates.filter((template) => {
		const parts = template.split("/");
		return parts.length === segments.length && parts.every((part, i) => isParameter(part) || part === segments[i]);
	});
	const parameters = (template: string) => template.split("/").filter(isParameter).length;
	const template = fitting.sort((a, b) => parameters(a) - parameters(b))[0];
	if (template === undefined) return undefined;
	const params = Object.fromEntries(
		template.split("/").flatMap((part, i) => (isParameter(part) ? [[part.slice(1, -1), segments[i] ?? ""]] : [])),
	);
	return { template, params };
}

const isParameter = (part: string) => part.startsWith("{") && part.endsWith("}");
