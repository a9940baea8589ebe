import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The configured secret, or one generated once and kept in the data directory (mode 0600), so the
 * embedded default never runs on a hard-coded key. Several nodes must share JWT_SECRET instead.
 */
export async function loadOrCreateSecret(
  configured: string | undefined,
  dataDir: string,
  name: string,
): Promise<string> {
  if (configured) return configured;
  const path = join(dataDir, `${name}.secret`);
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing?.trim()) return existing.trim();
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  // 'wx' fails if another process won the race; then use the one it wrote.
  await writeFile(path, secret, { mode: 0o600, flag: 'wx' }).catch(() => {});
  return (await readFile(path, 'utf8')).trim();
}
