// expect: {"exit": 1, "error": "TimeoutError", "message": "Script execution timed out after 100ms", "flags": ["--cpu-limit", "0.1"], "seconds": 12, "process": true}
export const meta = { name: 'cpu-bigint', description: 'printing a huge BigInt is one long native operation' }
const big = 7n ** 300000n
let digits = 0
for (let i = 0; i < 100; i++) digits += String(big).length
return digits
