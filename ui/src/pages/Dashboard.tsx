import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useMemo } from 'react'
import { Link, useSearchParams } from 'react-router-dom'
import { ActivityFeed } from '../components/dashboard/ActivityFeed'
import { KpiCard } from '../components/dashboard/KpiCard'
import { Card, QueryView, Segmented } from '../components/dashboard/QueryView'
import { COLORS, TimeChart } from '../components/dashboard/TimeChart'
import { toChartData } from '../components/dashboard/chart'
import { deriveKpis, formatPercent, formatThroughput } from '../components/dashboard/kpis'
import { statsKeys, useExecutions, useStatsSummary } from '../components/dashboard/queries'
import { STATS_RANGES, type ExecutionBucket, type StatsRange } from '../components/dashboard/types'
import { EMPTY_FILTERS } from '../lib/filters'
import { formatTime, relative } from '../lib/format'
import { onFrame } from '../lib/live'
import { usePipelines } from '../lib/queries'
import type { Pipeline } from '../lib/types'

const RANGE_LABEL: Record<StatsRange, string> = {
  '1h': 'last hour',
  '24h': 'last 24 hours',
  '7d': 'last 7 days',
  '30d': 'last 30 days',
}

const EXECUTION_SERIES = [
  { key: 'created' as const, label: 'Started', color: COLORS.blue },
  { key: 'completed' as const, label: 'Completed', color: COLORS.green },
  { key: 'failed' as const, label: 'Failed', color: COLORS.red },
]

/** Stats follow the live frames, at most every few seconds. */
function useStatsFollowFrames(ms = 3000) {
  const client = useQueryClient()
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const stop = onFrame(() => {
      if (timer !== undefined) return
      timer = setTimeout(() => {
        timer = undefined
        void client.invalidateQueries({ queryKey: statsKeys.all, refetchType: 'active' })
      }, ms)
    })
    return () => {
      stop()
      clearTimeout(timer)
    }
  }, [client, ms])
}

const FAILED_FILTERS = { ...EMPTY_FILTERS, statuses: ['Failed' as const], pageSize: 10 }

