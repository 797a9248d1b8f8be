/**
 * Where rendered mails go: an SMTP server (SMTP_URL), or, without one, .eml files under
 * `<data dir>/mail/` for development (read them on /staff/dev/mail).
 *
 * SMTP: smtp:// must be upgraded with STARTTLS unless SMTP_REQUIRE_TLS=false; smtps:// is TLS
 * from the first byte. Certificates are always verified (SMTP_CA_FILE adds a private CA).
 * Errors are reduced to a short code before they are stored: an SMTP reply often quotes the
 * recipient's address, which does not belong in last_error.
 */
import fs from 'node:fs';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../../config.ts';

export type OutgoingMail = {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  template: string;
  lang: string;
  messageId: string;
};

export type TransportState =
  | { transport: 'file'; status: 'ok' }
  | { transport: 'smtp'; status: 'ok' | 'unreachable' | 'checking'; checkedAt: string };

export interface MailTransport {
  readonly kind: 'smtp' | 'file';
  send(mail: OutgoingMail): Promise<void>;
  /** Whether the server answers (cached for a minute: load balancers ask often). */
  state(now: Date): Promise<TransportState>;
  close(): void;
}

/** A short, address-free description of a delivery error for last_error and the logs. */
export function describeMailError(err: unknown): string {
  if (!(err instanceof Error)) return 'ERROR';
  const e = err as Error & { code?: unknown; responseCode?: unknown; command?: unknown };
  const parts = [typeof e.code === 'string' && /^[A-Z_]{1,40}$/.test(e.code) ? e.code : e.name.slice(0, 40)];
  if (typeof e.responseCode === 'number') parts.push(String(e.responseCode));
  if (typeof e.command === 'string' && /^[A-Z ]{1,20}$/.test(e.command)) parts.push(`at ${e.command}`);
  return parts.join(' ');
}

export function mailDir(config: Config): string {
  return path.join(config.dataDir, 'mail');
}

/** What the file transport writes next to each .eml: the dev page reads this, not the MIME. */
export type FileMailSummary = { id: string; to: string; subject: string; template: string; lang: string; writtenAt: string; text: string };

class FileTransport implements MailTransport {
  readonly kind = 'file' as const;
  private readonly mime = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  constructor(
    private readonly dir: string,
    private readonly from: string,
    private readonly clockNow: () => Date,
  ) {}

  async send(mail: OutgoingMail): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const info = await this.mime.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: mail.messageId });
    const raw = info.message as unknown as Buffer;
    // The id is a UUID we generated, so it is safe as a file name.
    fs.writeFileSync(path.join(this.dir, `${mail.id}.eml`), raw, { mode: 0o600 });
    const summary: FileMailSummary = { id: mail.id, to: mail.to, subject: mail.subject, template: mail.template, lang: mail.lang, writtenAt: this.clockNow().toISOString(), text: mail.text };
    fs.writeFileSync(path.join(this.dir, `${mail.id}.json`), JSON.stringify(summary), { mode: 0o600 });
  }

  async state(): Promise<TransportState> {
    return { transport: 'file', status: 'ok' };
  }

  close(): void {}
}

class SmtpTransport implements MailTransport {
  readonly kind = 'smtp' as const;
  private readonly smtp: Transporter;
  private cached: { at: number; state: TransportState } | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    url: string,
    private readonly from: string,
    requireTls: boolean,
    caFile: string | undefined,
  ) {
    const u = new URL(url);
    const secure = u.protocol === 'smtps:';
    this.smtp = nodemailer.createTransport({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : secure ? 465 : 587,
      secure,
      requireTLS: !secure && requireTls,
      ignoreTLS: false,
      ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
      tls: { minVersion: 'TLSv1.2', rejectUnauthorized: true, ...(caFile ? { ca: fs.readFileSync(caFile) } : {}), servername: u.hostname },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async send(mail: OutgoingMail): Promise<void> {
    await this.smtp.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: mail.messageId });
  }

  /**
   * Readiness probes have short timeouts, and a firewalled SMTP server takes the full connection
   * timeout to fail: wait at most 2 seconds for a check, and answer from the last one after that.
   */
  async state(now: Date): Promise<TransportState> {
    if (!this.cached || Math.abs(now.getTime() - this.cached.at) >= 60_000) {
      this.checking ??= this.smtp
        .verify()
        .then(
          () => true,
          () => false,
        )
        .then((ok) => {
          this.cached = { at: now.getTime(), state: { transport: 'smtp', status: ok ? 'ok' : 'unreachable', checkedAt: now.toISOString() } };
        })
        .finally(() => (this.checking = undefined));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.checking, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
    }
    return this.cached?.state ?? { transport: 'smtp', status: 'checking', checkedAt: now.toISOString() };
  }

  close(): void {
    this.smtp.close();
  }
}

const transports = new WeakMap<Config, MailTransport>();

/** One transport per configuration (the tests build several apps with different ones). */
export function mailTransport(config: Config, clock: { now(): Date }): MailTransport {
  let t = transports.get(config);
  if (!t) {
    t =
      config.mail.transport === 'smtp' && config.mail.smtpUrl
        ? new SmtpTransport(config.mail.smtpUrl, config.mail.from, config.mail.requireTls, config.mail.caFile)
        : new FileTransport(mailDir(config), config.mail.from, () => clock.now());
    transports.set(config, t);
  }
  return t;
}

/** Closes the transport of this configuration (on shutdown, and when a test ends). */
export function closeMailTransport(config: Config): void {
  transports.get(config)?.close();
  transports.delete(config);
}
