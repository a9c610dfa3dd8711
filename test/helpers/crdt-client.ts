import { WebSocket } from 'ws';
import { LoroDoc } from 'loro-crdt';
import { decodeCrdtFrame, encodeCrdtFrame } from '@mast/protocol';

/** One binary frame a client received. */
export interface Frame {
  type: number;
  entity: string;
  rowId: string;
  size: number;
  /** The Loro payload. */
  payload: Uint8Array;
}

/** A socket client that keeps one Loro document per subscribed row, as Pylon's client does. */
export class CrdtClient {
  readonly frames: Frame[] = [];
  readonly messages: Array<Record<string, any>> = [];
  readonly docs = new Map<string, LoroDoc>();
  readonly closed: Promise<number>;
  #wake: Array<() => void> = [];

  private constructor(
    readonly ws: WebSocket,
    readonly entity: string,
  ) {
    ws.on('message', (data, isBinary) => {
      const bytes = new Uint8Array(data as Buffer);
      if (isBinary) {
        const decoded = decodeCrdtFrame(bytes);
        if (!decoded.ok) throw new Error(`server sent a bad frame: ${decoded.error}`);
        const { type, entity, rowId, payload } = decoded.frame;
        this.doc(rowId).import(payload);
        this.frames.push({ type, entity, rowId, size: bytes.length, payload });
      } else {
        this.messages.push(JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, any>);
      }
      for (const wake of this.#wake.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  }

  /** Opens a socket for rows of `entity` and waits for `hello`. */
  static async connect(url: string, token: string | null, entity = 'Note'): Promise<CrdtClient> {
    const ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const client = new CrdtClient(ws, entity);
    await client.waitFor(() => client.messages.find((m) => m['type'] === 'hello'));
    return client;
  }

  /** The client's copy of a row's document (empty until a frame arrives). */
  doc(rowId: string): LoroDoc {
    let doc = this.docs.get(rowId);
    if (!doc) this.docs.set(rowId, (doc = new LoroDoc()));
    return doc;
  }

  /** Sends a JSON text frame. */
  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Types into the row's text locally and pushes the change as a binary `0x11` frame. */
  type(rowId: string, edit: (doc: LoroDoc) => void, send = true): Uint8Array {
    const doc = this.doc(rowId);
    const from = doc.oplogVersion();
    edit(doc);
    doc.commit();
    const update = doc.export({ mode: 'update', from });
    if (send) this.ws.send(encodeCrdtFrame(0x11, this.entity, rowId, update));
    return update;
  }

  /** Waits until `find` returns something, re-checking on every frame. */
  async waitFor<T>(find: () => T | undefined, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        this.#wake.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Waits for the `n`-th frame (0-based). */
  frame(n: number): Promise<Frame> {
    return this.waitFor(() => this.frames[n]);
  }

  /** Waits for an `error` message matching `where`. */
  error(where: (m: Record<string, any>) => boolean = () => true): Promise<Record<string, any>> {
    return this.waitFor(() => this.messages.find((m) => m['type'] === 'error' && where(m)));
  }

  /** The row's `body` text as the client holds it. */
  text(rowId: string): string {
    return this.doc(rowId).getText('body').toString();
  }
}

/** What `serverDoc` needs of a running server. */
interface DocServer {
  readonly schema: { entity(name: string): import('@mast/schema').EntitySchema };
  readonly docs: { materialize(entity: import('@mast/schema').EntitySchema, rowId: string): Promise<void>; read(entity: string, rowId: string): Promise<LoroDoc | null> };
}

/**
 * A copy of the server's document of a row, which first gets one materialised from its SQL
 * values when it has none (as a CRDT subscribe or push would); null when the row does not exist.
 */
export async function serverDoc(server: DocServer, entity: string, rowId: string): Promise<LoroDoc | null> {
  try {
    await server.docs.materialize(server.schema.entity(entity), rowId);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'NOT_FOUND') return null;
    throw err;
  }
  return server.docs.read(entity, rowId);
}
