/**
 * The audit trail's one entry point. Events are written in the same transaction as the change
 * they describe, so there is no change without its event and no event without its change.
 * Never put secrets, passwords, tokens or dialogue answers in `data`.
 */
import type { Tx } from '../db/context.ts';
import type { Actor } from '../auth/actor.ts';

export type AuditEventType =
  | 'mail.sent'
  | 'mail.failed'
  | 'auth.login.succeeded'
  | 'auth.login.failed'
  | 'auth.login.blocked'
  | 'auth.lockout'
  | 'auth.unlocked'
  | 'auth.logout'
  | 'auth.session_ended'
  | 'auth.second_factor.enrolled'
  | 'auth.second_factor.removed'
  | 'auth.second_factor.failed'
  | 'auth.second_factor.succeeded'
  | 'auth.recovery_code.used'
  | 'auth.recovery_codes.regenerated'
  | 'auth.passkey.added'
  | 'auth.passkey.removed'
  | 'auth.passkey.used'
  | 'auth.passkey.failed'
  | 'auth.password.changed'
  | 'auth.password.rejected'
  | 'auth.sessions_ended_elsewhere'
  | 'auth.company_switched'
  | 'auth.unlock_link.sent'
  | 'auth.password_reset.requested'
  | 'auth.password_reset.completed'
  | 'auth.invitation.sent'
  | 'auth.invitation.accepted'
  | 'auth.email_change.requested'
  | 'auth.email.changed'
  | 'auth.rate_limited'
  | 'settings.language_changed'
  | 'settings.reminders_changed'
  | 'reminders.nudged'
  | 'audit.exported'
  | 'support.consent_given'
  | 'support.consent_withdrawn'
  | 'support.entered'
  | 'support.left'
  | 'support.viewed'
  | 'company.created'
  | 'company.security_settings_changed'
  | 'company.termination_requested'
  | 'company.termination_cancelled'
  | 'company.termination_warned'
  | 'company.purged'
  | 'company.purge_reapplied'
  | 'keys.rotated'
  | 'staff.created'
  | 'platform.module_off'
  | 'platform.module_on'
  | 'platform.backup_created'
  | 'platform.backups_pruned'
  | 'platform.backup_restored'
  | 'staff.disabled'
  | 'org.department.created'
  | 'org.department.updated'
  | 'org.department.deleted'
  | 'org.team.created'
  | 'org.team.updated'
  | 'org.team.deleted'
  | 'org.employee.created'
  | 'org.employee.updated'
  | 'org.employee.fired'
  | 'org.employee.rehired'
  | 'org.delegation.granted'
  | 'org.delegation.revoked'
  | 'api.token.created'
  | 'api.token.revoked'
  | 'api.settings_changed'
  | 'api.auth.refused'
  | 'api.rate_limited'
  | 'api.user.created'
  | 'api.user.updated'
  | 'api.user.deleted'
  | 'forms.version.created'
  | 'forms.created'
  | 'forms.updated'
  | 'statistics.exported'
  | 'dialogues.exported'
  | 'company.statistics_threshold_changed'
  | 'dialogues.round.created'
  | 'dialogues.state_changed'
  | 'dialogues.answer.saved'
  | 'dialogues.answer.conflict'
  | 'dialogues.preparation.submitted'
  | 'dialogues.meeting.scheduled'
  | 'dialogues.notes.saved'
  | 'dialogues.agreement.created'
  | 'dialogues.agreement.updated'
  | 'dialogues.signed'
  | 'dialogues.sign.refused'
  | 'dialogues.sickness.reported'
  | 'dialogues.sickness.updated'
  | 'dialogues.mus_request.created'
  | 'dialogues.mus_request.fulfilled'
  | 'files.uploaded'
  | 'files.available'
  | 'files.infected'
  | 'files.downloaded'
  | 'import.uploaded'
  | 'import.applied'
  | 'import.refused'
  | 'import.discarded'
  | 'retention.employee_purged'
  | 'retention.archive_purged';

export type AuditInput = {
  type: AuditEventType;
  objectType?: string;
  objectId?: string;
  data?: Record<string, string | number | boolean | null>;
};

export type AuditWho = {
  companyId: string | null;
  actorUserId?: string | null;
  actorStaffId?: string | null;
  ip?: string | null;
  /** The browser (User-Agent, cut to 300 characters) where the caller has it: the "device". */
  userAgent?: string | null | undefined;
};

export function whoFromActor(actor: Actor, ip: string | null): AuditWho {
  return actor.kind === 'user'
    ? { companyId: actor.companyId, actorUserId: actor.userId, ip, userAgent: actor.userAgent }
    : { companyId: null, actorStaffId: actor.staffId, ip, userAgent: actor.userAgent };
}

export async function audit(trx: Tx, who: AuditWho, event: AuditInput, at?: Date): Promise<void> {
  await trx
    .insertInto('audit_events')
    .values({
      company_id: who.companyId,
      actor_user_id: who.actorUserId ?? null,
      actor_staff_id: who.actorStaffId ?? null,
      event_type: event.type,
      object_type: event.objectType ?? null,
      object_id: event.objectId ?? null,
      data: JSON.stringify(event.data ?? {}),
      ip: who.ip ?? null,
      user_agent: who.userAgent?.slice(0, 300) ?? null,
      ...(at ? { created_at: at } : {}),
    })
    .execute();
}
