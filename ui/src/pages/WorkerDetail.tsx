import { useMemo } from 'react'
import { Link, useParams } from 'react-router-dom'
import { Card, QueryView } from '../components/dashboard/QueryView'
import { COLORS, TimeChart } from '../components/dashboard/TimeChart'
import { toChartData } from '../components/dashboard/chart'
import { HISTORY_LIMIT, useWorkerDetail, useWorkerEvents, useWorkerHeartbeats } from '../components/dashboard/queries'
import type { WorkerDetail, WorkerHeartbeat } from '../components/dashboard/types'
import { Empty } from '../components/states'
import { StatusBadge } from '../components/status'
import { ApiError } from '../lib/api'
import { formatTime, relative } from '../lib/format'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function WorkerDetailPage() {
  const { id = '' } = useParams()
  if (!UUID.test(id)) return <Empty>No such worker.</Empty>
  return <WorkerView id={id} />
}

function WorkerView({ id }: { id: string }) {
  const worker = useWorkerDetail(id)
  if (worker.isError && worker.error instanceof ApiError && worker.error.status === 404) {
    return (
      <Empty>
        This worker was not found. <Link to="/workers" className="underline">Back to workers</Link>
      </Empty>
    )
  }
  return (
    <div className="space-y-6" data-testid="worker-detail">
      <Link to="/workers" className="text-sm text-blue-600 hover:underline dark:text-blue-400">
        ‹ Workers
      </Link>
      <QueryView query={worker} loading="Loading the worker…">
        {(w) => <Facts w={w} />}
      </QueryView>
      {worker.data && (
        <div className="grid gap-6 xl:grid-cols-2">
          <Heartbeats id={id} />
          <Events id={id} />
        </div>
      )}
    </div>
  )
}

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className="mt-0.5 break-words text-sm">{children}</dd>
    </div>
  )
}

function Facts({ w }: { w: WorkerDetail }) {
  const extra = { ...(w.capabilities ?? {}), ...(w.metadata ?? {}) }
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-xl font-semibold" data-testid="worker-name">
          {w.name}
        </h1>
        <StatusBadge status={w.effectiveState} />
        {w.effectiveState !== w.state && (
          <span className="text-xs text-slate-500">reported state: {w.state}</span>
        )}
      </div>
      <div className="card">
        <dl className="grid grid-cols-2 gap-4 md:grid-cols-4">
          <Fact label="Instance">{w.instanceId}</Fact>
          <Fact label="Worker id">
            <code className="text-xs">{w.id}</code>
          </Fact>
          <Fact label="Host">
            {w.hostName ?? '—'}
            {w.pid !== undefined && <span className="text-slate-500"> (pid {w.pid})</span>}
          </Fact>
          <Fact label="Environment">{w.environment ?? '—'}</Fact>
          <Fact label="Version">
            {w.version ?? '—'}
            {w.sdkVersion && <span className="text-slate-500"> · SDK {w.sdkVersion}</span>}
          </Fact>
          <Fact label="Started">{formatTime(w.startedAt)}</Fact>
          <Fact label="Last seen">
            <span title={formatTime(w.lastSeen)}>{relative(w.lastSeen)}</span>
          </Fact>
          <Fact label="Session expires">{formatTime(w.sessionExpiresAt)}</Fact>
          <Fact label="In flight">
            <span className="tabular-nums">{w.inFlight}</span>
          </Fact>
          <Fact label="Processed">
            <span className="tabular-nums">{w.processed}</span>
          </Fact>
          <Fact label="Failed">
            <span className={`tabular-nums ${w.failed ? 'text-red-600 dark:text-red-400' : ''}`}>{w.failed}</span>
          </Fact>
          <Fact label="Handlers">
            <span className="flex flex-wrap gap-1">
              {w.handlers.length === 0
                ? '—'
                : w.handlers.map((h) => (
                    <code key={h} className="rounded bg-slate-100 px-1 text-xs dark:bg-slate-800">
                      {h}
                    </code>
                  ))}
            </span>
          </Fact>
          {Object.entries(extra).map(([k, v]) => (
            <Fact key={k} label={k}>
              {typeof v === 'string' ? v : JSON.stringify(v)}
            </Fact>
          ))}
        </dl>
        {w.lastError && (
          <p className="mt-4 rounded bg-red-50 p-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
            Last error: {w.lastError}
          </p>
        )}
      </div>
    </div>
  )
}

