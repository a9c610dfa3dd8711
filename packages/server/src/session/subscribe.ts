import type { SubscribeMessage, UnsubscribeMessage } from '@mast/protocol';
import type { AuthContext } from '../access/auth-context.js';
import type { LiveEngine } from '../live/live-engine.js';
import type { LiveSink } from '../live/live-frames.js';

/** `subscribe`: the engine sends `result` itself, in order with the diffs; errors are thrown. */
export async function handleSubscribe(live: LiveEngine, sink: LiveSink, message: SubscribeMessage, auth: AuthContext): Promise<void> {
  await live.subscribe(sink, { id: message.id, entity: message.entity, filter: message.filter, include: message.include }, auth);
}

/** `unsubscribe`: takes effect at once; no diff for it is sent after the `ack`. */
export function handleUnsubscribe(live: LiveEngine, sink: LiveSink, message: UnsubscribeMessage): void {
  live.unsubscribe(sink, message.id);
}
