import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import formats from 'ajv-formats';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

// ---- Dockerfiles

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] as string;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${(lines[++i] as string).trim()}`;
    const m = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (m) out.push({ keyword: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start + 1 });
  }
  return out;
}

function stages(list: Instruction[]): Instruction[][] {
  const result: Instruction[][] = [];
  for (const ins of list) {
    if (ins.keyword === 'FROM') result.push([]);
    result.at(-1)?.push(ins);
  }
  return result;
}

describe.each(['apps/api/Dockerfile', 'apps/admin/Dockerfile'])('%s', (file) => {
  const text = read(file);
  const list = instructions(text);
  const [build, runtime] = stages(list);

  it('passes the Dockerfile linter (dockerfile-utils, the rules VS Code uses) with no finding', () => {
    const findings = lintDockerfile(text).map((d) => `${d.range.start.line + 1}: ${d.message}`);
    expect(findings).toEqual([]);
  });

  it('is a multi-stage build on a pinned base image', () => {
    const froms = list.filter((i) => i.keyword === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f.args).toMatch(/^node:20\.20-bookworm-slim(@sha256:[0-9a-f]{64})? AS \w+$/);
    expect(runtime?.filter((i) => i.keyword === 'COPY').some((i) => i.args.startsWith('--from=build '))).toBe(true);
  });

  it('runs as a non-root user, with a HEALTHCHECK, and installs production dependencies only', () => {
    const user = runtime?.filter((i) => i.keyword === 'USER').at(-1);
    expect(user?.args).toBeDefined();
    expect(user?.args).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime?.some((i) => i.keyword === 'HEALTHCHECK' && /CMD/.test(i.args))).toBe(true);
    const installs = runtime?.filter((i) => i.keyword === 'RUN' && /pnpm@[\d.]+ install/.test(i.args)) ?? [];
    expect(installs.length).toBe(1);
    expect(installs[0]?.args).toMatch(/--frozen-lockfile --prod/);
    // The build stage installs from the lockfile too (the same command CI runs).
    expect(build?.some((i) => i.keyword === 'RUN' && /install --frozen-lockfile/.test(i.args))).toBe(true);
    const cmd = runtime?.filter((i) => i.keyword === 'CMD').at(-1);
    expect(cmd?.args).toMatch(/^\["node", ("--[a-z-]+=\d+", )*"apps\/\w+\/.+\.m?js"\]$/);
  });

  it('copies only files that exist in the repository (the build context)', () => {
    for (const ins of build ?? []) {
      if (ins.keyword !== 'COPY' || ins.args.startsWith('--from')) continue;
      const sources = ins.args.split(/\s+/).slice(0, -1);
      for (const s of sources) if (s !== '.') expect(existsSync(join(root, s)), `${file}:${ins.line} ${s}`).toBe(true);
    }
  });
});

it('.dockerignore keeps dependencies, build output and local data out of the build context', () => {
  const ignored = read('.dockerignore').split('\n');
  for (const p of ['.git', '**/node_modules', '**/dist', 'data', '.env']) expect(ignored).toContain(p);
});

// ---- docker-compose.yml against the Compose Specification's JSON schema

describe('docker-compose.yml', () => {
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, Record<string, any>>;
  };

  it('is valid against the Compose Specification schema (test/schemas/compose-spec.json)', () => {
    // Ajv bundles draft-07's meta-schema under its http:// id; the schema names the https:// one.
    const { $schema: _meta, ...schema } = JSON.parse(read('test/schemas/compose-spec.json'));
    const ajv = new Ajv({ strict: false, allErrors: true });
    formats.default(ajv);
    const valid = ajv.compile(schema);
    expect(valid(compose), JSON.stringify(valid.errors, null, 2)).toBe(true);
    // …and the schema is strict enough to catch a typo.
    expect(valid({ services: { api: { imagee: 'x' } } })).toBe(false);
  });

  it('runs PostgreSQL, Redis, MinIO, coturn, two API replicas, the console, Prometheus and Grafana', () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(
      ['api-1', 'api-2', 'console', 'coturn', 'grafana', 'minio', 'postgres', 'prometheus', 'redis'].sort(),
    );
    for (const api of ['api-1', 'api-2']) {
      expect(s[api]?.build?.dockerfile).toBe('apps/api/Dockerfile');
      expect(s[api]?.environment?.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(s[api]?.environment?.REDIS_URL).toBe('redis://redis:6379');
      expect(s[api]?.environment?.S3_ENDPOINT).toBe('http://minio:9000');
    }
    expect(s.console?.build?.dockerfile).toBe('apps/admin/Dockerfile');
  });

  it('provisions Grafana with the dashboards and Prometheus with the rules, from files in the repo', () => {
    const mounts = [...(compose.services.grafana?.volumes ?? []), ...(compose.services.prometheus?.volumes ?? [])];
    const hostPaths = mounts.filter((v: string) => v.startsWith('./')).map((v: string) => v.split(':')[0] as string);
    expect(hostPaths).toEqual(
      expect.arrayContaining([
        './monitoring/prometheus.yml',
        './monitoring/alerts.yml',
        './monitoring/grafana/provisioning',
        './monitoring/grafana/dashboards',
      ]),
    );
    for (const p of hostPaths) expect(existsSync(join(root, p)), p).toBe(true);
    const provider = YAML.parse(read('monitoring/grafana/provisioning/dashboards/snaptalker.yml'));
    expect(mounts).toContain(`./monitoring/grafana/dashboards:${provider.providers[0].options.path}:ro`);
  });
});

// ---- k8s/ against the Kubernetes OpenAPI schemas (kubernetes-models)

const kinds: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function manifests(): Array<{ file: string; doc: any }> {
  const files = [
    ...readdirSync(join(root, 'k8s')).map((f) => `k8s/${f}`),
    ...readdirSync(join(root, 'k8s/examples')).map((f) => `k8s/examples/${f}`),
  ].filter((f) => /\.ya?ml$/.test(f));
  return files.flatMap((file) =>
    YAML.parseAllDocuments(read(file))
      .map((d) => d.toJSON())
      .filter(Boolean)
      .map((doc) => ({ file, doc })),
  );
}

describe('k8s/', () => {
  const all = manifests();
  const find = (kind: string, name: string) =>
    all.find((m) => m.doc.kind === kind && m.doc.metadata?.name === name)?.doc;

  it('every manifest is valid against its Kubernetes schema', () => {
    expect(all.length).toBeGreaterThanOrEqual(12);
    for (const { file, doc } of all) {
      const Model = kinds[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${file}: ${doc.apiVersion}/${doc.kind}`).toBeDefined();
      expect(
        () => new (Model as NonNullable<typeof Model>)(doc).validate(),
        `${file}: ${doc.kind} ${doc.metadata?.name}`,
      ).not.toThrow();
      expect(doc.metadata?.namespace ?? doc.metadata?.name, file).toBe('snaptalker');
    }
    // The validators catch a wrong type, so the loop above checks something.
    const d = structuredClone(find('Deployment', 'snaptalker-api'));
    d.spec.replicas = 'two';
    expect(() => new Deployment(d).validate()).toThrow();
  });

  it('has Deployments and Services for the API and the console, an HPA, a PDB and NetworkPolicies', () => {
    for (const name of ['snaptalker-api', 'snaptalker-console']) {
      expect(find('Deployment', name), name).toBeDefined();
      expect(find('Service', name), name).toBeDefined();
    }
    expect(find('HorizontalPodAutoscaler', 'snaptalker-api')?.spec.scaleTargetRef.name).toBe('snaptalker-api');
    expect(find('PodDisruptionBudget', 'snaptalker-api')?.spec.selector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'snaptalker-api',
    });
    expect(find('NetworkPolicy', 'default-deny-ingress')?.spec.podSelector).toEqual({});
    expect(find('ConfigMap', 'snaptalker-api')).toBeDefined();
    expect(find('Secret', 'snaptalker-api')?.stringData.JWT_SECRET).toMatch(/CHANGE-ME/);
  });

  it('probes /ready and /health and terminates gracefully for longer than SHUTDOWN_TIMEOUT_MS', () => {
    const pod = find('Deployment', 'snaptalker-api').spec.template.spec;
    const api = pod.containers[0];
    expect(api.readinessProbe.httpGet.path).toBe('/ready');
    expect(api.livenessProbe.httpGet.path).toBe('/health');
    const shutdownMs = Number(find('ConfigMap', 'snaptalker-api').data.SHUTDOWN_TIMEOUT_MS);
    const preStopS = api.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(shutdownMs + preStopS * 1000);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(api.envFrom.map((e: any) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual([
      'snaptalker-api',
      'snaptalker-api',
    ]);
  });

  it('the Ingress passes WebSocket upgrades (long timeouts, HTTP/1.1) and gRPC over HTTP/2', () => {
    const web = find('Ingress', 'snaptalker');
    expect(web.metadata.annotations['nginx.ingress.kubernetes.io/proxy-http-version']).toBe('1.1');
    expect(Number(web.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThan(60);
    expect(
      find('Ingress', 'snaptalker-grpc').metadata.annotations['nginx.ingress.kubernetes.io/backend-protocol'],
    ).toBe('GRPC');
  });
});
