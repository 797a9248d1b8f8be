/**
 * Mail in tests: a real SMTP server (smtp-server) on 127.0.0.1, and a reader for the newest mails
 * to an address, from the outbox (not yet sent) or from the file transport (sent in development).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { AppDeps } from '../../src/platform/deps.ts';
import { unsafeSystemTransaction } from '../../src/platform/db/context.ts';
import { renderMail, isMailTemplate } from '../../src/platform/mail/templates.ts';
import { mailDir, type FileMailSummary } from '../../src/platform/mail/transport.ts';
import { unsafeDeliverDueMail } from '../../src/platform/mail/delivery.ts';
import { isLang } from '../../src/platform/i18n/i18n.ts';

export type ReceivedMail = { from: string; to: string[]; raw: string; subject: string; text: string; html: string; messageId: string };

/** Decodes the parts of a message written by nodemailer (quoted-printable or base64, UTF-8). */
export function parseMime(raw: string): { headers: Record<string, string>; text: string; html: string } {
  const [head = '', ...rest] = raw.replace(/\r\n/g, '\n').split('\n\n');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = rest.join('\n\n');
  const decode = (partHeaders: string, content: string) => {
    if (/content-transfer-encoding:\s*quoted-printable/i.test(partHeaders)) {
      const bytes = content.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    }
    if (/content-transfer-encoding:\s*base64/i.test(partHeaders)) return Buffer.from(content.replace(/\s+/g, ''), 'base64').toString('utf8');
    return content;
  };
  let text = '';
  let html = '';
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (boundary) {
    for (const part of body.split(`--${boundary}`)) {
      const [ph = '', ...pb] = part.replace(/^\n/, '').split('\n\n');
      const content = pb.join('\n\n').replace(/\n$/, '');
      if (/content-type:\s*text\/plain/i.test(ph)) text = decode(ph, content);
      if (/content-type:\s*text\/html/i.test(ph)) html = decode(ph, content);
    }
  } else {
    text = decode(head, body);
  }
  return { headers, text, html };
}

function decodeSubject(value: string): string {
  return value.replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
  );
}

export type TestSmtp = {
  port: number;
  url: string;
  received: ReceivedMail[];
  /** Stops listening (the "server is down" case); start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
};

/** A real SMTP server on 127.0.0.1 and a random port. Without `tls`, it offers no STARTTLS. */
export async function startSmtpServer(opts: { tls?: { key: string; cert: string } } = {}): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: opts.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
      logger: false,
      closeTimeout: 1000,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const parsed = parseMime(raw);
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            subject: decodeSubject(parsed.headers.subject ?? ''),
            text: parsed.text,
            html: parsed.html,
            messageId: parsed.headers['message-id'] ?? '',
          });
          callback();
        });
      },
    });
  let server = make();
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      const s = server.listen(port, '127.0.0.1', () => resolve((s.address() as AddressInfo).port));
    });
  const port = await listen(0);
  let up = true;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!up) return resolve();
      up = false;
      server.close(() => resolve());
    });
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    stop,
    async start() {
      if (up) return;
      server = make();
      await listen(port);
      up = true;
    },
    close: stop,
  };
}

export type TestMail = { id: string; to: string; template: string; status: 'pending' | 'sent' | 'failed'; subject: string; text: string; html: string; link: string | undefined; createdAt: Date };

/**
 * The newest mails to an address, newest first. Pending mails are rendered from the outbox;
 * sent ones are read from the file transport (their model is cleared once sent).
 */
export async function newestMails(deps: AppDeps, address: string, limit = 10): Promise<TestMail[]> {
  const rows = await unsafeSystemTransaction(deps.database, (trx) =>
    trx
      .selectFrom('mail_outbox')
      .select(['id', 'recipient', 'template', 'language', 'model', 'status', 'created_at'])
      .where((eb) => eb(eb.fn('lower', ['recipient']), '=', address.toLowerCase()))
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute(),
  );
  return rows.map((r) => {
    const base = { id: r.id, to: r.recipient, template: r.template, status: r.status, createdAt: new Date(r.created_at) };
    if (r.status === 'pending' && isMailTemplate(r.template) && isLang(r.language)) {
      const m = renderMail(r.template, r.model, r.language, deps.config.publicUrl);
      return { ...base, subject: m.subject, text: m.text, html: m.html, link: m.link };
    }
    const file = path.join(mailDir(deps.config), `${r.id}.json`);
    if (fs.existsSync(file)) {
      const s = JSON.parse(fs.readFileSync(file, 'utf8')) as FileMailSummary;
      const eml = fs.readFileSync(path.join(mailDir(deps.config), `${r.id}.eml`), 'utf8');
      return { ...base, subject: s.subject, text: s.text, html: parseMime(eml).html, link: /https?:\/\/\S+/.exec(s.text)?.[0] };
    }
    return { ...base, subject: '', text: '', html: '', link: undefined };
  });
}

/**
 * Sends what is due now for these recipients (file transport unless the app was built with
 * SMTP_URL). Scoped, because on PostgreSQL every test file shares one outbox.
 */
export async function deliverMail(deps: AppDeps, recipients: string[]) {
  return unsafeDeliverDueMail(deps, { scope: { recipients } });
}
