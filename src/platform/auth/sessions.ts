/**
 * Server-side sessions. The cookie holds 256 random bits; the database holds only their SHA-256,
 * so a database leak yields no usable session. Idle and absolute lifetimes come from config.
 * Sessions live in PostgreSQL, so any app node can serve any request (M10).
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.ts';
import { enterContext, withTenant, type Tx } from '../db/context.ts';
import { isLang } from '../i18n/i18n.ts';
import type { Actor } from './actor.ts';
import { randomToken, sha256Hex } from './tokens.ts';

export type SessionPolicy = { idleMinutes: number; absoluteHours: number };

export type LoadedSession = { actor: Actor; csrfToken: string };

export async function createSession(
  trx: Tx,
  subject: { userId: string; companyId: string } | { staffId: string },
  meta: { ip: string; userAgent: string | undefined; now: Date; policy: SessionPolicy },
): Promise<{ token: string; id: string }> {
  const token = randomToken();
  const id = randomUUID();
  await trx
    .insertInto('sessions')
    .values({
      id,
      token_hash: sha256Hex(token),
      user_id: 'userId' in subject ? subject.userId : null,
      staff_id: 'staffId' in subject ? subject.staffId : null,
      company_id: 'companyId' in subject ? subject.companyId : null,
      csrf_token: randomToken(),
      ip: meta.ip,
      user_agent: meta.userAgent?.slice(0, 300) ?? null,
      created_at: meta.now,
      last_seen_at: meta.now,
      expires_at: new Date(meta.now.getTime() + meta.policy.absoluteHours * 3600_000),
    })
    .execute();
  return { token, id };
}

export async function loadSession(
  database: Database,
  token: string,
  now: Date,
  policy: SessionPolicy,
): Promise<LoadedSession | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const hash = sha256Hex(token);
  return withTenant(database, { sessionHash: hash }, async (trx) => {
    const s = await trx.selectFrom('sessions').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    if (!s) return undefined;
    const idleLimit = new Date(s.last_seen_at).getTime() + policy.idleMinutes * 60_000;
    if (new Date(s.expires_at) <= now || idleLimit <= now.getTime()) {
      await trx.deleteFrom('sessions').where('id', '=', s.id).execute();
      return undefined;
    }
    let actor: Actor | undefined;
    if (s.staff_id) {
      await enterContext(trx, { staffId: s.staff_id, sessionHash: hash });
      const staff = await trx
        .selectFrom('staff_accounts')
        .select(['id', 'name', 'email', 'role', 'language'])
        .where('id', '=', s.staff_id)
        .where('disabled_at', 'is', null)
        .executeTakeFirst();
      if (staff) {
        actor = { kind: 'staff', sessionId: s.id, staffId: staff.id, name: staff.name, email: staff.email, role: staff.role, lang: isLang(staff.language) ? staff.language : 'en', userAgent: s.user_agent };
        if (s.company_id) {
          // Support inside a company: only while the company's consent is open (M13).
          const consent = await trx
            .selectFrom('support_consents as c')
            .innerJoin('companies as co', 'co.id', 'c.company_id')
            .select(['co.name', 'c.allow_edit', 'c.expires_at'])
            .where('c.company_id', '=', s.company_id)
            .where('c.withdrawn_at', 'is', null)
            .where('c.expires_at', '>', now)
            .executeTakeFirst();
          if (consent) {
            actor.support = { companyId: s.company_id, companyName: consent.name, allowEdit: consent.allow_edit, until: new Date(consent.expires_at) };
          } else {
            await trx.updateTable('sessions').set({ company_id: null }).where('id', '=', s.id).execute();
            actor.supportEnded = true;
          }
        }
      }
    } else if (s.user_id && s.company_id) {
      await enterContext(trx, { userId: s.user_id, companyId: s.company_id, sessionHash: hash });
      const row = await trx
        .selectFrom('employments as e')
        .innerJoin('users as u', 'u.id', 'e.user_id')
        .innerJoin('companies as c', 'c.id', 'e.company_id')
        .select((eb) => [
          'e.id as employmentId',
          'e.role',
          'e.language',
          'u.name',
          'u.email',
          'c.name as companyName',
          eb
            .exists(eb.selectFrom('delegations as d').select('d.id').whereRef('d.employment_id', '=', 'e.id').where('d.responsibility', '=', 'manage_organisation_department'))
            .as('managesDepartment'),
        ])
        .where('e.user_id', '=', s.user_id)
        .where('e.company_id', '=', s.company_id)
        .where('e.fired_at', 'is', null)
        .where('u.disabled_at', 'is', null)
        .executeTakeFirst();
      if (row) {
        actor = {
          kind: 'user',
          sessionId: s.id,
          userId: s.user_id,
          companyId: s.company_id,
          companyName: row.companyName,
          employmentId: row.employmentId,
          role: row.role,
          managesDepartment: Boolean(row.managesDepartment),
          name: row.name,
          email: row.email,
          lang: isLang(row.language) ? row.language : 'da',
          userAgent: s.user_agent,
        };
      }
    }
    if (!actor) {
      // The account was disabled or fired since the session began: end it now.
      await trx.deleteFrom('sessions').where('id', '=', s.id).execute();
      return undefined;
    }
    // Touch at most once a minute: keeps the idle timer honest without a write per request.
    if (now.getTime() - new Date(s.last_seen_at).getTime() > 60_000) {
      await trx.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', s.id).execute();
    }
    return { actor, csrfToken: s.csrf_token };
  });
}

export async function destroySession(trx: Tx, sessionId: string): Promise<void> {
  await trx.deleteFrom('sessions').where('id', '=', sessionId).execute();
}
