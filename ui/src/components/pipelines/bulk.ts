// Selection on the Pipelines table and the bulk actions on it: what each action will do to the
// selected pipelines (the confirmation says it before anything is sent), and what the bulk
// routes answered (per item) turned into one toast.
import type { ToastInput } from '../toast'
import { statusLabel } from '../../lib/status'
import type { Pipeline } from '../../lib/types'

// -- selection ---------------------------------------------------------------------------------

export type PageSelection = 'none' | 'some' | 'all'

/** How much of the visible page is selected (the header checkbox: off, mixed, on). */
export function pageSelection(selected: ReadonlySet<number>, pageIds: readonly number[]): PageSelection {
  const n = pageIds.filter((id) => selected.has(id)).length
  if (n === 0) return 'none'
  return n === pageIds.length ? 'all' : 'some'
}

/** The header checkbox: select every row of the page, or (when all are) unselect them. */
export function toggleAllOnPage(selected: ReadonlySet<number>, pageIds: readonly number[]): Set<number> {
  const next = new Set(selected)
  if (pageSelection(selected, pageIds) === 'all') for (const id of pageIds) next.delete(id)
  else for (const id of pageIds) next.add(id)
  return next
}

export function toggleOne(selected: ReadonlySet<number>, id: number): Set<number> {
  const next = new Set(selected)
  if (next.has(id)) next.delete(id)
  else next.add(id)
  return next
}

// -- plans -------------------------------------------------------------------------------------

export type BulkKind = 'cancel' | 'rerunFailed'

export interface BulkTarget {
  pipelineId: number
  /** what the route is given: the pipeline id (cancel) or the failed stage's id (rerun) */
  id: number
  /** what is done to it, for the confirmation */
  what: string
}

export interface BulkSkip {
  pipelineId: number
  reason: string
}

export interface BulkPlan {
  kind: BulkKind
  targets: BulkTarget[]
  /** selected pipelines the action does not apply to (not sent) */
  skipped: BulkSkip[]
}

const UNFINISHED = new Set(['NotStarted', 'Running'])
const BUSY_STAGE = new Set(['Pending', 'Running'])

/** What `kind` does to each selected pipeline, decided from what the table shows. */
export function planBulk(kind: BulkKind, pipelines: readonly Pipeline[]): BulkPlan {
  const plan: BulkPlan = { kind, targets: [], skipped: [] }
  for (const p of [...pipelines].sort((a, b) => a.id - b.id)) {
    if (kind === 'cancel') {
      if (UNFINISHED.has(p.status)) plan.targets.push({ pipelineId: p.id, id: p.id, what: `cancel "${p.name}"` })
      else plan.skipped.push({ pipelineId: p.id, reason: `already ${statusLabel(p.status).toLowerCase()}` })
      continue
    }
    const failed = p.stages.find((s) => s.status === 'Failed')
    if (!failed) plan.skipped.push({ pipelineId: p.id, reason: 'no failed stage' })
    else if (p.stages.some((s) => BUSY_STAGE.has(s.status)))
      plan.skipped.push({ pipelineId: p.id, reason: 'a stage is still running' })
    else plan.targets.push({ pipelineId: p.id, id: failed.id, what: `rerun stage "${failed.name}"` })
  }
  return plan
}

export const BULK_TEXT: Record<BulkKind, { title: string; confirm: string; done: string; effect: string }> = {
  cancel: {
    title: 'Cancel pipelines',
    confirm: 'Cancel pipelines',
    done: 'Cancelled',
    effect: 'Every unfinished stage becomes Cancelled; workers holding its jobs are told on ack.',
  },
  rerunFailed: {
    title: 'Rerun failed stages',
    confirm: 'Rerun failed stages',
    done: 'Rerun',
    effect: 'Each failed stage returns to NotStarted with a fresh attempt counter and runs again; its pipeline reopens and continues after it.',
  },
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** One line for the confirmation: what will happen, and to how many. */
export function planSummary(plan: BulkPlan): string {
  const n = plan.targets.length
  const head =
    plan.kind === 'cancel'
      ? `${plural(n, 'pipeline')} will be cancelled.`
      : `The failed stage of ${plural(n, 'pipeline')} will run again.`
  if (!plan.skipped.length) return head
  return `${head} ${plural(plan.skipped.length, 'selected pipeline')} ${plan.skipped.length === 1 ? 'is' : 'are'} left as ${plan.skipped.length === 1 ? 'it is' : 'they are'}.`
}

// -- results -----------------------------------------------------------------------------------

/** One item of a bulk route's answer: `{results: [{id, status, message?}]}`. */
export interface BulkItemResult {
  id: number
  status: number
  message?: string
}

export interface BulkOutcome {
  succeeded: number[]
  failed: { pipelineId: number; reason: string }[]
  skipped: BulkSkip[]
}

/** Match the answer (by the id sent) back to the pipelines; an item not answered failed. */
export function bulkOutcome(plan: BulkPlan, results: readonly BulkItemResult[]): BulkOutcome {
  const byId = new Map(results.map((r) => [r.id, r]))
  const outcome: BulkOutcome = { succeeded: [], failed: [], skipped: plan.skipped }
  for (const t of plan.targets) {
    const r = byId.get(t.id)
    if (r && r.status >= 200 && r.status < 300) outcome.succeeded.push(t.pipelineId)
    else outcome.failed.push({ pipelineId: t.pipelineId, reason: r ? (r.message ?? `HTTP ${r.status}`) : 'no answer' })
  }
  return outcome
}

/** The toast: counts of succeeded and failed, and why each failure failed. */
export function outcomeToast(kind: BulkKind, outcome: BulkOutcome): ToastInput {
  const ok = outcome.succeeded.length
  const bad = outcome.failed.length
  const noun = kind === 'cancel' ? 'pipeline' : 'failed stage'
  const title = bad
    ? `${BULK_TEXT[kind].done} ${ok} of ${ok + bad} ${noun}${ok + bad === 1 ? '' : 's'}; ${bad} failed`
    : `${BULK_TEXT[kind].done} ${plural(ok, noun)}`
  const lines = outcome.failed.map((f) => `#${f.pipelineId}: ${f.reason}`)
  if (outcome.skipped.length) lines.push(`${plural(outcome.skipped.length, 'pipeline')} not sent (${skipReasons(outcome.skipped)})`)
  return { title, description: lines.length ? lines.join(' · ') : undefined, variant: bad ? 'error' : 'success' }
}

function skipReasons(skipped: readonly BulkSkip[]): string {
  const counts = new Map<string, number>()
  for (const s of skipped) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1)
  return [...counts].map(([reason, n]) => `${n} ${reason}`).join(', ')
}
