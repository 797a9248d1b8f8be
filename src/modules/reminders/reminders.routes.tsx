/**
 * /notifications (the in-app list), /account/reminders (which reminders come by e-mail, and
 * the daily digest) and a leader's nudge on a dialogue. Users only; see reminders.service.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { translator } from '../../platform/i18n/i18n.ts';
import { NotFoundError } from '../../platform/errors.ts';
import type { ReminderKind } from '../../platform/mail/mail.ts';
import { reminderMessages } from './reminders.i18n.ts';
import { digestJob, getPrefs, markAllRead, myNotifications, nudge, OPTIONAL_REMINDERS, remindersJob, savePrefs } from './reminders.service.ts';
import { registerJob } from '../../platform/jobs/jobs.ts';
import { NotificationsPage, ReminderPrefsPage } from './reminders.views.tsx';

const user = (req: FastifyRequest) => req.actor as UserActor;

/** Checkbox values arrive as one string or several; anything not a known kind is ignored. */
function checked(body: unknown, name: string): string[] {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.filter((x): x is string => typeof x === 'string');
}

export function registerReminders(app: FastifyInstance, deps: AppDeps) {
  // The periodic jobs of this module (run by every node, each due run once).
  registerJob(remindersJob);
  registerJob(digestJob);

  app.get('/notifications', async (req, reply) => sendPage(reply, <NotificationsPage vc={viewContext(req)} items={await myNotifications(deps, user(req))} />));

  app.post('/notifications/read', async (req, reply) => {
    await markAllRead(deps, user(req));
    return reply.redirect('/notifications', 303);
  });

  app.get('/account/reminders', async (req, reply) => {
    const flash = (req.query as Record<string, unknown>).saved === '1' ? translator(req.lang, reminderMessages)('saved') : undefined;
    return sendPage(reply, <ReminderPrefsPage vc={viewContext(req)} prefs={await getPrefs(deps, user(req))} flash={flash} />);
  });

  app.post('/account/reminders', async (req, reply) => {
    const on = new Set(checked(req.body, 'on'));
    const off = OPTIONAL_REMINDERS.filter((k) => !on.has(k)) as ReminderKind[];
    const digest = checked(req.body, 'digest').includes('1');
    await savePrefs(deps, user(req), { off, digest }, req.ip);
    return reply.redirect('/account/reminders?saved=1', 303);
  });

  app.post('/dialogues/:id/nudge', async (req, reply) => {
    const id = z.uuid().safeParse((req.params as { id?: string }).id);
    if (!id.success) throw new NotFoundError();
    const result = await nudge(deps, user(req), id.data, req.ip);
    return reply.redirect(`/dialogues/${id.data}?done=${result === 'sent' ? 'nudged' : 'nudgeAlready'}`, 303);
  });
}
