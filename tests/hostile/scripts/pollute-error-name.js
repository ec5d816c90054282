// expect: {"exit": 0, "result": ["caught", "boom"], "agents": {"total": 1, "failed": 1}}
export const meta = { name: 'pollute-error-name', description: 'a throwing getter on Error.prototype.name' }
// The bridge builds an Error for every rejected agent(): it must not read inherited names.
Object.defineProperty(Error.prototype, 'name', { get() { throw new Error('name getter') }, configurable: true })
let got
try { await agent('[[sim:throw=boom]]') } catch (e) { got = ['caught', e.message] }
return got
