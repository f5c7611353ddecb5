import { describe, expect, it } from 'vitest'
import { badgeClass, statusLabel, statusTone } from './status'

describe('status → colour', () => {
  it.each([
    ['Completed', 'green'],
    ['Failed', 'red'],
    ['Running', 'blue'],
    ['Pending', 'violet'],
    ['RetryScheduled', 'amber'],
    ['NotStarted', 'gray'],
    ['Skipped', 'slate'],
    ['Cancelled', 'slate'],
    ['ready', 'green'],
    ['degraded', 'amber'],
    ['error', 'red'],
    ['offline', 'gray'],
    ['SomethingNew', 'gray'],
  ])('%s is %s', (status, tone) => {
    expect(statusTone(status)).toBe(tone)
  })

  it('badge classes follow the tone', () => {
    expect(badgeClass('Failed')).toContain('bg-red-100')
    expect(badgeClass('Completed')).toContain('bg-green-100')
  })

  it('labels read as words', () => {
    expect(statusLabel('RetryScheduled')).toBe('Retry scheduled')
    expect(statusLabel('NotStarted')).toBe('Not started')
    expect(statusLabel('ready')).toBe('Ready')
  })
})
