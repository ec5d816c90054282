// expect: {"exit": 0, "result": [null, 1], "failures": ["parallel[0] failed: [a value that cannot be read]"]}
export const meta = { name: 'revoked-in-parallel', description: 'a revoked Proxy thrown by one thunk fails that slot only' }
const { proxy, revoke } = Proxy.revocable({}, {})
revoke()
return await parallel([() => { throw proxy }, () => 1])
