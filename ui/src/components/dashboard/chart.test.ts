import { describe, expect, it } from 'vitest'
import {
  bucketSeconds,
  formatTick,
  niceStep,
  polyline,
  rebucket,
  tickFormat,
  tickIndices,
  toChartData,
  xAt,
  yAt,
  yScale,
  type ChartData,
  type Frame,
} from './chart'

const rows = [
  { start: '2026-01-01T00:00:00.000Z', created: 1, completed: 0, failed: 0 },
  { start: '2026-01-01T01:00:00.000Z', created: 3, completed: 2, failed: 1 },
  { start: '2026-01-01T02:00:00.000Z', created: 0, completed: 1, failed: 0 },
  { start: '2026-01-01T03:00:00.000Z', created: 5, completed: 4, failed: 2 },
  { start: '2026-01-01T04:00:00.000Z', created: 2, completed: 2, failed: 0 },
]
const specs = [
  { key: 'created' as const, label: 'Started', color: 'blue' },
  { key: 'failed' as const, label: 'Failed', color: 'red' },
]

describe('chart data', () => {
  it('takes one series per spec from the API rows, oldest first', () => {
    const d = toChartData(rows, (r) => r.start, specs)
    expect(d.starts).toHaveLength(5)
    expect(d.series.map((s) => [s.key, s.values])).toEqual([
      ['created', [1, 3, 0, 5, 2]],
      ['failed', [0, 1, 0, 2, 0]],
    ])
  })

  it('reads the bucket width from the starts', () => {
    expect(bucketSeconds(rows.map((r) => r.start))).toBe(3600)
    expect(bucketSeconds(['2026-01-01T00:00:00Z'])).toBe(0)
  })
})

describe('rebucket', () => {
  const d = toChartData(rows, (r) => r.start, specs)

  it('leaves data that fits alone', () => {
    expect(rebucket(d, 5)).toBe(d)
  })

  it('sums consecutive buckets so the totals stay exact', () => {
    const r = rebucket(d, 2) // groups of 3: [0..2], [3..4]
    expect(r.starts).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T03:00:00.000Z'])
    expect(r.series[0]!.values).toEqual([4, 7])
    expect(r.series[1]!.values).toEqual([1, 2])
    const total = (c: ChartData) => c.series.map((s) => s.values.reduce((a, b) => a + b, 0))
    expect(total(r)).toEqual(total(d))
  })

  it('caps the points of a long range (7 days by the hour → ≤ 100 points)', () => {
    const starts = Array.from({ length: 169 }, (_, i) => new Date(Date.UTC(2026, 0, 1) + i * 3600_000).toISOString())
    const long: ChartData = { starts, series: [{ key: 'x', label: 'x', color: 'c', values: starts.map(() => 1) }] }
    const r = rebucket(long, 100)
    expect(r.starts.length).toBeLessThanOrEqual(100)
    expect(r.series[0]!.values.reduce((a, b) => a + b, 0)).toBe(169)
    expect(bucketSeconds(r.starts)).toBe(2 * 3600)
  })
})

describe('y axis', () => {
  it('picks 1, 2 or 5 × 10^k steps', () => {
    expect(niceStep(0.7)).toBe(1)
    expect(niceStep(1.2)).toBe(2)
    expect(niceStep(3)).toBe(5)
    expect(niceStep(7)).toBe(10)
    expect(niceStep(0.3)).toBe(0.5)
    expect(niceStep(0.1 + 0.2)).toBe(0.5)
    expect(niceStep(450)).toBe(500)
  })

  it('counts step by whole numbers and end at a round top', () => {
    expect(yScale(0)).toEqual({ top: 1, ticks: [0, 1] })
    expect(yScale(3)).toEqual({ top: 3, ticks: [0, 1, 2, 3] })
    expect(yScale(7)).toEqual({ top: 8, ticks: [0, 2, 4, 6, 8] })
    expect(yScale(100)).toEqual({ top: 100, ticks: [0, 50, 100] })
    expect(yScale(101)).toEqual({ top: 150, ticks: [0, 50, 100, 150] })
  })

  it('non-integer values may step by fractions', () => {
    expect(yScale(0.8, 4, false)).toEqual({ top: 0.8, ticks: [0, 0.2, 0.4, 0.6, 0.8] })
  })
})

describe('x axis', () => {
  it('labels at most `max` evenly spaced points', () => {
    expect(tickIndices(0)).toEqual([])
    expect(tickIndices(4, 6)).toEqual([0, 1, 2, 3])
    expect(tickIndices(61, 7)).toEqual([0, 10, 20, 30, 40, 50, 60])
    expect(tickIndices(25, 7)).toEqual([0, 4, 8, 12, 16, 20, 24])
  })

  it('formats by bucket width and span', () => {
    expect(tickFormat(86400, 30 * 86400)).toEqual({ month: 'short', day: 'numeric' })
    expect(tickFormat(3600, 7 * 86400)).toHaveProperty('weekday', 'short')
    expect(tickFormat(60, 3600)).not.toHaveProperty('weekday')
    expect(formatTick('2026-03-04T05:06:00Z', tickFormat(60, 3600), 'en-GB', 'UTC')).toBe('05:06')
    expect(formatTick('2026-03-04T00:00:00Z', tickFormat(86400, 30 * 86400), 'en-US', 'UTC')).toBe('Mar 4')
    expect(formatTick('not a date', {})).toBe('not a date')
  })
})

describe('geometry', () => {
  const f: Frame = { width: 110, height: 60, left: 10, right: 0, top: 10, bottom: 0 }

  it('spreads points across the plot, one point in the middle', () => {
    expect(xAt(0, 3, f)).toBe(10)
    expect(xAt(2, 3, f)).toBe(110)
    expect(xAt(0, 1, f)).toBe(60)
  })

  it('maps 0..top to the bottom..top of the plot, clamped', () => {
    expect(yAt(0, 10, f)).toBe(60)
    expect(yAt(10, 10, f)).toBe(10)
    expect(yAt(5, 10, f)).toBe(35)
    expect(yAt(20, 10, f)).toBe(10)
    expect(yAt(-1, 10, f)).toBe(60)
  })

  it('builds the polyline points', () => {
    expect(polyline([0, 10, 5], 10, f)).toBe('10,60 60,10 110,35')
  })
})
