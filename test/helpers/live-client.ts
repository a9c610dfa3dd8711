import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { serverMessage, type ServerMessage } from '@mast/protocol';

/** A real `ws` client that records every frame and lets a test wait for the one it expects. */
export class LiveClient {
  readonly ws: WebSocket;
  /** Every text frame received, raw, in order. */
  readonly frames: string[] = [];
  readonly #inbox: Array<{ raw: string; message: ServerMessage }> = [];
  readonly #waiters = new Set<() => void>();
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const raw = String(data);
      this.frames.push(raw);
      // Every frame must be a valid protocol message.
      this.#inbox.push({ raw, message: serverMessage.parse(JSON.parse(raw)) });
      for (const wake of [...this.#waiters]) wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** Opens a socket; resolves once the handshake completed (before `hello` is read). */
  static async open(url: string, options: { token?: string; protocols?: string[]; headers?: Record<string, string> } = {}): Promise<LiveClient> {
    const headers = { ...options.headers, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
    const ws = new WebSocket(url, options.protocols ?? [], { headers });
    const client = new LiveClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** Opens a socket and reads its `hello`. */
  static async connect(url: string, options: { token?: string; protocols?: string[] } = {}): Promise<{ client: LiveClient; hello: Extract<ServerMessage, { type: 'hello' }> }> {
    const client = await LiveClient.open(url, options);
    const hello = await client.next('hello');
    return { client, hello };
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /**
   * The first unread message of `type` (and matching `where`), removed from the inbox; waits for
   * it when it has not arrived. Messages of other types stay unread.
   */
  async next<T extends ServerMessage['type']>(
    type: T,
    where: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    return (await this.nextRaw(type, where, timeoutMs)).message;
  }

  /** Like `next`, with the raw frame text too. */
  async nextRaw<T extends ServerMessage['type']>(
    type: T,
    where: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<{ raw: string; message: Extract<ServerMessage, { type: T }> }> {
    const find = (): { raw: string; message: Extract<ServerMessage, { type: T }> } | undefined => {
      const index = this.#inbox.findIndex((e) => e.message.type === type && where(e.message as Extract<ServerMessage, { type: T }>));
      if (index === -1) return undefined;
      const [entry] = this.#inbox.splice(index, 1);
      return entry as { raw: string; message: Extract<ServerMessage, { type: T }> };
    };
    const found = find();
    if (found) return found;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`no "${type}" message within ${timeoutMs} ms; unread: ${JSON.stringify(this.#inbox.map((e) => e.raw)).slice(0, 2000)}`));
      }, timeoutMs);
      const wake = (): void => {
        const hit = find();
        if (!hit) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(hit);
      };
      this.#waiters.add(wake);
    });
  }

  /** Unread messages, in order (for asserting that nothing else arrived). */
  unread(): ServerMessage[] {
    return this.#inbox.map((e) => e.message);
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * A client that completes the WebSocket handshake over a raw TCP socket and then does only what
 * the test says: it never answers pings, and after `pause()` it reads nothing.
 */
export class RawSocketClient {
  readonly socket: Socket;
  #received = Buffer.alloc(0);
  /** Chunks that arrived after `#received`, joined only when a frame may be complete. */
  #chunks: Buffer[] = [];
  #chunkBytes = 0;
  /** Bytes `#received` must hold before the next frame is complete (0: unknown). */
  #need = 0;
  readonly ended: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects and completes the handshake; the 101 response is consumed. */
  static async open(port: number, path = '/ws'): Promise<RawSocketClient> {
    const socket = connect(port, '127.0.0.1');
    const client = new RawSocketClient(socket);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const key = randomBytes(16).toString('base64');
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        client.#received = Buffer.concat([client.#received, chunk]);
        const end = client.#received.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = client.#received.subarray(0, end).toString();
        client.#received = client.#received.subarray(end + 4);
        socket.off('data', onData);
        if (!head.startsWith('HTTP/1.1 101')) reject(new Error(head));
        else resolve();
      };
      socket.on('data', onData);
    });
    socket.on('data', (chunk: Buffer) => {
      client.#chunks.push(chunk);
      client.#chunkBytes += chunk.length;
    });
    return client;
  }

  /** Sends one masked text frame, as a client must. */
  sendText(text: string): void {
    const payload = Buffer.from(text);
    const mask = randomBytes(4);
    const length = payload.length;
    const head = length < 126 ? Buffer.from([0x81, 0x80 | length]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
    const masked = Buffer.alloc(length);
    for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
    this.socket.write(Buffer.concat([head, mask, masked]));
  }

  /** Stops reading: the kernel buffers fill and the server's writes back up. */
  pause(): void {
    this.socket.pause();
  }

  /** Reads again and resolves with the close code the server sent (-1 if it sent none). */
  async closeCode(): Promise<number> {
    const found = (): number | null => {
      // Joining every chunk onto a many-megabyte backlog would copy it over and over.
      if (this.#received.length + this.#chunkBytes < this.#need) return null;
      this.#received = Buffer.concat([this.#received, ...this.#chunks]);
      this.#chunks = [];
      this.#chunkBytes = 0;
      let buf = this.#received;
      this.#need = 0;
      while (buf.length >= 2) {
        const opcode = buf[0]! & 0x0f;
        let length = buf[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buf.length < 4) return null;
          length = buf.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buf.length < 10) return null;
          length = Number(buf.readBigUInt64BE(2));
          offset = 10;
        }
        if (buf.length < offset + length) {
          this.#received = buf;
          this.#need = offset + length;
          return null;
        }
        if (opcode === 0x8) return buf.readUInt16BE(offset);
        buf = buf.subarray(offset + length);
      }
      this.#received = buf;
      return null;
    };
    this.socket.resume();
    return new Promise((resolve) => {
      const check = (): void => {
        const code = found();
        if (code === null) return;
        this.socket.off('data', check);
        this.socket.destroy();
        resolve(code);
      };
      this.socket.on('data', check);
      void this.ended.then(() => resolve(found() ?? -1));
      check();
    });
  }
}
