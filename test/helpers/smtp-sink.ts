import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A message the sink accepted. */
export interface SunkMail {
  readonly from: string;
  readonly to: string[];
  /** The DATA section as sent (headers and body), dot-unstuffed. */
  readonly data: string;
}

/**
 * A tiny SMTP server on a random port, enough for nodemailer: greeting, EHLO/HELO, MAIL, RCPT,
 * DATA, RSET, NOOP, QUIT. With `reject`, DATA is refused (550) so delivery fails.
 */
export class SmtpSink {
  readonly messages: SunkMail[] = [];
  reject = false;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #waiters = new Set<() => void>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<SmtpSink> {
    const sink = new SmtpSink(createServer((socket) => sink.#session(socket)));
    await new Promise<void>((resolve) => sink.#server.listen(0, '127.0.0.1', resolve));
    return sink;
  }

  get url(): string {
    return `smtp://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Resolves with the `n`-th message (1-based) once it has arrived. */
  async nth(n: number): Promise<SunkMail> {
    while (this.messages.length < n) await new Promise<void>((resolve) => this.#waiters.add(resolve));
    return this.messages[n - 1]!;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #session(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    let inData = false;
    let from = '';
    let to: string[] = [];
    const reply = (line: string): void => void socket.write(`${line}\r\n`);
    reply('220 sink ESMTP');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end === -1) return;
          const data = buffer.slice(0, end).replace(/^\.\./gm, '.');
          buffer = buffer.slice(end + 5);
          inData = false;
          if (this.reject) {
            reply('550 mailbox unavailable');
          } else {
            this.messages.push({ from, to, data });
            reply('250 queued');
            for (const wake of [...this.#waiters]) {
              this.#waiters.delete(wake);
              wake();
            }
          }
          from = '';
          to = [];
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol === -1) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') reply('250 sink');
        else if (verb === 'MAIL') {
          from = /<([^>]*)>/.exec(line)?.[1] ?? '';
          reply('250 ok');
        } else if (verb === 'RCPT') {
          to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          reply('250 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
        } else if (verb === 'RSET' || verb === 'NOOP') reply('250 ok');
        else reply('502 not implemented');
      }
    });
  }
}
