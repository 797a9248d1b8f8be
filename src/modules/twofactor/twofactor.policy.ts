/** Pure rules for second factors. */
import type { Actor } from '../../platform/auth/actor.ts';

/** M2: platform staff must keep their second factor; customers may turn theirs off. */
export function mayRemoveSecondFactor(actor: Actor): boolean {
  return actor.kind === 'user';
}

export function ownerOf(actor: Actor): { userId: string } | { staffId: string } {
  return actor.kind === 'user' ? { userId: actor.userId } : { staffId: actor.staffId };
}

/**
 * Whether one factor (a passkey, or the TOTP factor) may go. Anyone may swap factors as long as
 * another stays; dropping the last one is only for users whose company does not require two-factor
 * for their role. Staff never end up without a factor (M2).
 */
export function mayRemoveFactor(actor: Actor, input: { required: boolean; othersLeft: number }): boolean {
  if (input.othersLeft > 0) return true;
  return actor.kind === 'user' && !input.required;
}

/** A cap per identity: enough for a phone, a laptop and spare keys, never an unbounded list. */
export const MAX_PASSKEYS = 10;
