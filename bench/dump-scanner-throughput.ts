// Measures the DumpScanner's throughput (MB/s) on a generated dump shaped like
// mariadb-dump's output: long extended INSERT lines of rows with integers,
// decimals, escaped strings and hex blobs. The scanner sits in the backup's
// hot path (every byte of every dump), so a change to it is measured here.
//
//   npx tsx bench/dump-scanner-throughput.ts [MB=200] [scanner module path]
//
// The dump is generated once in memory (chunks of 64 KiB, as a pipe delivers
// them) and scanned five times; the best run is reported.

import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const megabytes = Number(process.argv[2] ?? 200);
const modulePath = resolve(process.argv[3] ?? 'src/sources/mysql-dump-scanner.ts');
const { DumpScanner } = (await import(pathToFileURL(modulePath).href)) as typeof import('../src/sources/mysql-dump-scanner.ts');

function generateDump(targetBytes: number): Buffer[] {
  const parts: string[] = ['-- MariaDB dump\n', 'CREATE TABLE `orders` (\n  `id` int NOT NULL\n) ENGINE=InnoDB;\n'];
  let bytes = 0;
  let id = 0;
  while (bytes < targetBytes) {
    const rows: string[] = [];
    let lineBytes = 0;
    // mariadb-dump splits extended INSERTs at about net_buffer_length (1 MB).
    while (lineBytes < 1_000_000) {
      id++;
      const note = `note ${id} it\\'s \\"quoted\\" and\\nmulti-line ${'x'.repeat(id % 97)}`;
      const row = `(${id},${(id * 7) % 100000}.${id % 100},'${note}','2026-01-${String((id % 28) + 1).padStart(2, '0')} 10:00:00',0x${(id * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(4)},NULL)`;
      rows.push(row);
      lineBytes += row.length + 1;
    }
    const line = `INSERT INTO \`orders\` VALUES ${rows.join(',')};\n`;
    parts.push(line);
    bytes += line.length;
  }
  parts.push('-- Dump completed on 2026-12-03 10:00:00\n');
  const whole = Buffer.from(parts.join(''));
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < whole.length; offset += 65536) chunks.push(whole.subarray(offset, offset + 65536));
  return chunks;
}

const chunks = generateDump(megabytes * 1024 * 1024);
const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
// On a shared machine wall time swings with the load; the CPU time of this
// (single-threaded) process is the steadier figure, so both are printed.
let best = Infinity;
let bestCpu = Infinity;
for (let round = 0; round < 5; round++) {
  const scanner = new DumpScanner();
  scanner.resume();
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  for (const chunk of chunks) scanner.write(chunk);
  await new Promise<void>((done) => scanner.end(done));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  best = Math.min(best, seconds);
  bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6);
  const result = scanner.result();
  if (round === 0) console.log(`rows ${JSON.stringify(result.rowsByTable)}`);
}
const mb = total / 1024 / 1024;
console.log(`${modulePath}: ${mb.toFixed(0)} MB: wall ${best.toFixed(2)} s = ${(mb / best).toFixed(0)} MB/s; CPU ${bestCpu.toFixed(2)} s = ${(mb / bestCpu).toFixed(0)} MB/s per CPU second (best of 5)`);
