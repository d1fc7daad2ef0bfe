import { JsonObject } from "../schemas";
import { defineTask } from "./define-task";

export const echo = defineTask({
	type: "echo",
	description: "Returns its payload (any JSON object) as the result.",
	// Passed through unchanged (a zod record would copy it, losing e.g. a "__proto__" key).
	input: JsonObject,
	run: (input) => input,
});
