// expect: {"exit": 1, "error": "TimeoutError", "message": "Script execution timed out after 500ms", "flags": ["--cpu-limit", "0.5"], "seconds": 6}
export const meta = { name: 'cpu-slow-jobs', description: 'each job stays just under the limit, and there are many' }
// One slice is a chain of jobs: each alone keeps to the limit, together they must not.
const spin = (n) => { let x = 0; for (let i = 0; i < n; i++) x += i; return x }
async function f() { for (let i = 0; i < 200; i++) { spin(3e6); await null } }
await f()
return 'ran 200 jobs'
