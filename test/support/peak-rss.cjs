// Preloaded into a CLI child (NODE_OPTIONS=--require) by tests that bound its
// memory: on exit it writes the process's peak resident set size in bytes to
// the file named by RESTORABLE_TEST_PEAK_RSS_FILE.
'use strict';
const { writeFileSync } = require('node:fs');

const file = process.env.RESTORABLE_TEST_PEAK_RSS_FILE;
if (file) {
  process.on('exit', () => {
    // maxRSS is in KiB on Linux.
    writeFileSync(file, String(process.resourceUsage().maxRSS * 1024));
  });
}
