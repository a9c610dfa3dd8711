import type { Transporter } from 'nodemailer';
import { authErrors } from '../errors/index.js';

/** One plain-text email. */
export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Sends auth emails. Rejects with EMAIL_SEND_FAILED when delivery fails. */
export interface Mailer {
  /** False when mail cannot be delivered at all (no transport configured). */
  readonly available: boolean;
  send(message: MailMessage): Promise<void>;
}

/**
 * Delivers through an SMTP server with nodemailer (`smtp://` or `smtps://` URL). nodemailer is
 * loaded on the first message, so a server that sends none does not carry it.
 */
export class SmtpMailer implements Mailer {
  readonly available = true;
  readonly #url: string;
  readonly #from: string;
  #transport: Promise<Transporter> | undefined;

  constructor(url: string, from: string) {
    this.#url = url;
    this.#from = from;
  }

  async send(message: MailMessage): Promise<void> {
    try {
      this.#transport ??= import('nodemailer').then((m) => m.default.createTransport(this.#url));
      const transport = await this.#transport;
      await transport.sendMail({ from: this.#from, to: message.to, subject: message.subject, text: message.text });
    } catch (err) {
      throw authErrors.emailSendFailed(err);
    }
  }

  /** Closes pooled connections. */
  close(): void {
    void this.#transport?.then(
      (transport) => transport.close(),
      () => undefined,
    );
  }
}

/** A message kept by the dev outbox. */
export interface OutboxMessage extends MailMessage {
  /** When it was "sent", ISO-8601. */
  readonly at: string;
}

/**
 * Dev mode without SMTP: messages are kept in memory (the newest `capacity`, lost on restart)
 * and read at `GET /api/auth/outbox`, instead of being printed to a log where codes would leak.
 */
export class DevOutbox implements Mailer {
  readonly available = true;
  readonly #messages: OutboxMessage[] = [];
  readonly #capacity: number;

  constructor(capacity = 100) {
    this.#capacity = capacity;
  }

  async send(message: MailMessage): Promise<void> {
    this.#messages.push({ to: message.to, subject: message.subject, text: message.text, at: new Date().toISOString() });
    if (this.#messages.length > this.#capacity) this.#messages.shift();
  }

  /** Messages kept, newest last; only those to `to` when given. */
  list(to?: string): OutboxMessage[] {
    return this.#messages.filter((m) => to === undefined || m.to === to);
  }
}

/** No transport configured outside dev mode: every send is EMAIL_NOT_CONFIGURED, never a silent success. */
export class NoMailer implements Mailer {
  readonly available = false;
  async send(): Promise<void> {
    throw authErrors.emailNotConfigured();
  }
}
