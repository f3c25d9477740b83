import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { registerDashboardRoutes } from '../dashboard/index.js';
import { registerAdminRoutes } from './admin.js';
import { registerAnalyticsRoutes } from './analytics.js';
import { registerChatDetailRoute, registerChatRoutes } from './chats.js';
import { registerCustomerRoutes } from './customers.js';

/** One module of routes: defines its routes on `app` (defineRoute for documented /v1 routes). */
export type RegisterRoutes = (app: FastifyInstance, deps: ApiDeps) => void | Promise<void>;

/**
 * Every route module, in registration order. To add routes: write `src/routes/<name>.ts` exporting a
 * RegisterRoutes function and add it here (the dashboard adds `registerDashboardRoutes` from src/dashboard).
 */
export const routeModules: readonly RegisterRoutes[] = [
  registerChatRoutes,
  registerChatDetailRoute,
  registerCustomerRoutes,
  registerAnalyticsRoutes,
  registerAdminRoutes,
  registerDashboardRoutes,
];
