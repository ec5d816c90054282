// expect: {"exit": 0, "result": ["EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError", "EvalError"]}
export const meta = { name: 'codegen-indirect', description: 'Reflect, bound functions, Symbol.species, subclasses, proxies' }
const GF = Object.getPrototypeOf(function* () {}).constructor
const AF = Object.getPrototypeOf(async function () {}).constructor
const tries = [
  () => Reflect.construct(Function, ['return 1']),
  () => Reflect.construct(AF, ['return 1']),
  () => Reflect.apply(GF, null, ['yield 1']),
  () => Function.bind(null, 'return 1')(),
  () => Function.prototype.call.call(Function, null, 'return 1'),
  () => Object.getOwnPropertyDescriptor(Function.prototype, 'constructor').value('return 1'),
  () => new Proxy(Function, {})('return 1'),
  () => { class F extends Function {}; return new F('return 1') },
  // Symbol.species: the engine itself calls the constructor with our arguments.
  () => { class A extends Array { static get [Symbol.species]() { return Function } }; return A.from([1]).map((x) => 'return ' + x) },
  () => { class R extends RegExp { static get [Symbol.species]() { return Function } }; return 'a,b'.split(new R(',')) },
  () => { const p = Promise.resolve(1); p.constructor = { [Symbol.species]: Function }; return p.then(() => 1) },
  () => { class B extends ArrayBuffer { static get [Symbol.species]() { return Function } }; return new B(8).slice(0) },
  () => [].map.constructor('return 1'),
  () => JSON.parse.constructor.constructor('return 1'),
]
return tries.map((t) => { try { t(); return 'ran' } catch (e) { return e.name + (e.name === 'EvalError' ? '' : ': ' + e.message) } })
