import { expect, test } from '@playwright/test';
import { TRPCClientError } from '@trpc/client';
import {
  createUser,
  linkDevice,
  login,
  openStream,
  ownerEmail,
  ownerPassword,
  rest,
  sendBurst,
  shot,
  trpc,
  uploadKeys,
} from './helpers';

test.use({ baseURL: process.env.ADMIN_TEST_CONSOLE_URL });
// One console and API for the whole file; the tests build on each other's accounts (e.g. the viewer).
test.describe.configure({ mode: 'serial' });

const viewer = { email: `viewer-${Date.now()}@snaptalker.test`, password: 'viewer password 123' };

test('the initial owner signs in with the password from the data directory; a wrong one is refused', async ({
  page,
}) => {
  const res = await page.goto('/login');
  const csp = res?.headers()['content-security-policy'] ?? '';
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(res?.headers()['x-frame-options']).toBe('DENY');
  expect(res?.headers()['x-content-type-options']).toBe('nosniff');

  await page.getByLabel('Email').fill(ownerEmail);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('login-error')).toHaveText('Wrong email or password.');
  await shot(page, 'login-refused');

  await page.getByLabel('Password').fill(ownerPassword());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('whoami')).toHaveText(`${ownerEmail} (owner)`);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();

  // The session cookie is next-auth's encrypted, HttpOnly cookie; no API token reaches the browser.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name.endsWith('authjs.session-token'));
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Lax');
  const exposed = await page.evaluate(async () => (await fetch('/api/auth/session')).text());
  expect(exposed).toContain(ownerEmail);
  expect(exposed).not.toMatch(/accessToken|refreshToken|eyJ/);
  expect(await page.content()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
});

test('search a user, open them, ban (socket closes 4403, REST 403 BANNED), unban', async ({ page }) => {
  const user = await createUser('ban');
  const stream = await openStream(user);
  await login(page, ownerEmail, ownerPassword());

  await page.goto('/users');
  await page.getByLabel('Search users').fill(user.username.slice(0, 8));
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/q=ban_/);
  await page.getByRole('link', { name: user.username }).click();
  await expect(page.getByTestId('user-name')).toHaveText(user.username);
  await expect(page.locator('dd.mono').nth(1)).not.toHaveText(user.phone); // masked
  await shot(page, 'users-detail');

  await page.getByTestId('ban').click();
  await page.getByTestId('ban-confirm').click();
  await expect(page.getByTestId('action-ok')).toContainText('User banned');
  expect(await stream.closed).toBe(4403);
  const me = await rest('GET', '/me', undefined, user.accessToken);
  expect(me.status).toBe(403);
  expect(me.body.error.code).toBe('BANNED');
  await page.reload();
  await expect(page.getByTestId('banned-badge')).toBeVisible();

  await page.getByTestId('unban').click();
  await page.getByTestId('unban-confirm').click();
  await expect(page.getByTestId('action-ok')).toContainText('User unbanned');
  const again = await rest('POST', '/auth/login', { login: user.username, password: user.password });
  expect(again.status).toBe(200);
  expect((await rest('GET', '/me', undefined, again.body.accessToken)).status).toBe(200);

  await page.goto(`/users?q=${encodeURIComponent(user.phone)}`);
  await expect(page.getByTestId('users-table').getByRole('link', { name: user.username })).toBeVisible();
  await page.goto(`/users?q=${user.userId}`);
  await expect(page.getByTestId('users-table').getByRole('link', { name: user.username })).toBeVisible();
  await shot(page, 'users-search');
});

test('unlink a second device; a hostile device name renders as text', async ({ page }) => {
  const user = await createUser('two');
  const xss = '<img src=x onerror=window.__xss=1>';
  const second = await linkDevice(user, xss);
  expect(second.deviceId).toBe(2);
  await login(page, ownerEmail, ownerPassword());
  await page.goto(`/users/${user.userId}`);
  await expect(page.getByTestId('device-2').getByTestId('device-name')).toHaveText(xss);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  expect(await page.locator('img[src="x"]').count()).toBe(0);

  await page.getByTestId('unlink-2').click();
  await page.getByTestId('unlink-2-confirm').click();
  // The row (and its button) goes away as the page re-renders without device 2.
  await expect(page.getByTestId('device-2')).toHaveCount(0);
  await expect(page.getByTestId('device-1')).toBeVisible();
  expect((await rest('GET', '/me', undefined, second.accessToken)).status).toBe(401);
  expect((await rest('GET', '/me', undefined, user.accessToken)).status).toBe(200);
});

test('the owner creates a viewer, who sees users but cannot ban (no button; the API says FORBIDDEN)', async ({
  page,
  browser,
}) => {
  const target = await createUser('vt');
  await login(page, ownerEmail, ownerPassword());
  await page.goto('/admins');
  const form = page.getByTestId('create-admin');
  await form.getByLabel('New admin email').fill(viewer.email);
  await form.getByLabel('New admin password').fill(viewer.password);
  await form.getByLabel('New admin role').selectOption('viewer');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByTestId('action-ok')).toContainText(`Admin ${viewer.email} created as viewer`);
  await page.reload();
  await expect(page.getByTestId(`admin-row-${viewer.email}`)).toBeVisible();
  await shot(page, 'admins');

  const ctx = await browser.newContext({ baseURL: process.env.ADMIN_TEST_CONSOLE_URL });
  const vp = await ctx.newPage();
  await login(vp, viewer.email, viewer.password);
  await expect(vp.getByRole('link', { name: 'Admins' })).toHaveCount(0);
  await vp.goto(`/users/${target.userId}`);
  await expect(vp.getByTestId('user-name')).toHaveText(target.username);
  await expect(vp.getByTestId('read-only')).toBeVisible();
  await expect(vp.getByTestId('ban')).toHaveCount(0);
  await expect(vp.getByRole('button', { name: /ban/i })).toHaveCount(0);
  await vp.goto('/admins');
  await expect(vp.getByTestId('api-error')).toHaveAttribute('data-code', 'FORBIDDEN');
  await ctx.close();

  // A viewer token used directly against the API: FORBIDDEN, and the user stays unbanned.
  const session = await trpc().admin.auth.login.mutate({ email: viewer.email, password: viewer.password });
  expect(session.admin.role).toBe('viewer');
  const refused = await trpc(session.accessToken)
    .admin.users.ban.mutate({ userId: target.userId })
    .catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(TRPCClientError);
  expect((refused as TRPCClientError<any>).data?.code).toBe('FORBIDDEN');
  expect((await rest('GET', '/me', undefined, target.accessToken)).status).toBe(200);
});

