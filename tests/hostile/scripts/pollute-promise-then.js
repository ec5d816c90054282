// expect: {"exit": 0, "result": ["forged", "forged"], "prompts": ["a", "b"], "agents": {"total": 2, "cancelled": 2}, "failures": ["[a] cancelled: the script ended before this agent finished"]}
export const meta = { name: 'pollute-then', description: 'Promise.prototype.then and the array iterator replaced' }
// parallel() settles its slots through the standard promise machinery, so a script that
// replaces it fools only itself: the host still counts, runs and records the real agents.
Promise.prototype.then = function (ok) { return ok ? ok('forged') : this }
const r = await parallel([() => agent('a'), () => agent('b')])
return r
