// expect: {"exit": 1, "error": "Error", "message": "[a value that cannot be read]"}
export const meta = { name: 'revoked-thrown', description: 'a revoked Proxy thrown out of the script is a clear failure, not a DeadlockError' }
const { proxy, revoke } = Proxy.revocable({}, {})
revoke()
await null
throw proxy
