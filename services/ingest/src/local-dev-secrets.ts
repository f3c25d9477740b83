/**
 * The local development secrets of `INGEST_LOCAL_DEV_SECRETS=true` (what `npm start` uses when nothing else is
 * configured). Public knowledge: the ingest accepts them only on a loopback address, outside production, with no
 * tenant registry and no per-tenant secrets, and refuses to start with them (or with these values set by hand)
 * anywhere else.
 */
export const LOCAL_DEV_SECRET_KEY = 'local-dev-secret';
export const LOCAL_DEV_BASIC_USER = 'livechat';
export const LOCAL_DEV_BASIC_PASSWORD = 'local-dev-password';

/** True for an address only this machine can reach: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
  );
}
