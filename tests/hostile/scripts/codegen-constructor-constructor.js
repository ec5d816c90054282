// expect: {"exit": 1, "error": "EvalError", "message": "Code generation from strings disallowed for this context", "line": 4}
export const meta = { name: 'codegen-ctor-ctor', description: 'the classic sandbox escape' }
// Object.constructor is Function: the way out of most JavaScript sandboxes.
const host = ({}).constructor.constructor('return this')()
return Object.keys(host)
