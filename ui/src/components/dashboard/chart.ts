// Pure geometry for the small SVG time chart: scales, re-bucketing and tick labels.

export interface SeriesSpec<K extends string = string> {
  key: K
  label: string
  /** a CSS colour (the SVG stroke / fill) */
  color: string
}

export interface ChartSeries {
  key: string
  label: string
  color: string
  values: number[]
}

export interface ChartData {
  /** bucket starts (RFC 3339), oldest first */
  starts: string[]
  series: ChartSeries[]
}

/** Rows of the API (each with `start`/`hour` and one number per series) → chart data. */
export function toChartData<R>(
  rows: readonly R[],
  startOf: (row: R) => string,
  specs: readonly SeriesSpec<Extract<keyof R, string>>[],
): ChartData {
  return {
    starts: rows.map(startOf),
    series: specs.map((s) => ({
      key: s.key,
      label: s.label,
      color: s.color,
      values: rows.map((r) => {
        const v = r[s.key]
        return typeof v === 'number' && Number.isFinite(v) ? v : 0
      }),
    })),
  }
}

/** The smallest 1, 2 or 5 × 10^k that is ≥ `raw` (raw > 0). */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1
  const exp = Math.floor(Math.log10(raw))
  const base = 10 ** exp
  for (const m of [1, 2, 5, 10]) {
    const step = m * base
    // tolerate float noise: 0.30000000000000004 is 0.3
    if (step >= raw * (1 - 1e-9)) return Number(step.toPrecision(12))
  }
  return 10 * base
}

export interface YScale {
  top: number
  ticks: number[]
}

/** A y axis from 0 to a round top ≥ max, in about `count` steps; counts step by whole numbers. */
export function yScale(max: number, count = 4, integer = true): YScale {
  const safeMax = Number.isFinite(max) && max > 0 ? max : 0
  let step = safeMax === 0 ? 1 : niceStep(safeMax / count)
  if (integer) step = Math.max(1, Math.ceil(step))
  const top = Math.max(step, Math.ceil(safeMax / step - 1e-9) * step)
  const ticks: number[] = []
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)))
  return { top, ticks }
}

/**
 * At most `maxPoints` points: consecutive buckets are summed in groups of ⌈n / maxPoints⌉,
 * each group starting where its first bucket starts. Counts stay exact (nothing is averaged).
 */
export function rebucket(data: ChartData, maxPoints: number): ChartData {
  const n = data.starts.length
  if (maxPoints < 1 || n <= maxPoints) return data
  const size = Math.ceil(n / maxPoints)
  const starts: string[] = []
  for (let i = 0; i < n; i += size) starts.push(data.starts[i]!)
  return {
    starts,
    series: data.series.map((s) => {
      const values: number[] = []
      for (let i = 0; i < n; i += size) {
        let total = 0
        for (let j = i; j < Math.min(n, i + size); j++) total += s.values[j] ?? 0
        values.push(total)
      }
      return { ...s, values }
    }),
  }
}

/** Indices to label on an axis of `n` points: at most `max`, evenly spaced, from the first. */
export function tickIndices(n: number, max = 6): number[] {
  if (n <= 0) return []
  if (n <= max) return Array.from({ length: n }, (_, i) => i)
  const step = Math.ceil((n - 1) / (max - 1))
  const out: number[] = []
  for (let i = 0; i < n; i += step) out.push(i)
  return out
}

/** How bucket starts are labelled: dates for daily buckets, weekday + time over several days. */
export function tickFormat(bucketSeconds: number, spanSeconds: number): Intl.DateTimeFormatOptions {
  if (bucketSeconds >= 86400) return { month: 'short', day: 'numeric' }
  if (spanSeconds > 86400) return { weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
  return { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
}

export function formatTick(
  iso: string,
  options: Intl.DateTimeFormatOptions,
  locale?: string,
  timeZone?: string,
): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return d.toLocaleString(locale, timeZone ? { ...options, timeZone } : options)
}

/** Width of the buckets in seconds, read from the first two starts (0 when unknown). */
export function bucketSeconds(starts: readonly string[]): number {
  if (starts.length < 2) return 0
  const a = Date.parse(starts[0]!)
  const b = Date.parse(starts[1]!)
  return Number.isFinite(a) && Number.isFinite(b) && b > a ? (b - a) / 1000 : 0
}

export interface Frame {
  width: number
  height: number
  /** plot area inside the frame */
  left: number
  right: number
  top: number
  bottom: number
}

/** x of point `i` of `n`: spread across the plot, a single point in the middle. */
export function xAt(i: number, n: number, f: Frame): number {
  const w = f.width - f.left - f.right
  if (n <= 1) return f.left + w / 2
  return f.left + (i * w) / (n - 1)
}

/** y of `value` on a 0..top axis (the bottom of the plot is 0). */
export function yAt(value: number, top: number, f: Frame): number {
  const h = f.height - f.top - f.bottom
  const clamped = Math.max(0, Math.min(value, top))
  return f.top + h - (top > 0 ? (clamped / top) * h : 0)
}

/** An SVG `points` attribute for a polyline through `values`. */
export function polyline(values: readonly number[], top: number, f: Frame): string {
  return values
    .map((v, i) => `${round(xAt(i, values.length, f))},${round(yAt(v, top, f))}`)
    .join(' ')
}

const round = (n: number) => Math.round(n * 10) / 10

export function seriesMax(data: ChartData): number {
  let max = 0
  for (const s of data.series) for (const v of s.values) if (v > max) max = v
  return max
}
