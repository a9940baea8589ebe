import Link from 'next/link';

/** "Next page" with the API's cursor (and back to the first page), keeping the other query params. */
export function Pager({
  base,
  params,
  cursor,
  nextCursor,
}: {
  base: string;
  params: Record<string, string | undefined>;
  cursor?: string;
  nextCursor: string | null;
}) {
  const href = (c?: string) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    if (c) q.set('cursor', c);
    const s = q.toString();
    return s ? `${base}?${s}` : base;
  };
  return (
    <div className="pager">
      {cursor ? <Link href={href()}>« First page</Link> : null}
      {nextCursor ? (
        <Link href={href(nextCursor)} data-testid="next-page">
          Next page »
        </Link>
      ) : (
        <span className="muted small">End of list</span>
      )}
    </div>
  );
}
