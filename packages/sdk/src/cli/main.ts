import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { devices, login, logout, register, unlink, verify, whoami } from './account.js';
import { context, type GlobalOptions, password } from './context.js';
import { CliError, EXIT, toCliError } from './exit.js';
import { keysStatus, uploadKeys } from './keys.js';
import { receive, send } from './messages.js';
import { DEFAULT_SERVER } from './profile.js';

// `snaptalker`: a terminal client in the spirit of signal-cli, on the SDK's libsignal device.

const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
  return n;
};
const seconds = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number of seconds');
  return n;
};

const program = new Command('snaptalker')
  .description('End-to-end encrypted messaging from the terminal (SnapTalker)')
  .version('0.1.0')
  .addOption(
    new Option('--profile <name>', 'profile: one account device, state in $XDG_CONFIG_HOME/snaptalker/<name>')
      .env('SNAPTALKER_PROFILE')
      .default('default'),
  )
  .addOption(
    new Option('--server <url>', `server base URL (default: the profile's, else ${DEFAULT_SERVER})`).env(
      'SNAPTALKER_URL',
    ),
  )
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 usage, 2 the server refused (auth, validation, conflict, rate limit…),
3 server unreachable, 4 this profile is not ready (not registered / signed in / no keys),
5 a received message could not be decrypted.

Passwords: --password, else $SNAPTALKER_PASSWORD, else a prompt on the terminal.`,
  )
  .exitOverride();

let server: string | undefined;
const ctx = async () => {
  const c = await context(program.opts<GlobalOptions>());
  server = c.server;
  return c;
};
const passwordOption = new Option('--password <password>', 'account password (or $SNAPTALKER_PASSWORD)');
const keyOptions = (c: Command) =>
  c
    .option('--no-keys', 'do not generate and upload Signal keys now (then: snaptalker keys upload)')
    .option('--prekeys <n>', 'one-time prekeys to upload', int(1), 100);

program
  .command('register')
  .description('create an account; a one-time code is sent to the phone (then: verify <code>)')
  .requiredOption('-u, --username <name>', 'username, 3..32 of [A-Za-z0-9_]')
  .requiredOption('-p, --phone <e164>', 'phone number, E.164 (+15551234567)')
  .addOption(passwordOption)
  .action(async (o: { username: string; phone: string; password?: string }) =>
    register(await ctx(), { ...o, password: await password(o.password) }),
  );

keyOptions(
  program
    .command('verify')
    .description('verify the phone with its code; this profile becomes device 1 and uploads its keys')
    .argument('<code>', 'the 6-digit code')
    .option('--device-name <name>', 'name shown in `devices`', 'snaptalker-cli'),
).action(async (code: string, o: { deviceName: string; keys: boolean; prekeys: number }) =>
  verify(await ctx(), code, { deviceName: o.deviceName, keys: o.keys, preKeys: o.prekeys }),
);

keyOptions(
  program
    .command('login')
    .description('sign in as a new device of an account (reusing this profile’s identity key if it has one)')
    .option('-l, --login <login>', 'username or phone (default: this profile’s account)')
    .addOption(passwordOption)
    .option('--device-name <name>', 'name shown in `devices`', 'snaptalker-cli'),
).action(async (o: { login?: string; password?: string; deviceName: string; keys: boolean; prekeys: number }) =>
  login(await ctx(), { ...o, password: await password(o.password), preKeys: o.prekeys }),
);

keyOptions(
  program
    .command('link')
    .description('link this profile as another device of the account of profile --from (same identity key)')
    .requiredOption('--from <profile>', 'a signed-up profile on this machine whose identity key is copied')
    .option('-l, --login <login>', 'username or phone (default: the --from profile’s)')
    .addOption(passwordOption)
    .option('--device-name <name>', 'name shown in `devices`', 'snaptalker-cli'),
).action(
  async (o: { from: string; login?: string; password?: string; deviceName: string; keys: boolean; prekeys: number }) =>
    login(await ctx(), { ...o, identityFrom: o.from, password: await password(o.password), preKeys: o.prekeys }),
);

const keys = program.command('keys').description('this device’s Signal keys');
keys
  .command('status', { isDefault: true })
  .description('identity, registration id and one-time prekeys left on the server')
  .option('--json', 'one JSON object')
  .action(async (o: { json?: boolean }) => keysStatus(await ctx(), o.json === true));
keys
  .command('upload')
  .description('generate prekeys (first time: identity, signed prekey, last-resort Kyber key) and upload them')
  .option('--prekeys <n>', 'one-time prekeys to upload', int(1), 100)
  .action(async (o: { prekeys: number }) => uploadKeys(await ctx(), o.prekeys));

program
  .command('send')
  .description('encrypt a message for every device of a user (libsignal) and send it')
  .argument('<userId>', 'the recipient’s user id (they print it with `snaptalker whoami`)')
  .argument('<text...>', 'the message')
  .option('--json', 'print the server’s reply as JSON')
  .action(async (to: string, text: string[], o: { json?: boolean }) =>
    send(await ctx(), to, text.join(' '), o.json === true),
  );

program
  .command('receive')
  .description('stream, decrypt, print and acknowledge this device’s messages')
  .option('--json', 'one JSON object per line: {"type":"message",…} or {"type":"receipt",…}')
  .option('-t, --timeout <seconds>', 'stop this long after the last message (negative: never)', seconds, 5)
  .option('--max-messages <n>', 'stop after this many messages', int(1))
  .action(async (o: { json?: boolean; timeout: number; maxMessages?: number }) =>
    receive(await ctx(), { json: o.json === true, timeout: o.timeout, maxMessages: o.maxMessages }),
  );

program
  .command('devices')
  .description('the account’s devices (* = this one)')
  .option('--json', 'the account as JSON')
  .action(async (o: { json?: boolean }) => devices(await ctx(), o.json === true));

program
  .command('unlink')
  .description('unlink one of the account’s devices (device 1 may unlink any; any device itself)')
  .argument('<deviceId>', 'device id', int(1))
  .action(async (deviceId: number) => unlink(await ctx(), deviceId));

program
  .command('whoami')
  .description('this profile’s user id')
  .option('--json', 'account, device, server and profile as JSON')
  .action(async (o: { json?: boolean }) => whoami(await ctx(), o.json === true));

program
  .command('logout')
  .description('sign this device out (its tokens stop working at once)')
  .action(async () => logout(await ctx()));

let code: number = EXIT.OK;
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) code = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  else {
    const err = e instanceof CliError ? e : toCliError(e, server ?? 'the server');
    process.stderr.write(`snaptalker: ${err.message}\n`);
    code = err.exitCode;
  }
}
// Exit now: a stream's reconnect timer must not keep a finished command alive.
process.exit(code);
