import { describe, expect, it } from 'vitest'
import { buildQuery } from './api'
import {
  EMPTY_FILTERS,
  filterSignature,
  filtersFromSearch,
  filtersToApi,
  filtersToSearch,
  fromLocalInput,
  isFiltered,
  periodBounds,
  toLocalInput,
  withFilter,
  type PipelineFilters,
} from './filters'

describe('pipeline filters ↔ URL', () => {
  it('reads every filter from the query string', () => {
    const f = filtersFromSearch(
      new URLSearchParams('q=order&status=Failed&status=Running&ctx=customer:acme&ctx=region:eu&page=3&size=50'),
    )
    expect(f).toEqual({
      search: 'order',
      statuses: ['Failed', 'Running'],
      context: ['customer:acme', 'region:eu'],
      period: { kind: 'any' },
      timeField: 'created',
      page: 3,
      pageSize: 50,
    })
  })

  it('ignores what is not valid', () => {
    const f = filtersFromSearch(new URLSearchParams('status=Bogus&status=Failed&status=Failed&ctx=nokey&ctx=:v&page=-2&size=7'))
    expect(f).toEqual({ ...EMPTY_FILTERS, statuses: ['Failed'] })
  })

  it('writes only what differs from the defaults', () => {
    expect(filtersToSearch(EMPTY_FILTERS).toString()).toBe('')
    const f: PipelineFilters = { ...EMPTY_FILTERS, search: ' x ', statuses: ['Completed'], context: ['a:b'], page: 2, pageSize: 100 }
    expect(filtersToSearch(f).toString()).toBe('q=x&status=Completed&ctx=a%3Ab&page=2&size=100')
  })

  it('round-trips', () => {
    const text = 'q=demo&status=Cancelled&ctx=k%3Av%3Aw&page=4&size=10'
    expect(filtersToSearch(filtersFromSearch(new URLSearchParams(text))).toString()).toBe(text)
  })

  it('maps to the API query parameters', () => {
    const f = filtersFromSearch(new URLSearchParams('q=demo&status=Failed&ctx=customer:acme&page=2&size=50'))
    expect(filtersToApi(f)).toEqual({
      pageNumber: 2,
      pageSize: 50,
      search: 'demo',
      statuses: ['Failed'],
      context: ['customer:acme'],
    })
    expect(buildQuery(filtersToApi(f))).toBe(
      '?pageNumber=2&pageSize=50&search=demo&statuses=Failed&context=customer%3Aacme',
    )
    expect(buildQuery(filtersToApi(EMPTY_FILTERS))).toBe('?pageNumber=1&pageSize=20')
  })

  it('a filter change goes back to page 1, a page change does not', () => {
    const f = { ...EMPTY_FILTERS, page: 5 }
    expect(withFilter(f, { statuses: ['Failed'] }).page).toBe(1)
    expect(withFilter(f, { page: 6 }).page).toBe(6)
  })
})

