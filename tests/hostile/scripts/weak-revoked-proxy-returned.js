// expect: {"exit": 1, "error": "TypeError", "message": "revoked proxy"}
export const meta = { name: 'revoked-returned', description: 'a revoked Proxy as the result' }
const { proxy, revoke } = Proxy.revocable({}, {})
revoke()
return proxy
