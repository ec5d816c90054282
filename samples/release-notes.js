// pipeline(): each change flows through classify → summarise on its own, with no barrier
// between stages, so fast items finish while slow ones are still being classified.
//   jshost run samples/release-notes.js --args-file samples/release-notes.args.json --yes
export const meta = {
  name: 'release-notes',
  description: 'Classify each change and write a release-note line for it',
  phases: [{ title: 'Notes' }, { title: 'Assemble' }],
}

phase('Notes')
const notes = await pipeline(
  args.changes,
  (change, _item, i) =>
    agent(`Classify this change as feature, fix or chore:\n${change}`, {
      label: `classify #${i + 1}`,
      model: 'haiku',
      schema: {
        type: 'object',
        properties: { kind: { enum: ['feature', 'fix', 'chore'] }, breaking: { type: 'boolean' } },
        required: ['kind', 'breaking'],
      },
    }),
  // A chore gets no note: returning null ends that item's chain.
  (kind, change, i) =>
    kind.kind === 'chore'
      ? null
      : agent(`Write one release-note line (${kind.kind}${kind.breaking ? ', breaking' : ''}) for:\n${change}`, {
          label: `note #${i + 1}`,
          model: 'haiku',
        }),
)

phase('Assemble')
const lines = notes.filter(Boolean)
log(`${lines.length} notes from ${args.changes.length} changes`)
return lines
