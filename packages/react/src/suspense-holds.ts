import { queryKey, type Filter, type LiveQuery, type MastClient } from '@mast/client';

/** How long a query opened for a suspended render waits for its component to mount. */
const UNCLAIMED_MS = 10_000;

const holds = new WeakMap<MastClient, Map<string, { query: LiveQuery; timer: ReturnType<typeof setTimeout> }>>();

/**
 * A suspended component never mounts, so it never subscribes: the query it waits for is opened
 * here, during render, and held until the component mounts and holds it itself (`release`) or,
 * when it never does (the render was thrown away), for `UNCLAIMED_MS`.
 */
export function holdForSuspense(client: MastClient, entity: string, filter: Filter | undefined): LiveQuery {
  let byKey = holds.get(client);
  if (!byKey) holds.set(client, (byKey = new Map()));
  const key = queryKey(entity, filter);
  const held = byKey.get(key);
  if (held) return held.query;
  const query = client.query(entity, filter);
  const timer = setTimeout(() => release(client, key), UNCLAIMED_MS);
  (timer as { unref?: () => void }).unref?.();
  byKey.set(key, { query, timer });
  return query;
}

/** Lets go of the query held for a suspended render of `key`, if any. */
export function release(client: MastClient, key: string): void {
  const held = holds.get(client)?.get(key);
  if (!held) return;
  clearTimeout(held.timer);
  holds.get(client)!.delete(key);
  held.query.close();
}
