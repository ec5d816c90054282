// expect: {"exit": 1, "error": "EvalError", "message": "Code generation from strings disallowed for this context", "line": 5}
export const meta = { name: 'codegen-generator', description: 'GeneratorFunction after an await' }
await agent('warm up')
const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor
const g = new GeneratorFunction('yield 1')
return [...g()]
