import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadAnalyticsConfig } from '@livechat-pipeline/analytics';
import { loadApiConfig } from '@livechat-pipeline/api';
import { loadAppConfig } from '@livechat-pipeline/app';
import { loadCrmSyncConfig } from '@livechat-pipeline/crm-sync';
import { loadIngestConfig } from '@livechat-pipeline/ingest';
import { loadNormalizerConfig } from '@livechat-pipeline/normalizer';
import { loadPrivacyServiceConfig } from '@livechat-pipeline/privacy-service';
import { loadTranscriptsConfig } from '@livechat-pipeline/transcripts';

/**
 * The deployment files cannot be built here (no Docker engine), so this keeps them true to the services without
 * Docker: every service has its compose service built from the shared Dockerfile, the image starts the entry
 * `npm start` uses (scripts/main.ts and the service's own `start` script), every variable the compose file sets is
 * in that service's README configuration table, and the published ports and the health check's port are the
 * service's defaults.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');
const serviceDirs = readdirSync(path.join(root, 'services'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

interface ComposeService {
  profiles?: string[];
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] };
}
const compose = parse(read('infra/compose.yaml'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const dockerfile = read('infra/docker/Dockerfile');
/** The compose services of the profile `services`, by the services/ folder they build. */
const composed = new Map(
  Object.values(compose.services)
    .filter((s) => s.profiles?.includes('services'))
    .map((s) => [s.build?.args?.['SERVICE'] ?? '', s] as const),
);

/** Where the service's operations server listens, from its configuration. */
interface Listening {
  /** The service's public ports (if any) and operations port, by default. */
  readonly ports: number[];
  readonly operations: { host: string; port: number };
}
const listening: Record<string, (env: NodeJS.ProcessEnv) => Listening> = {
  ingest: (env) => {
    const c = loadIngestConfig({ LIVECHAT_SECRET_KEYS: 'k', ...env });
    return { ports: [c.http.port, c.operations.port], operations: c.operations };
  },
  app: (env) => {
    const c = loadAppConfig(env);
    return { ports: [c.http.port, c.operations.port], operations: c.operations };
  },
  api: (env) => {
    const c = loadApiConfig(env);
    return { ports: [c.http.port, c.operations.port], operations: c.operations };
  },
  normalizer: (env) => {
    const c = loadNormalizerConfig(env);
    return { ports: [c.http.port], operations: c.http };
  },
  transcripts: (env) => {
    const c = loadTranscriptsConfig(env);
    return { ports: [c.http.port], operations: c.http };
  },
  analytics: (env) => {
    const c = loadAnalyticsConfig(env);
    return { ports: [c.http.port], operations: c.http };
  },
  'crm-sync': (env) => {
    const c = loadCrmSyncConfig(env);
    return { ports: [c.http.port], operations: c.http };
  },
  privacy: (env) => {
    // it refuses to start without keys: a throwaway pair, made here
    const key = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
    const c = loadPrivacyServiceConfig({
      PRIVACY_KEYS: `k1:${key()}`,
      PRIVACY_EMAIL_HASH_KEY: key(),
      ...env,
    });
    return { ports: [c.operations.port], operations: c.operations };
  },
};

/** The exec-form command of a HEALTHCHECK / compose healthcheck, run with the repository's healthcheck.mjs. */
const HEALTHCHECK_IN_IMAGE = '/usr/local/lib/livechat-pipeline/healthcheck.mjs';
async function runCheck(command: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  const [program, ...args] = command;
  expect(program).toBe('node');
  const local = args.map((a) =>
    a === HEALTHCHECK_IN_IMAGE ? path.join(root, 'infra/docker/healthcheck.mjs') : a,
  );
  const child = spawn(process.execPath, local, {
    env: { PATH: process.env['PATH'], ...env },
    stdio: 'ignore',
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}
/** An operations server stand-in: /healthz 200, /readyz 503 (a dependency down). */
async function operationsServer(host: string): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 503).end());
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Node flags and entry file of a `start` script: `tsx src/main.ts` or `node [flags] --import tsx src/main.ts`. */
function startEntry(script: string): { flags: string[]; entry: string } {
  const words = script.trim().split(/\s+/);
  if (words[0] === 'tsx' && words.length === 2) return { flags: [], entry: words[1]! };
  const importAt = words.indexOf('--import');
  if (words[0] !== 'node' || words[importAt + 1] !== 'tsx' || importAt !== words.length - 3)
    throw new Error(`unexpected start script: ${script}`);
  return { flags: words.slice(1, importAt), entry: words.at(-1)! };
}

