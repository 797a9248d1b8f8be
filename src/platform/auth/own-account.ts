/**
 * Helpers for pages where people act on their own account (password change, second factor).
 * The lookup e-mail in the context admits the account's own throttle rows (M7) and nothing else.
 */
import type { Tx } from '../db/context.ts';
import { dbContextFor, type Actor } from './actor.ts';

export const ownAccountContext = (actor: Actor) => ({ ...dbContextFor(actor), lookupEmail: actor.email });

export async function passwordHashOf(trx: Tx, actor: Actor): Promise<string | null | undefined> {
  const row =
    actor.kind === 'user'
      ? await trx.selectFrom('users').select('password_hash').where('id', '=', actor.userId).executeTakeFirst()
      : await trx.selectFrom('staff_accounts').select('password_hash').where('id', '=', actor.staffId).executeTakeFirst();
  return row?.password_hash;
}
