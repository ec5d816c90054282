// expect: {"exit": 0, "result": "ok", "prompts": ["from toJSON"], "agents": {"total": 1, "cancelled": 1}}
export const meta = { name: 'forge-tojson', description: 'the result calls agent() while it is being serialised' }
// A real call, counted against the cap; the run ends with the result, so it is cancelled.
return { toJSON() { agent('from toJSON'); return 'ok' } }
