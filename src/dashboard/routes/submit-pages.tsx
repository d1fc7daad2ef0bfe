/** @jsxImportSource hono/jsx */
// /dashboard/submit: a form generated from the chosen type's JSON Schema. The posted values go
// through the same validation and submit functions as POST /v1/tasks, and its validation errors
// are shown next to the fields they name.
import { Hono } from "hono";
import type { Child } from "hono/jsx";
import { ProblemError, fieldErrors } from "../../errors";
import { describeTaskTypes } from "../../routes/task-types";
import { JsonValue, SubmitTaskBody, type TaskTypeInfo } from "../../schemas";
import type { AppEnv } from "../../router";
import { prepareTask, submitTask } from "../../submit";
import type { TaskRegistry } from "../../tasks/registry";
import { ENVELOPE_FIELDS, type FormErrors, type FormField, type FormValues, addError, bodyFromForm, payloadFields } from "../submit-form";
import { renderPage } from "../views/layout";
import { taskPath } from "../views/task-detail";

function findType(taskTypes: TaskRegistry, type: string | undefined): TaskTypeInfo | undefined {
	const types = describeTaskTypes(taskTypes);
	return types.find((info) => info.type === type) ?? (type === undefined ? types[0] : undefined);
}

export const submitPages = new Hono<AppEnv>()
	.get("/submit", (c) => {
		const info = findType(c.var.taskTypes, c.req.query("type"));
		return renderPage(
			c,
			{ title: "Submit a task", section: "submit", status: info ? 200 : 404 },
			<SubmitPage types={describeTaskTypes(c.var.taskTypes)} info={info} values={{}} errors={{}} />,
		);
	})
	.post("/submit", async (c) => {
		const form = await c.req.parseBody();
		const values: FormValues = {};
		for (const [name, value] of Object.entries(form)) if (typeof value === "string") values[name] = value;
		const info = findType(c.var.taskTypes, values.type ?? "");
		if (!info) {
			const errors: FormErrors = { type: [`Unknown task type "${values.type ?? ""}".`] };
			return renderPage(
				c,
				{ title: "Submit a task", section: "submit", status: 422 },
				<SubmitPage types={describeTaskTypes(c.var.taskTypes)} info={undefined} values={values} errors={errors} />,
			);
		}
		const fields = [...payloadFields(info), ...ENVELOPE_FIELDS];
		const { body, errors } = bodyFromForm(info.type, fields, values);
		let id: string | undefined;
		if (Object.keys(errors).length === 0) {
			const envelope = SubmitTaskBody.safeParse(body);
			const collect = (error: unknown) => {
				if (!(error instanceof ProblemError) || error.status !== 422) throw error;
				for (const problem of error.errors ?? [{ path: "", message: error.message }]) addError(errors, problem.path, problem.message);
			};
			if (!envelope.success) {
				for (const error of fieldErrors(envelope.error)) addError(errors, error.path, error.message);
				// The API stops at the envelope; the form also checks the payload, so every field's
				// problem shows at once.
				try {
					prepareTask(c.var.taskTypes, c.env, {
						type: info.type,
						payload: body.payload === undefined ? undefined : JsonValue.parse(body.payload),
					});
				} catch (error) {
					collect(error);
				}
			} else {
				try {
					id = (await submitTask(c.env, prepareTask(c.var.taskTypes, c.env, envelope.data))).id;
				} catch (error) {
					collect(error);
				}
			}
		}
		if (id !== undefined) return c.redirect(taskPath(id), 303);
		return renderPage(
			c,
			{ title: "Submit a task", section: "submit", status: 422 },
			<SubmitPage types={describeTaskTypes(c.var.taskTypes)} info={info} values={values} errors={errors} />,
		);
	});

function SubmitPage(props: { types: TaskTypeInfo[]; info: TaskTypeInfo | undefined; values: FormValues; errors: FormErrors }) {
	const { types, info, values, errors } = props;
	const fields = info ? [...payloadFields(info), ...ENVELOPE_FIELDS] : [];
	const known = new Set(fields.map((field) => field.name));
	// Errors that name no field of the form (e.g. the payload as a whole).
	const general = Object.entries(errors).filter(([path]) => !known.has(path));
	return (
		<>
			<h1>Submit a task</h1>
			<form method="get" action="/dashboard/submit" class="filters">
				<div class="field">
					<label for="choose-type">Task type</label>
					<select id="choose-type" name="type">
						{types.map((t) => (
							<option value={t.type} selected={t.type === info?.type}>
								{t.type}
							</option>
						))}
					</select>
				</div>
				<button type="submit">Choose</button>
			</form>
			{info ? (
				<form method="post" action="/dashboard/submit" class="panel" id="submit-form" novalidate>
					<input type="hidden" name="type" value={info.type} />
					<p class="muted">{info.description}</p>
					{general.length > 0 ? (
						<div class="alert" role="alert">
							<ul>{general.map(([path, messages]) => messages.map((message) => <li>{path ? `${path}: ${message}` : message}</li>))}</ul>
						</div>
					) : null}
					{fields.map((field) => (
						<Field field={field} value={values[field.name]} errors={errors[field.name]} />
					))}
					<button type="submit" class="primary">
						Submit
					</button>
				</form>
			) : (
				<p class="alert" role="alert">
					Unknown task type.
				</p>
			)}
		</>
	);
}

function Field(props: { field: FormField; value: string | undefined; errors: string[] | undefined }) {
	const { field, errors } = props;
	const id = `f-${field.name.replaceAll(".", "-")}`;
	const errorId = `${id}-error`;
	const value = props.value ?? field.defaultValue ?? "";
	const invalid = errors && errors.length > 0 ? "true" : undefined;
	const describedBy = invalid ? errorId : undefined;
	const common = { id, name: field.name, "aria-invalid": invalid, "aria-describedby": describedBy, required: field.required };
	let control: Child;
	switch (field.kind) {
		case "integer":
		case "number":
			// type=text with inputmode: the browser would drop a value it cannot parse, and the API's
			// message about it would then make no sense.
			control = <input {...common} type="text" inputmode={field.kind === "integer" ? "numeric" : "decimal"} value={value} />;
			break;
		case "boolean":
			control = (
				<input {...common} type="checkbox" checked={props.value === undefined ? field.defaultValue === "true" : props.value === "on"} />
			);
			break;
		case "enum":
			control = (
				<select {...common}>
					{(field.options ?? []).map((option) => (
						<option value={option} selected={option === value}>
							{option}
						</option>
					))}
				</select>
			);
			break;
		case "json":
			control = (
				<textarea {...common} spellcheck={false} class="mono">
					{value}
				</textarea>
			);
			break;
		case "string":
		case "tags":
			control = <input {...common} type="text" value={value} />;
	}
	const range = field.min !== undefined || field.max !== undefined ? ` ${field.min ?? "…"}..${field.max ?? "…"}` : "";
	return (
		<div class="field">
			<label for={id}>
				{field.label}
				{field.required ? " *" : ""}{" "}
				<span class="hint">
					{field.kind === "json" ? "JSON" : field.kind === "tags" ? "up to 10" : field.kind}
					{range}
					{field.description ? ` · ${field.description}` : ""}
				</span>
			</label>
			{control}
			{invalid ? (
				<div class="field-error" id={errorId}>
					{errors?.join(" ")}
				</div>
			) : null}
		</div>
	);
}
