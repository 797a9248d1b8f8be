/**
 * Who may do what with the company's secure inbox (issue 7, M8). Pure functions.
 *
 * Anyone employed in the company may send files to its inbox (an employee sends a doctor's note,
 * a leader a signed document); only company admins (HR) list and download what arrived. A sender
 * sees the state of their own files (waiting, available, refused) but cannot download them again:
 * the inbox is a one-way channel to HR.
 */
import type { UserActor } from '../../platform/auth/actor.ts';

export function maySendToInbox(actor: UserActor): boolean {
  return actor.kind === 'user';
}

export function mayReadInbox(actor: UserActor): boolean {
  return actor.role === 'company_admin';
}
