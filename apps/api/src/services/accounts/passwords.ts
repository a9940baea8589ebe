import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id of @node-rs/argon2 (an ambient const enum, not importable as a value).
const ARGON2ID = 2;

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/**
 * argon2id. @node-rs/argon2 hashes on libuv's thread pool, so the event loop keeps serving other
 * requests while a hash runs. Defaults (64 MiB, t=2, p=1) cost ~50 ms on this project's 2-core box.
 */
export class Passwords {
  private dummy: Promise<string> | undefined;

  constructor(private readonly params: Argon2Params) {}

  hash(password: string): Promise<string> {
    return hash(password, { ...this.params, algorithm: ARGON2ID });
  }

  async verify(hashed: string, password: string): Promise<boolean> {
    try {
      return await verify(hashed, password);
    } catch {
      return false;
    }
  }

  /** Spends the same time as a real check, so an unknown login is not told apart by timing. */
  async burn(password: string): Promise<void> {
    this.dummy ??= this.hash('snaptalker-timing-equaliser');
    await this.verify(await this.dummy, password);
  }
}
