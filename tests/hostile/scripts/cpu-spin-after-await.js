// expect: {"exit": 1, "error": "TimeoutError", "message": "Script execution timed out after 500ms", "flags": ["--cpu-limit", "0.5"], "seconds": 10, "agents": {"done": 1}}
export const meta = { name: 'cpu-after', description: 'while (true) after an agent returned' }
const r = await agent('first')
try { while (true) {} } catch (e) { return 'swallowed the interrupt' }
