import type { SubscribeMessage, UnsubscribeMessage } from '@mast/protocol';
import type { AuthContext } from '../auth/auth-context.js';
import type { LiveEngine } from '../live/live-engine.js';
import type { LiveSink } from '../live/live-frames.js';
import { AppError } from '../errors/index.js';

/** `subscribe`: the engine sends `result` itself, in order with the diffs; errors are thrown. */
export async function handleSubscribe(live: LiveEngine, sink: LiveSink, message: SubscribeMessage, auth: AuthContext): Promise<void> {
  if (message.include !== undefined && message.include.length > 0) {
    throw new AppError(
      'INVALID_QUERY',
      `Live queries do not follow relations (include: ${message.include.join(', ')}); subscribe to the related entity with a filter on its key field as well`,
    );
  }
  await live.subscribe(sink, { id: message.id, entity: message.entity, filter: message.filter }, auth);
}

/** `unsubscribe`: takes effect at once; no diff for it is sent after the `ack`. */
export function handleUnsubscribe(live: LiveEngine, sink: LiveSink, message: UnsubscribeMessage): void {
  live.unsubscribe(sink, message.id);
}
