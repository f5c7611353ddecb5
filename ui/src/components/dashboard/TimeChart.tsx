import { useEffect, useMemo, useRef, useState } from 'react'
import {
  bucketSeconds,
  formatTick,
  polyline,
  rebucket,
  seriesMax,
  tickFormat,
  tickIndices,
  xAt,
  yAt,
  yScale,
  type ChartData,
  type Frame,
} from './chart'

export const COLORS = {
  blue: '#3b82f6',
  green: '#22c55e',
  red: '#ef4444',
  amber: '#f59e0b',
  violet: '#8b5cf6',
  slate: '#94a3b8',
}

interface Props {
  data: ChartData
  /** what the chart shows, for screen readers */
  label: string
  height?: number
  /** values are counts (whole-number axis) */
  integer?: boolean
  maxPoints?: number
  /** the legend's figure for a series (default: its total) */
  legendValue?: (values: number[]) => string
  /** how a point's time is labelled (default: from the bucket width) */
  timeFormat?: Intl.DateTimeFormatOptions
  formatValue?: (v: number) => string
  testId?: string
}

const DEFAULT_WIDTH = 800

/** The element's width in CSS pixels, followed as it resizes (the default until measured). */
function useWidth<E extends HTMLElement>(fallback: number): [React.RefObject<E | null>, number] {
  const ref = useRef<E>(null)
  const [width, setWidth] = useState(fallback)
  useEffect(() => {
    const el = ref.current
    if (!el || typeof ResizeObserver === 'undefined') return
    const measure = () => {
      const w = Math.round(el.getBoundingClientRect().width)
      if (w > 0) setWidth(w)
    }
    measure()
    const observer = new ResizeObserver(measure)
    observer.observe(el)
    return () => observer.disconnect()
  }, [])
  return [ref, width]
}

/** A small line chart over time, plain SVG: axis, grid, one line per series, hover read-out. */
export function TimeChart({
  data: raw,
  label,
  height = 220,
  integer = true,
  maxPoints = 200,
  legendValue = (v) => String(v.reduce((a, b) => a + b, 0)),
  timeFormat,
  formatValue = (v) => String(v),
  testId = 'time-chart',
}: Props) {
  const data = useMemo(() => rebucket(raw, maxPoints), [raw, maxPoints])
  const [hover, setHover] = useState<number | null>(null)
  const [box, WIDTH] = useWidth<HTMLDivElement>(DEFAULT_WIDTH)
  const n = data.starts.length
  const frame: Frame = { width: WIDTH, height, left: 40, right: 12, top: 10, bottom: 26 }
  const scale = yScale(seriesMax(data), 4, integer)
  const span = n > 1 ? (Date.parse(data.starts[n - 1]!) - Date.parse(data.starts[0]!)) / 1000 : 0
  const fmt = timeFormat ?? tickFormat(bucketSeconds(data.starts), span)
  const ticks = tickIndices(n, Math.max(2, Math.min(7, Math.floor(WIDTH / 110))))
  const slot = n > 1 ? (WIDTH - frame.left - frame.right) / (n - 1) : WIDTH - frame.left - frame.right

  return (
    <div data-testid={testId} data-points={n}>
      <div className="mb-2 flex flex-wrap gap-4 text-xs">
        {data.series.map((s) => (
          <span key={s.key} className="flex items-center gap-1.5" data-testid="chart-legend" data-series={s.key}>
            <span className="inline-block h-2 w-4 rounded-sm" style={{ background: s.color }} />
            <span className="text-slate-600 dark:text-slate-300">{s.label}</span>
            <span className="font-semibold tabular-nums">{legendValue(s.values)}</span>
          </span>
        ))}
      </div>
      <div className="relative" ref={box}>
        <svg
          viewBox={`0 0 ${WIDTH} ${height}`}
          className="h-auto w-full select-none"
          role="img"
          aria-label={label}
          onMouseLeave={() => setHover(null)}
        >
          <g className="text-slate-200 dark:text-slate-700">
            {scale.ticks.map((t) => (
              <line
                key={t}
                x1={frame.left}
                x2={WIDTH - frame.right}
                y1={yAt(t, scale.top, frame)}
                y2={yAt(t, scale.top, frame)}
                stroke="currentColor"
                strokeWidth={1}
              />
            ))}
          </g>
          <g className="fill-slate-500 text-[11px]">
            {scale.ticks.map((t) => (
              <text key={t} x={frame.left - 6} y={yAt(t, scale.top, frame) + 4} textAnchor="end">
                {formatValue(t)}
              </text>
            ))}
            {ticks.map((i) => (
              <text
                key={i}
                x={xAt(i, n, frame)}
                y={height - 8}
                textAnchor={i === 0 && n > 1 ? 'start' : i === n - 1 && n > 1 ? 'end' : 'middle'}
              >
                {formatTick(data.starts[i]!, fmt)}
              </text>
            ))}
          </g>
          {hover !== null && (
            <line
              x1={xAt(hover, n, frame)}
              x2={xAt(hover, n, frame)}
              y1={frame.top}
              y2={height - frame.bottom}
              className="stroke-slate-400"
              strokeDasharray="3 3"
            />
          )}
          {data.series.map((s) =>
            n === 1 ? (
              <circle key={s.key} cx={xAt(0, 1, frame)} cy={yAt(s.values[0] ?? 0, scale.top, frame)} r={3} fill={s.color} />
            ) : (
              <polyline
                key={s.key}
                points={polyline(s.values, scale.top, frame)}
                fill="none"
                stroke={s.color}
                strokeWidth={2}
                strokeLinejoin="round"
                strokeLinecap="round"
              />
            ),
          )}
          {hover !== null &&
            data.series.map((s) => (
              <circle
                key={s.key}
                cx={xAt(hover, n, frame)}
                cy={yAt(s.values[hover] ?? 0, scale.top, frame)}
                r={3.5}
                fill={s.color}
              />
            ))}
          {data.starts.map((start, i) => (
            <rect
              key={start + i}
              x={xAt(i, n, frame) - slot / 2}
              y={frame.top}
              width={slot}
              height={height - frame.top - frame.bottom}
              fill="transparent"
              onMouseEnter={() => setHover(i)}
            />
          ))}
        </svg>
        {hover !== null && data.starts[hover] && (
          <div
            className="pointer-events-none absolute top-2 z-10 -translate-x-1/2 rounded border border-slate-200 bg-white px-2 py-1 text-xs shadow dark:border-slate-700 dark:bg-slate-900"
            style={{ left: `${Math.min(88, Math.max(12, (xAt(hover, n, frame) / WIDTH) * 100))}%` }}
            data-testid="chart-tooltip"
          >
            <div className="mb-0.5 font-medium">{formatTick(data.starts[hover], { ...fmt, month: 'short', day: 'numeric' })}</div>
            {data.series.map((s) => (
              <div key={s.key} className="flex items-center gap-1.5">
                <span className="inline-block h-2 w-2 rounded-full" style={{ background: s.color }} />
                {s.label}: <span className="font-semibold tabular-nums">{formatValue(s.values[hover] ?? 0)}</span>
              </div>
            ))}
          </div>
        )}
      </div>
    </div>
  )
}
