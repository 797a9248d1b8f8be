/**
 * Password hashing with Argon2id (@node-rs/argon2 runs it on libuv's thread pool, so hashing never
 * blocks the event loop). Hashes carry their own parameters; `needsRehash` tells the login to
 * upgrade a hash made with weaker settings.
 */
import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id in @node-rs/argon2's const enum.
const ARGON2ID = 2;

export type Argon2Params = { memoryCost: number; timeCost: number };

export class PasswordHasher {
  readonly #dummy: Promise<string>;

  constructor(readonly params: Argon2Params) {
    // Verifying against this when the account does not exist keeps timing alike (no enumeration).
    this.#dummy = this.hash('samtale-timing-equaliser-' + Math.random().toString(36));
  }

  hash(password: string): Promise<string> {
    return hash(password, {
      algorithm: ARGON2ID,
      memoryCost: this.params.memoryCost,
      timeCost: this.params.timeCost,
      parallelism: 1,
    });
  }

  async verify(storedHash: string | null | undefined, password: string): Promise<boolean> {
    if (!storedHash) {
      await verify(await this.#dummy, password).catch(() => false);
      return false;
    }
    try {
      return await verify(storedHash, password);
    } catch {
      return false;
    }
  }

  needsRehash(storedHash: string): boolean {
    const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(storedHash);
    if (!m) return true;
    return Number(m[1]) < this.params.memoryCost || Number(m[2]) < this.params.timeCost;
  }
}

/** A random password for demo accounts and first logins: 20 characters from an unambiguous set. */
export function randomPassword(length = 20): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.getRandomValues(new Uint32Array(length));
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}
