import { lstat, open, readdir } from 'node:fs/promises';
import fs from 'node:fs';
const root = '/tmp/files-bench-small';
const paths = [];
for (const d of fs.readdirSync(root)) for (const f of fs.readdirSync(`${root}/${d}`)) paths.push(`${root}/${d}/${f}`);
let t = performance.now();
for (const p of paths) { await lstat(p); const h = await open(p, 'r'); const st = await h.stat(); const b = Buffer.allocUnsafe(st.size); await h.read(b, 0, st.size, 0); await h.stat(); await h.close(); }
console.log('async sequential', (performance.now() - t).toFixed(0), 'ms');
t = performance.now();
for (const p of paths) { fs.lstatSync(p); const fd = fs.openSync(p, 'r'); const st = fs.fstatSync(fd); const b = Buffer.allocUnsafe(st.size); fs.readSync(fd, b, 0, st.size, 0); fs.fstatSync(fd); fs.closeSync(fd); }
console.log('sync', (performance.now() - t).toFixed(0), 'ms');
t = performance.now();
for (const p of paths) { await new Promise((res) => fs.lstat(p, () => fs.open(p, 'r', (e, fd) => fs.fstat(fd, (e, st) => { const b = Buffer.allocUnsafe(st.size); fs.read(fd, b, 0, st.size, 0, () => fs.fstat(fd, () => fs.close(fd, res))); })))); }
console.log('callback sequential', (performance.now() - t).toFixed(0), 'ms');
