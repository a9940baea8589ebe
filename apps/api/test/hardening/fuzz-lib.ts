import fc from 'fast-check';

// A property-based fuzzer over every route of the server's own OpenAPI document: random path
// parameters (valid ids, random ids, broken percent-encoding, control characters, huge values),
// query strings, JSON bodies shaped after the route's schema but with hostile values, wrong
// content types and a mix of valid, foreign, forged and missing tokens. The property: no reply is
// a 5xx and every error reply has the contract's body. Used by the test suite (fixed seed) and by
// `pnpm --filter @snaptalker/api fuzz` (random seed, larger count).

export interface FuzzTarget {
  baseUrl: string;
  /** Valid access tokens of different accounts (the first is the main caller). */
  tokens: string[];
  /** Ids that exist (user ids), so some requests reach the deep paths. */
  knownIds: string[];
}

export interface FuzzRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export interface FuzzFinding {
  request: FuzzRequest;
  status: number;
  body: string;
}

interface Operation {
  method: string;
  template: string;
  bodyKeys: string[];
  queryKeys: string[];
}

type OpenApi = {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ in: string; name: string }>;
        requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
      }
    >
  >;
};

export function operations(doc: OpenApi): Operation[] {
  const ops: Operation[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue;
      const schema = op.requestBody?.content?.['application/json']?.schema;
      ops.push({
        method: method.toUpperCase(),
        template,
        bodyKeys: Object.keys(schema?.properties ?? {}),
        queryKeys: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      });
    }
  }
  return ops;
}

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\u0007\u001b[31m',
    '\ud800',
    '%zz',
    '../../etc/passwd',
    "' OR 1=1 --",
  ),
  fc.constantFrom('AAAA', 'BQ==', '====', 'not base64!', `${'A'.repeat(44)}`),
  fc.uuid(),
  fc.string({ minLength: 500, maxLength: 3000 }),
);

const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1, 16_777_215, 16_777_216, 2_147_483_647, 2_147_483_648, Number.MAX_SAFE_INTEGER, 1e308),
);

const leaf = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
})).value;

/** Percent-encodes the UTF-8 bytes (lone surrogates included, which encodeURIComponent refuses). */
function percentEncode(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

function pathSegment(knownIds: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...knownIds),
    fc.uuid(),
    fc.integer({ min: -5, max: 20 }).map(String),
    fc.constantFrom('%zz', '%00', '%C0%AE', 'a'.repeat(600), '0x10', '1e3', '-0', 'null', '%2e%2e'),
    hostileString.map((s) => percentEncode(s) || 'x'),
  );
}

function bodyFor(op: Operation, knownIds: string[]): fc.Arbitrary<string | undefined> {
  const shaped = op.bodyKeys.length
    ? fc
        .record(
          Object.fromEntries(
            op.bodyKeys.map((k) => [k, fc.oneof(hostileValue, fc.constantFrom(...knownIds), fc.array(hostileValue))]),
          ),
          { requiredKeys: [] },
        )
        .chain((o) =>
          fc.oneof(
            fc.constant(o),
            fc.record({ extra: hostileValue }).map((e) => ({ ...o, ...e })),
          ),
        )
    : fc.constant({});
  return fc.oneof(
    { weight: 6, arbitrary: shaped.map((o) => JSON.stringify(o)) },
    { weight: 2, arbitrary: hostileValue.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"a":', '[1,2', 'null', '""', '{"__proto__":{"x":1}}', '\u0000') },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

export function requestArb(ops: Operation[], target: FuzzTarget): fc.Arbitrary<FuzzRequest> {
  const [main, ...others] = target.tokens;
  return fc.constantFrom(...ops).chain((op) =>
    fc
      .record({
        segments: fc.array(pathSegment(target.knownIds), { minLength: 4, maxLength: 4 }),
        query: fc.oneof(
          fc.constant(''),
          fc
            .array(
              fc.tuple(
                fc.oneof(fc.constantFrom(...(op.queryKeys.length ? op.queryKeys : ['q'])), hostileString),
                hostileString,
              ),
              { maxLength: 3 },
            )
            .map((pairs) => new URLSearchParams(pairs).toString()),
        ),
        auth: fc.oneof(
          { weight: 6, arbitrary: fc.constant(main) },
          { weight: 1, arbitrary: fc.constantFrom(...(others.length ? others : [main])) },
          { weight: 1, arbitrary: fc.constantFrom(undefined, 'garbage', 'a.b.c', `${main}x`) },
        ),
        body: bodyFor(op, target.knownIds),
        contentType: fc.oneof(
          { weight: 8, arbitrary: fc.constant('application/json') },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              'text/plain',
              'application/x-www-form-urlencoded',
              'application/json; charset=latin1',
            ),
          },
        ),
        method: fc.oneof(
          { weight: 9, arbitrary: fc.constant(op.method) },
          { weight: 1, arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'HEAD') },
        ),
      })
      .map(({ segments, query, auth, body, contentType, method }) => {
        let i = 0;
        const path = op.template.replace(/\{[^}]+\}/g, () => segments[i++ % segments.length] as string);
        // Logging out the main caller would turn the rest of the run into 401s.
        const token = op.template.endsWith('/auth/logout') && auth === main ? 'garbage' : auth;
        const headers: Record<string, string> = {};
        if (token) headers.authorization = `Bearer ${token}`;
        const sendsBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
        if (sendsBody) headers['content-type'] = contentType;
        return { method, path, query, headers, body: sendsBody ? body : undefined };
      }),
  );
}

/** Sends one request; returns a finding when the reply breaks the contract. */
export async function probe(baseUrl: string, r: FuzzRequest): Promise<{ status: number; finding: FuzzFinding | null }> {
  const res = await fetch(`${baseUrl}${r.path}${r.query ? `?${r.query}` : ''}`, {
    method: r.method,
    headers: r.headers,
    body: r.body,
  });
  const text = await res.text();
  if (res.status >= 500) return { status: res.status, finding: { request: r, status: res.status, body: text } };
  if (res.status >= 400 && r.method !== 'HEAD') {
    let ok = false;
    try {
      const b = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
      ok =
        typeof b.error?.code === 'string' && typeof b.error.message === 'string' && typeof b.error.details === 'object';
    } catch {
      ok = false;
    }
    if (!ok) return { status: res.status, finding: { request: r, status: res.status, body: text.slice(0, 300) } };
  }
  return { status: res.status, finding: null };
}

/** Runs `count` random requests; resolves with every contract break found (none expected). */
export async function fuzz(target: FuzzTarget, opts: { seed: number; count: number; concurrency?: number }) {
  const doc = (await (await fetch(`${target.baseUrl}/api/v1/openapi.json`)).json()) as OpenApi;
  const ops = operations(doc);
  const samples = fc.sample(requestArb(ops, target), { seed: opts.seed, numRuns: opts.count });
  const findings: FuzzFinding[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < samples.length) {
      const r = samples[next++] as FuzzRequest;
      const { status, finding } = await probe(target.baseUrl, r).catch((e: unknown) => ({
        status: 0,
        finding: { request: r, status: 0, body: `request failed: ${String(e)}` },
      }));
      if (finding) findings.push(finding);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  return { operations: ops.length, requests: samples.length, findings, statuses: Object.fromEntries(statuses) };
}
