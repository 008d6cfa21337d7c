// `npm run build` (also run by `npm ci` through `prepare`): bundles the CLI's
// TypeScript into one ESM file, dist/cli/main.mjs, so a command starts in
// about a third of the time and memory of loading the sources through tsx.
// Dependencies stay external (node_modules). The bundle sits two levels
// below the package root, like every src/<area>/ module, so files located
// relative to a module (package.json) resolve the same way from the sources
// and from the bundle. Worker threads load plain-JS modules by URL
// (src/stages/*.mjs); they are copied next to the bundle.
import { build } from 'esbuild';
import { copyFileSync, readdirSync } from 'node:fs';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/main.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});

for (const name of readdirSync('src/stages').filter((file) => file.endsWith('.mjs'))) {
  copyFileSync(`src/stages/${name}`, `dist/cli/${name}`);
}
