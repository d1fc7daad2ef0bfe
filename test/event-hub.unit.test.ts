// The fan-out of a task's event streams (src/durable/event-hub.ts), driven directly: one encoding
// per change shared by every stream, the latest state for a slow reader, the stream cap.
import { describe, expect, it } from "vitest";
import { EventHub } from "../src/durable/event-hub";

const decoder = new TextDecoder();
const hub = (maxStreams = 10, keepAliveMs = 60_000) => new EventHub({ maxStreams, keepAliveMs });

async function read(reader: ReadableStreamDefaultReader<Uint8Array>) {
	const { done, value } = await reader.read();
	return done ? null : decoder.decode(value);
}

describe("EventHub", () => {
	it("starts a stream with the current state and ends it after a final one", async () => {
		const events = hub();
		const stream = events.open('{"n":1}', false);
		if (!stream) throw new Error("refused");
		const reader = stream.getReader();
		expect(await read(reader)).toBe('event: task\ndata: {"n":1}\n\n');
		events.publish('{"n":2}', true);
		expect(await read(reader)).toBe('event: task\ndata: {"n":2}\n\n');
		expect(await read(reader)).toBeNull();
		expect(events.size).toBe(0);
	});

	it("encodes each change once: every stream gets views of the same bytes", async () => {
		const events = hub();
		const readers = [1, 2, 3].map(() => {
			const stream = events.open('{"n":1}', false);
			if (!stream) throw new Error("refused");
			return stream.getReader();
		});
		for (const reader of readers) await reader.read();
		events.publish(`{"n":2}`, false);
		const small = await Promise.all(readers.map(async (reader) => (await reader.read()).value));
		expect(small[1]).toBe(small[0]);
		expect(small[2]).toBe(small[0]);
		// A large frame goes out in pieces of at most 64 KiB: views into one shared buffer.
		const big = `{"big":"${"x".repeat(100_000)}"}`;
		events.publish(big, false);
		const firstPieces = await Promise.all(readers.map(async (reader) => (await reader.read()).value));
		expect(firstPieces[0]?.byteLength).toBe(64 * 1024);
		expect(firstPieces[1]?.buffer).toBe(firstPieces[0]?.buffer);
		expect(firstPieces[2]?.buffer).toBe(firstPieces[0]?.buffer);
		const secondPiece = await readers[0]?.read();
		expect(decoder.decode(firstPieces[0]) + decoder.decode(secondPiece?.value)).toBe(`event: task\ndata: ${big}\n\n`);
	});

	it("gives a reader that fell behind only the latest state, not every change", async () => {
		const events = hub();
		const stream = events.open('{"n":0}', false);
		if (!stream) throw new Error("refused");
		const reader = stream.getReader();
		await reader.read();
		// The reader does not read while 1000 changes happen.
		for (let n = 1; n <= 1000; n++) events.publish(`{"n":${n}}`, false);
		expect(await read(reader)).toBe('event: task\ndata: {"n":1000}\n\n');
		events.publish('{"n":1001}', true);
		expect(await read(reader)).toBe('event: task\ndata: {"n":1001}\n\n');
		expect(await read(reader)).toBeNull();
	});

	it("finishes a large frame it started before a newer state, never cutting a frame short", async () => {
		const events = hub();
		const stream = events.open('{"n":0}', false);
		if (!stream) throw new Error("refused");
		const reader = stream.getReader();
		await reader.read();
		const big = `{"big":"${"x".repeat(100_000)}"}`;
		events.publish(big, false);
		const firstPiece = await read(reader);
		events.publish('{"n":1}', false);
		events.publish('{"n":2}', true);
		let rest = "";
		for (let piece = await read(reader); piece !== null; piece = await read(reader)) rest += piece;
		expect(`${firstPiece}${rest}`).toBe(`event: task\ndata: ${big}\n\nevent: task\ndata: {"n":2}\n\n`);
	});

	it("delivers the final state to a reader that fell behind, then ends", async () => {
		const events = hub();
		const stream = events.open('{"n":0}', false);
		if (!stream) throw new Error("refused");
		const reader = stream.getReader();
		events.publish('{"n":1}', false);
		events.publish('{"n":2,"final":true}', true);
		// A change after the final state (cannot happen for a task) would not replace it.
		events.publish('{"n":3}', false);
		expect(await read(reader)).toBe('event: task\ndata: {"n":2,"final":true}\n\n');
		expect(await read(reader)).toBeNull();
	});

	it("refuses streams beyond maxStreams and accepts again when one closes", async () => {
		const events = hub(2);
		const first = events.open("{}", false);
		expect(events.open("{}", false)).not.toBeNull();
		expect(events.open("{}", false)).toBeNull();
		await first?.cancel();
		expect(events.size).toBe(1);
		expect(events.open("{}", false)).not.toBeNull();
	});

	it("sends keep-alive comments to an idle stream", async () => {
		const events = hub(10, 20);
		const stream = events.open("{}", false);
		if (!stream) throw new Error("refused");
		const reader = stream.getReader();
		await reader.read();
		expect(await read(reader)).toBe(": keep-alive\n\n");
		await reader.cancel();
	});

	it("closeAll ends every stream after what it has not read yet", async () => {
		const events = hub();
		const stream = events.open('{"n":1}', false);
		if (!stream) throw new Error("refused");
		const reader = stream.getReader();
		events.closeAll();
		expect(await read(reader)).toBe('event: task\ndata: {"n":1}\n\n');
		expect(await read(reader)).toBeNull();
		expect(events.size).toBe(0);
	});
});
