export const meta = {
  name: 'deep-research',
  title: 'Deep research',
  description:
    'Research a question from several angles at once, check the findings against each other, and write a sourced report. args: {"question": "...", "angles": 4, "audience": "..."} or just the question as a string.',
  whenToUse:
    'A question that needs more than one look: comparing options, explaining a system, finding the cause of a problem, surveying what is known. Agents read the workspace when they have tools (Read, Grep, Glob).',
  phases: [
    { title: 'Plan', detail: 'split the question into independent angles' },
    { title: 'Research', detail: 'one agent per angle, in parallel' },
    { title: 'Cross-check', detail: 'look for contradictions and gaps between the findings' },
    { title: 'Report', detail: 'write the answer with its evidence' },
  ],
}

// args: a string (the question) or {question, angles?: 2..8 (default 4), audience?}.
const input = typeof args === 'string' ? { question: args } : args || {}
const question = typeof input.question === 'string' ? input.question.trim() : ''
if (!question) {
  throw new Error(
    'deep-research needs a question: --args \'{"question": "How does X work?"}\' ' +
      '(optional: "angles": 2..8, "audience": "who the report is for")',
  )
}
const angles = Math.min(8, Math.max(2, Math.floor(Number(input.angles) || 4)))
const audience = typeof input.audience === 'string' && input.audience ? input.audience : 'an engineer new to the topic'

const TOOLS_NOTE =
  'If you have tools to read the workspace (Read, Grep, Glob), use them and cite file paths ' +
  'with line numbers; otherwise answer from what you know and say so.'

phase('Plan')
const plan = await agent(
  `You plan a piece of research. The question:\n\n${question}\n\n` +
    `Split it into ${angles} angles that can be researched independently and in parallel: ` +
    'each angle is one focused sub-question whose answer helps answer the whole. Cover ' +
    'different ground (mechanism, evidence, alternatives, risks, history, ...); do not repeat ' +
    'the question in other words. For each, say in one sentence why it matters.',
  {
    label: 'plan',
    schema: {
      type: 'object',
      required: ['angles'],
      properties: {
        angles: {
          type: 'array',
          minItems: 1,
          maxItems: angles,
          items: {
            type: 'object',
            required: ['question', 'why'],
            properties: { question: { type: 'string' }, why: { type: 'string' } },
          },
        },
      },
    },
  },
)
if (plan === null) throw new Error('the planning agent failed; nothing was researched')
const parts = plan.angles.slice(0, angles)
log(`${parts.length} angles: ${parts.map((p) => p.question).join(' | ')}`)

phase('Research')
const findings = await parallel(
  parts.map((part, i) => () =>
    agent(
      `You research one angle of a larger question.\n\nThe whole question: ${question}\n` +
        `Your angle (${i + 1} of ${parts.length}): ${part.question}\nWhy it matters: ${part.why}\n\n` +
        `${TOOLS_NOTE}\n\nReport what you found as claims, each with the evidence for it ` +
        'and how sure you are. Say plainly what you could not find out.',
      {
        label: `angle-${i + 1}`,
        schema: {
          type: 'object',
          required: ['summary', 'claims', 'open_questions'],
          properties: {
            summary: { type: 'string' },
            claims: {
              type: 'array',
              items: {
                type: 'object',
                required: ['claim', 'evidence', 'confidence'],
                properties: {
                  claim: { type: 'string' },
                  evidence: { type: 'string' },
                  confidence: { enum: ['high', 'medium', 'low'] },
                },
              },
            },
            open_questions: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    ),
  ),
)
const found = parts
  .map((part, i) => ({ angle: part.question, ...(findings[i] || {}) }))
  .filter((f, i) => findings[i] !== null)
if (found.length === 0) throw new Error('every research agent failed; see the failures above')
if (found.length < parts.length) log(`${parts.length - found.length} angle(s) failed and are left out`)

phase('Cross-check')
const check = await agent(
  `Several researchers each looked at one angle of this question: ${question}\n\n` +
    `Their findings, as JSON:\n${JSON.stringify(found, null, 1)}\n\n` +
    'Find where they contradict each other, which claims rest on weak evidence, and what ' +
    'nobody covered. Do not add new claims of your own.',
  {
    label: 'cross-check',
    schema: {
      type: 'object',
      required: ['contradictions', 'weak_claims', 'gaps'],
      properties: {
        contradictions: { type: 'array', items: { type: 'string' } },
        weak_claims: { type: 'array', items: { type: 'string' } },
        gaps: { type: 'array', items: { type: 'string' } },
      },
    },
  },
)

phase('Report')
const report = await agent(
  `Write the answer to this question for ${audience}: ${question}\n\n` +
    `Research findings (JSON):\n${JSON.stringify(found, null, 1)}\n\n` +
    (check ? `A reviewer's cross-check (JSON):\n${JSON.stringify(check, null, 1)}\n\n` : '') +
    'Start with the answer in two or three sentences, then the reasoning with its evidence, ' +
    'then what is uncertain or unknown. Keep the sources (file paths, names) the findings ' +
    'give. Plain Markdown, no preamble.',
  { label: 'report' },
)

return {
  question,
  report,
  angles: found.map((f) => ({ angle: f.angle, summary: f.summary, claims: (f.claims || []).length })),
  cross_check: check,
}
