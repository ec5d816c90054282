// expect: {"exit": 2, "message": "eval is not available in workflow scripts: code generation from strings is disallowed"}
export const meta = { name: 'codegen-static', description: 'code generation in plain sight is refused before anything runs' }
const direct = eval('1 + 1')
const indirect = (0, eval)('globalThis')
const made = new Function('return 1')
const loaded = await import('os')
return [direct, indirect, made, loaded]
