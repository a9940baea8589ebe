import { param, type SearchParams } from '@/lib/params';
import { LoginForm } from './login-form';

export default async function LoginPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  return (
    <div className="login">
      <h1>SnapTalker admin</h1>
      {param(sp.expired) ? <p className="notice">Your session ended; sign in again.</p> : null}
      <LoginForm next={param(sp.next, 500) ?? '/'} />
    </div>
  );
}
