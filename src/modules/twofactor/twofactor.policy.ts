/** Pure rules for second factors. */
import type { Actor } from '../../platform/auth/actor.ts';

/** M2: platform staff must keep their second factor; customers may turn theirs off. */
export function mayRemoveSecondFactor(actor: Actor): boolean {
  return actor.kind === 'user';
}

export function ownerOf(actor: Actor): { userId: string } | { staffId: string } {
  return actor.kind === 'user' ? { userId: actor.userId } : { staffId: actor.staffId };
}
