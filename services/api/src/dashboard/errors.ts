/** The dashboard's refusals: each an HTML page with its code (documented in services/api/README.md). */
export const DASHBOARD_ERROR_CODES = {
  DASHBOARD_NOT_BUILT: {
    status: 503,
    retryable: true,
    description: 'The browser bundle is missing: run `pnpm build:dashboard` (npm start and npm test run it)',
  },
  DASHBOARD_UNAVAILABLE: {
    status: 503,
    retryable: true,
    description:
      'The database did not answer the session check of a page or the key check of a sign-in (not a sign-out): try again',
  },
  DASHBOARD_SIGN_IN_REFUSED: {
    status: 401,
    retryable: false,
    description:
      'The API key typed into the sign-in form is unknown, revoked or malformed (the page never says which)',
  },
  DASHBOARD_CROSS_SITE: {
    status: 403,
    retryable: false,
    description: 'A sign-in or sign-out form was posted from another site (its `Origin` or `Sec-Fetch-Site`)',
  },
  DASHBOARD_LINK_DISABLED: {
    status: 404,
    retryable: false,
    description: 'A link from the LiveChat app, but `DASHBOARD_LINK_SECRET` is not set on the api',
  },
  DASHBOARD_LINK_INVALID: {
    status: 400,
    retryable: false,
    description: 'A link from the LiveChat app whose signature or fields do not check out',
  },
  DASHBOARD_LINK_EXPIRED: {
    status: 410,
    retryable: false,
    description: 'A link from the LiveChat app past its 5 minutes: open it again from the settings page',
  },
  DASHBOARD_LINK_USED: {
    status: 410,
    retryable: false,
    description: 'A link from the LiveChat app that already opened a session (links work once)',
  },
} as const;

export type DashboardErrorCode = keyof typeof DASHBOARD_ERROR_CODES;