/** The node flags scripts/main.ts (npm start) gives each service, from its `nodeFlags` table. */
function mainJobFlags(): Record<string, string[]> {
  const source = read('scripts/main.ts');
  const table = /const nodeFlags[^=]*=\s*\{([^}]*)\}/.exec(source)?.[1];
  if (table === undefined) throw new Error('scripts/main.ts: no nodeFlags table');
  const flags: Record<string, string[]> = {};
  for (const [, name, list] of table.matchAll(/['"]?([\w-]+)['"]?\s*:\s*\[([^\]]*)\]/g))
    flags[name!] = [...list!.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
  // and the command it spawns: node <flags> --import tsx services/<name>/src/main.ts
  expect(source).toMatch(
    /\[\.\.\.\(nodeFlags\[name\] \?\? \[\]\), '--import', 'tsx', path\.join\(root, 'services', name, 'src', 'main\.ts'\)\]/,
  );
  return flags;
}

/** The variables of a README's configuration tables (those whose first header cell is "variable"). */
function readmeVariables(file: string): Set<string> {
  const names = new Set<string>();
  let inTable = false;
  for (const line of read(file).split('\n')) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const first = line.split('|')[1]?.trim() ?? '';
    if (/^variable$/i.test(first)) inTable = true;
    else if (inTable) for (const [, name] of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(name!);
  }
  return names;
}

describe('deployment files (infra/docker/Dockerfile, infra/compose.yaml)', () => {
  it('every service has a compose service of the profile `services`, built from the shared Dockerfile', () => {
    expect([...composed.keys()].sort()).toEqual(serviceDirs);
    for (const [service, c] of composed) {
      expect(c.build, service).toMatchObject({ context: '..', dockerfile: 'infra/docker/Dockerfile' });
    }
    expect(Object.keys(listening).sort()).toEqual(serviceDirs);
  });

  it('the image is multi-stage, installs production dependencies from the lockfile and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)?.length ?? 0).toBeGreaterThanOrEqual(3);
    expect(dockerfile).toMatch(
      /pnpm install --frozen-lockfile --prod --filter-prod "\{\.\/services\/\$\{SERVICE\}\}\.\.\."/,
    );
    const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(lastStage).toMatch(/^USER node$/m);
    expect(lastStage.indexOf('USER node')).toBeLessThan(lastStage.indexOf('CMD '));
    for (const file of ['.dockerignore']) expect(read(file)).toMatch(/^\*\*\/node_modules$/m);
  });

  it("the code belongs to root: the service's user owns only the state directory", () => {
    const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const copies = lastStage.match(/^COPY .*$/gm) ?? [];
    expect(copies.length).toBeGreaterThanOrEqual(7);
    for (const copy of copies) expect(copy).not.toMatch(/--chown/);
    expect([...lastStage.matchAll(/chown\s+(?:-\S+\s+)*\S+\s+(.*)$/gm)].map((m) => m[1])).toEqual([
      '/var/lib/livechat-pipeline',
    ]);
    expect(lastStage).not.toMatch(/chmod/);
  });

  it('the image checks liveness (/healthz) where the service listens; compose waits on readiness (/readyz)', async () => {
    const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const healthcheck = /^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$/m.exec(lastStage)?.[1];
    expect(healthcheck, 'HEALTHCHECK ... CMD [exec form]').toBeDefined();
    const imageCheck = JSON.parse(healthcheck!) as string[];
    expect(lastStage).toContain(`COPY infra/docker/healthcheck.mjs ${HEALTHCHECK_IN_IMAGE}`);
    // the image's environment carries the build arguments the check reads
    for (const name of ['HEALTH_PORT', 'OPERATIONS_HOST_VAR', 'OPERATIONS_PORT_VAR'])
      expect(lastStage).toContain(`${name}=\${${name}}`);

    const live = await operationsServer('127.0.0.2');
    const local = await operationsServer('127.0.0.1');
    try {
      for (const [service, c] of composed) {
        const args = c.build?.args ?? {};
        const hostVar = args['OPERATIONS_HOST_VAR'] ?? '';
        const portVar = args['OPERATIONS_PORT_VAR'] ?? '';
        // the build arguments name the service's own variables: setting them moves its operations server
        expect(
          listening[service]!({ [hostVar]: '127.0.0.2', [portVar]: String(live.port) }).operations,
          `${service}: OPERATIONS_HOST_VAR / OPERATIONS_PORT_VAR`,
        ).toMatchObject({ host: '127.0.0.2', port: live.port });
        const image = {
          HEALTH_PORT: args['HEALTH_PORT'],
          OPERATIONS_HOST_VAR: hostVar,
          OPERATIONS_PORT_VAR: portVar,
        };
        // liveness: healthy while /readyz says 503, at the host and port set at run time
        expect(
          await runCheck(imageCheck, { ...image, [hostVar]: '127.0.0.2', [portVar]: String(live.port) }),
          service,
        ).toBe(0);
        // a wildcard host (as compose sets it) is asked on loopback
        expect(
          await runCheck(imageCheck, { ...image, [hostVar]: '0.0.0.0', [portVar]: String(local.port) }),
        ).toBe(0);
        // compose's own check is readiness: the 503 is unhealthy
        expect(c.healthcheck?.test?.[0], service).toBe('CMD');
        const composeCheck = c.healthcheck!.test!.slice(1);
        expect(composeCheck.at(-1), service).toBe('/readyz');
        expect(
          await runCheck(composeCheck, { ...image, [hostVar]: '127.0.0.2', [portVar]: String(live.port) }),
        ).toBe(1);
      }
      // nothing listening: unhealthy
      const closed = local.port;
      await local.close();
      expect(
        await runCheck(imageCheck, {
          HEALTH_PORT: String(closed),
          OPERATIONS_HOST_VAR: 'X',
          OPERATIONS_PORT_VAR: 'Y',
        }),
      ).toBe(1);
    } finally {
      await live.close();
      await local.close().catch(() => undefined);
    }
  });

  it('each image starts the entry npm start uses: node <its flags> --import tsx services/<service>/src/main.ts', () => {
    const workdir = [...dockerfile.matchAll(/^WORKDIR (.*)$/gm)].at(-1)?.[1];
    expect(workdir).toBe('/repo/services/${SERVICE}');
    expect(dockerfile).toMatch(/^CMD \["sh", "-c", "exec node \$NODE_FLAGS --import tsx src\/main\.ts"\]$/m);
    const fromMain = mainJobFlags();
    for (const service of serviceDirs) {
      const pkg = JSON.parse(read(`services/${service}/package.json`)) as {
        scripts: Record<string, string>;
        dependencies: Record<string, string>;
      };
      const start = startEntry(pkg.scripts['start'] ?? '');
      expect(start.entry, service).toBe('src/main.ts');
      const imageFlags = (composed.get(service)?.build?.args?.['NODE_FLAGS'] ?? '')
        .split(/\s+/)
        .filter(Boolean);
      expect(imageFlags, service).toEqual(start.flags);
      expect(imageFlags, service).toEqual(fromMain[service] ?? []);
      // the image installs production dependencies only, and the entry needs tsx
      expect(pkg.dependencies['tsx'], `${service}: tsx must be a production dependency`).toBeDefined();
    }
  });

  it("every variable the compose file sets is in that service's README configuration table", () => {
    for (const [service, c] of composed) {
      const documented = readmeVariables(`services/${service}/README.md`);
      const missing = Object.keys(c.environment ?? {}).filter((name) => !documented.has(name));
      expect(
        missing,
        `${service}: set by infra/compose.yaml, missing in services/${service}/README.md`,
      ).toEqual([]);
    }
  });

  it('every service that seals, opens or erases personal data gets the same privacy keys and a key store', () => {
    // the services issue 19 wires, and any other whose code reads the privacy configuration
    const readsPrivacy = (service: string): boolean => {
      const dir = path.join(root, 'services', service, 'src');
      return readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .some((f) => /parsePrivacyConfig|PRIVACY_KEYS/.test(read(path.join('services', service, 'src', f))));
    };
    const wired = ['ingest', 'normalizer', 'transcripts', 'analytics', 'crm-sync', 'api', 'privacy'];
    const privacyServices = serviceDirs.filter((s) => wired.includes(s) || readsPrivacy(s));
    expect(privacyServices).toEqual(expect.arrayContaining(wired));
    for (const service of privacyServices) {
      const env = composed.get(service)?.environment ?? {};
      expect(env['PRIVACY_KEYS'], service).toBe('${PRIVACY_KEYS:-}');
      expect(env['PRIVACY_EMAIL_HASH_KEY'], service).toBe('${PRIVACY_EMAIL_HASH_KEY:-}');
      // the key store: its own URL, or the service's database, which it defaults to
      expect(env['PRIVACY_DATABASE_URL'] ?? env['DATABASE_URL'], `${service}: key store`).toMatch(
        /^postgres:\/\/.*@postgres:5432\//,
      );
    }
  });

  it("the published ports and the health check's port are the service's defaults", () => {
    for (const [service, c] of composed) {
      const defaults = listening[service]!({});
      const published = (c.ports ?? []).map((p) => {
        const [host, published, container] = p.split(':');
        expect(host, `${service}: published on loopback only`).toBe('127.0.0.1');
        expect(published, service).toBe(container);
        return Number(container);
      });
      expect(published.sort(), service).toEqual([...defaults.ports].sort());
      expect(Number(c.build?.args?.['HEALTH_PORT']), `${service}: HEALTH_PORT`).toBe(
        defaults.operations.port,
      );
    }
  });
});
