// expect: {"exit": 1, "error": "EvalError", "message": "Code generation from strings disallowed for this context", "line": 4}
export const meta = { name: 'codegen-async-function', description: 'AsyncFunction from an instance' }
const AsyncFunction = (async () => {}).constructor
const f = AsyncFunction('return 1')
return await f()
