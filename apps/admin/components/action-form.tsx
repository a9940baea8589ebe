'use client';

import { type ReactNode, useActionState } from 'react';
import type { ActionState } from '@/app/actions';
import { Outcome } from './action-button';

/** A form (fields given as children) that runs a server action and shows its outcome. */
export function ActionForm({
  action,
  children,
  className,
  testId,
}: {
  action: (prev: ActionState, form: FormData) => Promise<ActionState>;
  children: ReactNode;
  className?: string;
  testId?: string;
}) {
  const [state, formAction] = useActionState(action, {});
  return (
    <div>
      <form action={formAction} className={className ?? 'inline'} data-testid={testId}>
        {children}
      </form>
      <Outcome state={state} />
    </div>
  );
}
