import { cleanup, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { TimePeriod } from '../../lib/filters'
import { PeriodFilter } from './PeriodFilter'

afterEach(cleanup)

function open(period: TimePeriod) {
  const onChange = vi.fn()
  render(<PeriodFilter period={period} field="created" onChange={onChange} />)
  fireEvent.click(screen.getByTestId('period-filter'))
  return onChange
}

describe('the time period filter', () => {
  it('a relative period is anchored when chosen; the sliding box turns it into a moving one', () => {
    const before = Date.now()
    const onChange = open({ kind: 'any' })
    expect((screen.getByTestId('period-sliding') as HTMLInputElement).disabled).toBe(true)
    fireEvent.click(screen.getByTestId('period-option-1h'))
    const period = onChange.mock.calls[0]![0].period
    expect(period).toMatchObject({ kind: 'relative', last: '1h' })
    expect(Date.parse(period.at)).toBeGreaterThanOrEqual(before)
  })

  it('sliding on and off', () => {
    let onChange = open({ kind: 'relative', last: '24h', at: '2026-01-01T00:00:00.000Z' })
    fireEvent.click(screen.getByTestId('period-sliding'))
    expect(onChange).toHaveBeenLastCalledWith({ period: { kind: 'sliding', last: '24h' } })
    cleanup()
    onChange = open({ kind: 'sliding', last: '15m' })
    fireEvent.click(screen.getByTestId('period-sliding'))
    expect(onChange.mock.lastCall![0].period).toMatchObject({ kind: 'relative', last: '15m' })
  })

  it('an absolute bound applies once it is a whole time; clearing both means any time', () => {
    const onChange = open({ kind: 'absolute', from: null, to: '2026-02-01T00:00:00.000Z' })
    fireEvent.change(screen.getByTestId('period-from'), { target: { value: '2026-01-31T08:15' } })
    const period = onChange.mock.lastCall![0].period
    expect(period.kind).toBe('absolute')
    expect(period.to).toBe('2026-02-01T00:00:00.000Z')
    expect(new Date(period.from).getHours()).toBe(8)
    cleanup()
    const again = open({ kind: 'absolute', from: null, to: '2026-02-01T00:00:00.000Z' })
    fireEvent.change(screen.getByTestId('period-to'), { target: { value: '' } })
    expect(again).toHaveBeenLastCalledWith({ period: { kind: 'any' } })
  })

  it('switches the time it bounds', () => {
    const onChange = open({ kind: 'sliding', last: '1h' })
    fireEvent.click(screen.getByRole('radio', { name: 'Finished' }))
    expect(onChange).toHaveBeenLastCalledWith({ timeField: 'finished' })
  })
})
