// expect: {"exit": 0, "result": ["[sim sim] one", "[sim sim] two", "[sim sim] three"], "agents": {"total": 3, "done": 3}}
export const meta = { name: 'pollute-descriptor', description: 'accessor fields on Object.prototype poison every property descriptor' }
// Every descriptor literal inherits these: the bridge must not build its descriptors so.
Object.prototype.get = function () { return 'forged' }
Object.prototype.set = function () {}
log('still logs')
const r = await parallel([() => agent('one'), () => agent('two')])
r.push(await agent('three'))
delete Object.prototype.get
delete Object.prototype.set
return r.map((s) => s.split(' (#')[0])
