import { describe, expect, it } from 'vitest'
import { expiryToRfc3339, keyStatus, keyStatusLabel, newUserError } from './settings'

const NOW = new Date(2030, 0, 15, 12, 0, 0).getTime()

describe('expiryToRfc3339', () => {
  it('empty means no expiry', () => {
    expect(expiryToRfc3339('', NOW)).toEqual({ ok: true, value: undefined })
    expect(expiryToRfc3339('  ', NOW)).toEqual({ ok: true, value: undefined })
  })

  it('is the end of the chosen local day, in UTC RFC 3339', () => {
    const r = expiryToRfc3339('2030-02-01', NOW)
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    expect(new Date(r.value!).getTime()).toBe(new Date(2030, 1, 1, 23, 59, 59).getTime())
  })

  it('today is still in the future (until its end)', () => {
    expect(expiryToRfc3339('2030-01-15', NOW).ok).toBe(true)
  })

  it('rejects past days, impossible dates and other text', () => {
    expect(expiryToRfc3339('2030-01-14', NOW)).toEqual({ ok: false, error: 'Expiry must be in the future' })
    expect(expiryToRfc3339('2030-02-30', NOW)).toEqual({ ok: false, error: 'Expiry is not a valid date' })
    expect(expiryToRfc3339('tomorrow', NOW).ok).toBe(false)
  })
})

describe('keyStatus', () => {
  const base = { isActive: true, disabledAt: null, expiresAt: null }
  it('active without expiry', () => expect(keyStatus(base, NOW)).toBe('active'))
  it('active before expiry', () =>
    expect(keyStatus({ ...base, expiresAt: new Date(NOW + 1000).toISOString() }, NOW)).toBe('active'))
  it('expired after expiry', () =>
    expect(keyStatus({ ...base, expiresAt: new Date(NOW - 1000).toISOString() }, NOW)).toBe('expired'))
  it('disabled wins over expired', () =>
    expect(
      keyStatus({ isActive: false, disabledAt: new Date(NOW).toISOString(), expiresAt: new Date(NOW - 1).toISOString() }, NOW),
    ).toBe('disabled'))
  it('labels', () => {
    expect(keyStatusLabel('active')).toBe('Active')
    expect(keyStatusLabel('expired')).toBe('Expired')
    expect(keyStatusLabel('disabled')).toBe('Disabled')
  })
})

describe('newUserError', () => {
  const ok = { email: 'a@b.c', name: 'Ann', password: '12345678', role: 'RegularUser' }
  it('accepts a complete form', () => expect(newUserError(ok)).toBeNull())
  it('needs an email', () => expect(newUserError({ ...ok, email: 'nope' })).toMatch(/email/))
  it('needs a name', () => expect(newUserError({ ...ok, name: ' ' })).toMatch(/name/))
  it('needs 8 password characters', () => expect(newUserError({ ...ok, password: '1234567' })).toMatch(/8/))
  it('needs a known role', () => expect(newUserError({ ...ok, role: 'Root' })).toMatch(/role/))
})
