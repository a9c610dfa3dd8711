import type { AuthContext } from '../access/auth-context.js';
import type { WritePath } from '../entities/write-path.js';
import { crdtErrors, errors } from '../errors/index.js';

/** What a push did: the change-log seq of the row change (0 when the row did not change). */
export interface PushOutcome {
  readonly seq: number;
  /** False when the server already had everything the update carried. */
  readonly docChanged: boolean;
}

/**
 * A client's Loro update for one row, from HTTP or the socket: signed-in callers only
 * (AUTH_REQUIRED), a CRDT entity (ENTITY_NOT_FOUND, NOT_SUPPORTED), then the body (read lazily
 * when it is a function), at most `maxBytes`
 * (PAYLOAD_TOO_LARGE), then merged in one write transaction (see `WriteSession.mergeCrdt`):
 * policy-checked before and after, persisted, projected, logged and published after commit.
 */
export async function pushCrdtUpdate(
  writes: WritePath,
  auth: AuthContext,
  entityName: string,
  rowId: string,
  body: Uint8Array | (() => Uint8Array),
  maxBytes: number,
): Promise<PushOutcome> {
  if (!auth.isAdmin && auth.userId === null) throw crdtErrors.pushNeedsSignIn();
  const entity = writes.entity(entityName);
  if (!entity.crdt) throw errors.notCrdtEntity(entity.name);
  // The body is read only now, so a caller who may not push learns nothing from its errors.
  const update = typeof body === 'function' ? body() : body;
  if (update.length > maxBytes) throw crdtErrors.updateTooLarge(maxBytes, update.length);
  if (update.length === 0) throw crdtErrors.emptyUpdate();
  const { result } = await writes.transaction({ auth }, '', (session) => session.mergeCrdt(entity.name, rowId, update));
  return { seq: result.seq, docChanged: result.docChanged };
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Decodes Pylon's `{"update":"<hex>"}` body (either case); MISSING_UPDATE or INVALID_HEX otherwise. */
export function updateFromJsonBody(body: unknown): Uint8Array {
  const update = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)['update'] : undefined;
  if (typeof update !== 'string') throw crdtErrors.missingUpdate();
  if (!HEX.test(update)) throw crdtErrors.invalidHex();
  return new Uint8Array(Buffer.from(update, 'hex'));
}
