// expect: {"exit": 0, "result": {"ran": 1000, "refused": "RangeError: workflow() call cap reached (1000 per run, child workflows included)"}, "seconds": 90}
export const meta = { name: 'workflow-calls', description: 'a loop of child workflows that never calls agent(): the host caps the calls' }
if (args && args.child) return 1
let ran = 0
for (let i = 0; i < 5000; i++) {
  try { ran += await workflow({ scriptPath: 'caps-workflow-calls.js' }, { child: true }) } catch (e) { return { ran, refused: e.name + ': ' + e.message } }
}
return { ran, refused: null }
