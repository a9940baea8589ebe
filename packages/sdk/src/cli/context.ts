import { createInterface } from 'node:readline';
import { CliError, EXIT } from './exit.js';
import { DEFAULT_SERVER, Profile } from './profile.js';

export interface GlobalOptions {
  profile: string;
  server?: string;
}

export interface Context {
  profile: Profile;
  /** `--server`, else the one this profile signed up with, else the local default. */
  server: string;
  /** Progress and hints go to stderr, so stdout carries only results (ids, messages, JSON). */
  info(line: string): void;
  out(line: string): void;
}

export async function context(opts: GlobalOptions): Promise<Context> {
  const profile = await Profile.open(opts.profile);
  const server = (opts.server ?? profile.state.server ?? DEFAULT_SERVER).replace(/\/$/, '');
  if (!/^https?:\/\/[^/]+/.test(server)) throw new CliError(EXIT.USAGE, `--server must be an http(s) URL: ${server}`);
  return {
    profile,
    server,
    info: (line) => process.stderr.write(`${line}\n`),
    out: (line) => process.stdout.write(`${line}\n`),
  };
}

/** `--password`, else SNAPTALKER_PASSWORD, else a prompt without echo (only on a terminal). */
export async function password(given: string | undefined): Promise<string> {
  const p = given ?? process.env.SNAPTALKER_PASSWORD;
  if (p) return p;
  if (!process.stdin.isTTY) {
    throw new CliError(EXIT.USAGE, 'no password: pass --password or set SNAPTALKER_PASSWORD');
  }
  process.stderr.write('password: ');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Mute readline's echo of the typed characters.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}
