// expect: {"exit": 1, "error": "TimeoutError", "message": "Script execution timed out after 500ms", "flags": ["--cpu-limit", "0.5"], "seconds": 10}
export const meta = { name: 'cpu-regex', description: 'catastrophic backtracking' }
return /^(a+)+$/.test('a'.repeat(40) + '!')
