// The Pipelines page filters live in the URL: parse them from the query string, write them
// back, and turn them into the internal API's query parameters.
import { PIPELINE_STATUSES, type PipelineStatus } from './types'
import type { QueryValue } from './api'

export const PAGE_SIZES = [10, 20, 50, 100, 200] as const
export const DEFAULT_PAGE_SIZE = 20

/** The relative periods offered, and their length. */
export const PERIODS = {
  '15m': 15 * 60_000,
  '1h': 60 * 60_000,
  '24h': 24 * 60 * 60_000,
  '7d': 7 * 24 * 60 * 60_000,
} as const
export type PeriodKey = keyof typeof PERIODS
export const PERIOD_KEYS = Object.keys(PERIODS) as PeriodKey[]

export const PERIOD_LABELS: Record<PeriodKey, string> = {
  '15m': 'Last 15 minutes',
  '1h': 'Last hour',
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
}

/**
 * A time period over the pipelines' creation (or finish) time:
 * - `any`: no bound;
 * - `relative`: the `last` period up to `at`, the moment it was chosen (a fixed window, kept in
 *   the URL; `at` missing — a hand-written URL — means "up to when the page opened");
 * - `sliding`: the `last` period up to now, moving as time passes;
 * - `absolute`: from / to (either may be open).
 */
export type TimePeriod =
  | { kind: 'any' }
  | { kind: 'relative'; last: PeriodKey; at: string | null }
  | { kind: 'sliding'; last: PeriodKey }
  | { kind: 'absolute'; from: string | null; to: string | null }

/** Which time the period bounds: when the pipeline was created, or when it finished. */
export type TimeField = 'created' | 'finished'

export const ANY_TIME: TimePeriod = { kind: 'any' }

export interface PipelineFilters {
  search: string
  statuses: PipelineStatus[]
  /** `key:value` pairs, each as typed */
  context: string[]
  period: TimePeriod
  timeField: TimeField
  page: number
  pageSize: number
}

export const EMPTY_FILTERS: PipelineFilters = {
  search: '',
  statuses: [],
  context: [],
  period: ANY_TIME,
  timeField: 'created',
  page: 1,
  pageSize: DEFAULT_PAGE_SIZE,
}

function positiveInt(text: string | null, fallback: number): number {
  if (!text || !/^\d+$/.test(text)) return fallback
  const n = Number(text)
  return n >= 1 ? n : fallback
}

export function isContextFilter(text: string): boolean {
  const i = text.indexOf(':')
  return i > 0
}

/** An ISO time normalised to UTC (`…Z`), or null when the text is not a time. */
export function isoOrNull(text: string | null | undefined): string | null {
  if (!text) return null
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? null : new Date(ms).toISOString()
}

function isPeriodKey(text: string | null): text is PeriodKey {
  return text !== null && Object.hasOwn(PERIODS, text)
}

export function periodFromSearch(params: URLSearchParams): TimePeriod {
  const last = params.get('period')
  if (isPeriodKey(last)) {
    if (params.get('sliding') === '1') return { kind: 'sliding', last }
    return { kind: 'relative', last, at: isoOrNull(params.get('at')) }
  }
  const from = isoOrNull(params.get('from'))
  const to = isoOrNull(params.get('to'))
  if (from || to) return { kind: 'absolute', from, to }
  return ANY_TIME
}

function periodToSearch(period: TimePeriod, params: URLSearchParams): void {
  switch (period.kind) {
    case 'relative':
      params.set('period', period.last)
      if (period.at) params.set('at', period.at)
      break
    case 'sliding':
      params.set('period', period.last)
      params.set('sliding', '1')
      break
    case 'absolute':
      if (period.from) params.set('from', period.from)
      if (period.to) params.set('to', period.to)
      break
  }
}

export function filtersFromSearch(params: URLSearchParams): PipelineFilters {
  const statuses = params
    .getAll('status')
    .filter((s): s is PipelineStatus => (PIPELINE_STATUSES as string[]).includes(s))
  const size = positiveInt(params.get('size'), DEFAULT_PAGE_SIZE)
  return {
    search: params.get('q') ?? '',
    statuses: [...new Set(statuses)],
    context: params.getAll('ctx').filter(isContextFilter),
    period: periodFromSearch(params),
    timeField: params.get('on') === 'finished' ? 'finished' : 'created',
    page: positiveInt(params.get('page'), 1),
    pageSize: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
  }
}