export function DashboardPage() {
  const [params, setParams] = useSearchParams()
  const raw = params.get('range')
  const range: StatsRange = (STATS_RANGES as string[]).includes(raw ?? '') ? (raw as StatsRange) : '24h'
  const setRange = (r: StatsRange) => {
    const next = new URLSearchParams(params)
    if (r === '24h') next.delete('range')
    else next.set('range', r)
    setParams(next, { replace: true })
  }
  const summary = useStatsSummary(range)
  const executions = useExecutions(range)
  useStatsFollowFrames()
  const period = RANGE_LABEL[range]

  return (
    <div className="space-y-6" data-testid="dashboard">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-semibold">Dashboard</h1>
        {summary.isFetching && !summary.isPending && <span className="text-xs text-slate-400">updating…</span>}
        <div className="ml-auto">
          <Segmented
            label="Period"
            testId="range"
            value={range}
            onChange={setRange}
            options={STATS_RANGES.map((r) => ({ value: r, label: r }))}
          />
        </div>
      </div>

      <QueryView query={summary} loading="Loading statistics…">
        {(s) => {
          const k = deriveKpis(s)
          return (
            <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6" data-testid="kpis">
              <KpiCard
                id="running"
                label="Running"
                accent="blue"
                value={k.running}
                sub={`of ${k.created} started in the ${period}`}
                to="/pipelines?status=Running"
                title="Pipelines started in the period that are running now"
              />
              <KpiCard
                id="completed"
                label="Completed"
                accent="green"
                value={k.completed}
                sub={`started in the ${period}`}
                to="/pipelines?status=Completed"
              />
              <KpiCard
                id="failed"
                label="Failed"
                accent={k.failed > 0 ? 'red' : 'slate'}
                value={k.failed}
                sub={
                  k.failureRate === null
                    ? 'none finished in the period'
                    : `${formatPercent(k.failureRate)} of ${k.finished} finished`
                }
                to="/pipelines?status=Failed"
                title="Failure rate: failed / pipelines finished in the period"
              />
              <KpiCard
                id="in-flight"
                label="In-flight jobs"
                value={k.inFlight}
                sub="stages pending or running now"
              />
              <KpiCard
                id="throughput"
                label="Throughput"
                value={formatThroughput(k.throughputPerMinute)}
                sub={`${k.stagesCompleted} stages completed`}
                title="Stages completed per minute, averaged over the period"
              />
              <KpiCard
                id="workers"
                label="Workers"
                to="/workers"
                value={
                  <span className="flex items-baseline gap-2">
                    <span className="text-green-600 dark:text-green-400" title="online" data-testid="workers-online">
                      {k.workers.online}
                    </span>
                    <span className="text-sm text-slate-400">/</span>
                    <span className={k.workers.degraded ? 'text-amber-600 dark:text-amber-400' : 'text-slate-400'} title="degraded" data-testid="workers-degraded">
                      {k.workers.degraded}
                    </span>
                    <span className="text-sm text-slate-400">/</span>
                    <span className="text-slate-400" title="offline" data-testid="workers-offline">
                      {k.workers.offline}
                    </span>
                  </span>
                }
                sub="online / degraded / offline"
              />
            </div>
          )
        }}
      </QueryView>

      <Card title={`Executions over the ${period}`} testId="executions-chart">
        <QueryView
          query={executions}
          loading="Loading executions…"
          isEmpty={(rows) => rows.length === 0}
          empty="No executions in this period."
        >
          {(rows) => <ExecutionsChart rows={rows} />}
        </QueryView>
      </Card>

      <div className="grid gap-6 xl:grid-cols-3">
        <div className="xl:col-span-2">
          <ActivityFeed />
        </div>
        <RecentFailures />
      </div>
    </div>
  )
}

function ExecutionsChart({ rows }: { rows: ExecutionBucket[] }) {
  const data = useMemo(() => toChartData(rows, (r) => r.start, EXECUTION_SERIES), [rows])
  const quiet = rows.every((r) => r.created === 0 && r.completed === 0 && r.failed === 0)
  return (
    <>
      <TimeChart data={data} label="Pipelines started, completed and failed over time" />
      {quiet && <p className="mt-1 text-xs text-slate-500">Nothing started or finished in this period.</p>}
    </>
  )
}

const failedStage = (p: Pipeline) => p.stages.find((s) => s.status === 'Failed')?.name

function RecentFailures() {
  const list = usePipelines(FAILED_FILTERS)
  return (
    <Card
      title="Recent failures"
      testId="recent-failures"
      aside={
        <Link to="/pipelines?status=Failed" className="text-xs text-blue-600 hover:underline dark:text-blue-400">
          All failed ›
        </Link>
      }
    >
      <QueryView query={list} isEmpty={(p) => p.items.length === 0} empty="No failed pipelines.">
        {(p) => (
          <ul className="divide-y divide-slate-100 text-sm dark:divide-slate-800">
            {p.items.slice(0, 6).map((f) => (
              <li key={f.id} className="flex items-center gap-2 py-1.5" data-testid="failure-row">
                <Link to={`/pipelines/${f.id}`} className="min-w-0 flex-1 truncate hover:underline">
                  <span className="text-blue-600 dark:text-blue-400">#{f.id}</span> {f.name}
                </Link>
                {failedStage(f) && (
                  <code className="max-w-32 truncate rounded bg-red-50 px-1 text-xs text-red-700 dark:bg-red-950 dark:text-red-300" title="failed stage">
                    {failedStage(f)}
                  </code>
                )}
                <span className="w-16 shrink-0 text-right text-xs text-slate-500" title={formatTime(f.finishedAt ?? f.createdAt)}>
                  {relative(f.finishedAt ?? f.createdAt)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </QueryView>
    </Card>
  )
}
