import { z } from 'zod';
import type { ErrorCode } from './error-codes.js';
import { checkJsonLimits, describeJsonViolation, DEFAULT_JSON_LIMITS, type JsonLimits } from './json-limits.js';
import { fnCallMessage, fnCancelMessage, fnChunkMessage, fnResultMessage, fnUnwatchMessage, fnWatchDiffMessage, fnWatchMessage, fnWatchResultMessage } from './functions.js';
import { helloMessage } from './hello.js';
import { barrierMessage } from './barrier.js';
import { crdtResyncMessage, crdtSubscribeMessage, crdtUnsubscribeMessage } from './crdt.js';
import { ackMessage, errorMessage } from './reply.js';
import { resumedMessage, resumeMessage } from './resume.js';
import { broadcastEventMessage, broadcastMessage, joinedMessage, joinMessage, leaveMessage, presenceEventMessage, presenceMessage } from './rooms.js';
import { diffMessage, resultMessage, subscribeMessage, unsubscribeMessage } from './subscribe.js';

/** Every text message a client may send (CRDT updates travel as binary frames, `crdt-frame.ts`). */
export const clientMessage = z.discriminatedUnion('type', [
  subscribeMessage,
  unsubscribeMessage,
  resumeMessage,
  joinMessage,
  leaveMessage,
  presenceMessage,
  broadcastMessage,
  fnCallMessage,
  fnCancelMessage,
  fnWatchMessage,
  fnUnwatchMessage,
  barrierMessage,
  crdtSubscribeMessage,
  crdtUnsubscribeMessage,
  crdtResyncMessage,
]);

/** Every message the server sends. */
export const serverMessage = z.discriminatedUnion('type', [
  helloMessage,
  resultMessage,
  diffMessage,
  resumedMessage,
  ackMessage,
  errorMessage,
  joinedMessage,
  presenceEventMessage,
  broadcastEventMessage,
  fnChunkMessage,
  fnResultMessage,
  fnWatchResultMessage,
  fnWatchDiffMessage,
]);

/** A client message. */
export type ClientMessage = z.infer<typeof clientMessage>;
/** A server message. */
export type ServerMessage = z.infer<typeof serverMessage>;

const CLIENT_TYPES: ReadonlySet<string> = new Set(clientMessage.options.map((o) => o.shape.type.value));

/** The outcome of reading one text frame. */
export type ParsedClientMessage =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly id?: string; readonly room?: string };

/** Message types about one room: their errors carry the `room`. */
const ROOM_TYPES: ReadonlySet<string> = new Set(['join', 'leave', 'presence', 'broadcast']);
/** Keys a client may try to name a room message's sender with; the sender is the session. */
const SENDER_KEYS: ReadonlySet<string> = new Set(['from', 'sender', 'userId', 'user', 'user_id', 'author']);

/**
 * Reads one client text frame: malformed JSON is `INVALID_JSON`, an unknown `type` is
 * `UNKNOWN_MESSAGE`, a known type with the wrong shape is `INVALID_MESSAGE` (with the request
 * id when the frame had a readable one, so the client can match the error). A frame nested
 * deeper or larger than `limits` is `JSON_TOO_DEEP`, refused before the schema (which recurses)
 * sees it.
 */
export function parseClientMessage(text: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): ParsedClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'INVALID_JSON', message: 'The frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'INVALID_MESSAGE', message: 'A message is a JSON object with a "type"' };
  }
  const record = value as Record<string, unknown>;
  const id = typeof record.id === 'string' && record.id.length > 0 && record.id.length <= 128 ? record.id : undefined;
  const withId = id === undefined ? {} : { id };
  const violation = checkJsonLimits(value, limits);
  if (violation !== null) return { ok: false, code: 'JSON_TOO_DEEP', message: `${describeJsonViolation(violation)}: the frame is refused`, ...withId };
  if (typeof record.type !== 'string' || !CLIENT_TYPES.has(record.type)) {
    return { ok: false, code: 'UNKNOWN_MESSAGE', message: `Unknown message type ${JSON.stringify(record.type ?? null)} (valid: ${[...CLIENT_TYPES].join(', ')})`, ...withId };
  }
  const parsed = clientMessage.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at "${issue.path.join('.')}"` : '';
    const room = ROOM_TYPES.has(record.type) && typeof record.room === 'string' ? { room: record.room } : {};
    const sender =
      ROOM_TYPES.has(record.type) && issue?.code === 'unrecognized_keys' && issue.keys.some((k) => SENDER_KEYS.has(k))
        ? ' (a room message names no sender: members receive it with "from", the userId and connectionId of the session that sent it)'
        : '';
    return { ok: false, code: 'INVALID_MESSAGE', message: `Invalid ${record.type} message${where}: ${issue?.message ?? 'wrong shape'}${sender}`, ...withId, ...room };
  }
  return { ok: true, message: parsed.data };
}
