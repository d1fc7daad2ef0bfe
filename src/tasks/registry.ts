// The task types one taskflare instance runs, by name. Built from the `tasks` option of the entry
// (src/taskflare.ts) and handed to whatever needs it; there is no module-level list.
import type { TaskDefinition } from "./define-task";

export type TaskRegistry = ReadonlyMap<string, TaskDefinition>;

/** The definitions by type name; a name given twice is a mistake, reported at once. */
export function taskRegistry(definitions: readonly TaskDefinition[]): TaskRegistry {
	const registry = new Map<string, TaskDefinition>();
	for (const definition of definitions) {
		if (registry.has(definition.type)) {
			throw new Error(`taskflare: two task types are named "${definition.type}"; each type needs a name of its own.`);
		}
		registry.set(definition.type, definition);
	}
	return registry;
}
