// Worker entry: worker threads do not inherit tsx's loader, so load the TypeScript worker through tsx's API.
import { tsImport } from 'tsx/esm/api';

await tsImport('./normalizer-worker.ts', import.meta.url);
