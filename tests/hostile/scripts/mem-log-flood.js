// expect: {"exit": 0, "result": 1000000, "seconds": 40}
export const meta = { name: 'mem-logs', description: 'a million log lines in one slice' }
let n = 0
for (let i = 0; i < 1e6; i++) { log('line ' + i); n++ }
return n
