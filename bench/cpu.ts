// Where the time goes (Linux only, else null), from /proc: the live processes of the server's
// process group with their CPU time by command (workerd, node = wrangler itself), this client's
// CPU, and the whole machine's split of time (user, system, iowait, idle: other engineers'
// processes count too).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { round, wallMs } from "./stats.ts";

type GroupProcess = { pid: number; command: string; userMs: number; systemMs: number };

const CLOCK_TICKS_PER_SECOND = (() => {
	try {
		return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
	} catch {
		return 100;
	}
})();

/**
 * The live processes of a process group, from /proc (zombies, exited but not yet reaped by the
 * container's pid 1, do not count). Null where there is no /proc.
 */
function groupProcesses(pgid: number): GroupProcess[] | null {
	if (!existsSync("/proc/self/stat")) return null;
	const found: GroupProcess[] = [];
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		let stat: string;
		try {
			stat = readFileSync(`/proc/${entry}/stat`, "utf8");
		} catch {
			continue; // Exited while we looked.
		}
		// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …";
		// comm may contain spaces and parentheses.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		const [state, , pgrp] = fields;
		if (Number(pgrp) !== pgid || state === "Z" || state === "X") continue;
		const ms = (field: string | undefined) => (Number(field) * 1000) / CLOCK_TICKS_PER_SECOND;
		found.push({
			pid: Number(entry),
			command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
			userMs: ms(fields[11]),
			systemMs: ms(fields[12]),
		});
	}
	return found;
}

export const groupPids = (pgid: number, command: string): number[] =>
	(groupProcesses(pgid) ?? []).filter((member) => member.command === command).map((member) => member.pid);

export type CpuTimes = { user: number; system: number };

type CpuSnapshot = {
	at: number;
	server: Record<string, CpuTimes> | null;
	clientMs: number;
	machine: { user: number; system: number; iowait: number; idle: number; total: number } | null;
};

export type PhaseCpu = {
	wallMs: number;
	/** CPU milliseconds per command name in the server's process group (user, system). */
	serverCpuMs: Record<string, CpuTimes> | null;
	clientCpuMs: number;
	/** Percent of all cores' time, machine-wide. */
	machinePercent: { user: number; system: number; iowait: number; idle: number } | null;
};

function groupCpuMs(pgid: number): Record<string, CpuTimes> | null {
	const processes = groupProcesses(pgid);
	if (processes === null) return null;
	const byCommand: Record<string, CpuTimes> = {};
	for (const { command, userMs, systemMs } of processes) {
		const sum = byCommand[command] ?? { user: 0, system: 0 };
		byCommand[command] = { user: sum.user + userMs, system: sum.system + systemMs };
	}
	return byCommand;
}

function machineTimes(): CpuSnapshot["machine"] {
	try {
		const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
		const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
			.trim()
			.split(/\s+/)
			.slice(1)
			.map(Number);
		const total = user + nice + system + idle + iowait + irq + softirq + steal;
		return { user: user + nice, system: system + irq + softirq, iowait, idle, total };
	} catch {
		return null;
	}
}

export function cpuSnapshot(pgid: number | null): CpuSnapshot {
	const usage = process.cpuUsage();
	return {
		at: wallMs(),
		server: pgid === null ? null : groupCpuMs(pgid),
		clientMs: (usage.user + usage.system) / 1000,
		machine: machineTimes(),
	};
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): PhaseCpu {
	let serverCpuMs: Record<string, CpuTimes> | null = null;
	if (a.server && b.server) {
		serverCpuMs = {};
		for (const [command, times] of Object.entries(b.server)) {
			const before = a.server[command] ?? { user: 0, system: 0 };
			serverCpuMs[command] = { user: round(times.user - before.user, 0), system: round(times.system - before.system, 0) };
		}
	}
	let machinePercent: PhaseCpu["machinePercent"] = null;
	if (a.machine && b.machine && b.machine.total > a.machine.total) {
		const total = b.machine.total - a.machine.total;
		const pct = (key: "user" | "system" | "iowait" | "idle") => round((((b.machine?.[key] ?? 0) - (a.machine?.[key] ?? 0)) * 100) / total);
		machinePercent = { user: pct("user"), system: pct("system"), iowait: pct("iowait"), idle: pct("idle") };
	}
	return { wallMs: round(b.at - a.at), serverCpuMs, clientCpuMs: round(b.clientMs - a.clientMs, 0), machinePercent };
}
