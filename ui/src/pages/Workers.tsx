import { Link } from 'react-router-dom'
import { StatusBadge } from '../components/status'
import { Empty, ErrorState, Loading } from '../components/states'
import { formatTime, relative } from '../lib/format'
import { useWorkers } from '../lib/queries'

export function WorkersPage() {
  const workers = useWorkers()
  return (
    <div>
      <h1 className="mb-4 text-xl font-semibold">Workers</h1>
      {workers.isPending ? (
        <Loading />
      ) : workers.isError ? (
        <ErrorState error={workers.error} onRetry={() => void workers.refetch()} />
      ) : workers.data.length === 0 ? (
        <Empty>No worker has registered yet. Workers appear here when an SDK worker starts.</Empty>
      ) : (
        <div className="overflow-x-auto rounded-md border border-slate-200 dark:border-slate-800">
          <table className="table" data-testid="workers-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>State</th>
                <th>Host</th>
                <th>Version</th>
                <th>Handlers</th>
                <th>Last seen</th>
                <th className="text-right">In flight</th>
                <th className="text-right">Processed</th>
                <th className="text-right">Failed</th>
              </tr>
            </thead>
            <tbody>
              {workers.data.map((w) => (
                <tr key={w.id} data-testid="worker-row">
                  <td>
                    <Link to={`/workers/${w.id}`} className="font-medium text-blue-600 hover:underline dark:text-blue-400" data-testid="worker-link">
                      {w.name}
                    </Link>
                    <div className="text-xs text-slate-500">{w.instanceId}</div>
                  </td>
                  <td>
                    <StatusBadge status={w.effectiveState} />
                  </td>
                  <td>{w.hostName ?? '—'}</td>
                  <td>
                    {w.version ?? '—'}
                    {w.sdkVersion && <div className="text-xs text-slate-500">SDK {w.sdkVersion}</div>}
                  </td>
                  <td>
                    <div className="flex flex-wrap gap-1">
                      {w.handlers.map((h) => (
                        <code key={h} className="rounded bg-slate-100 px-1 text-xs dark:bg-slate-800">
                          {h}
                        </code>
                      ))}
                    </div>
                  </td>
                  <td title={formatTime(w.lastSeen)}>{relative(w.lastSeen)}</td>
                  <td className="text-right tabular-nums">{w.inFlight}</td>
                  <td className="text-right tabular-nums">{w.processed}</td>
                  <td className="text-right tabular-nums">{w.failed}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
