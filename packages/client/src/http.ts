import { errorFromServer, MastClientError } from './errors.js';

/** A `fetch` function (the global one by default). */
export type FetchLike = (
  input: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array; credentials?: 'include' },
) => Promise<{ status: number; ok: boolean; text(): Promise<string> }>;

/** The answer of one HTTP request: the parsed JSON body on success. */
export type HttpOutcome = { readonly ok: true; readonly status: number; readonly body: unknown } | { readonly ok: false; readonly status: number; readonly error: MastClientError };

/** Sends JSON to the server's HTTP API with the bearer token; network failures are status 0. */
export async function httpRequest(
  fetchFn: FetchLike,
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; opId?: string; withCookie?: boolean } = {},
): Promise<HttpOutcome> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.opId) headers['idempotency-key'] = options.opId;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let res: Awaited<ReturnType<FetchLike>>;
  try {
    res = await fetchFn(baseUrl + path, { method, headers, ...(body === undefined ? {} : { body }), ...(options.withCookie ? { credentials: 'include' as const } : {}) });
  } catch (err) {
    return { ok: false, status: 0, error: new MastClientError('NETWORK', `${method} ${path} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }) };
  }
  const text = await res.text().catch(() => '');
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.ok) return { ok: true, status: res.status, body: parsed };
  return { ok: false, status: res.status, error: errorFromServer(parsed, res.status) };
}

/** Whether a failed request may succeed when sent again unchanged (network, 5xx, 408, 429, 401). */
export function isRetryable(status: number): boolean {
  return status === 0 || status >= 500 || status === 408 || status === 429 || status === 401;
}
