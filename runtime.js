// runtime.js — the jshost sandbox prelude: the globals a workflow script sees (DESIGN §2), over an
// outbox bridge. It lives at the repository root (the design card's top level) and ships in the wheel
// as jshost/runtime.js; jshost/sandbox/context.py loads it, from the package or from this checkout.
//
// What it must never do: keep a host function reachable from a script (the bridge is read once and
// deleted from globalThis), trust anything a script can override after it ran (JSON, prototypes,
// Promise are captured below, up front), or be the authority for a cap: the host re-checks every cap,
// the budget and every field, and the prelude checks them only so that it can throw synchronously.
// It reaches nothing but the bridge: the context has no I/O of its own, and must not gain any here.
//
// Evaluated once per run, before the script, as a script whose lines are offset past the user's
// lines so that stack frames of this file can be told apart from the user's (jshost/sandbox/context.py).
// The host reads the bridge functions once, then deletes them from globalThis: nothing here is
// reachable from a script except the public globals. Everything the bridge relies on is captured
// now, so a script that overrides JSON, Array.prototype or Promise cannot change what crosses the
// boundary. The host never trusts what crosses: it re-checks caps, budget and every field.
// The function is the value of a comma expression, not of a parenthesis: at a `(` QuickJS first
// scans ahead to its match for an arrow's `=>`, the whole file here (2.4 M instructions a run).
0, function (configJson) {
  'use strict';
  const config = JSON.parse(configJson);
  const G = globalThis;
  const O = Object;
  const defineProperty = O.defineProperty;
  const setPrototypeOf = O.setPrototypeOf;
  const freeze = O.freeze;
  const stringify = JSON.stringify;
  const parseJSON = JSON.parse;
  const Arr = Array;
  const isArray = Arr.isArray;
  const join = Function.prototype.call.bind(Arr.prototype.join);
  const nativePush = Function.prototype.call.bind(Arr.prototype.push);
  const P = Promise;
  const then = Function.prototype.call.bind(P.prototype.then);
  const resolved = P.resolve.bind(P);
  const rejected = P.reject.bind(P);
  const allSettled = P.allSettled.bind(P);
  const all = P.all.bind(P);
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const MapC = Map;
  const WeakMapC = WeakMap;
  const weakGet = Function.prototype.call.bind(WeakMap.prototype.get);
  const weakSet = Function.prototype.call.bind(WeakMap.prototype.set);
  const mapGet = Function.prototype.call.bind(Map.prototype.get);
  const mapSet = Function.prototype.call.bind(Map.prototype.set);
  const mapHas = Function.prototype.call.bind(Map.prototype.has);
  const mapDelete = Function.prototype.call.bind(Map.prototype.delete);
  const mapClear = Function.prototype.call.bind(Map.prototype.clear);
  const Str = String;
  const Num = Number;
  const isFinite_ = Number.isFinite;
  const mathMax = Math.max;
  const ErrorC = Error;
  const TypeErrorC = TypeError;
  const RangeErrorC = RangeError;
  const EvalErrorC = EvalError;
  const MAX_ITEMS = 4096;
  const MAX_PROMPT_CHARS = config.maxPromptChars;
  // How deeply nested a value the host accepts: the host parses and stores it with recursive
  // code, which must never run out of stack on a script's value. Schemas are checked against
  // the JSON Schema meta-schema, which recurses several times per level.
  const MAX_RESULT_DEPTH = 256;
  const MAX_SCHEMA_DEPTH = 64;

  // Own data properties only: a setter planted on Array.prototype or Object.prototype never sees
  // what the bridge stores. Every descriptor below has a null prototype: defineProperty reads
  // inherited fields too, and an Object.prototype.get planted by a script would otherwise turn
  // each one into an invalid accessor-and-value descriptor.
  const push = (arr, value) =>
    defineProperty(arr, arr.length, { __proto__: null, value, writable: true, enumerable: true, configurable: true });
  // A snapshot of an array-like, of at most `max` items: its length is read once, so a Proxy
  // whose length grows after a check cannot carry more items than the check allowed. Every
  // later check runs on this copy, the one that is used.
  const copy = (arr, max) => {
    const n = Num(arr.length);
    if (!(n <= max)) {
      throw new RangeErrorC('array length ' + n + ' exceeds the maximum of ' + max + ' supported across the workflow VM boundary');
    }
    const c = [];
    for (let i = 0; i < n; i++) push(c, arr[i]);
    return c;
  };
  // An array of the bridge's own that no setter on any prototype can watch, so the native
  // push is safe (and much faster) on it. Never handed to the script.
  const internal = () => setPrototypeOf([], null);
  const hidden = (obj, key, value) =>
    defineProperty(obj, key, { __proto__: null, value, writable: false, enumerable: false, configurable: false });
  // The name is always an own property: reading the inherited one would run a getter the script
  // may have planted on Error.prototype.
  const makeError = (Ctor, name, message) => {
    const e = new Ctor(message);
    defineProperty(e, 'name', { __proto__: null, value: name, writable: true, configurable: true });
    return e;
  };

  // ---- lockdown: no code generation from strings, through any constructor path -------------
  const codegenMessage = 'Code generation from strings disallowed for this context';
  const OrigFunction = Function;
  const blocked = function Function() {
    throw new EvalErrorC(codegenMessage);
  };
  hidden(blocked, 'prototype', OrigFunction.prototype);
  const protos = [
    OrigFunction.prototype,
    O.getPrototypeOf(async function () {}),
    O.getPrototypeOf(function* () {}),
    O.getPrototypeOf(async function* () {}),
  ];
  for (const proto of protos) hidden(proto, 'constructor', blocked);
  hidden(G, 'Function', blocked);
  const blockedEval = function () {
    throw new EvalErrorC(codegenMessage);
  };
  defineProperty(blockedEval, 'name', { __proto__: null, value: 'eval' });
  hidden(G, 'eval', blockedEval);
  // V8-style call sites expose getFunction(): a custom prepareStackTrace could pull the bridge's
  // own functions out of a stack trace, so nobody may install one.
  hidden(ErrorC, 'prepareStackTrace', undefined);
  // workflow() reads its caller from a stack trace: the script may set the depth of traces, but
  // not replace the property with one that ignores the bridge's setting.
  const traceLimit = O.getOwnPropertyDescriptor(ErrorC, 'stackTraceLimit');
  const setTraceLimit = traceLimit && traceLimit.set ? (n) => apply(traceLimit.set, ErrorC, [n]) : (n) => {};
  const getTraceLimit = traceLimit && traceLimit.get ? () => apply(traceLimit.get, ErrorC, []) : () => 10;
  if (traceLimit) {
    defineProperty(ErrorC, 'stackTraceLimit', { __proto__: null, get: traceLimit.get, set: traceLimit.set, enumerable: false, configurable: false });
  }
  const callerStack = () => {
    const saved = getTraceLimit();
    setTraceLimit(64);
    const stack = new ErrorC('').stack;
    setTraceLimit(saved);
    return typeof stack === 'string' ? stack : '';
  };

  // ---- determinism: resume replays the script, so it must not read clocks or randomness ------
  const randomMessage =
    'Math.random() is unavailable in workflow scripts (breaks resume). For N independent samples, include the index in the agent label or prompt.';
  const dateMessage =
    'Date.now() / new Date() are unavailable in workflow scripts (breaks resume). Stamp results after the workflow returns, or pass timestamps via args.';
  defineProperty(Math, 'random', {
    __proto__: null,
    value: function random() {
      throw new ErrorC(randomMessage);
    },
    writable: true,
    configurable: true,
  });
  const RealDate = Date;
  // The sandbox's time zone is UTC, whatever the host's: a replay must not differ between
  // machines, and the host's zone is none of the script's business. Every method that reads
  // or writes local time is its UTC twin; strings without a zone are read as UTC.
  const DP = RealDate.prototype;
  const timeValue = Function.prototype.call.bind(DP.getTime); // TypeError for a non-Date
  const realOffset = Function.prototype.call.bind(DP.getTimezoneOffset);
  const realParse = RealDate.parse;
  const ZONED = /(?:Z|[+-]\d\d(?::?\d\d)?|\b(?:GMT|UTC|UT|[ECMP][SD]T)(?:[+-]\d{1,4}(?::?\d\d)?)?)\s*(?:\([^)]*\))?\s*$/i;
  const DATE_ONLY = /^\s*[+-]?\d{4,6}(?:-\d\d(?:-\d\d)?)?\s*$/;
  const regexpTest = Function.prototype.call.bind(RegExp.prototype.test);
  const parseUTC = function parse(text) {
    const s = Str(text);
    const t = realParse(s);
    if (t !== t || regexpTest(ZONED, s) || regexpTest(DATE_ONLY, s)) return t;
    return t - realOffset(new RealDate(t)) * 60000;
  };
  const SafeDate = function Date(...a) {
    if (new.target === undefined || a.length === 0) throw new ErrorC(dateMessage);
    if (a.length > 1) return construct(RealDate, [apply(RealDate.UTC, undefined, a)], new.target);
    if (typeof a[0] === 'string') return construct(RealDate, [parseUTC(a[0])], new.target);
    return construct(RealDate, a, new.target);
  };
  const method = (name, f) => {
    const holder = { [name](...a) { return f(this, a); } };
    defineProperty(DP, name, { __proto__: null, value: holder[name], writable: true, enumerable: false, configurable: true });
  };
  for (const part of ['FullYear', 'Month', 'Date', 'Day', 'Hours', 'Minutes', 'Seconds', 'Milliseconds']) {
    const get = DP['getUTC' + part];
    method('get' + part, (d) => apply(get, d, []));
    if (part !== 'Day') {
      const set = DP['setUTC' + part];
      method('set' + part, (d, a) => apply(set, d, a));
    }
  }
  const getUTCFullYear = DP.getUTCFullYear;
  method('getYear', (d) => apply(getUTCFullYear, d, []) - 1900);
  const trunc = Math.trunc;
  const setTime = DP.setTime;
  const setUTCFullYear = DP.setUTCFullYear;
  method('setYear', (d, a) => {
    timeValue(d);
    const y = Num(a[0]);
    if (y !== y) return apply(setTime, d, [NaN]);
    const whole = trunc(y);
    const t = timeValue(d);
    const u = new RealDate(t !== t ? 0 : t);
    apply(setUTCFullYear, u, [whole >= 0 && whole <= 99 ? 1900 + whole : y]);
    return apply(setTime, d, [timeValue(u)]);
  });
  method('getTimezoneOffset', (d) => {
    const t = timeValue(d);
    return t !== t ? NaN : 0;
  });
  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n, width) => {
    let text = Str(n);
    while (text.length < width) text = '0' + text;
    return text;
  };
  const fields = (d) => {
    const t = timeValue(d);
    if (t !== t) return null;
    const u = new RealDate(t);
    const y = u.getUTCFullYear();
    return {
      __proto__: null,
      year: y < 0 ? '-' + pad(-y, 4) : pad(y, 4),
      month: u.getUTCMonth(),
      day: u.getUTCDate(),
      weekday: u.getUTCDay(),
      h: u.getUTCHours(),
      m: pad(u.getUTCMinutes(), 2),
      s: pad(u.getUTCSeconds(), 2),
    };
  };
  const dateText = (f) => DAYS[f.weekday] + ' ' + MONTHS[f.month] + ' ' + pad(f.day, 2) + ' ' + f.year;
  const timeText = (f) => pad(f.h, 2) + ':' + f.m + ':' + f.s + ' GMT+0000';
  const localDate = (f) => pad(f.month + 1, 2) + '/' + pad(f.day, 2) + '/' + f.year;
  const localTime = (f) => pad(f.h % 12 || 12, 2) + ':' + f.m + ':' + f.s + (f.h < 12 ? ' AM' : ' PM');
  const formatter = (shape) => (d) => {
    const f = fields(d);
    return f === null ? 'Invalid Date' : shape(f);
  };
  method('toString', formatter((f) => dateText(f) + ' ' + timeText(f)));
  method('toDateString', formatter(dateText));
  method('toTimeString', formatter(timeText));
  method('toLocaleString', formatter((f) => localDate(f) + ', ' + localTime(f)));
  method('toLocaleDateString', formatter(localDate));
  method('toLocaleTimeString', formatter(localTime));
  hidden(SafeDate, 'prototype', RealDate.prototype);
  hidden(SafeDate, 'parse', parseUTC);
  hidden(SafeDate, 'UTC', RealDate.UTC);
  hidden(SafeDate, 'now', function now() {
    throw new ErrorC(dateMessage);
  });
  hidden(RealDate.prototype, 'constructor', SafeDate);
  defineProperty(G, 'Date', { __proto__: null, value: SafeDate, writable: true, configurable: true });
  // Not in the original runtime's sandbox, and each is a clock, a scheduler or a GC observer.
  for (const name of [
    'performance',
    'queueMicrotask',
    'WeakRef',
    'FinalizationRegistry',
    'SharedArrayBuffer',
    'Atomics',
    'atob',
    'btoa',
    'DOMException',
  ]) {
    delete G[name];
  }

  // ---- the outbox -----------------------------------------------------------------------------
  const out = internal();
  let head = 0; // events before this index were taken already
  // Events are built as object literals (own properties) with a null prototype, so an inherited
  // toJSON or setter planted by the script is never consulted.
  const emit = (ev) => {
    setPrototypeOf(ev, null);
    nativePush(out, stringify(ev));
  };
  const pending = new MapC(); // request id -> {resolve, reject, site}
  let nextId = 0;
  let agentCount = 0;
  let spent = 0;
  let stopped = false;
  const maxAgents = config.maxAgents;
  const budgetTotal = config.budget;
  let currentPhase = null;

  // Never throws, whatever the value (a revoked Proxy throws on every property read).
  const total = (f, fallback) => (v) => {
    try {
      return f(v);
    } catch (e) {
      return fallback;
    }
  };
  const toText0 = (v) => {
    if (typeof v === 'string') return v;
    if (v === undefined) return 'undefined';
    if (typeof v === 'function') return '[Function ' + (v.name || 'anonymous') + ']';
    if (typeof v === 'bigint' || typeof v === 'symbol') return Str(v);
    try {
      const s = stringify(v);
      return s === undefined ? Str(v) : s;
    } catch (e) {
      return Str(v);
    }
  };
  const toText = total(toText0, '[a value that cannot be read]');
  const describe0 = (e) => {
    if (e !== null && typeof e === 'object') {
      const msg = e.message;
      if (msg !== undefined) return Str(msg);
    }
    return toText(e);
  };
  const describe = total(describe0, '[a value that cannot be read]');
  const errorName = total((e) => {
    if (e !== null && typeof e === 'object' && typeof e.name === 'string') return e.name;
    return 'Error';
  }, 'Error');

  const capError = () =>
    makeError(
      ErrorC,
      'WorkflowAgentCapError',
      'Workflow agent() call cap reached (' +
        maxAgents +
        '). This usually means a loop using budget.remaining() never terminates because no token budget was set — remaining() returns Infinity when budget.total is null. Add a hard iteration cap to the loop, or pass a token budget.'
    );
  const budgetExceeded = () => budgetTotal !== null && budgetTotal > 0 && spent >= budgetTotal;
  const budgetError = () =>
    makeError(
      ErrorC,
      'WorkflowBudgetExceededError',
      'Workflow token budget exceeded (' +
        spent +
        ' / ' +
        budgetTotal +
        ' output tokens). Stopping further agent() calls. In-flight agents will complete; their results are preserved.'
    );
  const never = () => new P(() => {});

  // JSON.stringify that refuses values nested deeper than `limit` objects/arrays. The replacer
  // sees exactly what is serialised (after toJSON), with its holder as `this`.
  let tooDeep = null; // the error stringifyBounded threw last, to tell it from the value's own
  const stringifyBounded = (value, limit, what) => {
    const depths = new WeakMapC();
    return stringify(value, function (key, v) {
      if (v !== null && typeof v === 'object') {
        const d = (weakGet(depths, this) || 0) + 1;
        if (d > limit) {
          tooDeep = new RangeErrorC(what + ' is nested more than ' + limit + ' levels deep');
          throw tooDeep;
        }
        weakSet(depths, v, d);
      }
      return v;
    });
  };

  // `build(id)` gives the request's event, or the event's JSON text when the caller writes it.
  const request = (build) => {
    const id = ++nextId;
    return new P((resolve, reject) => {
      mapSet(pending, id, { resolve, reject, site: new ErrorC('') });
      const ev = build(id);
      if (typeof ev === 'string') nativePush(out, ev);
      else emit(ev);
    });
  };

  // ---- agent() -------------------------------------------------------------------------------
  const OPTION_KEYS = ['label', 'phase', 'model', 'effort', 'isolation', 'agentType', 'stallMs'];
  // Arrays of rule strings (reference §3.1); the host parses the rules. The bounds are those of
  // jshost/permissions/call_options.py, checked here so an oversized array never crosses.
  const RULE_OPTION_KEYS = ['disallowedTools', 'bashCommandClamp'];
  const MAX_OPTION_RULES = 64;
  const MAX_OPTION_RULE_CHARS = 1000;
  const REFUSING = ' — refusing the spawn.';
  const typeName = (v) => (v === null ? 'null' : isArray(v) ? 'array' : typeof v);
  // A snapshot of the script's array: its length and each item read once, into an array of the
  // bridge's own (no prototype, so no toJSON the script planted on Array.prototype applies).
  const ruleList = (key, v) => {
    const what = 'agent({' + key + '})';
    if (!isArray(v)) throw new TypeErrorC(what + ' must be an array of strings, got ' + typeName(v) + REFUSING);
    const n = Num(v.length);
    if (!(n <= MAX_OPTION_RULES)) {
      throw new RangeErrorC(what + ' has ' + n + ' entries; at most ' + MAX_OPTION_RULES + REFUSING);
    }
    const list = internal();
    for (let i = 0; i < n; i++) {
      const item = v[i];
      if (typeof item !== 'string') {
        throw new TypeErrorC(what + '[' + i + '] must be a string, got ' + typeName(item) + REFUSING);
      }
      if (item.length > MAX_OPTION_RULE_CHARS) {
        throw new RangeErrorC(what + '[' + i + '] is ' + item.length + ' characters long; at most ' + MAX_OPTION_RULE_CHARS + REFUSING);
      }
      nativePush(list, item);
    }
    return list;
  };
  const makeAgent = (scope) =>
    function agent(prompt, opts) {
      if (stopped) return never();
      try {
        if (agentCount >= maxAgents) throw capError();
        if (budgetExceeded()) throw budgetError();
        if (typeof prompt !== 'string') {
          throw new TypeErrorC('agent() expects a prompt string as its first argument, got ' + (prompt === null ? 'null' : typeof prompt));
        }
        // The host checks this too; refusing here keeps a huge prompt from crossing at all.
        if (prompt.length > MAX_PROMPT_CHARS) {
          throw new RangeErrorC('agent() prompt is ' + prompt.length + ' characters long; the limit is ' + MAX_PROMPT_CHARS);
        }
        if (opts !== undefined && opts !== null && typeof opts !== 'object') {
          throw new TypeErrorC('agent() options must be an object, got ' + typeof opts);
        }
        const o = opts || {};
        const picked = { __proto__: null };
        for (const key of OPTION_KEYS) {
          const v = o[key];
          if (v !== undefined && v !== null && typeof v !== 'function') {
            picked[key] = typeof v === 'number' || typeof v === 'boolean' ? v : Str(v);
          }
        }
        for (let k = 0; k < RULE_OPTION_KEYS.length; k++) {
          const key = RULE_OPTION_KEYS[k];
          const v = o[key];
          if (v !== undefined && v !== null) picked[key] = ruleList(key, v);
        }
        if (picked.isolation === 'remote') {
          throw new ErrorC("agent({isolation:'remote'}) is not available in this build");
        }
        let schema;
        if (o.schema !== undefined && o.schema !== null) {
          try {
            schema = stringifyBounded(o.schema, MAX_SCHEMA_DEPTH, 'the schema');
          } catch (e) {
            throw new TypeErrorC('agent({schema}) received an invalid JSON Schema: ' + describe(e));
          }
          if (schema === undefined) {
            throw new TypeErrorC('agent({schema}) received an invalid JSON Schema: schema must be an object');
          }
        }
        if (scope.group !== null) picked.phase = scope.group;
        else if (picked.phase === undefined && currentPhase !== null) picked.phase = currentPhase;
        agentCount++;
        // The event's JSON written out: half the cost of stringify() of an event object (issue
        // 22). The prompt is a string primitive (no toJSON is read for it), `picked` has no
        // prototype and holds strings, numbers, booleans and the bridge's own arrays.
        const schemaJson = schema === undefined ? 'null' : stringify(schema);
        return request(
          (id) => '{"t":"agent","id":' + id + ',"prompt":' + stringify(prompt) + ',"opts":' + stringify(picked) + ',"schema":' + schemaJson + '}'
        );
      } catch (e) {
        return rejected(e);
      }
    };

  // ---- parallel() / pipeline() ---------------------------------------------------------------
  const entryChecks = (items, what) => {
    if (items.length > MAX_ITEMS) {
      throw new RangeErrorC('array length ' + items.length + ' exceeds the maximum of 4096 supported across the workflow VM boundary');
    }
    if (items.length > 0) {
      if (agentCount >= maxAgents) throw capError();
      if (budgetExceeded()) throw budgetError();
    }
  };
  const isBudgetError = total((e) => e !== null && typeof e === 'object' && e.name === 'WorkflowBudgetExceededError', false);

  const makeParallel = () =>
    async function parallel(thunks) {
      if (stopped) return never();
      if (!isArray(thunks)) throw new TypeErrorC('parallel() expects an array of functions');
      const list = copy(thunks, MAX_ITEMS);
      for (let i = 0; i < list.length; i++) {
        if (typeof list[i] !== 'function') {
          throw new TypeErrorC('parallel() expects an array of functions, not promises. Wrap each call: () => agent(...)');
        }
      }
      entryChecks(list, 'parallel');
      const promises = [];
      for (let i = 0; i < list.length; i++) {
        let p;
        try {
          p = resolved(list[i]());
        } catch (e) {
          p = rejected(e);
        }
        push(promises, p);
      }
      const settled = await allSettled(promises);
      const results = [];
      let dropped = 0;
      for (let i = 0; i < settled.length; i++) {
        const s = settled[i];
        if (s.status === 'fulfilled') {
          push(results, s.value);
        } else {
          push(results, null);
          if (isBudgetError(s.reason)) dropped++;
          else emit({ t: 'failure', line: 'parallel[' + i + '] failed: ' + describe(s.reason) });
        }
      }
      if (dropped) emit({ t: 'failure', line: 'parallel: ' + dropped + ' slot(s) dropped — token budget exceeded', budget: true });
      return results;
    };

  const makePipeline = () =>
    async function pipeline(items, ...stages) {
      if (stopped) return never();
      if (!isArray(items)) throw new TypeErrorC('pipeline() expects an array as the first argument');
      for (let s = 0; s < stages.length; s++) {
        if (typeof stages[s] !== 'function') {
          throw new TypeErrorC('pipeline() stages must be functions: pipeline(items, item => ..., result => ...)');
        }
      }
      const list = copy(items, MAX_ITEMS);
      entryChecks(list, 'pipeline');
      let dropped = 0;
      const run = async (item, index) => {
        try {
          let carry = await item;
          for (let s = 0; s < stages.length; s++) {
            if (carry === null) break;
            carry = await stages[s](carry, item, index);
          }
          return carry;
        } catch (e) {
          if (isBudgetError(e)) dropped++;
          else emit({ t: 'failure', line: 'pipeline[' + index + '] failed: ' + describe(e) });
          return null;
        }
      };
      const chains = [];
      for (let i = 0; i < list.length; i++) push(chains, run(list[i], i));
      const results = await all(chains);
      if (dropped) emit({ t: 'failure', line: 'pipeline: ' + dropped + ' item(s) dropped — token budget exceeded', budget: true });
      return results;
    };

  // ---- phase(), log(), console ---------------------------------------------------------------
  const joinArgs = (a) => {
    if (a.length === 1 && typeof a[0] === 'string') return a[0];
    const parts = internal();
    for (let i = 0; i < a.length; i++) nativePush(parts, toText(a[i]));
    return join(parts, ' ');
  };
  const makeLog = (prefix) => {
    const log = function log(...a) {
      emit({ t: 'log', msg: prefix + joinArgs(a) });
    };
    const level = (tag) =>
      function (...a) {
        emit({ t: 'log', msg: prefix + tag + joinArgs(a) });
      };
    const console = {
      log: level(''),
      info: level(''),
      debug: level(''),
      warn: level('[warn] '),
      error: level('[error] '),
    };
    return { log, console };
  };
  const phase = function phase(title) {
    currentPhase = Str(title);
    emit({ t: 'phase', title: currentPhase });
  };

  // ---- timers --------------------------------------------------------------------------------
  const timers = new MapC(); // id -> [fn, args]
  let nextTimer = 0;
  const setTimeout = function setTimeout(fn, ms, ...a) {
    if (typeof fn !== 'function') {
      throw new TypeErrorC('setTimeout() expects a function (code strings are not supported in workflow scripts)');
    }
    if (stopped) return 0;
    let delay = Num(ms);
    if (!isFinite_(delay) || delay < 0) delay = 0;
    const id = ++nextTimer;
    mapSet(timers, id, [fn, a]);
    emit({ t: 'timer', id, ms: delay });
    return id;
  };
  const clearTimeout = function clearTimeout(id) {
    if (mapHas(timers, id)) {
      mapDelete(timers, id);
      emit({ t: 'clear', id });
    }
  };
  const fire = (id) => {
    const entry = mapGet(timers, id);
    if (entry === undefined) return;
    mapDelete(timers, id);
    try {
      apply(entry[0], undefined, entry[1]);
    } catch (e) {
      emit({ t: 'log', msg: '[error] setTimeout callback threw: ' + errorName(e) + ': ' + describe(e) });
    }
  };

  // ---- budget --------------------------------------------------------------------------------
  const budget = freeze({
    total: budgetTotal,
    spent: function spent_() {
      return spent;
    },
    remaining: function remaining() {
      return budgetTotal === null ? Infinity : mathMax(0, budgetTotal - spent);
    },
  });

  // ---- workflow() (one level of nesting) -----------------------------------------------------
  const cloneJSON = (v) => (v === undefined ? undefined : parseJSON(stringify(v)));
  const children = new MapC(); // request id -> {name}
  const makeWorkflow = () =>
    function workflow(ref, childArgs) {
      if (stopped) return never();
      try {
        let spec;
        if (typeof ref === 'string') spec = { __proto__: null, name: ref };
        else if (ref !== null && typeof ref === 'object' && typeof ref.scriptPath === 'string') spec = { __proto__: null, scriptPath: ref.scriptPath };
        else throw new TypeErrorC('workflow() expects a workflow name (string) or {scriptPath: string}');
        const argsJson = childArgs === undefined ? null : stringify(childArgs);
        const a = argsJson === undefined ? null : argsJson;
        const from = callerStack();
        return request((id) => ({ __proto__: null, t: 'workflow', id, ref: spec, args: a, from }));
      } catch (e) {
        return rejected(e);
      }
    };
  const nestedWorkflow = function workflow() {
    return rejected(
      new ErrorC(
        'workflow() cannot be called from within a child workflow — nesting is limited to one level. Inline the inner script or call its agents directly.'
      )
    );
  };

  const rootScope = { group: null };
  const root = makeLog('');
  const api = {
    agent: makeAgent(rootScope),
    parallel: makeParallel(),
    pipeline: makePipeline(),
    phase,
    log: root.log,
    console: root.console,
    workflow: makeWorkflow(),
    budget,
    setTimeout,
    clearTimeout,
  };
  for (const key of O.keys(api)) {
    defineProperty(G, key, { __proto__: null, value: api[key], writable: false, enumerable: false, configurable: false });
  }
  defineProperty(G, 'args', {
    __proto__: null,
    value: config.args === null ? undefined : parseJSON(config.args),
    writable: true,
    enumerable: false,
    configurable: false,
  });

  // ---- the host's side of the bridge ---------------------------------------------------------
  const settleOne = (id, ok, payload) => {
    const p = mapGet(pending, id);
    if (p === undefined) return;
    mapDelete(pending, id);
    if (ok) {
      p.resolve(payload);
      return;
    }
    const e = makeError(ErrorC, Str(payload.name), Str(payload.message));
    const site = p.site.stack;
    if (typeof site === 'string') defineProperty(e, 'stack', { __proto__: null, value: site, writable: true, configurable: true });
    p.reject(e);
  };
  const startChild = (id, fn, name, group, argsJson) => {
    const p = mapGet(pending, id);
    if (p === undefined) return;
    mapDelete(pending, id);
    const childLog = makeLog('[' + name + '] ');
    const childApi = {
      agent: makeAgent({ group }),
      parallel: api.parallel,
      pipeline: api.pipeline,
      phase: function phase() {},
      log: childLog.log,
      console: childLog.console,
      workflow: nestedWorkflow,
      args: argsJson === null ? undefined : parseJSON(argsJson),
      budget,
      setTimeout,
      clearTimeout,
    };
    emit({ t: 'log', msg: '▸ running dynamic workflow ' + name });
    let result;
    try {
      result = fn(childApi);
    } catch (e) {
      result = rejected(e);
    }
    then(
      resolved(result),
      (v) => {
        emit({ t: 'log', msg: '▸ ' + name + ' done' });
        let cloned;
        try {
          cloned = cloneJSON(v);
        } catch (e) {
          p.reject(new TypeErrorC('workflow result is not JSON-serializable: ' + describe(e)));
          return;
        }
        p.resolve(cloned);
      },
      (e) => {
        emit({ t: 'log', msg: '▸ ' + name + ' failed: ' + describe(e) });
        emit({ t: 'failure', line: group + ': ' + errorName(e) + ': ' + describe(e) });
        p.reject(e);
      }
    );
  };

  const host = {__proto__: null,
    // At most `max` events at a time, oldest first, so the host never holds a whole flood of
    // them at once (a script can emit millions in one slice).
    take(max) {
      const end = out.length - head > max ? head + max : out.length;
      if (end === head) {
        out.length = 0;
        head = 0;
        return '';
      }
      if (head === 0 && end === out.length) {
        const s = join(['[', join(out, ','), ']'], '');
        out.length = 0;
        return s;
      }
      const parts = internal();
      for (let i = head; i < end; i++) {
        nativePush(parts, out[i]);
        out[i] = undefined;
      }
      head = end;
      if (head === out.length) {
        out.length = 0;
        head = 0;
      }
      return join(['[', join(parts, ','), ']'], '');
    },
    // batch: {"spent": n, "count": n, "r": [[id, ok, payload], ...], "f": [timer ids]}
    settle(json) {
      const b = parseJSON(json);
      spent = b.spent;
      if (b.count > agentCount) agentCount = b.count;
      const r = b.r;
      for (let i = 0; i < r.length; i++) settleOne(r[i][0], r[i][1], r[i][2]);
      const f = b.f;
      for (let i = 0; i < f.length; i++) fire(f[i]);
    },
    child(id, fn, name, group, argsJson) {
      startChild(id, fn, name, group, argsJson);
    },
    watch(p) {
      const failed = (e) => {
        let stack = '';
        try {
          if (e !== null && typeof e === 'object' && typeof e.stack === 'string') stack = e.stack;
        } catch (ignored) {}
        emit({ t: 'done', ok: false, name: Str(errorName(e)), message: Str(describe(e)), stack: Str(stack), null: e === null });
      };
      const fulfilled = (v) => {
        if (typeof v === 'function') {
          emit({ t: 'done', ok: false, name: 'TypeError', message: 'workflow result cannot be a function', stack: '' });
          return;
        }
        let s;
        try {
          s = stringifyBounded(v === undefined ? null : v, MAX_RESULT_DEPTH, 'the workflow result');
        } catch (e) {
          // Running out of memory or nesting too deeply are limits, not faults of the value.
          if (e === tooDeep) {
            emit({ t: 'done', ok: false, name: 'RangeError', message: describe(e), stack: '' });
          } else if (errorName(e) === 'InternalError') {
            emit({ t: 'done', ok: false, name: 'InternalError', message: describe(e) + ' while serializing the workflow result', stack: '' });
          } else {
            emit({ t: 'done', ok: false, name: 'TypeError', message: 'workflow result is not JSON-serializable: ' + describe(e), stack: '' });
          }
          return;
        }
        nativePush(out, join(['{"t":"done","ok":true,"value":', s === undefined ? 'null' : s, '}'], ''));
      };
      // Resolving reads the promise's constructor and species, which the script may have
      // replaced with getters that throw: that is the script's failure, not the host's.
      try {
        then(resolved(p), fulfilled, failed);
      } catch (e) {
        failed(e);
      }
    },
    stop() {
      stopped = true;
      mapClear(timers);
    },
  };
  G.__jshost_take = host.take;
  G.__jshost_settle = host.settle;
  G.__jshost_child = host.child;
  G.__jshost_watch = host.watch;
  G.__jshost_stop = host.stop;
}
