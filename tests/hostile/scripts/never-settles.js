// expect: {"exit": 1, "error": "DeadlockError", "message": "the script is waiting for a promise that can never settle", "seconds": 10, "agents": {"done": 1}}
export const meta = { name: 'never-settles', description: 'await a promise nobody can resolve' }
await agent('before')
await new Promise(() => {})
return 'unreachable'
