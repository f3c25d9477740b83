export { DASHBOARD_DIST_DIR, loadDashboardAssets } from './assets.js';
export type { DashboardAssets } from './assets.js';
export {
  LINK_PATH,
  LINK_TTL_SECONDS,
  MIN_LINK_SECRET_LENGTH,
  mintDashboardLink,
  verifyDashboardLink,
} from './link.js';
export type { LinkCheck } from './link.js';
export { DASHBOARD_CSP, dashboardPage, errorPage, escapeHtml, linkLandingPage, signInPage } from './pages.js';
export type { AssetNames } from './pages.js';
