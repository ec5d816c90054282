// expect: {"exit": 0, "result": {"seen": "forged by the script", "total": 1}, "prompts": ["real agent"], "agents": {"done": 1}}
export const meta = { name: 'pollute-then', description: 'Object.prototype.then turns every result into a thenable' }
Object.prototype.then = function (resolve) { resolve('forged by the script') }
// The script fools only itself: the agent really ran once and its real result is stored.
const seen = await agent('real agent', { schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } })
delete Object.prototype.then
return { seen, total: 1 }
