/* global fetch, AbortSignal -- Node 20 globals */
// The image's HEALTHCHECK (and, with the argument /readyz, compose's --wait check): asks the service's operations
// server where the service itself listens. The image sets OPERATIONS_HOST_VAR / OPERATIONS_PORT_VAR to the names
// of the service's own variables (e.g. INGEST_OPERATIONS_HOST, INGEST_OPERATIONS_PORT), so a host or port the
// operator sets at run time is followed; HEALTH_PORT is the service's default port. A wildcard host (0.0.0.0, ::)
// or none is asked on loopback.
//   node healthcheck.mjs            -> /healthz (liveness: the process answers; Docker's health)
//   node healthcheck.mjs /readyz    -> /readyz (readiness: its dependencies too; load balancers, compose --wait)
// Plain JavaScript on purpose: it runs without tsx, once every few seconds.
const path = process.argv[2] ?? '/healthz';
const env = process.env;
const configured = (name) => (name ? env[name]?.trim() : undefined) || undefined;
const host = configured(env.OPERATIONS_HOST_VAR) ?? '127.0.0.1';
const port = configured(env.OPERATIONS_PORT_VAR) ?? env.HEALTH_PORT;
const target =
  host === '0.0.0.0'
    ? '127.0.0.1'
    : host === '::' || host === '[::]'
      ? '[::1]'
      : host.includes(':') && !host.startsWith('[')
        ? `[${host}]`
        : host;

if (path !== '/healthz' && path !== '/readyz') {
  console.error(`healthcheck: unknown path ${path} (use /healthz or /readyz)`);
  process.exit(2);
}
if (!port) {
  console.error('healthcheck: no port (HEALTH_PORT is not set)');
  process.exit(2);
}
fetch(`http://${target}:${port}${path}`, { signal: AbortSignal.timeout(2_500) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  (err) => {
    console.error(`healthcheck: ${target}:${port}${path}: ${err?.cause?.code ?? err?.name ?? 'failed'}`);
    process.exit(1);
  },
);
