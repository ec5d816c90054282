// expect: {"exit": 1, "error": "TimeoutError", "message": "Script execution timed out after 500ms", "flags": ["--cpu-limit", "0.5"], "seconds": 10}
export const meta = { name: 'cpu-before', description: 'while (true) before the first await' }
while (true) {}
