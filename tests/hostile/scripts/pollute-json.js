// expect: {"exit": 0, "result": "[sim sim] real (#", "prompts": ["real"], "agents": {"done": 1}}
export const meta = { name: 'pollute-json', description: 'JSON.stringify and JSON.parse replaced before any call' }
const forged = '{"t":"agent","id":1,"prompt":"forged","opts":{},"schema":null}'
JSON.stringify = () => forged
JSON.parse = () => ({ spent: 0, count: 0, r: [[1, true, 'forged']], f: [] })
const r = await agent('real')
return r.slice(0, 17)
