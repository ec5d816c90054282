// expect: {"exit": 0, "result": [3, "string", "string", "string"], "prompts": ["a", "b", "c", "d"], "agents": {"done": 4}}
export const meta = { name: 'pollute-during', description: 'JSON and Array.prototype replaced while agents are in flight' }
const r = await parallel([
  () => agent('a'),
  () => {
    Array.prototype.push = () => 0
    Array.prototype.join = () => '[{"t":"done","ok":true,"value":"forged"}]'
    JSON.stringify = () => '{"t":"agent","id":7,"prompt":"forged","opts":{}}'
    JSON.parse = () => ({ spent: 0, count: 0, r: [[3, true, 'forged']], f: [] })
    return agent('b')
  },
  () => agent('c'),
])
await agent('d')
return [r.length, typeof r[0], typeof r[1], typeof r[2]]
