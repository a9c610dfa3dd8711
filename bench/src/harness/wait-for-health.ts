import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `<origin>/health` until it answers 200; throws after `timeoutMs`. */
export async function waitForHealth(origin: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
      last = `status ${response.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(50);
  }
  throw new Error(`${origin}/health did not answer 200 within ${timeoutMs} ms (${last})`);
}
