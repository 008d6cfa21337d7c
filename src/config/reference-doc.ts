// Owns the configuration reference page (docs/configuration.md), generated
// from the same schema that validates: one table row per field with its type,
// default and description. `npm run docs` rewrites it; a test keeps it in step.

import { configJsonSchema } from './schema.ts';

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: JsonSchemaNode | boolean;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  required?: string[];
}

export function configurationReference(): string {
  const schema = configJsonSchema() as JsonSchemaNode;
  const rows: string[] = [];
  walk(schema, '', rows, schema.required ?? []);
  return `# Configuration reference

Generated from the schema (\`src/config/schema.ts\`) by \`npm run docs\`; \`restorable config schema\`
prints the same as JSON Schema. Unknown keys are errors. Durations: \`ms\`, \`s\`, \`m\`, \`h\`, \`d\`, \`w\`
(\`26h\`). Sizes: \`10%\` of the filesystem or \`5GB\`/\`500MiB\`.

| field | type | default | description |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}

function walk(node: JsonSchemaNode, path: string, rows: string[], required: string[]): void {
  const variants = node.oneOf ?? node.anyOf;
  if (variants && !node.properties && path && variants.some((variant) => !variant.properties)) {
    // A field with a short and a long form (`compression: zstd` or `compression: { ... }`),
    // or one of several plain types: one row naming every form, then the long form's fields.
    const types = variants.map((variant) => (variant.properties ? 'object' : typeOf(variant)));
    const description = [node.description, ...variants.map((variant) => variant.description)].filter(Boolean).join(' ');
    rows.push(row(path, required, types.join(' \\| '), node.default, description));
    for (const variant of variants) {
      for (const [key, child] of Object.entries(variant.properties ?? {})) walk(child, `${path}.${key}`, rows, variant.required ?? []);
    }
    return;
  }
  if (variants && !node.properties) {
    for (const variant of variants) {
      const tag = variant.properties?.type?.const;
      const label = tag ? `${path} (type: ${tag})` : path;
      if (variant.properties) {
        rows.push(`| \`${label}\` | object | | ${escape(variant.description ?? '')} |`);
        for (const [key, child] of Object.entries(variant.properties)) {
          walk(child, `${path}.${key}`, rows, variant.required ?? []);
        }
      }
    }
    return;
  }
  if (path) rows.push(row(path, required, typeOf(node), node.default, node.description ?? ''));
  if (node.properties) {
    for (const [key, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${key}` : key, rows, node.required ?? []);
  }
  if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.<name>`, rows, []);
}

function row(path: string, required: string[], type: string, defaultValue: unknown, description: string): string {
  const isRequired = required.includes(path.split('.').pop()!);
  return `| \`${path}\`${isRequired ? ' (required)' : ''} | ${type} | ${defaultValue === undefined ? '' : `\`${JSON.stringify(defaultValue)}\``} | ${escape(description)} |`;
}

function typeOf(node: JsonSchemaNode): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' \\| ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'values'}`;
  if (Array.isArray(node.type)) return node.type.join(' \\| ');
  const bounds = node.minimum !== undefined || node.maximum !== undefined ? ` (${node.minimum ?? ''}..${node.maximum ?? ''})` : '';
  return `${node.type ?? 'any'}${bounds}`;
}

function escape(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
