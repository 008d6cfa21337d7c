// `npm run docs`: regenerates docs/configuration.md from the schema.
import { writeFileSync } from 'node:fs';
import { configurationReference } from '../src/config/reference-doc.ts';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationReference());
console.log('wrote docs/configuration.md');