describe('time period ↔ URL ↔ query parameters', () => {
  const NOW = Date.parse('2026-03-01T12:00:07.250Z')

  it('reads a relative period with its anchor, a sliding one, an absolute range', () => {
    expect(filtersFromSearch(new URLSearchParams('period=1h&at=2026-03-01T11:00:00Z')).period).toEqual({
      kind: 'relative',
      last: '1h',
      at: '2026-03-01T11:00:00.000Z',
    })
    expect(filtersFromSearch(new URLSearchParams('period=15m')).period).toEqual({ kind: 'relative', last: '15m', at: null })
    expect(filtersFromSearch(new URLSearchParams('period=7d&sliding=1')).period).toEqual({ kind: 'sliding', last: '7d' })
    expect(filtersFromSearch(new URLSearchParams('from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00%2B01:00')).period).toEqual({
      kind: 'absolute',
      from: '2026-02-01T00:00:00.000Z',
      to: '2026-02-01T23:00:00.000Z',
    })
    expect(filtersFromSearch(new URLSearchParams('to=2026-02-02T00:00:00Z')).period).toEqual({
      kind: 'absolute',
      from: null,
      to: '2026-02-02T00:00:00.000Z',
    })
  })

  it('ignores an unknown period and times that are not times', () => {
    expect(filtersFromSearch(new URLSearchParams('period=3w&from=yesterday&to=')).period).toEqual({ kind: 'any' })
    expect(filtersFromSearch(new URLSearchParams('period=1h&at=soon')).period).toEqual({ kind: 'relative', last: '1h', at: null })
    expect(filtersFromSearch(new URLSearchParams('on=bogus')).timeField).toBe('created')
  })

  it('writes the period back and round-trips', () => {
    for (const text of [
      'period=1h&at=2026-03-01T11%3A00%3A00.000Z',
      'period=24h&sliding=1',
      'from=2026-02-01T00%3A00%3A00.000Z&to=2026-02-02T00%3A00%3A00.000Z&on=finished',
      'status=Failed&period=15m&at=2026-03-01T11%3A00%3A00.000Z&page=2',
    ]) {
      expect(filtersToSearch(filtersFromSearch(new URLSearchParams(text))).toString()).toBe(text)
    }
    // "finished" means nothing without a period
    expect(filtersToSearch({ ...EMPTY_FILTERS, timeField: 'finished' }).toString()).toBe('')
  })

  it('a relative period is the window up to its anchor (or to now without one)', () => {
    const f = filtersFromSearch(new URLSearchParams('period=1h&at=2026-03-01T11:30:00Z'))
    expect(filtersToApi(f, NOW)).toEqual({
      pageNumber: 1,
      pageSize: 20,
      search: undefined,
      statuses: [],
      context: [],
      pipelineStartFrom: '2026-03-01T10:30:00.000Z',
      pipelineStartTo: '2026-03-01T11:30:00.000Z',
    })
    expect(periodBounds({ kind: 'relative', last: '15m', at: null }, NOW)).toEqual({
      from: '2026-03-01T11:45:07.250Z',
      to: '2026-03-01T12:00:07.250Z',
    })
  })

  it('a sliding period has no upper bound and moves in steps', () => {
    const f = filtersFromSearch(new URLSearchParams('period=24h&sliding=1&status=Failed'))
    expect(buildQuery(filtersToApi(f, NOW))).toBe(
      '?pageNumber=1&pageSize=20&statuses=Failed&pipelineStartFrom=2026-02-28T12%3A00%3A05.000Z',
    )
    // the same window within a step (a stable query key), the next one after it
    expect(filtersToApi(f, NOW + 2_000)).toEqual(filtersToApi(f, NOW))
    expect(filtersToApi(f, NOW + 5_000).pipelineStartFrom).toBe('2026-02-28T12:00:10.000Z')
  })

  it('an absolute range maps as is; "finished" uses the end parameters', () => {
    const f = filtersFromSearch(new URLSearchParams('from=2026-02-01T00:00:00Z&on=finished'))
    expect(filtersToApi(f, NOW)).toMatchObject({ pipelineEndFrom: '2026-02-01T00:00:00.000Z' })
    expect(filtersToApi(f, NOW)).not.toHaveProperty('pipelineEndTo')
    expect(filtersToApi(f, NOW)).not.toHaveProperty('pipelineStartFrom')
    const sliding = filtersFromSearch(new URLSearchParams('period=15m&sliding=1&on=finished'))
    expect(filtersToApi(sliding, NOW)).toMatchObject({ pipelineEndFrom: '2026-03-01T11:45:05.000Z' })
    expect(filtersToApi(EMPTY_FILTERS, NOW)).not.toHaveProperty('pipelineStartFrom')
  })

  it('a period change goes back to page 1 and counts as a filter; the signature ignores the page', () => {
    const f = { ...EMPTY_FILTERS, page: 4 }
    const g = withFilter(f, { period: { kind: 'sliding', last: '1h' } })
    expect(g.page).toBe(1)
    expect(isFiltered(f)).toBe(false)
    expect(isFiltered(g)).toBe(true)
    expect(filterSignature({ ...g, page: 7, pageSize: 50 })).toBe(filterSignature(g))
    expect(filterSignature(g)).not.toBe(filterSignature(f))
  })

  it('datetime-local values are local times', () => {
    const iso = fromLocalInput('2026-02-01T09:30')!
    expect(new Date(iso).getHours()).toBe(9)
    expect(new Date(iso).getMinutes()).toBe(30)
    expect(toLocalInput(iso)).toBe('2026-02-01T09:30')
    expect(fromLocalInput('')).toBeNull()
    expect(fromLocalInput('2026-02-01')).toBeNull()
    expect(toLocalInput(null)).toBe('')
  })
})
