/** One string from Next's searchParams (first value of a repeated key), trimmed and bounded. */
export function param(v: string | string[] | undefined, max = 200): string | undefined {
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  return s ? s.slice(0, max) : undefined;
}

export type SearchParams = Promise<Record<string, string | string[] | undefined>>;
