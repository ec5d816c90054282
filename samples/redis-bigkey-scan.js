// The field guide's Redis BigKey scenario: Haiku scans and cross-checks, Opus decides.
//   jshost run samples/redis-bigkey-scan.js --args-file samples/redis-bigkey-scan.args.json --budget 150k --yes
export const meta = {
  name: 'redis-bigkey-scan',
  description: 'Find the BigKeys behind a spike of Redis slow queries and plan a fix',
  whenToUse: 'Redis P99 latency jumps and slow queries concentrate on a few commands',
  phases: [
    { title: 'Scan', detail: 'Scan AOF logs for BigKey commands', model: 'haiku' },
    { title: 'Cross-check', detail: 'Three checks per suspected key', model: 'haiku' },
    { title: 'Report', detail: 'Combined analysis', model: 'opus' },
  ],
}

const { nodes, aofPath, slowlogThresholdMs = 10, window = 'the last hour', scanAgents = 10 } = args

phase('Scan')
const scans = await parallel(
  Array.from({ length: scanAgents }, (_, i) => () =>
    agent(
      `Scan part ${i + 1} of ${scanAgents} of ${aofPath} on ${nodes.join(', ')} for ${window}. ` +
        'Extract HGETALL, SMEMBERS, ZRANGE and other commands that can hit a BigKey; count access ' +
        'frequency and data size per key.',
      {
        label: `aof part ${i + 1}`,
        model: 'haiku',
        schema: {
          type: 'object',
          properties: {
            keys: {
              type: 'array',
              maxItems: 5,
              items: {
                type: 'object',
                properties: {
                  key: { type: 'string' },
                  command: { enum: ['HGETALL', 'SMEMBERS', 'ZRANGE', 'LRANGE'] },
                  perSecond: { type: 'number', minimum: 0 },
                },
                required: ['key', 'command', 'perSecond'],
              },
            },
          },
          required: ['keys'],
        },
      },
    ),
  ),
)

// The two most-accessed suspects across all scans get three independent checks each.
const seen = new Map()
for (const scan of scans.filter(Boolean)) {
  for (const k of scan.keys) seen.set(k.key, (seen.get(k.key) ?? 0) + k.perSecond)
}
const suspects = [...seen.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([key]) => key)

phase('Cross-check')
const checks = await parallel(
  suspects.flatMap((key) => [
    () => agent(`Run MEMORY USAGE ${key} and report its size.`, { label: `memory ${key}`, model: 'haiku' }),
    () => agent(`Run SLOWLOG GET and report slow entries (>${slowlogThresholdMs} ms) for ${key}.`, { label: `slowlog ${key}`, model: 'haiku' }),
    () => agent(`Run CLIENT LIST and report clients reading ${key}.`, { label: `clients ${key}`, model: 'haiku' }),
  ]),
)

phase('Report')
const report = await agent(
  `Suspected BigKeys: ${suspects.join(', ')}.\nEvidence:\n${checks.filter(Boolean).join('\n')}\n` +
    'Confirm which are real BigKeys, explain the slow queries, and give a fix plan.',
  { label: 'root cause', model: 'opus' },
)
return { suspects, report }
