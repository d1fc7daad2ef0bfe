// The submit form's model: fields generated from a task type's JSON Schema (the same
// `inputSchema` GET /v1/task-types serves), and the way back from posted form values to a
// submit body. Field names are the API's error paths (`payload.ms`, `delaySeconds`), so the
// API's validation errors land next to the field they concern.
import { z } from "zod";
import type { TaskTypeInfo } from "../schemas";

type FieldKind = "integer" | "number" | "string" | "boolean" | "enum" | "json" | "tags";

export type FormField = {
	/** The form control's name and the error path: `payload.ms`, `delaySeconds`. */
	name: string;
	label: string;
	kind: FieldKind;
	required: boolean;
	description?: string;
	min?: number;
	max?: number;
	options?: string[];
	defaultValue?: string;
};

/** Just the parts of a JSON Schema the form understands; anything else becomes a JSON field. */
type PropertySchema = z.infer<typeof PropertySchema>;
const PropertySchema = z.looseObject({
	type: z.union([z.string(), z.array(z.string())]).optional(),
	description: z.string().optional(),
	minimum: z.number().optional(),
	maximum: z.number().optional(),
	enum: z.array(z.unknown()).optional(),
	default: z.unknown().optional(),
});
const ObjectSchema = z.looseObject({
	type: z.literal("object"),
	properties: z.record(z.string(), PropertySchema),
	required: z.array(z.string()).optional(),
});

/** Form fields for the payload of a task type. */
export function payloadFields(info: TaskTypeInfo): FormField[] {
	const schema = ObjectSchema.safeParse(info.inputSchema);
	if (!schema.success) {
		// Free-form payloads (e.g. echo's "any JSON object"): one JSON field.
		const description = PropertySchema.safeParse(info.inputSchema).data?.description;
		return [{ name: "payload", label: "payload", kind: "json", required: false, description, defaultValue: "{}" }];
	}
	const required = new Set(schema.data.required ?? []);
	return Object.entries(schema.data.properties).map(([key, property]) => fieldFor(`payload.${key}`, key, property, required.has(key)));
}

function fieldFor(name: string, label: string, property: PropertySchema, required: boolean): FormField {
	const base = { name, label, required, description: property.description };
	const defaultValue =
		property.default === undefined ? undefined : typeof property.default === "string" ? property.default : JSON.stringify(property.default);
	if (property.enum && property.enum.every((option) => typeof option === "string")) {
		return { ...base, kind: "enum", options: property.enum.filter((o): o is string => typeof o === "string"), defaultValue };
	}
	const type = property.type;
	if (type === "integer" || type === "number") return { ...base, kind: type, min: property.minimum, max: property.maximum, defaultValue };
	if (type === "string" || type === "boolean") return { ...base, kind: type, defaultValue };
	// Objects, arrays, unions, anything else: typed as JSON.
	return { ...base, kind: "json", defaultValue: property.default === undefined ? undefined : JSON.stringify(property.default) };
}

/** The envelope fields every task has. */
export const ENVELOPE_FIELDS: FormField[] = [
	{ name: "delaySeconds", label: "Delay (seconds)", kind: "integer", required: false, min: 0, max: 31_536_000 },
	{ name: "maxAttempts", label: "Max attempts", kind: "integer", required: false, min: 1, max: 100 },
	{ name: "tags", label: "Tags", kind: "tags", required: false, description: "separated by commas or spaces, e.g. customer:42" },
];

export type FormValues = Record<string, string>;
export type FormErrors = Record<string, string[]>;

const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * Builds a submit body from posted values. Values are converted by field kind; a value that does
 * not convert is passed on as it was typed, so the API's own validation names the problem. Only
 * JSON that does not parse is reported here (the API never sees it).
 */
export function bodyFromForm(type: string, fields: FormField[], values: FormValues): { body: Record<string, unknown>; errors: FormErrors } {
	const errors: FormErrors = {};
	const body: Record<string, unknown> = { type };
	const payload: Record<string, unknown> = {};
	let wholePayload: { value: unknown } | undefined;
	for (const field of fields) {
		const raw = values[field.name];
		let value: unknown;
		if (field.kind === "boolean") {
			if (raw === undefined && !field.required) continue;
			value = raw === "on" || raw === "true";
		} else {
			if (raw === undefined || raw.trim() === "") {
				if (!field.required) continue;
				value = field.kind === "string" ? "" : undefined;
				if (value === undefined) continue;
			} else if (field.kind === "integer" || field.kind === "number") {
				value = NUMBER.test(raw.trim()) ? Number(raw.trim()) : raw;
			} else if (field.kind === "tags") {
				value = raw.split(/[\s,]+/).filter((tag) => tag !== "");
			} else if (field.kind === "json") {
				try {
					value = JSON.parse(raw);
				} catch (error) {
					errors[field.name] = [`Not valid JSON: ${error instanceof Error ? error.message : "parse error"}`];
					continue;
				}
			} else {
				value = raw;
			}
		}
		if (field.name === "payload") wholePayload = { value };
		else if (field.name.startsWith("payload.")) payload[field.name.slice("payload.".length)] = value;
		else body[field.name] = value;
	}
	body.payload = wholePayload ? wholePayload.value : payload;
	return { body, errors };
}

/** Adds an error message under its field: `tags.3` belongs to the one tags field. */
export function addError(errors: FormErrors, path: string, message: string): void {
	const field = /^tags\.\d+$/.test(path) ? "tags" : path;
	(errors[field] ??= []).push(message);
}
