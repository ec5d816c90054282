// expect: {"exit": 2, "message": "import() is not available in workflow scripts."}
export const meta = { name: 'import-dynamic', description: 'import() of host modules and of a file next to the script' }
const specs = ['std', 'os', 'qjs:os', args.side + '/payload.mjs']
const out = []
for (const s of specs) {
  try { await import(s); out.push('loaded') } catch (e) { out.push('rejected') }
}
out.push(typeof pwned)
return out
