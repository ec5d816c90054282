// expect: {"exit": 1, "error": "InternalError", "message": "out of memory while serializing the workflow result (the sandbox's limit is 256 MiB; see --memory-limit)", "seconds": 20}
export const meta = { name: 'mem-result', description: 'a 100 MB result' }
return 'x'.repeat(100 * 1024 * 1024)
