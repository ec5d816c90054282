// expect: {"exit": 1, "error": "TimeoutError", "message": "Script execution timed out after 100ms", "flags": ["--cpu-limit", "0.1"], "seconds": 12, "process": true}
export const meta = { name: 'cpu-native', description: 'long native operations between the interrupt checks' }
// QuickJS checks its CPU limit every few thousand operations; indexOf over 128 MiB is one
// operation. 200 of them would run for over a minute, far past the 0.5 s limit.
const s = 'x'.repeat(2 ** 27)
let n = 0
for (let i = 0; i < 200; i++) n += s.indexOf('y')
return n