/** Only what differs from the defaults goes into the URL. */
export function filtersToSearch(filters: PipelineFilters): URLSearchParams {
  const params = new URLSearchParams()
  if (filters.search.trim()) params.set('q', filters.search.trim())
  for (const s of filters.statuses) params.append('status', s)
  for (const c of filters.context) params.append('ctx', c)
  periodToSearch(filters.period, params)
  if (filters.timeField === 'finished' && filters.period.kind !== 'any') params.set('on', 'finished')
  if (filters.page > 1) params.set('page', String(filters.page))
  if (filters.pageSize !== DEFAULT_PAGE_SIZE) params.set('size', String(filters.pageSize))
  return params
}

/** A sliding window moves in steps of this much (its bounds stay the same between steps). */
export const SLIDE_STEP_MS = 5_000

/**
 * The `[from, to]` bounds (ISO, UTC) of a period at `now` (ms): a sliding window ends at `now`
 * rounded down to the step and has no upper bound, so pipelines created meanwhile still show.
 */
export function periodBounds(period: TimePeriod, now: number): { from?: string; to?: string } {
  switch (period.kind) {
    case 'any':
      return {}
    case 'relative': {
      const at = period.at ? Date.parse(period.at) : now
      return { from: new Date(at - PERIODS[period.last]).toISOString(), to: new Date(at).toISOString() }
    }
    case 'sliding': {
      const end = Math.floor(now / SLIDE_STEP_MS) * SLIDE_STEP_MS
      return { from: new Date(end - PERIODS[period.last]).toISOString() }
    }
    case 'absolute':
      return { from: period.from ?? undefined, to: period.to ?? undefined }
  }
}

/**
 * The query of `GET /api/pipelines`. `now` (ms) places relative periods without an anchor and
 * sliding ones; pass a value that only changes when the window should move.
 */
export function filtersToApi(filters: PipelineFilters, now: number = Date.now()): Record<string, QueryValue> {
  const { from, to } = periodBounds(filters.period, now)
  const [fromName, toName] =
    filters.timeField === 'finished'
      ? ['pipelineEndFrom', 'pipelineEndTo']
      : ['pipelineStartFrom', 'pipelineStartTo']
  const query: Record<string, QueryValue> = {
    pageNumber: filters.page,
    pageSize: filters.pageSize,
    search: filters.search.trim() || undefined,
    statuses: filters.statuses,
    context: filters.context,
  }
  if (from) query[fromName] = from
  if (to) query[toName] = to
  return query
}

/** Any change of a filter (not of the page itself) goes back to page 1. */
export function withFilter(filters: PipelineFilters, change: Partial<PipelineFilters>): PipelineFilters {
  return { ...filters, ...change, page: change.page ?? 1 }
}

/** Whether anything narrows the list (for the empty state and the "Clear filters" link). */
export function isFiltered(filters: PipelineFilters): boolean {
  return (
    filters.search.trim() !== '' ||
    filters.statuses.length > 0 ||
    filters.context.length > 0 ||
    filters.period.kind !== 'any'
  )
}

/** The filters without the page: what a selection is made within. */
export function filterSignature(filters: PipelineFilters): string {
  return filtersToSearch({ ...filters, page: 1, pageSize: DEFAULT_PAGE_SIZE }).toString()
}

const TIME_OPTS: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }

function short(iso: string): string {
  return new Date(iso).toLocaleString(undefined, TIME_OPTS)
}

/** The period as the filter button shows it. */
export function periodLabel(period: TimePeriod): string {
  switch (period.kind) {
    case 'any':
      return 'Any time'
    case 'relative':
      return period.at
        ? `${PERIOD_LABELS[period.last]} (to ${new Date(period.at).toLocaleTimeString()})`
        : PERIOD_LABELS[period.last]
    case 'sliding':
      return `${PERIOD_LABELS[period.last]} (sliding)`
    case 'absolute':
      if (period.from && period.to) return `${short(period.from)} – ${short(period.to)}`
      if (period.from) return `Since ${short(period.from)}`
      return `Until ${short(period.to ?? '')}`
  }
}

/** `<input type="datetime-local">` value (local time, minutes) ↔ ISO (UTC). */
export function toLocalInput(iso: string | null): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}

export function fromLocalInput(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return null
  return isoOrNull(value) // no offset: parsed as local time
}
