/** A request from the bench runner to one of its children. */
export interface RpcRequest {
  readonly id: number;
  readonly method: string;
  readonly params: unknown;
}

/** A child's answer to one request. */
export type RpcReply = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

/** A child's handlers by method name; `ready` and `stop` are built in. */
export type RpcHandlers = Readonly<Record<string, (params: unknown) => Promise<unknown>>>;

/**
 * Serves the runner's requests in a child process. `stop` runs `onStop`, answers, and exits;
 * losing the IPC channel (the runner died) runs `onStop` and exits too, so no child outlives it.
 */
export function serveRunner(handlers: RpcHandlers, onStop: () => Promise<void> = async () => undefined): void {
  const send = (reply: RpcReply): void => {
    if (process.connected) process.send?.(reply);
  };
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await onStop();
    } catch (err) {
      console.error('cleanup failed:', err);
    }
  };

  process.on('message', (raw) => {
    const request = raw as RpcRequest;
    void (async () => {
      try {
        if (request.method === 'ready') return send({ id: request.id, ok: true, result: null });
        if (request.method === 'stop') {
          await stop();
          const done = (): never => process.exit(0);
          if (!process.connected || !process.send) done();
          process.send?.({ id: request.id, ok: true, result: null } satisfies RpcReply, done);
          return;
        }
        const handler = handlers[request.method];
        if (!handler) throw new Error(`unknown method ${request.method}`);
        send({ id: request.id, ok: true, result: await handler(request.params) });
      } catch (err) {
        send({ id: request.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    })();
  });
  process.once('disconnect', () => {
    void stop().then(() => process.exit(0));
  });
}
