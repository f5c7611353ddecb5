// The Dashboard's live activity feed: each `/ws` pipeline frame, compared with the last frame
// of the same pipeline, becomes one line saying what changed.
import { statusLabel } from '../../lib/status'
import type { Pipeline, Stage } from '../../lib/types'

export type ActivityTone = 'info' | 'success' | 'error' | 'warn'

export interface ActivityItem {
  /** unique within a feed */
  key: string
  /** when the frame arrived (ms since the epoch) */
  at: number
  pipelineId: number
  pipelineName: string
  scope: 'pipeline' | 'stage'
  /** the status the line is about (the pipeline's or the stage's) */
  status: string
  tone: ActivityTone
  text: string
}

export interface ActivityState {
  items: ActivityItem[]
  /** the last frame seen of each pipeline (bounded), to tell what changed */
  last: Map<number, Pipeline>
  seq: number
}

export const EMPTY_ACTIVITY: ActivityState = { items: [], last: new Map(), seq: 0 }

const TONE: Record<string, ActivityTone> = {
  Completed: 'success',
  Failed: 'error',
  RetryScheduled: 'warn',
  Cancelled: 'warn',
  Skipped: 'warn',
}

export function toneOf(status: string): ActivityTone {
  return TONE[status] ?? 'info'
}

const FINISHED = new Set(['Completed', 'Failed', 'Cancelled'])

function stageText(s: Stage): string {
  const attempt = s.attempt > 1 && s.status !== 'NotStarted' ? ` (attempt ${s.attempt})` : ''
  const wait = s.waitReason && s.status !== 'Running' ? ` — ${s.waitReason}` : ''
  return `stage ${s.name}: ${statusLabel(s.status)}${attempt}${wait}`
}

/** The stage a pipeline is at: the last one that has left NotStarted (or the first). */
function currentStage(p: Pipeline): Stage | undefined {
  let current: Stage | undefined
  for (const s of p.stages) if (s.status !== 'NotStarted') current = s
  return current ?? p.stages[0]
}

export interface Change {
  /** a line about the whole pipeline, or about one of its stages */
  scope: 'pipeline' | 'stage'
  status: string
  text: string
}

/**
 * What one frame says, given the previous frame of the same pipeline (if any). Null when
 * nothing a reader would notice changed (same statuses, attempts and wait reasons).
 */
export function describeChange(prev: Pipeline | undefined, next: Pipeline): Change | null {
  const pipelineLine = (): Change => ({
    scope: 'pipeline',
    status: next.status,
    text: `pipeline ${statusLabel(next.status).toLowerCase()}`,
  })
  if (prev) {
    // NotStarted → Running is told by its first stage being dispatched
    if (prev.status !== next.status && next.status !== 'Running') return pipelineLine()
    const before = new Map(prev.stages.map((s) => [s.id, s]))
    const changed = next.stages.filter((s) => {
      const b = before.get(s.id)
      return (
        !b || b.status !== s.status || b.attempt !== s.attempt || (b.waitReason ?? null) !== (s.waitReason ?? null)
      )
    })
    if (changed.length === 0) return prev.status === next.status ? null : pipelineLine()
    // several at once (one completes, the next is dispatched): the furthest along
    const s = changed[changed.length - 1]!
    return { scope: 'stage', status: s.status, text: stageText(s) }
  }
  if (FINISHED.has(next.status)) return pipelineLine()
  const [first, ...rest] = next.stages
  const fresh =
    rest.every((s) => s.status === 'NotStarted') &&
    (!first || first.status === 'NotStarted' || (first.status === 'Pending' && first.attempt <= 1))
  if (fresh) {
    const n = next.stages.length
    return { scope: 'pipeline', status: next.status, text: `pipeline started (${n} stage${n === 1 ? '' : 's'})` }
  }
  const s = currentStage(next)
  return s ? { scope: 'stage', status: s.status, text: stageText(s) } : pipelineLine()
}

const NOTABLE_STAGE = new Set(['Failed', 'RetryScheduled', 'Skipped', 'Cancelled'])

/** Lines worth seeing when the feed shows "notable only": pipeline lines and stage trouble. */
export function isNotable(item: Pick<ActivityItem, 'scope' | 'status'>): boolean {
  return item.scope === 'pipeline' || NOTABLE_STAGE.has(item.status)
}

export const MAX_ITEMS = 50
const MAX_TRACKED = 500

/** The feed after one frame: newest first, at most `max` lines. */
export function pushFrame(state: ActivityState, p: Pipeline, now: number, max = MAX_ITEMS): ActivityState {
  const prev = state.last.get(p.id)
  const change = describeChange(prev, p)
  const last = new Map(state.last)
  last.delete(p.id) // re-insert: the Map keeps the most recently seen last
  last.set(p.id, p)
  while (last.size > MAX_TRACKED) last.delete(last.keys().next().value as number)
  if (!change) return { ...state, last }
  const seq = state.seq + 1
  const item: ActivityItem = {
    key: `${p.id}-${seq}`,
    at: now,
    pipelineId: p.id,
    pipelineName: p.name,
    scope: change.scope,
    status: change.status,
    tone: toneOf(change.status),
    text: change.text,
  }
  return { items: [item, ...state.items].slice(0, max), last, seq }
}
