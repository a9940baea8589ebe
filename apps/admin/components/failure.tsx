import { type ApiFailure, describeFailure } from '@/lib/api';

/** A failed API call, shown in place of the data (FORBIDDEN, NOT_FOUND, outages). */
export function Failure({ failure }: { failure: ApiFailure }) {
  return (
    <p className="error" data-testid="api-error" data-code={failure.code}>
      {describeFailure(failure)}
    </p>
  );
}
