// The task list's filter as it lives in the dashboard's URLs (so a view can be shared): read from
// the query string, checked with the API's own TaskListQuery schema, and written back.
import { fieldErrors, type FieldError } from "../errors";
import { type TaskFilter, TaskListQuery } from "../schemas";

/** Tasks per list page. */
const PAGE_SIZE = 50;

export type ListView = { query: TaskListQuery; errors: FieldError[]; form: FilterForm };
/** The values as typed, to fill the filter form again. */
export type FilterForm = { status: string[]; type: string; tag: string; createdAfter: string; createdBefore: string };

/**
 * A `datetime-local` value ("2026-12-01T14:05") is read as UTC (the form says so); full ISO 8601
 * times pass through unchanged.
 */
function isoTime(value: string): string | undefined {
	const text = value.trim();
	if (text === "") return undefined;
	if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(text)) return `${text}:00Z`;
	if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text)) return `${text}Z`;
	return text;
}

export function readListView(url: URL): ListView {
	const params = url.searchParams;
	const one = (name: string) => params.get(name)?.trim() ?? "";
	const form: FilterForm = {
		status: params
			.getAll("status")
			.flatMap((s) => s.split(","))
			.filter((s) => s !== ""),
		type: one("type"),
		tag: one("tag"),
		createdAfter: one("createdAfter"),
		createdBefore: one("createdBefore"),
	};
	const input = {
		status: form.status.length > 0 ? form.status : undefined,
		type: form.type || undefined,
		tag: form.tag || undefined,
		createdAfter: isoTime(form.createdAfter),
		createdBefore: isoTime(form.createdBefore),
		limit: PAGE_SIZE,
		cursor: one("cursor") || undefined,
	};
	const parsed = TaskListQuery.safeParse(input);
	if (parsed.success) return { query: parsed.data, errors: [], form };
	// A bad filter shows its errors and an unfiltered first page rather than nothing.
	return { query: TaskListQuery.parse({ limit: PAGE_SIZE }), errors: fieldErrors(parsed.error), form };
}

/** The filter as a query string (no leading "?"), with `extra` parameters added. */
export function filterSearch(filter: TaskFilter, extra: Record<string, string> = {}): string {
	const params = new URLSearchParams();
	for (const status of filter.status ?? []) params.append("status", status);
	if (filter.type) params.set("type", filter.type);
	if (filter.tag) params.set("tag", filter.tag);
	if (filter.createdAfter) params.set("createdAfter", filter.createdAfter);
	if (filter.createdBefore) params.set("createdBefore", filter.createdBefore);
	for (const [name, value] of Object.entries(extra)) params.set(name, value);
	return params.toString();
}

/** Just the filter part of a list query. */
export function filterOf(query: TaskListQuery): TaskFilter {
	const { status, type, tag, createdAfter, createdBefore } = query;
	return { status, type, tag, createdAfter, createdBefore };
}
