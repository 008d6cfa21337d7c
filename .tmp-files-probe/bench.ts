import { filesSource } from '../src/sources/files.ts';
import { mkdirSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
const root = '/tmp/files-bench-tree';
if (!existsSync(root)) {
  for (let d = 0; d < 200; d++) { mkdirSync(`${root}/d${d}`, { recursive: true }); for (let f = 0; f < 100; f++) writeFileSync(`${root}/d${d}/f${f}.php`, randomBytes(2000).toString('base64')); }
  mkdirSync(`${root}/big`); for (let i = 0; i < 8; i++) writeFileSync(`${root}/big/b${i}.bin`, randomBytes(64 * 1024 * 1024));
}
const base = mkdtempSync('/tmp/files-bench-');
mkdirSync(base + '/scratch');
const ctx = { job: 'j', sourceName: 'files', config: { type: 'files' as const, paths: [process.argv[2] ?? root], exclude: [], fail_on_unreadable: false }, repositoryPath: base + '/repo', scratchDir: base + '/scratch', log: { info() {}, warn: console.log }, signal: new AbortController().signal };
let bytes = 0; let peak = 0;
const t0 = performance.now();
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
const p = await filesSource.produce(ctx);
await pipeline(p.stream, new Writable({ write(c, _e, cb) { bytes += c.length; cb(); } }));
const facts = await p.completed;
clearInterval(timer);
const s = (performance.now() - t0) / 1000;
console.log({ seconds: s.toFixed(2), MBps: (bytes / 1e6 / s).toFixed(0), peakRssMB: (peak / 1e6).toFixed(0), entries: facts.indexEntries });
