// Local ESLint rules that make the architecture's boundaries real:
// - a service never imports another service (services meet only on topics and their schemas);
// - a package is reached only through its `exports` (no relative reach into another folder's
//   files, no deep `@livechat-pipeline/<name>/src/...` imports);
// - packages never import services, and packages/livechat imports nothing of ours.
import path from 'node:path';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

/** services/<name>, packages/<name>, infra/stack, test, scripts — the unit an import may not leave. */
function unitOf(file) {
  const rel = path.relative(repoRoot, file).split(path.sep);
  if ((rel[0] === 'services' || rel[0] === 'packages') && rel.length > 2) return `${rel[0]}/${rel[1]}`;
  if (rel[0] === 'infra' && rel[1] === 'stack') return 'infra/stack';
  return rel[0] ?? '';
}

const servicePackageNames = (name) =>
  /^@livechat-pipeline\/(ingest|normalizer|transcripts|app|analytics|crm-sync|api)(\/|$)/.test(name);

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'keep imports inside the architecture boundaries' },
    schema: [],
    messages: {
      outside:
        'import "{{source}}" reaches out of {{unit}}: import other packages through their exports (@livechat-pipeline/<name>)',
      deep: 'import "{{source}}" reaches into a package\'s files: import "@livechat-pipeline/{{pkg}}" (its exports) instead',
      service: 'a service or package must not import another service ("{{source}}"): services meet on topics',
      pure: 'packages/livechat is pure and imports nothing of ours ("{{source}}")',
    },
  },
  create(context) {
    const file = context.filename;
    const unit = unitOf(file);
    function check(node, source) {
      if (typeof source !== 'string') return;
      if (source.startsWith('.')) {
        const target = path.resolve(path.dirname(file), source);
        if (unitOf(target) !== unit) context.report({ node, messageId: 'outside', data: { source, unit } });
        return;
      }
      const ours = /^@livechat-pipeline\/([^/]+)(\/.*)?$/.exec(source);
      if (!ours) return;
      if (unit === 'packages/livechat') return context.report({ node, messageId: 'pure', data: { source } });
      if (ours[2] !== undefined)
        return context.report({ node, messageId: 'deep', data: { source, pkg: ours[1] } });
      // End-to-end tests and benchmarks run services together through their public entries.
      if (servicePackageNames(source) && unit !== 'test' && unit !== 'bench') {
        context.report({ node, messageId: 'service', data: { source } });
      }
    }
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default { rules: { imports: rule } };
