import type { ResumeMessage } from '@mast/protocol';
import type { AuthContext } from '../access/auth-context.js';
import type { LiveEngine } from '../live/live-engine.js';
import type { LiveSink } from '../live/live-frames.js';

/** `resume`: the engine sends `resumed`/`result` per subscription, then `ack`; errors are thrown. */
export async function handleResume(live: LiveEngine, sink: LiveSink, message: ResumeMessage, auth: AuthContext): Promise<void> {
  const requests = message.subscriptions.map((s) => ({ id: s.id, entity: s.entity, filter: s.filter, include: s.include }));
  await live.resume(sink, message.id, message.since, requests, auth);
}
