/** @jsxImportSource hono/jsx */
// The limits page: each task type's flow-control limits in effect (marked where an override
// applies), with the permits in use, the tasks waiting and its keys' usage, as GET /v1/limits
// reports them. Read-only: overrides are set through the API (PUT /v1/limits/{type}).
import type { LimitInfo, RateLimit, TaskLimits } from "../../limit-schemas";
import { Time } from "./layout";

function rate(limit: RateLimit): string {
	return `${limit.limit} per ${limit.periodSeconds} s`;
}

/** The limits as short phrases ("3 at once", "5 per 1 s"), type-wide first, then per key. */
function phrases(limits: TaskLimits): { typeWide: string[]; perKey: string[] } {
	const typeWide = [
		...(limits.concurrency === null ? [] : [`${limits.concurrency} at once`]),
		...(limits.rateLimit === null ? [] : [rate(limits.rateLimit)]),
	];
	const perKey = [
		...(limits.keyConcurrency === null ? [] : [`${limits.keyConcurrency} at once`]),
		...(limits.keyRateLimit === null ? [] : [rate(limits.keyRateLimit)]),
	];
	return { typeWide, perKey };
}

const hasLimits = (info: LimitInfo) => {
	const { typeWide, perKey } = phrases(info.limits);
	return typeWide.length > 0 || perKey.length > 0;
};

export function LimitsPage(props: { infos: LimitInfo[] }) {
	const limited = props.infos.filter(hasLimits);
	const unlimited = props.infos.filter((info) => !hasLimits(info)).map((info) => info.type);
	return (
		<>
			<h1>Limits</h1>
			<p class="muted">
				Flow control per task type, as in effect now. Change a type's limits without a deploy with{" "}
				<code>PUT /v1/limits/&#123;type&#125;</code> (and <code>DELETE</code> to return to the code's).
			</p>
			{limited.length === 0 ? (
				<p>No task type has limits.</p>
			) : (
				<div class="table-wrap">
					<table>
						<caption class="skip">Task types with limits</caption>
						<thead>
							<tr>
								<th scope="col">Task type</th>
								<th scope="col">Type-wide</th>
								<th scope="col">Per key</th>
								<th scope="col">Running</th>
								<th scope="col">Waiting</th>
								<th scope="col">Next start</th>
								<th scope="col">Keys</th>
							</tr>
						</thead>
						<tbody>
							{limited.map((info) => {
								const { typeWide, perKey } = phrases(info.limits);
								return (
									<tr data-limit-type={info.type}>
										<th scope="row">
											{info.type}
											{info.override === null ? null : (
												<>
													{" "}
													<span class="badge" title="Set by PUT /v1/limits; the code declares other limits.">
														override
													</span>
												</>
											)}
										</th>
										<td>{typeWide.length > 0 ? typeWide.join(", ") : <span class="muted">–</span>}</td>
										<td>{perKey.length > 0 ? perKey.join(", ") : <span class="muted">–</span>}</td>
										<td data-usage="running">{info.usage.running}</td>
										<td data-usage="waiting">{info.usage.waiting}</td>
										<td>{info.usage.nextStartAt === null ? <span class="muted">now</span> : <Time iso={info.usage.nextStartAt} />}</td>
										<td>
											{perKey.length === 0 ? (
												<span class="muted">–</span>
											) : (
												`${info.keys.active} active: ${info.keys.running} running, ${info.keys.waiting} waiting`
											)}
										</td>
									</tr>
								);
							})}
						</tbody>
					</table>
				</div>
			)}
			{unlimited.length === 0 ? null : <p class="muted">Without limits: {unlimited.join(", ")}.</p>}
		</>
	);
}
