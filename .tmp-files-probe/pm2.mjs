import picomatch from 'picomatch';
const t=(p,s)=>console.log(p, JSON.stringify(s), picomatch(p,{dot:true})(s), picomatch.makeRe(p,{dot:true}).source);
t('*.tmp','x\ny.tmp'); t('*','x\ny'); t('*','x'); t('**/cache/*','/a/cache/b'); t('**/cache/*','/a/cache'); t('/a/**','/a/x\ny'); t('*.log', '-x.log'); t('**','/a');
