// expect: {"exit": 0, "result": {"total": 5, "names": ["ok", "WorkflowBudgetExceededError", "WorkflowBudgetExceededError"]}, "agents": {"total": 1, "done": 1}, "flags": ["--budget", "5"]}
export const meta = { name: 'pollute-budget', description: 'the budget object cannot be rewritten' }
const attempts = [
  () => { budget.total = 1e9 },
  () => { budget.remaining = () => 1e9 },
  () => Object.defineProperty(Object.prototype, 'spent', { value: () => 0, configurable: true }),
]
for (const a of attempts) { try { a() } catch (e) {} }
const names = []
for (let i = 0; i < 3; i++) {
  try { await agent('[[sim:tokens=50]] spend ' + i); names.push('ok') } catch (e) { names.push(e.name) }
}
return { total: budget.total, names }
