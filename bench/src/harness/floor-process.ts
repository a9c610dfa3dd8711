/**
 * Child process: the HTTP floor. A bare `node:http` server answering every request with the same
 * small JSON body, so the load generator measures what loopback HTTP alone costs on this machine.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveRunner } from './child-rpc.js';

const BODY = Buffer.from(JSON.stringify({ id: '0000000000000000180000000000000000000000', title: 'todo 0', done: false, priority: 3 }));

let server: Server | null = null;

async function start(): Promise<{ port: number }> {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': BODY.length });
      response.end(BODY);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port };
}

serveRunner({ start }, async () => {
  const s = server;
  if (!s) return;
  s.closeAllConnections();
  await new Promise<void>((resolve) => s.close(() => resolve()));
});
