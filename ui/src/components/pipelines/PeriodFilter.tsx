import * as Popover from '@radix-ui/react-popover'
import { useEffect, useState } from 'react'
import {
  ANY_TIME,
  PERIOD_KEYS,
  PERIOD_LABELS,
  fromLocalInput,
  periodLabel,
  toLocalInput,
  type PeriodKey,
  type TimeField,
  type TimePeriod,
} from '../../lib/filters'
import { Segmented } from '../dashboard/QueryView'

interface Props {
  period: TimePeriod
  field: TimeField
  onChange: (change: { period?: TimePeriod; timeField?: TimeField }) => void
}

const FIELDS = [
  { value: 'created', label: 'Created' },
  { value: 'finished', label: 'Finished' },
] as const

/**
 * The time period of the Pipelines table: relative (a fixed window ending when chosen), sliding
 * (ending now, moving while the page is open) or an absolute range; each change applies at once.
 */
export function PeriodFilter({ period, field, onChange }: Props) {
  const sliding = period.kind === 'sliding'
  const last: PeriodKey | null = period.kind === 'relative' || period.kind === 'sliding' ? period.last : null
  const choose = (key: PeriodKey, slide = sliding) =>
    onChange({ period: slide ? { kind: 'sliding', last: key } : { kind: 'relative', last: key, at: new Date().toISOString() } })

  // the absolute inputs keep what is typed until it is a time
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  const absFrom = period.kind === 'absolute' ? period.from : null
  const absTo = period.kind === 'absolute' ? period.to : null
  useEffect(() => {
    setFrom(toLocalInput(absFrom))
    setTo(toLocalInput(absTo))
  }, [absFrom, absTo])
  const setBound = (which: 'from' | 'to', value: string) => {
    if (which === 'from') setFrom(value)
    else setTo(value)
    const iso = value ? fromLocalInput(value) : null
    if (value && !iso) return // not a whole time yet
    const current = period.kind === 'absolute' ? period : { from: null, to: null }
    const next = { from: current.from, to: current.to, [which]: iso }
    onChange({ period: next.from || next.to ? { kind: 'absolute', from: next.from, to: next.to } : ANY_TIME })
  }

  return (
    <Popover.Root>
      <Popover.Trigger asChild>
        <button className="btn" data-testid="period-filter" data-kind={period.kind}>
          {period.kind === 'any' ? 'Any time' : `${field === 'finished' ? 'Finished' : 'Created'}: ${periodLabel(period)}`} ▾
        </button>
      </Popover.Trigger>
      <Popover.Portal>
        <Popover.Content
          align="start"
          sideOffset={4}
          data-testid="period-popover"
          className="z-50 w-80 space-y-3 rounded-md border border-slate-200 bg-white p-3 text-sm shadow-lg dark:border-slate-700 dark:bg-slate-900"
        >
          <div className="flex items-center justify-between gap-2">
            <span className="text-xs uppercase tracking-wide text-slate-500">Time of</span>
            <Segmented
              label="Time of"
              testId="period-field"
              value={field}
              options={FIELDS}
              onChange={(v) => onChange({ timeField: v })}
            />
          </div>
          <div>
            <div className="mb-1 text-xs uppercase tracking-wide text-slate-500">Relative</div>
            <div className="grid grid-cols-2 gap-1">
              {PERIOD_KEYS.map((key) => (
                <button
                  key={key}
                  type="button"
                  data-testid={`period-option-${key}`}
                  aria-pressed={last === key}
                  onClick={() => choose(key)}
                  className={`rounded px-2 py-1 text-left ${
                    last === key
                      ? 'bg-blue-600 text-white'
                      : 'hover:bg-slate-100 dark:hover:bg-slate-800'
                  }`}
                >
                  {PERIOD_LABELS[key]}
                </button>
              ))}
            </div>
            <label className="mt-2 flex items-center gap-2">
              <input
                type="checkbox"
                data-testid="period-sliding"
                checked={sliding}
                disabled={last === null}
                onChange={(e) => last && choose(last, e.target.checked)}
              />
              Sliding: keep moving with the clock
            </label>
            {period.kind === 'relative' && (
              <button
                type="button"
                data-testid="period-refresh"
                className="mt-1 text-xs text-blue-600 hover:underline dark:text-blue-400"
                onClick={() => choose(period.last, false)}
              >
                Move the window to now
              </button>
            )}
          </div>
          <div>
            <div className="mb-1 text-xs uppercase tracking-wide text-slate-500">Absolute range</div>
            <div className="grid grid-cols-[3rem_1fr] items-center gap-1">
              <label htmlFor="period-from">From</label>
              <input
                id="period-from"
                type="datetime-local"
                data-testid="period-from"
                className="input py-1"
                value={from}
                onChange={(e) => setBound('from', e.target.value)}
              />
              <label htmlFor="period-to">To</label>
              <input
                id="period-to"
                type="datetime-local"
                data-testid="period-to"
                className="input py-1"
                value={to}
                onChange={(e) => setBound('to', e.target.value)}
              />
            </div>
          </div>
          {period.kind !== 'any' && (
            <button
              type="button"
              data-testid="period-any"
              className="text-xs text-blue-600 hover:underline dark:text-blue-400"
              onClick={() => onChange({ period: ANY_TIME })}
            >
              Any time (clear)
            </button>
          )}
        </Popover.Content>
      </Popover.Portal>
    </Popover.Root>
  )
}
