// expect: {"exit": 1, "error": "EvalError", "message": "Code generation from strings disallowed for this context", "line": 5, "agents": {"total": 0}}
export const meta = { name: 'codegen-function', description: 'the Function constructor, looked up at run time' }
log('about to compile a string')
const F = globalThis['Func' + 'tion']
const f = new F('return globalThis')
return typeof f
