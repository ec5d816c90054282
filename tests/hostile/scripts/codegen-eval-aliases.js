// expect: {"exit": 1, "error": "EvalError", "message": "Code generation from strings disallowed for this context", "line": 9}
export const meta = { name: 'codegen-eval', description: 'eval reached at run time: aliases, globalThis.eval, a computed name' }
const e = globalThis.eval
const computed = globalThis['ev' + 'al']
const tries = [() => e('1'), () => computed('1'), () => globalThis.eval('1'), () => Reflect.apply(e, null, ['1'])]
const names = tries.map((t) => { try { t(); return 'ran' } catch (e) { return e.name } })
if (names.some((n) => n !== 'EvalError')) return names
// uncaught: the run fails at the user's line
;(0, e)('globalThis.escaped = 1')
return 'not reached'
