/**
 * HTTP for rounds and dialogues: parse with zod, call the service, render. Successful POSTs
 * redirect (303) back to the page with a flash code; refused input re-renders the page with the
 * user's values and messages (422), a refused step with its message (409). htmx autosave posts
 * (header hx-request) get a fragment instead: the save status and the new version, or the
 * conflict with both texts (409; /assets/dialogue.js lets htmx swap that in).
 *
 * Authorization is the service's: a dialogue the actor has no side in, or a round they do not
 * administer, is 404.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { cookieNames, viewContext } from '../../platform/http/server.ts';
import { sourceFor } from '../../platform/auth/throttle.ts';
import { sendFragment, sendPage } from '../../platform/html/render.ts';
import { optionalText, parseForm, rawForm, text } from '../../platform/http/forms.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors.ts';
import { translator, type Lang } from '../../platform/i18n/i18n.ts';
import { dialogueMessages, isDialogueKey, type DialogueKey } from './dialogues.i18n.ts';
import * as service from './dialogues.service.ts';
import { listAttachments } from './dialogues.attachments.ts';
import type { DialogueCtx } from './dialogues.service.ts';
import { AGREEMENT_STATUSES, AnswerStatus, ArchivePage, DialoguePageView, NewRoundPage, OverviewPage, RoundPage, RoundsPage, StatisticsPage, type DialogueViewState, type FormState } from './dialogues.views.tsx';

const isoDate = z.string().trim().regex(/^\d{4}-\d{2}-\d{2}$/).refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v));
const optionalDate = z
  .string()
  .trim()
  .transform((v) => (v === '' ? null : v))
  .pipe(isoDate.nullable());

const roundSchema = z.object({
  name: text(200),
  form: z.string().trim().min(1).max(100),
  target: z.string().trim().min(1).max(100),
  preparation_deadline: isoDate,
  meeting_from: isoDate,
  meeting_to: isoDate,
});
const meetingSchema = z.object({ date: isoDate, time: z.string().trim().regex(/^([01]\d|2[0-3]):[0-5]\d$/), place: optionalText(500) });
const notesSchema = z.object({ notes: z.string().max(20000), version: z.coerce.number().int().min(0) });
const agreementSchema = z.object({
  title: text(500),
  description: optionalText(5000),
  // 'employee' or 'leader'; in a GRUS 'leader' or 'member:<employment id>'.
  owner: z.union([z.enum(['employee', 'leader']), z.string().regex(/^member:[0-9a-f-]{36}$/)]),
  deadline: optionalDate.default(null),
  follow_up: optionalDate.default(null),
  status: z.enum(AGREEMENT_STATUSES as [string, ...string[]]).default('open'),
});
const followUpSchema = z.object({ status: z.enum(AGREEMENT_STATUSES as [string, ...string[]]), progress: optionalText(10000) });
const sicknessSchema = z.object({ employment_id: z.uuid(), from: isoDate, to: optionalDate });
// The password or a TOTP code (the service asks for one of them).
const signSchema = z.object({ password: z.string().max(1024).default(''), code: z.string().trim().max(20).regex(/^[0-9 ]*$/).default(''), disagreement: z.string().max(5000).default('') });
const requestMusSchema = z.object({ reason: optionalText(2000) });

const FLASH: Record<string, DialogueKey> = {
  saved: 'answersSaved',
  submitted: 'submitted',
  scheduled: 'meetingSaved',
  started: 'started',
  notes: 'notesSaved',
  agreement: 'agreementAdded',
  followup: 'agreementUpdated',
  finished: 'finished',
  signed: 'signedFlash',
  closed: 'closedFlash',
  reopened: 'reopened',
  nudged: 'nudgedFlash',
  nudgeAlready: 'nudgeAlreadyFlash',
  requested: 'requestSentFlash',
  'mus-created': 'createdMusFlash',
  'group-closed': 'groupClosedFlash',
};

function ctxOf(req: FastifyRequest, deps: AppDeps): DialogueCtx {
  const actor = req.actor;
  if (actor?.kind !== 'user') throw new NotFoundError();
  return { deps, actor, ip: req.ip };
}

function idParam(req: FastifyRequest): string {
  const parsed = z.uuid().safeParse((req.params as { id?: unknown }).id);
  if (!parsed.success) throw new NotFoundError();
  return parsed.data;
}

function flashOf(req: FastifyRequest): string | undefined {
  const v = (req.query as Record<string, unknown>).done;
  const key = typeof v === 'string' ? FLASH[v] : undefined;
  return key ? translator(req.lang, dialogueMessages)(key) : undefined;
}

const message = (lang: Lang, code: string) => translator(lang, dialogueMessages)(isDialogueKey(code) ? code : 'errWrongState');

type Refusal = { status: 409 | 422; errors: Record<string, string> };

async function attempt<T>(lang: Lang, field: string, fn: () => Promise<T>): Promise<{ ok: true; value: T } | ({ ok: false } & Refusal)> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    if (error instanceof ValidationError) {
      const entries = Object.entries(error.fields);
      return { ok: false, status: 422, errors: entries.length > 0 ? Object.fromEntries(entries.map(([f, c]) => [f, message(lang, c)])) : { [field]: message(lang, error.code) } };
    }
    if (error instanceof ConflictError) return { ok: false, status: 409, errors: { [field]: message(lang, error.code) } };
    throw error;
  }
}

/** Every q_<id>/v_<id> pair in a body, with arrays kept for multiple choice. */
function answerPairs(body: unknown): { questionId: string; value: string | string[]; version: number }[] {
  if (!body || typeof body !== 'object') return [];
  const b = body as Record<string, unknown>;
  const out: { questionId: string; value: string | string[]; version: number }[] = [];
  for (const [key, raw] of Object.entries(b)) {
    const m = /^v_([a-z0-9_-]{1,64})$/.exec(key);
    if (!m?.[1]) continue;
    const version = Number(Array.isArray(raw) ? raw[0] : raw);
    if (!Number.isInteger(version) || version < 0) continue;
    const v = b[`q_${m[1]}`];
    const value = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v : '';
    out.push({ questionId: m[1], value, version });
  }
  return out.slice(0, 100);
}

