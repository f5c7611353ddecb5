import { describe, expect, it } from 'vitest'
import { actionCount, actionRequest, actionSummary, peekPath } from './deadLetters'

describe('dead-letter requests', () => {
  it('peeks with the queue and limit in the query string', () => {
    expect(peekPath('p.StageResult.dlq', 5)).toBe('/api/deadletters/messages?queue=p.StageResult.dlq&limit=5')
    expect(peekPath('q.dlq')).toBe('/api/deadletters/messages?queue=q.dlq&limit=20')
  })

  it('posts an action with the queue, and a count only when given', () => {
    expect(actionRequest('resend', 'q.dlq')).toEqual({
      path: '/api/deadletters/resend',
      options: { method: 'POST', body: { queue: 'q.dlq' } },
    })
    expect(actionRequest('discard', 'q.dlq', 3).options.body).toEqual({ queue: 'q.dlq', count: 3 })
  })

  it('summarises the answer', () => {
    const resent = { queue: 'q.dlq', target: 'q', resent: 2 }
    expect(actionCount(resent)).toBe(2)
    expect(actionSummary('resend', resent)).toBe('Re-sent 2 messages to q')
    expect(actionSummary('discard', { queue: 'q.dlq', target: null, discarded: 1 })).toBe('Discarded 1 message of q.dlq')
  })
})
