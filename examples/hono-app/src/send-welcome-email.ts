// The app's background task: the welcome email after a sign-up. A real app calls its email
// provider here; this one only builds the message, so the example runs offline.
import { defineTask } from "taskflare";
import { z } from "zod";

export const sendWelcomeEmail = defineTask({
	type: "send-welcome-email",
	description: "Sends the welcome email to a new user.",
	input: z.strictObject({ to: z.email(), name: z.string().min(1).max(100) }),
	maxAttempts: 5,
	async run({ to, name }, ctx) {
		// ctx.env is the app's own env (APP_NAME is a var of its wrangler.toml).
		const subject = `Welcome to ${ctx.env.APP_NAME}, ${name}!`;
		// The provider call would go here, with the task id as its idempotency key (an attempt may be
		// retried after the email went out) and ctx.signal to stop at the task's timeout:
		// await fetch(MAIL_API, { method: "POST", headers: { "Idempotency-Key": ctx.id }, body, signal: ctx.signal });
		return { to, subject, messageId: `welcome-${ctx.id}` };
	},
});
