import { buildQuery, type RequestOptions } from '../../lib/api'

/** `GET /api/deadletters` (Admin; RabbitMQ mode). */
export interface DeadLetterQueue {
  queue: string
  source: string
  messages: number
}

export interface DeadLetterList {
  enabled: boolean
  queues: DeadLetterQueue[]
}

/** One message of `GET /api/deadletters/messages` (read and put back). */
export interface DeadLetter {
  messageId: string | null
  body: string
  truncated: boolean
  size: number
  reason: string | null
  deadFrom: string | null
  deathCount: number | null
  headers: Record<string, unknown>
}

export type DeadLetterAction = 'resend' | 'discard'

export interface ActionResult {
  queue: string
  target: string | null
  resent?: number
  discarded?: number
}

export const dlqKeys = {
  all: ['deadletters'] as const,
  messages: (queue: string, limit: number) => ['deadletters', 'messages', queue, limit] as const,
}

export const PEEK_LIMIT = 20

export function listPath(): string {
  return '/api/deadletters'
}

export function peekPath(queue: string, limit: number = PEEK_LIMIT): string {
  return `/api/deadletters/messages${buildQuery({ queue, limit })}`
}

/** The request of a re-send or discard: every message unless `count` is given. */
export function actionRequest(
  action: DeadLetterAction,
  queue: string,
  count?: number,
): { path: string; options: RequestOptions } {
  const body: { queue: string; count?: number } = { queue }
  if (count !== undefined) body.count = count
  return { path: `/api/deadletters/${action}`, options: { method: 'POST', body } }
}

/** How many messages an action answered it handled. */
export function actionCount(result: ActionResult): number {
  return result.resent ?? result.discarded ?? 0
}

export function actionSummary(action: DeadLetterAction, result: ActionResult): string {
  const n = actionCount(result)
  const what = `${n} message${n === 1 ? '' : 's'}`
  return action === 'resend' ? `Re-sent ${what} to ${result.target ?? 'the source queue'}` : `Discarded ${what} of ${result.queue}`
}
