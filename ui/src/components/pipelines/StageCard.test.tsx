import { describe, expect, it } from 'vitest'
import { failureReason } from './StageCard'

const line = (created: string, logLevel: string, message: string) => ({ created, logLevel, message })

describe('failure reason of a stage', () => {
  it("prefers the engine's latest Failed / RetryScheduled line", () => {
    expect(
      failureReason([
        line('2026-01-01T00:00:03Z', 'Error', 'charging failed: card declined'),
        line('2026-01-01T00:00:01Z', 'Warning', 'RetryScheduled: worker reported failure: timeout; retry 1 of 2 in 2s'),
        line('2026-01-01T00:00:02Z', 'Error', 'Failed: worker reported failure [card_declined]: declined'),
      ]),
    ).toBe('Failed: worker reported failure [card_declined]: declined')
  })

  it('else the last error-level line, else nothing', () => {
    expect(
      failureReason([
        line('2026-01-01T00:00:01Z', 'Critical', 'first'),
        line('2026-01-01T00:00:02Z', 'Error', 'second'),
        line('2026-01-01T00:00:03Z', 'Information', 'fine'),
      ]),
    ).toBe('second')
    expect(failureReason([line('2026-01-01T00:00:01Z', 'Information', 'ok')])).toBeNull()
    expect(failureReason(null)).toBeNull()
  })
})
