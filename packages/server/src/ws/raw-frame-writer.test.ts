import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { EncodedFrame } from '../live/live-frames.js';
import { RawFrameWriter } from './raw-frame-writer.js';

/**
 * Pre-framed writes against real `ws` sockets on 127.0.0.1: the bytes must be the ones
 * `ws.send` writes, the writer must step aside whenever `ws` has something queued, and the
 * socket's buffered amount must count what it wrote.
 */

let servers: WebSocketServer[] = [];
let peers: Array<Socket | WebSocket> = [];

afterEach(async () => {
  for (const peer of peers) peer instanceof WebSocket ? peer.terminate() : peer.destroy();
  for (const wss of servers) {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
  servers = [];
  peers = [];
});

async function listen(perMessageDeflate = false): Promise<{ wss: WebSocketServer; port: number; accepted: Promise<WebSocket> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate });
  servers.push(wss);
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', (ws) => resolve(ws)));
  return { wss, port: (wss.address() as AddressInfo).port, accepted };
}

/** A TCP peer that does the handshake by hand and keeps every byte the server sends after it. */
async function rawPeer(port: number): Promise<{ socket: Socket; bytes: () => Buffer }> {
  const socket = connect(port, '127.0.0.1');
  peers.push(socket);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  return {
    socket,
    bytes: () => {
      const received = Buffer.concat(chunks.splice(0));
      chunks.push(received);
      const end = received.indexOf('\r\n\r\n');
      return end === -1 ? Buffer.alloc(0) : received.subarray(end + 4);
    },
  };
}

/** Splits unmasked server frames; null until `count` whole frames are there. */
function frames(bytes: Buffer, count: number): Buffer[] | null {
  const out: Buffer[] = [];
  let offset = 0;
  while (out.length < count) {
    if (bytes.length < offset + 2) return null;
    let length = bytes[offset + 1]! & 0x7f;
    let header = 2;
    if (length === 126) [length, header] = [bytes.length >= offset + 4 ? bytes.readUInt16BE(offset + 2) : Infinity, 4];
    else if (length === 127) [length, header] = [bytes.length >= offset + 10 ? Number(bytes.readBigUInt64BE(offset + 2)) : Infinity, 10];
    if (bytes.length < offset + header + length) return null;
    out.push(bytes.subarray(offset, offset + header + length));
    offset += header + length;
  }
  return out;
}

/** A client socket, once its handshake completed. */
async function openClient(port: number, perMessageDeflate = false): Promise<WebSocket> {
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate });
  peers.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  return client;
}

async function until<T>(probe: () => T | null): Promise<T> {
  for (;;) {
    const value = probe();
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A diff whose JSON is exactly `bytes` long in UTF-8, padded with `unit` (one or more bytes each). */
function frameOfBytes(bytes: number, unit = 'x'): EncodedFrame {
  const base = Buffer.byteLength(JSON.stringify({ type: 'diff', query: 'q1', seq: 7, added: [{ id: 'r', title: '' }], changed: [], removed: [] }));
  const unitBytes = Buffer.byteLength(unit);
  const pad = unit.repeat(Math.floor((bytes - base) / unitBytes)) + 'x'.repeat((bytes - base) % unitBytes);
  const frame = new EncodedFrame({ type: 'diff', query: 'q1', seq: 7, added: [{ id: 'r', title: pad }], changed: [], removed: [] }, 7);
  expect(frame.buffer.length).toBe(bytes);
  return frame;
}

describe('RawFrameWriter', () => {
  it('writes the bytes ws.send writes, for every length encoding and for multi-byte text', async () => {
    const { port, accepted } = await listen();
    const peer = await rawPeer(port);
    const ws = await accepted;
    const writer = RawFrameWriter.for(ws)!;
    expect(writer).not.toBeNull();
    const cases = [frameOfBytes(100), frameOfBytes(125), frameOfBytes(126), frameOfBytes(127, 'é'), frameOfBytes(65_535), frameOfBytes(65_536, '😀'), frameOfBytes(200_001, 'ü')];
    for (const frame of cases) {
      ws.send(frame.buffer, { binary: false });
      expect(writer.write(frame.wsFrame)).toBe(true);
    }
    const got = await until(() => frames(peer.bytes(), cases.length * 2));
    cases.forEach((frame, i) => {
      const [viaWs, viaRaw] = [got[2 * i]!, got[2 * i + 1]!];
      expect(viaRaw.equals(viaWs)).toBe(true);
      expect(viaRaw.equals(frame.wsFrame)).toBe(true);
      expect(viaRaw.subarray(viaRaw.length - frame.buffer.length).toString('utf8')).toBe(frame.json);
    });
  });

  it('steps aside while ws has a send queued, so a ws client reads every message in order', async () => {
    const { port, accepted } = await listen();
    const client = await openClient(port);
    const received: string[] = [];
    client.on('message', (data, isBinary) => received.push(isBinary ? `binary:${String(data)}` : String(data)));
    const ws = await accepted;
    const writer = RawFrameWriter.for(ws)!;
    const [one, two, three] = [1, 2, 3].map((n) => new EncodedFrame({ type: 'ack', id: `m${n}`, seq: n }, n));

    expect(writer.write(one!.wsFrame)).toBe(true);
    // A Blob is read asynchronously: ws queues what is sent after it until it is written.
    const blobWritten = new Promise<void>((resolve) => ws.send(new Blob(['blob']), () => resolve()));
    expect(writer.write(two!.wsFrame)).toBe(false);
    ws.send(two!.buffer, { binary: false });
    await blobWritten;
    expect(writer.write(three!.wsFrame)).toBe(true);

    await until(() => (received.length >= 4 ? true : null));
    expect(received).toEqual([one!.json, 'binary:blob', two!.json, three!.json]);
  });

  it('is not used with permessage-deflate, and declines once the socket is closing', async () => {
    const deflating = await listen(true);
    await openClient(deflating.port, true);
    const compressing = await deflating.accepted;
    expect(compressing.extensions).toBe('permessage-deflate');
    expect(RawFrameWriter.for(compressing)).toBeNull();

    const plain = await listen();
    await openClient(plain.port, true);
    const ws = await plain.accepted;
    const writer = RawFrameWriter.for(ws)!;
    expect(writer).not.toBeNull();
    ws.close(1000, 'bye');
    expect(writer.write(new EncodedFrame({ type: 'ack', id: 'late', seq: 1 }, 1).wsFrame)).toBe(false);
  });

  it('leaves what the peer has not read in the socket stream, where bufferedAmount counts it', async () => {
    const { port, accepted } = await listen();
    const peer = await rawPeer(port);
    const ws = await accepted;
    await until(() => (peer.bytes().length === 0 && ws.readyState === WebSocket.OPEN ? true : null));
    peer.socket.pause();
    const writer = RawFrameWriter.for(ws)!;
    const frame = frameOfBytes(1024 * 1024);
    const total = 32 * frame.wsFrame.length;
    for (let i = 0; i < 32; i++) expect(writer.write(frame.wsFrame)).toBe(true);
    // The kernel takes a few MB at most; the rest waits in the stream ws measures.
    expect(ws.bufferedAmount).toBeGreaterThan(total / 2);
    expect(ws.bufferedAmount).toBeLessThanOrEqual(total);
    peer.socket.resume();
    await until(() => (ws.bufferedAmount === 0 ? true : null));
    const got = await until(() => frames(peer.bytes(), 32));
    expect(got.every((f) => f.equals(frame.wsFrame))).toBe(true);
  });
});
