'use server';

import { AuthError, CredentialsSignin } from 'next-auth';
import { revalidatePath } from 'next/cache';
import { auth, signIn, signOut } from '@/auth';
import { adminApi, describeFailure, minutes } from '@/lib/api';
import { atLeast, type Role, roles } from '@/lib/contract';
import { requireToken, withApi } from '@/lib/session';

export interface ActionState {
  ok?: string;
  error?: string;
  /** A revealed phone number (operator+), shown once. */
  phone?: string;
}

const str = (f: FormData, k: string): string => {
  const v = f.get(k);
  return typeof v === 'string' ? v.trim() : '';
};

/** Only same-console relative paths (no `//host` or scheme): where to go after signing in. */
function safeNext(next: string): string {
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

export async function login(_prev: ActionState, form: FormData): Promise<ActionState> {
  try {
    await signIn('credentials', {
      email: str(form, 'email'),
      password: typeof form.get('password') === 'string' ? (form.get('password') as string) : '',
      redirectTo: safeNext(str(form, 'next')),
    });
    return {};
  } catch (e) {
    if (e instanceof CredentialsSignin) {
      const code = e.code;
      if (code.startsWith('locked-'))
        return { error: `Too many failed attempts: try again in ${minutes(Number(code.slice(7)))}.` };
      if (code === 'disabled') return { error: 'This admin account is disabled.' };
      if (code === 'unavailable') return { error: 'The API is unavailable right now; try again shortly.' };
      return { error: 'Wrong email or password.' };
    }
    if (e instanceof AuthError) return { error: 'Sign-in failed.' };
    throw e; // Next's redirect on success
  }
}

export async function logout(): Promise<void> {
  try {
    const token = await requireToken();
    await adminApi(token.accessToken).auth.logout.mutate();
  } catch (e) {
    // The API session may already be over; signing out of the console still happens.
    if ((e as { digest?: string }).digest?.startsWith('NEXT_REDIRECT')) throw e;
  }
  await signOut({ redirectTo: '/login' });
}

async function roleAtLeast(min: Role): Promise<string | null> {
  const session = await auth();
  // The API enforces roles on every call; this only saves a round trip and gives a clear message.
  return atLeast(session?.admin.role, min) ? null : 'Forbidden: your role does not allow this.';
}

const userActions = ['ban', 'unban', 'revokeSessions', 'unlinkDevice', 'revealPhone'] as const;
type UserAction = (typeof userActions)[number];

export async function userAction(_prev: ActionState, form: FormData): Promise<ActionState> {
  const kind = str(form, 'action') as UserAction;
  const userId = str(form, 'userId');
  if (!userActions.includes(kind) || !userId) return { error: 'Invalid request.' };
  const denied = await roleAtLeast('operator');
  if (denied) return { error: denied };
  const r = await withApi(async (api): Promise<ActionState> => {
    switch (kind) {
      case 'ban':
        await api.users.ban.mutate({ userId });
        return { ok: 'User banned: their sockets were closed and their requests are refused.' };
      case 'unban':
        await api.users.unban.mutate({ userId });
        return { ok: 'User unbanned.' };
      case 'revokeSessions': {
        const res = await api.users.revokeSessions.mutate({ userId });
        return { ok: `Sessions revoked on ${res.devices} device(s).` };
      }
      case 'unlinkDevice': {
        const deviceId = Number(str(form, 'deviceId'));
        await api.users.unlinkDevice.mutate({ userId, deviceId });
        return { ok: `Device ${deviceId} unlinked.` };
      }
      case 'revealPhone': {
        const res = await api.users.revealPhone.mutate({ userId });
        return { ok: 'Phone number revealed (this was written to the audit log).', phone: res.phone };
      }
    }
  });
  if (!r.ok) return { error: describeFailure(r.failure) };
  if (kind !== 'revealPhone') revalidatePath(`/users/${userId}`);
  return r.value;
}

const isRole = (v: string): v is Role => (roles as string[]).includes(v);

export async function createAdmin(_prev: ActionState, form: FormData): Promise<ActionState> {
  const email = str(form, 'email');
  const password = typeof form.get('password') === 'string' ? (form.get('password') as string) : '';
  const role = str(form, 'role');
  if (!email || !isRole(role)) return { error: 'Email and role are required.' };
  if (password.length < 12) return { error: 'The password needs at least 12 characters.' };
  const denied = await roleAtLeast('owner');
  if (denied) return { error: denied };
  const r = await withApi((api) => api.admins.create.mutate({ email, password, role }));
  if (!r.ok) return { error: describeFailure(r.failure) };
  revalidatePath('/admins');
  return { ok: `Admin ${email} created as ${role}.` };
}

export async function updateAdmin(_prev: ActionState, form: FormData): Promise<ActionState> {
  const adminId = str(form, 'adminId');
  const kind = str(form, 'action');
  if (!adminId) return { error: 'Invalid request.' };
  const denied = await roleAtLeast('owner');
  if (denied) return { error: denied };
  const r = await withApi(async (api): Promise<string> => {
    if (kind === 'setRole') {
      const role = str(form, 'role');
      if (!isRole(role)) throw new Error('invalid role');
      await api.admins.setRole.mutate({ adminId, role });
      return `Role changed to ${role}.`;
    }
    const disabled = kind === 'disable';
    await api.admins.setDisabled.mutate({ adminId, disabled });
    return disabled ? 'Admin disabled; their sessions were ended.' : 'Admin enabled.';
  });
  if (!r.ok) return { error: describeFailure(r.failure) };
  revalidatePath('/admins');
  return { ok: r.value };
}
