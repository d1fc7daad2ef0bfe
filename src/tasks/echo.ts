import { z } from "zod";
import { defineTask } from "./define-task";

export const echo = defineTask({
	type: "echo",
	description: "Returns its payload (any JSON object) as the result.",
	input: z.record(z.string(), z.json()),
	run: (input) => input,
});
