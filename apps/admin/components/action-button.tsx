'use client';

import { useActionState, useState } from 'react';
import type { ActionState } from '@/app/actions';

interface Props {
  action: (prev: ActionState, form: FormData) => Promise<ActionState>;
  /** Hidden form fields (e.g. userId, action). */
  fields: Record<string, string>;
  label: string;
  /** The question asked before the action runs; without it the action runs on the first click. */
  confirm?: string;
  danger?: boolean;
  testId?: string;
}

/** A button that asks for confirmation first, then runs a server action and shows its outcome. */
export function ActionButton({ action, fields, label, confirm, danger, testId }: Props) {
  const [state, formAction, pending] = useActionState(action, {});
  const [asking, setAsking] = useState(false);
  const hidden = Object.entries(fields).map(([k, v]) => <input key={k} type="hidden" name={k} value={v} />);
  return (
    <div className="action">
      {confirm && !asking ? (
        <button
          type="button"
          className={danger ? 'danger' : undefined}
          onClick={() => setAsking(true)}
          data-testid={testId}
        >
          {label}
        </button>
      ) : (
        <form action={formAction} className="inline" onSubmit={() => setAsking(false)}>
          {hidden}
          {confirm ? <span className="confirm">{confirm}</span> : null}
          <button
            type="submit"
            className={danger ? 'danger' : 'primary'}
            disabled={pending}
            data-testid={testId ? `${testId}-confirm` : undefined}
          >
            {confirm ? `Yes, ${label.toLowerCase()}` : label}
          </button>
          {confirm ? (
            <button type="button" onClick={() => setAsking(false)}>
              Cancel
            </button>
          ) : null}
        </form>
      )}
      <Outcome state={state} />
    </div>
  );
}

export function Outcome({ state }: { state: ActionState }) {
  return (
    <>
      {state.error ? (
        <p className="error" data-testid="action-error">
          {state.error}
        </p>
      ) : null}
      {state.ok ? (
        <p className="notice" data-testid="action-ok">
          {state.ok}
        </p>
      ) : null}
      {state.phone ? (
        <p className="notice">
          Phone:{' '}
          <span className="mono" data-testid="revealed-phone">
            {state.phone}
          </span>
        </p>
      ) : null}
    </>
  );
}
