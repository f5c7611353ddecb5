// The Pipelines page filters live in the URL: parse them from the query string, write them
// back, and turn them into the internal API's query parameters.
import { PIPELINE_STATUSES, type PipelineStatus } from './types'
import type { QueryValue } from './api'

export const PAGE_SIZES = [10, 20, 50, 100, 200] as const
export const DEFAULT_PAGE_SIZE = 20

export interface PipelineFilters {
  search: string
  statuses: PipelineStatus[]
  /** `key:value` pairs, each as typed */
  context: string[]
  page: number
  pageSize: number
}

export const EMPTY_FILTERS: PipelineFilters = {
  search: '',
  statuses: [],
  context: [],
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

export function filtersFromSearch(params: URLSearchParams): PipelineFilters {
  const statuses = params
    .getAll('status')
    .filter((s): s is PipelineStatus => (PIPELINE_STATUSES as string[]).includes(s))
  const size = positiveInt(params.get('size'), DEFAULT_PAGE_SIZE)
  return {
    search: params.get('q') ?? '',
    statuses: [...new Set(statuses)],
    context: params.getAll('ctx').filter(isContextFilter),
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
  if (filters.page > 1) params.set('page', String(filters.page))
  if (filters.pageSize !== DEFAULT_PAGE_SIZE) params.set('size', String(filters.pageSize))
  return params
}

/** The query of `GET /api/pipelines`. */
export function filtersToApi(filters: PipelineFilters): Record<string, QueryValue> {
  return {
    pageNumber: filters.page,
    pageSize: filters.pageSize,
    search: filters.search.trim() || undefined,
    statuses: filters.statuses,
    context: filters.context,
  }
}

/** Any change of a filter (not of the page itself) goes back to page 1. */
export function withFilter(filters: PipelineFilters, change: Partial<PipelineFilters>): PipelineFilters {
  return { ...filters, ...change, page: change.page ?? 1 }
}
