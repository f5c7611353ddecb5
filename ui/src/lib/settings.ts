// Settings page logic: API key expiry and status, and the new-user form's checks.
import type { ApiKey } from './types'

export type KeyStatus = 'active' | 'expired' | 'disabled'

/**
 * A key's status: disabled (by someone) wins over expired (its `expiresAt` has passed);
 * the server's `isActive` only reflects disabling.
 */
export function keyStatus(key: Pick<ApiKey, 'isActive' | 'disabledAt' | 'expiresAt'>, now: number = Date.now()): KeyStatus {
  if (!key.isActive || key.disabledAt) return 'disabled'
  if (key.expiresAt) {
    const t = new Date(key.expiresAt).getTime()
    if (!Number.isNaN(t) && t <= now) return 'expired'
  }
  return 'active'
}

export function keyStatusLabel(status: KeyStatus): string {
  return status === 'active' ? 'Active' : status === 'expired' ? 'Expired' : 'Disabled'
}

export type ExpiryResult = { ok: true; value: string | undefined } | { ok: false; error: string }

/**
 * A date input's `YYYY-MM-DD` → the RFC 3339 instant the key stops working: the end of that
 * day in the user's time zone, sent in UTC. Empty means "never expires" (undefined).
 */
export function expiryToRfc3339(date: string, now: number = Date.now()): ExpiryResult {
  const text = date.trim()
  if (!text) return { ok: true, value: undefined }
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (!m) return { ok: false, error: 'Expiry must be a date (YYYY-MM-DD)' }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const end = new Date(y, mo - 1, d, 23, 59, 59, 0)
  if (end.getFullYear() !== y || end.getMonth() !== mo - 1 || end.getDate() !== d) {
    return { ok: false, error: 'Expiry is not a valid date' }
  }
  if (end.getTime() <= now) return { ok: false, error: 'Expiry must be in the future' }
  return { ok: true, value: end.toISOString() }
}

export const MIN_PASSWORD = 8
export const ROLES = ['RegularUser', 'Admin'] as const

export interface NewUser {
  email: string
  name: string
  password: string
  role: string
}

/** The first problem with a new-user form, or null when it can be sent. */
export function newUserError(u: NewUser): string | null {
  if (!/^[^@\s]+@[^@\s]+$/.test(u.email.trim())) return 'Enter an email address'
  if (!u.name.trim()) return 'Enter a name'
  if (u.password.length < MIN_PASSWORD) return `Password must be at least ${MIN_PASSWORD} characters`
  if (!(ROLES as readonly string[]).includes(u.role)) return 'Choose a role'
  return null
}