test('sign-in errors: a disabled admin is told so; repeated wrong passwords lock the account for N minutes', async ({
  page,
  browser,
}) => {
  await login(page, ownerEmail, ownerPassword());
  await page.goto('/admins');
  const row = page.getByTestId(`admin-row-${viewer.email}`);
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.getByRole('button', { name: 'Yes, disable' }).click();
  await expect(row.getByText('disabled', { exact: true })).toBeVisible();

  const ctx = await browser.newContext({ baseURL: process.env.ADMIN_TEST_CONSOLE_URL });
  const other = await ctx.newPage();
  const attempt = async (email: string, password: string) => {
    await other.getByLabel('Email').fill(email);
    await other.getByLabel('Password').fill(password);
    await other.getByRole('button', { name: 'Sign in' }).click();
  };
  await other.goto('/login');
  await attempt(viewer.email, viewer.password);
  await expect(other.getByTestId('login-error')).toHaveText('This admin account is disabled.');

  const victim = { email: `locked-${Date.now()}@snaptalker.test`, password: 'operator password 123' };
  const owner = await trpc().admin.auth.login.mutate({ email: ownerEmail, password: ownerPassword() });
  await trpc(owner.accessToken).admin.admins.create.mutate({ ...victim, role: 'operator' });
  for (let i = 0; i < 5; i++) {
    await attempt(victim.email, `wrong password ${i}`);
    await expect(other.getByTestId('login-error')).toBeVisible();
    await expect(other.getByRole('button', { name: 'Sign in' })).toBeEnabled();
  }
  // Locked now: even the right password is refused, with the wait in minutes.
  await attempt(victim.email, victim.password);
  await expect(other.getByTestId('login-error')).toHaveText(/^Too many failed attempts: try again in 1[45] minutes\.$/);
  await shot(other, 'login-locked');
  await ctx.close();
});

test('the dashboard shows live non-zero messages/s after a burst of sends', async ({ page }) => {
  const [alice, bob] = await Promise.all([createUser('alice'), createUser('bob')]);
  const [, bobReg] = await Promise.all([uploadKeys(alice), uploadKeys(bob)]);
  await login(page, ownerEmail, ownerPassword());
  await expect(page.getByTestId('card-users')).toBeVisible();
  const before = await page.getByTestId('dashboard-at').textContent();
  await sendBurst(alice, bob, bobReg, 60);
  // No reload: the page's poller brings the new figures in.
  await expect(page.getByTestId('card-messages-per-second')).not.toHaveText('0', { timeout: 20_000 });
  expect(Number((await page.getByTestId('card-messages-per-second').textContent())?.replace(/,/g, ''))).toBeGreaterThan(
    0,
  );
  expect(await page.getByTestId('dashboard-at').textContent()).not.toBe(before);
  await expect(page.getByTestId('card-queue-depth')).not.toHaveText('0');
  await expect(page.getByTestId('chart-mps').locator('polyline')).toHaveCount(1);
  await shot(page, 'dashboard');
});

test('keys, calls and audit pages render; the audit log filters by action and target', async ({ page }) => {
  await login(page, ownerEmail, ownerPassword());
  await page.goto('/keys');
  await expect(page.getByRole('heading', { name: 'Identity key changes' })).toBeVisible();
  await expect(page.getByTestId('low-keys-table')).toBeVisible();
  await shot(page, 'keys');
  await page.goto('/calls');
  await expect(page.getByTestId('recent-calls-table')).toBeVisible();
  await shot(page, 'calls');
  await page.goto('/audit');
  await page.getByLabel('Action').selectOption('user.ban');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=user\.ban/);
  const rows = page.getByTestId('audit-table').locator('tbody tr');
  await expect(rows.first()).toContainText('user.ban');
  await expect(rows.first()).toContainText(ownerEmail);
  for (const text of await rows.allTextContents()) expect(text).toContain('user.ban');
  await shot(page, 'audit');
  await page.goto('/audit?action=admin.login_failed');
  await expect(rows.first()).toContainText('admin.login_failed');
});

test('the session outlives its access token (refresh), and signing out ends the API session too', async ({ page }) => {
  await login(page, ownerEmail, ownerPassword());
  // Access tokens live 95 s here and are refreshed 90 s before expiry: wait past that, keep working.
  await page.waitForTimeout(6_000);
  await page.goto('/audit?action=admin.login');
  await expect(page.getByTestId('audit-table')).toBeVisible();
  await page.goto('/users');
  await expect(page.getByTestId('users-table')).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto('/users');
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  const owner = await trpc().admin.auth.login.mutate({ email: ownerEmail, password: ownerPassword() });
  const logouts = await trpc(owner.accessToken).admin.audit.list.query({ action: 'admin.logout' });
  expect(logouts.items.length).toBeGreaterThan(0);
  expect(logouts.items[0]?.actorEmail).toBe(ownerEmail);
});