/** Time of day, with the date only when it is not today. */
function clock(iso: string): string {
  const d = new Date(iso)
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`
}

const HEARTBEAT_TIME: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }

function HeartbeatChart({ beats }: { beats: WorkerHeartbeat[] }) {
  const data = useMemo(() => {
    const oldestFirst = [...beats].reverse()
    return toChartData(oldestFirst, (b) => b.created, [{ key: 'inFlight' as const, label: 'In flight', color: COLORS.blue }])
  }, [beats])
  return (
    <TimeChart
      data={data}
      label="Jobs in flight at each heartbeat"
      height={160}
      timeFormat={HEARTBEAT_TIME}
      legendValue={(v) => `now ${v[v.length - 1] ?? 0}`}
      testId="heartbeat-chart"
    />
  )
}

function Heartbeats({ id }: { id: string }) {
  const beats = useWorkerHeartbeats(id)
  return (
    <Card title="Heartbeats" testId="worker-heartbeats" aside={<span className="text-xs text-slate-500">latest {HISTORY_LIMIT}</span>}>
      <QueryView query={beats} isEmpty={(b) => b.length === 0} empty="No heartbeat received yet.">
        {(b) => {
          // only what this worker's SDK reports gets a column
          const cpu = b.some((h) => h.cpuPercent !== undefined)
          const mem = b.some((h) => h.memoryMb !== undefined)
          return (
          <div className="space-y-3">
            {b.length > 1 && <HeartbeatChart beats={b} />}
            <div className="max-h-96 overflow-y-auto rounded-md border border-slate-200 dark:border-slate-800">
              <table className="table">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>State</th>
                    <th className="text-right">In flight</th>
                    <th className="text-right">Processed</th>
                    <th className="text-right">Failed</th>
                    {cpu && <th className="text-right">CPU</th>}
                    {mem && <th className="text-right">Memory</th>}
                  </tr>
                </thead>
                <tbody>
                  {b.map((h) => (
                    <tr key={h.id} data-testid="heartbeat-row">
                      <td className="whitespace-nowrap tabular-nums" title={formatTime(h.created)}>
                        {clock(h.created)}
                      </td>
                      <td>
                        <StatusBadge status={h.state} />
                      </td>
                      <td className="text-right tabular-nums">{h.inFlight ?? '—'}</td>
                      <td className="text-right tabular-nums">{h.processed ?? '—'}</td>
                      <td className="text-right tabular-nums">{h.failed ?? '—'}</td>
                      {cpu && <td className="text-right tabular-nums">{h.cpuPercent !== undefined ? `${h.cpuPercent.toFixed(1)}%` : '—'}</td>}
                      {mem && <td className="text-right tabular-nums">{h.memoryMb !== undefined ? `${Math.round(h.memoryMb)} MB` : '—'}</td>}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
          )
        }}
      </QueryView>
    </Card>
  )
}

const LEVEL: Record<string, string> = {
  error: 'text-red-700 dark:text-red-300',
  critical: 'text-red-700 dark:text-red-300',
  warning: 'text-amber-700 dark:text-amber-300',
}

function Events({ id }: { id: string }) {
  const events = useWorkerEvents(id)
  return (
    <Card title="Events" testId="worker-events" aside={<span className="text-xs text-slate-500">latest {HISTORY_LIMIT}</span>}>
      <QueryView query={events} isEmpty={(e) => e.length === 0} empty="No events recorded for this worker.">
        {(list) => (
          <ol className="max-h-[32rem] divide-y divide-slate-100 overflow-y-auto text-sm dark:divide-slate-800">
            {list.map((e) => (
              <li key={e.id} className="py-2" data-testid="worker-event" data-type={e.eventType}>
                <div className="flex flex-wrap items-center gap-2">
                  <time className="text-xs tabular-nums text-slate-500" dateTime={e.created} title={formatTime(e.created)}>
                    {clock(e.created)}
                  </time>
                  <span className={`text-xs font-medium ${LEVEL[e.level.toLowerCase()] ?? 'text-slate-500'}`}>{e.level}</span>
                  <code className="rounded bg-slate-100 px-1 text-xs dark:bg-slate-800">{e.eventType}</code>
                </div>
                {e.message && <div className="mt-0.5">{e.message}</div>}
                {e.details && Object.keys(e.details).length > 0 && (
                  <details className="mt-0.5">
                    <summary className="cursor-pointer text-xs text-slate-500">Details</summary>
                    <pre className="mt-1 overflow-x-auto rounded bg-slate-50 p-2 text-xs dark:bg-slate-950">
                      {JSON.stringify(e.details, null, 2)}
                    </pre>
                  </details>
                )}
              </li>
            ))}
          </ol>
        )}
      </QueryView>
    </Card>
  )
}
