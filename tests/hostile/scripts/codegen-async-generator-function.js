// expect: {"exit": 1, "error": "EvalError", "message": "Code generation from strings disallowed for this context", "line": 4}
export const meta = { name: 'codegen-async-generator', description: 'AsyncGeneratorFunction' }
const AsyncGeneratorFunction = (async function* () {}).constructor
const g = AsyncGeneratorFunction('yield 1')
for await (const v of g()) return v
