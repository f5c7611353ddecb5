import { useMemo, useState } from 'react'
import { formatDuration } from '../../lib/format'
import { Card, QueryView, Segmented } from '../dashboard/QueryView'
import { COLORS, TimeChart } from '../dashboard/TimeChart'
import { toChartData } from '../dashboard/chart'
import { formatPercent } from '../dashboard/kpis'
import { KpiCard } from '../dashboard/KpiCard'
import { useInsights } from './queries'
import type { Insights } from './types'

const RANGES = ['1h', '24h', '7d', '30d'] as const
type Range = (typeof RANGES)[number]

const THROUGHPUT_SERIES = [
  { key: 'started' as const, label: 'Started', color: COLORS.blue },
  { key: 'completed' as const, label: 'Completed', color: COLORS.green },
  { key: 'failed' as const, label: 'Failed', color: COLORS.red },
]

/** Slowest stages by p95, error hotspots and hourly throughput over a period. */
export function InsightsPanel() {
  const [range, setRange] = useState<Range>('24h')
  const insights = useInsights(range)
  return (
    <div className="space-y-4" data-testid="insights">
      <div className="flex items-center gap-2">
        <span className="text-sm text-slate-500">Stages and pipelines finished in the last</span>
        <Segmented label="Period" value={range} onChange={setRange} options={RANGES.map((r) => ({ value: r, label: r }))} />
      </div>
      <QueryView query={insights} loading="Loading insights…">
        {(d) => <InsightsBody d={d} />}
      </QueryView>
    </div>
  )
}

function InsightsBody({ d }: { d: Insights }) {
  const chart = useMemo(() => toChartData(d.throughput, (h) => h.hour, THROUGHPUT_SERIES), [d.throughput])
  const s = d.summary
  const maxP95 = Math.max(1, ...d.slowestStages.map((x) => x.p95Ms))
  return (
    <>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-5">
        <KpiCard id="pipelines-started" label="Pipelines started" value={s.pipelinesStarted} />
        <KpiCard id="pipelines-completed" label="Completed" accent="green" value={s.pipelinesCompleted} />
        <KpiCard id="pipelines-failed" label="Failed" accent={s.pipelinesFailed ? 'red' : 'slate'} value={s.pipelinesFailed} />
        <KpiCard id="success-rate" label="Success rate" value={formatPercent(s.successRate)} sub="of pipelines finished" />
        <KpiCard id="stages-finished" label="Stages finished" value={s.stagesFinished} sub={`${s.stagesFailed} failed`} />
      </div>

      <Card title="Throughput per hour" testId="throughput-chart">
        {chart.starts.length ? (
          <TimeChart data={chart} label="Pipelines started, completed and failed per hour" />
        ) : (
          <p className="text-sm text-slate-500">No data.</p>
        )}
      </Card>

      <div className="grid gap-6 xl:grid-cols-2">
        <Card title="Slowest stages (p95)" testId="slowest-stages">
          {d.slowestStages.length === 0 ? (
            <p className="py-4 text-center text-sm text-slate-500">No stage finished in this period.</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>Stage</th>
                  <th className="w-1/3">p95</th>
                  <th className="text-right">p50</th>
                  <th className="text-right">Max</th>
                  <th className="text-right">Runs</th>
                </tr>
              </thead>
              <tbody>
                {d.slowestStages.map((x) => (
                  <tr key={`${x.stageName}/${x.handler}`} data-testid="slow-stage">
                    <td>
                      <div className="font-medium">{x.stageName}</div>
                      <code className="text-xs text-slate-500">{x.handler}</code>
                    </td>
                    <td>
                      <div className="flex items-center gap-2">
                        <div className="h-2 flex-1 rounded bg-slate-100 dark:bg-slate-800">
                          <div className="h-2 rounded bg-amber-500" style={{ width: `${(x.p95Ms / maxP95) * 100}%` }} />
                        </div>
                        <span className="w-16 text-right tabular-nums">{formatDuration(x.p95Ms)}</span>
                      </div>
                    </td>
                    <td className="text-right tabular-nums">{formatDuration(x.p50Ms)}</td>
                    <td className="text-right tabular-nums">{formatDuration(x.maxMs)}</td>
                    <td className="text-right tabular-nums">{x.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>

        <Card title="Error hotspots" testId="error-hotspots">
          {d.errorHotspots.length === 0 ? (
            <p className="py-4 text-center text-sm text-slate-500">No stage failed in this period.</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>Handler</th>
                  <th className="text-right">Failed</th>
                  <th className="text-right">Failure rate</th>
                  <th>Top error code</th>
                </tr>
              </thead>
              <tbody>
                {d.errorHotspots.map((h) => (
                  <tr key={h.handler} data-testid="hotspot">
                    <td>
                      <code className="text-xs">{h.handler}</code>
                    </td>
                    <td className="text-right tabular-nums">
                      <span className="text-red-600 dark:text-red-400">{h.failed}</span>
                      <span className="text-slate-500"> / {h.total}</span>
                    </td>
                    <td className="text-right tabular-nums">{formatPercent(h.failureRate)}</td>
                    <td>{h.topErrorCode ? <code className="text-xs">{h.topErrorCode}</code> : <span className="text-slate-400">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
      </div>
    </>
  )
}
