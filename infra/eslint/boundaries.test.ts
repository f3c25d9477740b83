import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuleTester } from 'eslint';
import { afterAll, describe, it } from 'vitest';
import boundaries from './boundaries.js';

RuleTester.describe = describe;
RuleTester.it = it;
(RuleTester as unknown as { afterAll: typeof afterAll }).afterAll = afterAll;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const at = (rel: string) => path.join(root, rel);
const tester = new RuleTester({ languageOptions: { ecmaVersion: 2023, sourceType: 'module' } });

tester.run('boundaries/imports', boundaries.rules.imports, {
  valid: [
    { filename: at('services/ingest/src/app.ts'), code: "import { x } from './routes/webhooks.js';" },
    {
      filename: at('services/ingest/src/app.ts'),
      code: "import { rawWebhookTopic } from '@livechat-pipeline/events';",
    },
    { filename: at('packages/events/src/serde.ts'), code: "import avro from 'avsc';" },
    { filename: at('test/chain.e2e.test.ts'), code: "import { buildApp } from '@livechat-pipeline/ingest';" },
  ],
  invalid: [
    {
      filename: at('services/normalizer/src/main.ts'),
      code: "import { buildApp } from '@livechat-pipeline/ingest';",
      errors: [{ messageId: 'service' }],
    },
    {
      filename: at('services/normalizer/src/main.ts'),
      code: "import { buildApp } from '../../ingest/src/app.js';",
      errors: [{ messageId: 'outside' }],
    },
    {
      filename: at('services/ingest/src/app.ts'),
      code: "import { x } from '@livechat-pipeline/events/src/serde.js';",
      errors: [{ messageId: 'deep' }],
    },
    {
      filename: at('packages/livechat/src/v3.ts'),
      code: "import { x } from '@livechat-pipeline/events';",
      errors: [{ messageId: 'pure' }],
    },
    {
      filename: at('packages/events/src/x.ts'),
      code: "export * from '../../livechat/src/index.js';",
      errors: [{ messageId: 'outside' }],
    },
  ],
});