export function registerDialogues(app: FastifyInstance, deps: AppDeps) {
  const secure = Boolean(deps.config.tls) || deps.config.publicUrl?.startsWith('https:') === true;
  const names = cookieNames(secure);
  // The M7 throttle's source, as at the login: the device cookie, else the IP address.
  const sourceOf = (req: FastifyRequest) => {
    const device = req.cookies[names.device];
    return sourceFor(device && /^[A-Za-z0-9_-]{43}$/.test(device) ? device : undefined, req.ip);
  };

  // ------------------------------------------------------------ overview and rounds
  const renderOverview = async (req: FastifyRequest, reply: FastifyReply, sick?: FormState, status = 200) => {
    const ctx = ctxOf(req, deps);
    const data = await service.getMyDialogues(ctx);
    const sicknessOptions = await service.getSicknessOptions(ctx);
    const done = (req.query as Record<string, unknown>).done;
    const t = translator(req.lang, dialogueMessages);
    const flash = status !== 200 ? undefined : done === 'sick-task' ? t('sickTask') : done === 'sick-notask' ? t('sickNoTask') : undefined;
    return sendPage(reply, <OverviewPage vc={viewContext(req)} data={data} sicknessOptions={sicknessOptions} flash={flash} sick={sick} />, status);
  };

  app.get('/dialogues', async (req, reply) => renderOverview(req, reply));

  app.post('/sickness-reports', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    // Only those who may report someone have this form at all.
    if ((await service.getSicknessOptions(ctx)).length === 0) throw new NotFoundError();
    const form = parseForm(sicknessSchema, { to: '', ...rawForm(req.body) }, req.lang);
    if (!form.ok) return renderOverview(req, reply, { values: form.raw, errors: form.errors }, 422);
    const r = await attempt(req.lang, 'employment_id', () => service.reportSickness(ctx, { employmentId: form.data.employment_id, from: form.data.from, to: form.data.to }));
    if (!r.ok) return renderOverview(req, reply, { values: rawForm(req.body), errors: r.errors }, r.status);
    return reply.redirect(`/dialogues?done=${r.value.task ? 'sick-task' : 'sick-notask'}#sick-h`, 303);
  });

  app.get('/rounds', async (req, reply) => {
    const data = await service.listRoundsPage(ctxOf(req, deps));
    return sendPage(reply, <RoundsPage vc={viewContext(req)} data={data} />);
  });

  const renderNewRound = async (req: FastifyRequest, reply: FastifyReply, state?: FormState, status = 200) => {
    const data = await service.getRoundForm(ctxOf(req, deps));
    return sendPage(reply, <NewRoundPage vc={viewContext(req)} data={data} {...(state ? { state } : {})} />, status);
  };

  app.get('/rounds/new', async (req, reply) => renderNewRound(req, reply));

  app.post('/rounds', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    // The page must exist for the actor before any input is judged.
    await service.getRoundForm(ctx);
    const form = parseForm(roundSchema, req.body, req.lang);
    if (!form.ok) return renderNewRound(req, reply, { values: form.raw, errors: form.errors }, 422);
    const d = form.data;
    const r = await attempt(req.lang, 'target', () =>
      service.createRound(ctx, { name: d.name, form: d.form, target: d.target, preparationDeadline: d.preparation_deadline, meetingFrom: d.meeting_from, meetingTo: d.meeting_to }),
    );
    if (!r.ok) return renderNewRound(req, reply, { values: rawForm(req.body), errors: r.errors }, r.status);
    return reply.redirect(`/rounds/${r.value.id}?created=${r.value.created}&skipped=${r.value.skipped}`, 303);
  });

  app.get('/rounds/:id', async (req, reply) => {
    const data = await service.getRoundPage(ctxOf(req, deps), idParam(req));
    const q = req.query as Record<string, unknown>;
    const t = translator(req.lang, dialogueMessages);
    const created = Number(q.created);
    const skipped = Number(q.skipped);
    const flash = Number.isInteger(created) && created >= 0 && typeof q.created === 'string'
      ? [t('roundCreated', { created }), Number.isInteger(skipped) && skipped > 0 ? t('roundSkipped', { skipped }) : ''].filter(Boolean).join(' ')
      : undefined;
    return sendPage(reply, <RoundPage vc={viewContext(req)} data={data} flash={flash} />);
  });

  app.get('/rounds/:id/statistics', async (req, reply) => {
    const data = await service.getRoundStatistics(ctxOf(req, deps), idParam(req));
    return sendPage(reply, <StatisticsPage vc={viewContext(req)} data={data} />);
  });

  // ------------------------------------------------------------ one dialogue
  const renderDialogue = async (req: FastifyRequest, reply: FastifyReply, id: string, state: DialogueViewState = {}, status = 200) => {
    const data = await service.getDialoguePage(ctxOf(req, deps), id);
    const attachments = { data: await listAttachments({ ...ctxOf(req, deps) }, id), limits: deps.config.uploads };
    return sendPage(reply, <DialoguePageView vc={viewContext(req)} data={data} state={{ flash: status === 200 ? flashOf(req) : undefined, ...state }} attachments={attachments} />, status);
  };

  app.get('/dialogues/:id', async (req, reply) => renderDialogue(req, reply, idParam(req)));

  app.post('/dialogues/:id/answers', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const pairs = answerPairs(req.body);
    const htmx = req.headers['hx-request'] === 'true';
    if (pairs.length === 0) {
      // Nothing to save; still prove the dialogue is the actor's before answering anything.
      await service.getDialoguePage(ctx, id);
      return htmx ? reply.code(204).send() : reply.redirect(`/dialogues/${id}`, 303);
    }
    const conflicts: NonNullable<DialogueViewState['conflicts']> = {};
    const errors: Record<string, string> = {};
    let refusedStatus: 409 | 422 | undefined;
    let last: service.AnswerOutcome | undefined;
    for (const p of pairs) {
      const r = await attempt(req.lang, `q_${p.questionId}`, () => service.saveAnswer(ctx, id, p));
      if (!r.ok) {
        Object.assign(errors, r.errors);
        refusedStatus = refusedStatus === 409 || r.status === 409 ? 409 : 422;
        // A locked or closed step refuses all the rest in the same way.
        if (r.status === 409) break;
        continue;
      }
      last = r.value;
      if (!r.value.ok) conflicts[p.questionId] = { mine: r.value.mine, theirs: r.value.theirs };
    }
    const conflicted = Object.keys(conflicts).length > 0;
    if (htmx && pairs.length === 1 && last && Object.keys(errors).length === 0) {
      const c = conflicts[last.questionId];
      return sendFragment(reply, <AnswerStatus lang={req.lang} questionId={last.questionId} version={last.version} conflict={c} savedAt={deps.clock.now()} />, c ? 409 : 200);
    }
    if (htmx && Object.keys(errors).length > 0) {
      return sendFragment(reply, <p class="field-error">{Object.values(errors)[0]}</p>, refusedStatus ?? 422);
    }
    if (conflicted || refusedStatus) {
      const values = Object.fromEntries(pairs.map((p) => [`q_${p.questionId}`, p.value]));
      return renderDialogue(req, reply, id, { conflicts, errors, values }, refusedStatus ?? 409);
    }
    return reply.redirect(`/dialogues/${id}?done=saved`, 303);
  });

  /** The simple steps: one button, one service call, back to the page. */
  const step = (path: string, fn: (ctx: DialogueCtx, id: string) => Promise<unknown>, done: string) => {
    app.post(`/dialogues/:id/${path}`, async (req, reply) => {
      const id = idParam(req);
      const r = await attempt(req.lang, 'step', () => fn(ctxOf(req, deps), id));
      if (!r.ok) return renderDialogue(req, reply, id, { errors: r.errors }, r.status);
      return reply.redirect(`/dialogues/${id}?done=${done}`, 303);
    });
  };
  step('submit', service.submitPreparation, 'submitted');
  step('start', service.startMeeting, 'started');
  step('finish', service.finishMeeting, 'finished');
  step('reopen', service.reopen, 'reopened');

  app.post('/dialogues/:id/meeting', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const form = parseForm(meetingSchema, req.body, req.lang);
    if (!form.ok) return renderDialogue(req, reply, id, { meeting: { values: form.raw, errors: form.errors } }, 422);
    const r = await attempt(req.lang, 'date', () => service.scheduleMeeting(ctx, id, form.data));
    if (!r.ok) return renderDialogue(req, reply, id, { meeting: { values: rawForm(req.body), errors: r.errors } }, r.status);
    return reply.redirect(`/dialogues/${id}?done=scheduled`, 303);
  });

  app.post('/dialogues/:id/notes', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const form = parseForm(notesSchema, req.body, req.lang);
    if (!form.ok) return renderDialogue(req, reply, id, { errors: form.errors, values: form.raw }, 422);
    const r = await attempt(req.lang, 'notes', () => service.saveNotes(ctx, id, { text: form.data.notes, version: form.data.version }));
    if (!r.ok) return renderDialogue(req, reply, id, { errors: r.errors }, r.status);
    if (!r.value.ok) return renderDialogue(req, reply, id, { conflicts: { notes: { mine: r.value.mine, theirs: r.value.theirs } } }, 409);
    return reply.redirect(`/dialogues/${id}?done=notes#notes-h`, 303);
  });

  app.post('/dialogues/:id/agreements', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const form = parseForm(agreementSchema, { description: '', deadline: '', follow_up: '', ...rawForm(req.body) }, req.lang);
    if (!form.ok) return renderDialogue(req, reply, id, { agreement: { values: form.raw, errors: form.errors } }, 422);
    const d = form.data;
    const member = d.owner.startsWith('member:') ? d.owner.slice('member:'.length) : undefined;
    const owner = d.owner === 'leader' ? 'leader' : 'employee';
    const r = await attempt(req.lang, 'title', () =>
      service.addAgreement(ctx, id, { title: d.title, description: d.description, owner, ownerEmploymentId: member, deadline: d.deadline, followUp: d.follow_up, status: d.status as service.AgreementInput['status'] }),
    );
    if (!r.ok) return renderDialogue(req, reply, id, { agreement: { values: rawForm(req.body), errors: r.errors } }, r.status);
    return reply.redirect(`/dialogues/${id}?done=agreement#agreements-h`, 303);
  });

  app.post('/agreements/:id', async (req, reply) => {
    const agreementId = idParam(req);
    const ctx = ctxOf(req, deps);
    const form = parseForm(followUpSchema, { progress: '', ...rawForm(req.body) }, req.lang);
    if (!form.ok) return renderDialogue(req, reply, await service.getAgreementDialogueId(ctx, agreementId), { errors: form.errors }, 422);
    const r = await attempt(req.lang, 'status', () => service.followUpAgreement(ctx, agreementId, { status: form.data.status as service.AgreementInput['status'], progress: form.data.progress }));
    if (!r.ok) return renderDialogue(req, reply, await service.getAgreementDialogueId(ctx, agreementId), { errors: r.errors }, r.status);
    return reply.redirect(`/dialogues/${r.value}?done=followup#agreement-${agreementId}`, 303);
  });

  app.post('/dialogues/:id/sign', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const raw = rawForm(req.body);
    const keep = { disagreement: raw.disagreement ?? '' };
    const form = parseForm(signSchema, { disagreement: '', password: '', code: '', ...raw }, req.lang);
    if (!form.ok) return renderDialogue(req, reply, id, { sign: { values: keep, errors: form.errors } }, 422);
    const r = await attempt(req.lang, 'password', () => service.sign(ctx, id, { ...form.data, source: sourceOf(req) }));
    if (!r.ok) return renderDialogue(req, reply, id, { sign: { values: keep, errors: r.errors } }, r.status);
    return reply.redirect(`/dialogues/${id}?done=${r.value.closed ? (r.value.group ? 'group-closed' : 'closed') : 'signed'}`, 303);
  });

  // ------------------------------------------------------------ GRUS: an individual MUS on request
  app.post('/dialogues/:id/request-mus', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const form = parseForm(requestMusSchema, { reason: '', ...rawForm(req.body) }, req.lang);
    if (!form.ok) {
      await service.getDialoguePage(ctx, id);
      return renderDialogue(req, reply, id, { errors: form.errors, values: form.raw }, 422);
    }
    const r = await attempt(req.lang, 'reason', () => service.requestMus(ctx, id, { reason: form.data.reason }));
    if (!r.ok) return renderDialogue(req, reply, id, { errors: r.errors }, r.status);
    return reply.redirect(`/dialogues/${id}?done=requested#request-h`, 303);
  });

  app.post('/dialogues/:id/create-mus', async (req, reply) => {
    const id = idParam(req);
    const r = await attempt(req.lang, 'step', () => service.createRequestedMus(ctxOf(req, deps), id));
    if (!r.ok) return renderDialogue(req, reply, id, { errors: r.errors }, r.status);
    return reply.redirect(`/dialogues/${r.value}?done=mus-created`, 303);
  });

  // ------------------------------------------------------------ the leader's archive (M15)
  app.get('/archive', async (req, reply) => {
    const data = await service.getArchive(ctxOf(req, deps));
    return sendPage(reply, <ArchivePage vc={viewContext(req)} rows={data} />);
  });
}
