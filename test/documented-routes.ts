/** Every route the README documents, as "METHOD path" in OpenAPI's path syntax (shared by the
 * workerd and end-to-end OpenAPI tests). */
export const DOCUMENTED_ROUTES = [
	"GET /healthz",
	"POST /v1/tasks",
	"POST /v1/tasks/batch",
	"GET /v1/tasks",
	"GET /v1/stats",
	"GET /v1/tasks/{id}",
	"GET /v1/tasks/{id}/events",
	"POST /v1/tasks/{id}/cancel",
	"POST /v1/tasks/{id}/retry",
	"DELETE /v1/tasks/{id}",
	"POST /v1/tasks/bulk",
	"GET /v1/operations/{id}",
	"GET /v1/task-types",
	"POST /process_task",
	"GET /task/{id}",
];
