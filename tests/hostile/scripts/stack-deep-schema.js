// expect: {"exit": 0, "result": ["TypeError", "agent({schema}) received an invalid JSON Schema: the schema is nested more than 64 levels deep", 1], "agents": {"total": 1}}
export const meta = { name: 'stack-schema', description: 'a schema nested 500 levels deep' }
let schema = { type: 'string' }
for (let i = 0; i < 500; i++) schema = { type: 'array', items: schema }
let got
try { await agent('deep', { schema }) } catch (e) { got = [e.name, e.message] }
// A refused call starts nothing; a sane one still works.
await agent('shallow', { schema: { type: 'array', items: { type: 'string' } } })
return [...got, 1]
