/**
 * WebAuthn (passkeys and security keys) on top of @simplewebauthn/server, with no HR rules.
 *
 * Design note (M2, M7, M10; ASVS 6.5.x):
 * - The relying party is the portal's public address: the RP ID is PUBLIC_URL's host name
 *   (`localhost` when PUBLIC_URL is unset) and the expected origin is PUBLIC_URL's origin. Without
 *   PUBLIC_URL the expected origin is the request's own origin, as for the CSRF check; the RP ID
 *   hash inside the signed data still ties every credential to `localhost` then.
 * - Used as a second factor after the password: user verification is not required (a plain
 *   security key without a PIN is enough), user presence is.
 * - Challenges are 32 random bytes made here, stored by the caller in PostgreSQL and taken once;
 *   nothing is kept in the process.
 * - Every verification failure (bad signature, wrong challenge, origin or RP ID, a signature
 *   counter that did not grow) comes back as `undefined` with a reason code, never as a thrown
 *   error, so callers count it as a failed attempt and answer 4xx.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';

export const CHALLENGE_MS = 2 * 60_000;
const TIMEOUT_MS = 60_000;
const DEFAULT_PUBLIC_URL = 'http://localhost:3000';
// ES256, EdDSA and RS256: what security keys and platform passkeys use. Naming them also keeps
// the library from probing the runtime for experimental post-quantum algorithms at every call.
const ALGORITHMS = [-7, -8, -257];
const TRANSPORTS = ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'] as const;

export type RelyingParty = { rpID: string; origin: string; rpName: string };

/** The relying party for a request; `requestOrigin` is `${req.protocol}://${req.host}`. */
export function relyingParty(publicUrl: string | undefined, requestOrigin: string): RelyingParty {
  const url = new URL(publicUrl ?? DEFAULT_PUBLIC_URL);
  return { rpID: url.hostname, origin: publicUrl ? url.origin : requestOrigin, rpName: 'Samtale' };
}

export function newChallenge(): string {
  return randomBytes(32).toString('base64url');
}

// The library base64url-encodes what it is given; a string would be encoded a second time.
const challengeBytes = (challenge: string) => new Uint8Array(Buffer.from(challenge, 'base64url'));

const b64url = z.string().min(1).max(20_000).regex(/^[A-Za-z0-9_-]*$/);
const registrationSchema = z.object({
  id: b64url,
  rawId: b64url,
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: b64url, attestationObject: b64url, transports: z.array(z.string().max(20)).max(10).optional() }),
  clientExtensionResults: z.looseObject({}).optional().default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});
const authenticationSchema = z.object({
  id: b64url,
  rawId: b64url,
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: b64url, authenticatorData: b64url, signature: b64url, userHandle: b64url.optional() }),
  clientExtensionResults: z.looseObject({}).optional().default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});

function parseJson<T>(schema: z.ZodType<T>, text: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The browser's answer to navigator.credentials.create(), or undefined when it is malformed. */
export function parseRegistrationResponse(text: string): RegistrationResponseJSON | undefined {
  return parseJson(registrationSchema, text) as RegistrationResponseJSON | undefined;
}

/** The browser's answer to navigator.credentials.get(), or undefined when it is malformed. */
export function parseAuthenticationResponse(text: string): AuthenticationResponseJSON | undefined {
  return parseJson(authenticationSchema, text) as AuthenticationResponseJSON | undefined;
}

export type StoredCredential = { credentialId: string; publicKey: string; signCount: number; transports: string };

const transportList = (t: string) => t.split(',').filter((x) => (TRANSPORTS as readonly string[]).includes(x));

export async function registrationOptions(
  rp: RelyingParty,
  input: { challenge: string; userName: string; displayName: string; existing: StoredCredential[] },
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.rpName,
    rpID: rp.rpID,
    userName: input.userName,
    userDisplayName: input.displayName,
    // A random handle per registration: the account id never reaches the authenticator.
    userID: new Uint8Array(randomBytes(16)),
    challenge: challengeBytes(input.challenge),
    timeout: TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: input.existing.map((c) => ({ id: c.credentialId, transports: transportList(c.transports) })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

export type VerifiedRegistration = { credentialId: string; publicKey: string; signCount: number; transports: string };

export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  expectedChallenge: string,
): Promise<VerifiedRegistration | undefined> {
  try {
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.rpID,
      requireUserVerification: false,
      supportedAlgorithmIDs: ALGORITHMS,
    });
    if (!result.verified) return undefined;
    const c = result.registrationInfo.credential;
    return {
      credentialId: c.id,
      publicKey: Buffer.from(c.publicKey).toString('base64url'),
      signCount: c.counter,
      transports: transportList((response.response.transports ?? []).join(',')).join(','),
    };
  } catch {
    return undefined;
  }
}

export async function authenticationOptions(rp: RelyingParty, challenge: string, credentials: StoredCredential[]): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.rpID,
    challenge: challengeBytes(challenge),
    timeout: TIMEOUT_MS,
    userVerification: 'discouraged',
    allowCredentials: credentials.map((c) => ({ id: c.credentialId, transports: transportList(c.transports) })),
  });
}

export type AssertionCheck = { ok: true; newSignCount: number } | { ok: false; reason: 'invalid' | 'counter' };

/**
 * Checks an assertion against a stored credential and the challenge it must sign. A signature
 * counter that did not grow (when either side is non-zero) is refused as a possible clone.
 */
export async function verifyAssertion(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  expectedChallenge: string,
  credential: StoredCredential,
): Promise<AssertionCheck> {
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.rpID,
      requireUserVerification: false,
      credential: {
        id: credential.credentialId,
        publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')),
        counter: credential.signCount,
        transports: transportList(credential.transports) as never,
      },
    });
    if (!result.verified) return { ok: false, reason: 'invalid' };
    return { ok: true, newSignCount: result.authenticationInfo.newCounter };
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    return { ok: false, reason: /counter/i.test(message) ? 'counter' : 'invalid' };
  }
}
