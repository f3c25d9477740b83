import type { Rule } from 'eslint';
declare const plugin: { rules: { imports: Rule.RuleModule } };
export default plugin;
