import picomatch from 'picomatch';
const cases = [['**/cache/**','/var/www/cache/a'],['**/cache/**','/var/www/cache'],['**/cache','/var/www/cache'],['**/cache/**','/cache/a'],['*.log','/a/b/x.log'],['*.log','/a/b/.x.log'],['/var/**/*.log','/var/a/b.log'],['.env','/a/.env'],['**/.git/**','/a/.git/x'],['/var/www/storage/logs','/var/www/storage/logs'],['**/node_modules','/a/node_modules'],['*.log','/a/b/x.log/c'], ['**/*.tmp', '/a/x\ny.tmp'], ['*', '/a/x\ny.tmp']];
for (const [p,s] of cases) console.log(p, JSON.stringify(s), picomatch(p,{dot:true})(s));
