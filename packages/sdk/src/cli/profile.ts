import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError, EXIT } from './exit.js';

/** What a profile remembers between commands (`state.json`, mode 0600); Signal state is in `signal.json`. */
export interface ProfileState {
  server?: string;
  /** Registered, waiting for `verify`. */
  pending?: { username: string; phone: string };
  account?: { userId: string; deviceId: number; username?: string };
  tokens?: { accessToken: string; refreshToken: string; accessTokenExpiresAt: string };
  keysUploaded?: boolean;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const DEFAULT_SERVER = 'http://127.0.0.1:3000';

/** `$XDG_CONFIG_HOME/snaptalker/<profile>`, else `~/.config/snaptalker/<profile>`. */
export function profileDir(name: string): string {
  if (!NAME.test(name) || name.startsWith('.')) {
    throw new CliError(EXIT.USAGE, `bad profile name ${JSON.stringify(name)} (letters, digits, _ . -)`);
  }
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'snaptalker', name);
}

export class Profile {
  readonly dir: string;
  readonly signalPath: string;
  private readonly statePath: string;

  private constructor(
    readonly name: string,
    public state: ProfileState,
  ) {
    this.dir = profileDir(name);
    this.statePath = join(this.dir, 'state.json');
    this.signalPath = join(this.dir, 'signal.json');
  }

  static async open(name: string): Promise<Profile> {
    const path = join(profileDir(name), 'state.json');
    const raw = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return '{}';
      throw e;
    });
    return new Profile(name, JSON.parse(raw) as ProfileState);
  }

  /** Atomic write (temp file, then rename): an interrupted command never leaves a torn state file. */
  async save(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.statePath}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.statePath);
  }

  /** Forgets this profile's Signal state (sessions, prekeys), e.g. before a new device is set up. */
  async resetSignalState(): Promise<void> {
    await rm(this.signalPath, { force: true });
  }

  signedIn(): { account: NonNullable<ProfileState['account']>; tokens: NonNullable<ProfileState['tokens']> } {
    const { account, tokens } = this.state;
    if (!account || !tokens) {
      throw new CliError(
        EXIT.STATE,
        `profile "${this.name}" is not signed in: run \`snaptalker register\` + \`verify\`, or \`login\``,
      );
    }
    return { account, tokens };
  }
}
