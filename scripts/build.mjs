// `npm run build` (also run by `npm ci` through `prepare`): bundles the CLI's
// TypeScript into one ESM file, dist/cli/main.mjs, so a command starts in
// about a third of the time and memory of loading the sources through tsx.
// Dependencies stay external (node_modules). The bundle sits two levels
// below the package root, like every src/<area>/ module, so files located
// relative to a module (package.json, the gzip worker) resolve the same way
// from the sources and from the bundle.
import { build } from 'esbuild';

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
