// The field guide's Nginx 502 scenario: Haiku scans in parallel, Opus combines the evidence.
// The machine lists come from args (see nginx-502-debug.args.json):
//   jshost run samples/nginx-502-debug.js --args-file samples/nginx-502-debug.args.json --budget 230k --yes
export const meta = {
  name: 'nginx-502-debug',
  description: 'Find the cause of a spike of Nginx 502 errors across many machines',
  whenToUse: 'Production Nginx reports many 502s and the cause is unknown',
  phases: [
    { title: 'Scan', detail: 'Scan Nginx error logs', model: 'haiku' },
    { title: 'Check', detail: 'Check backend services', model: 'haiku' },
    { title: 'Verify', detail: 'Cross-check evidence', model: 'haiku' },
    { title: 'Report', detail: 'Combined analysis', model: 'opus' },
  ],
}

const { nginxServers, backendServices, window = 'the last hour' } = args
const chunk = (list, size) =>
  Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size))

phase('Scan')
// 20 agents at most: each scans a slice of the fleet.
const slices = chunk(nginxServers, Math.ceil(nginxServers.length / 20))
const scans = await parallel(
  slices.map((hosts, i) => () =>
    agent(
      `Scan /var/log/nginx/error.log on ${hosts.join(', ')} for ${window}. ` +
        'Extract every 502-related error, count 502s per machine with their time distribution, ' +
        'and name the upstream address with the most 502s.',
      { label: `scan ${i + 1}/${slices.length}`, model: 'haiku' },
    ),
  ),
)

phase('Check')
const groups = chunk(backendServices, Math.ceil(backendServices.length / 10))
const checks = await parallel(
  groups.map((services, i) => () =>
    agent(
      `Check ${services.join(', ')}: read the Spring Boot logs, JVM heap and GC logs, ` +
        'and the HikariCP connection pool status. Report anything unusual with timestamps.',
      { label: `backend ${i + 1}/${groups.length}`, model: 'haiku' },
    ),
  ),
)

phase('Verify')
const angles = [
  'Compare Nginx 502 timestamps with backend exception timestamps.',
  'Look for network jitter and DNS resolution errors in the same window.',
  'Read recent load balancer configuration changes.',
  'Check upstream timeout settings in /etc/nginx/nginx.conf against backend latency.',
  'Check whether unhealthy nodes were removed from the load balancer in time.',
]
const evidence = [...scans, ...checks].filter(Boolean).join('\n')
const verified = await parallel(
  angles.map((angle, i) => () =>
    agent(`${angle}\n\nEvidence so far:\n${evidence}`, { label: `verify ${i + 1}`, model: 'haiku' }),
  ),
)

phase('Report')
const report = await agent(
  `Combine all evidence and give the failure reason and a fix plan.\n\n${evidence}\n${verified.filter(Boolean).join('\n')}`,
  {
    label: 'root cause',
    model: 'opus',
    schema: {
      type: 'object',
      properties: {
        rootCause: { type: 'string' },
        timeline: { type: 'array', items: { type: 'string' }, minItems: 1 },
        fixPlan: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            properties: {
              step: { type: 'string' },
              urgency: { enum: ['now', 'today', 'this week'] },
            },
            required: ['step', 'urgency'],
          },
        },
      },
      required: ['rootCause', 'timeline', 'fixPlan'],
    },
  },
)
log(`scanned ${nginxServers.length} Nginx machines and ${backendServices.length} backends`)
return report
