import { describe, expect, it } from 'vitest'
import { buildQuery } from './api'
import { EMPTY_FILTERS, filtersFromSearch, filtersToApi, filtersToSearch, withFilter } from './filters'

describe('pipeline filters ↔ URL', () => {
  it('reads every filter from the query string', () => {
    const f = filtersFromSearch(
      new URLSearchParams('q=order&status=Failed&status=Running&ctx=customer:acme&ctx=region:eu&page=3&size=50'),
    )
    expect(f).toEqual({
      search: 'order',
      statuses: ['Failed', 'Running'],
      context: ['customer:acme', 'region:eu'],
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
    const f = { search: ' x ', statuses: ['Completed' as const], context: ['a:b'], page: 2, pageSize: 100 }
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
