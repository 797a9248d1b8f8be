/** Who is asking. Every service function receives one; policies decide from it and the object. */
import type { EmploymentRole, StaffRole } from '../db/schema.ts';
import type { Lang } from '../i18n/i18n.ts';

export type UserActor = {
  kind: 'user';
  sessionId: string;
  userId: string;
  name: string;
  email: string;
  companyId: string;
  companyName: string;
  employmentId: string;
  role: EmploymentRole;
  /** Holds manage_organisation_department somewhere (for the menu; policies check the object). */
  managesDepartment: boolean;
  lang: Lang;
  /** The browser the session was opened in (the audit trail's "device"). */
  userAgent?: string | null | undefined;
};

export type StaffActor = {
  kind: 'staff';
  sessionId: string;
  staffId: string;
  name: string;
  email: string;
  role: StaffRole;
  lang: Lang;
  userAgent?: string | null | undefined;
  /** Inside a company as support, while its consent is open (M13). */
  support?: { companyId: string; companyName: string; allowEdit: boolean; until: Date } | undefined;
  /** The session was inside a company whose consent has since ended (shown once). */
  supportEnded?: boolean | undefined;
};

export type Actor = UserActor | StaffActor;

export function dbContextFor(actor: Actor) {
  return actor.kind === 'user'
    ? { companyId: actor.companyId, userId: actor.userId }
    : { staffId: actor.staffId };
}
