import Link from 'next/link';
import { redirect } from 'next/navigation';
import type { ReactNode } from 'react';
import { logout } from '@/app/actions';
import { auth } from '@/auth';
import { atLeast } from '@/lib/contract';

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const session = await auth();
  if (!session?.admin?.id) redirect('/login');
  const { email, role } = session.admin;
  return (
    <>
      <header className="top">
        <span className="brand">SnapTalker admin</span>
        <nav>
          <Link href="/">Dashboard</Link>
          <Link href="/users">Users</Link>
          <Link href="/keys">Keys</Link>
          <Link href="/calls">Calls</Link>
          <Link href="/audit">Audit log</Link>
          {atLeast(role, 'owner') ? <Link href="/admins">Admins</Link> : null}
        </nav>
        <span className="who">
          <span data-testid="whoami">
            {email} ({role})
          </span>
          <form action={logout}>
            <button type="submit">Sign out</button>
          </form>
        </span>
      </header>
      <main>{children}</main>
    </>
  );
}
