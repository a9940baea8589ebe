'use client';

import { useActionState, useState } from 'react';
import { login } from '@/app/actions';

export function LoginForm({ next }: { next: string }) {
  const [state, action, pending] = useActionState(login, {});
  // Controlled, so a refused attempt keeps the email (React resets uncontrolled fields after an action).
  const [email, setEmail] = useState('');
  return (
    <form action={action}>
      <input type="hidden" name="next" value={next} />
      <label htmlFor="email">Email</label>
      <input
        id="email"
        name="email"
        type="email"
        autoComplete="username"
        required
        value={email}
        onChange={(e) => setEmail(e.target.value)}
      />
      <label htmlFor="password">Password</label>
      <input id="password" name="password" type="password" autoComplete="current-password" required />
      {state.error ? (
        <p className="error" data-testid="login-error">
          {state.error}
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={pending}>
        Sign in
      </button>
    </form>
  );
}
