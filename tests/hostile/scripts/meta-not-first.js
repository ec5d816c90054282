// expect: {"exit": 2, "message": "`export const meta = { name, description, phases }` must be the FIRST statement in the script"}
globalThis.before = 1
export const meta = { name: 'late', description: 'd' }
return 1
