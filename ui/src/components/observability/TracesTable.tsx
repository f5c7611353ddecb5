import { useEffect, useState } from 'react'
import { Link } from 'react-router-dom'
import { formatDuration, formatTime } from '../../lib/format'
import { statusLabel } from '../../lib/status'
import { PIPELINE_STATUSES } from '../../lib/types'
import { QueryView } from '../dashboard/QueryView'
import { StatusBadge } from '../status'
import { useToast } from '../toast'
import { useTraces } from './queries'

const PAGE_SIZE = 20

/** Pipelines as traces: trace id, duration, span count, and the deep links the templates give. */
export function TracesTable({ onConfigureLinks }: { onConfigureLinks?: () => void }) {
  const [search, setSearch] = useState('')
  const [applied, setApplied] = useState('')
  const [status, setStatus] = useState('')
  const [page, setPage] = useState(1)
  const toast = useToast()
  useEffect(() => {
    const t = setTimeout(() => {
      setApplied(search.trim())
      setPage(1)
    }, 300)
    return () => clearTimeout(t)
  }, [search])
  const traces = useTraces({ pageNumber: page, pageSize: PAGE_SIZE, status: status || undefined, search: applied || undefined })
  const total = traces.data?.totalCount ?? 0
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE))

  const copy = async (traceId: string) => {
    try {
      await navigator.clipboard.writeText(traceId)
      toast({ title: 'Trace id copied' })
    } catch {
      toast({ title: 'Could not copy', description: 'Select the trace id and copy it by hand.', variant: 'error' })
    }
  }

  return (
    <div data-testid="traces">
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <input
          type="search"
          className="input w-72"
          placeholder="Search names or an exact trace id…"
          aria-label="Search traces"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <select
          className="input"
          aria-label="Status"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value)
            setPage(1)
          }}
        >
          <option value="">All statuses</option>
          {PIPELINE_STATUSES.map((s) => (
            <option key={s} value={s}>
              {statusLabel(s)}
            </option>
          ))}
        </select>
        {traces.isFetching && !traces.isPending && <span className="text-xs text-slate-400">updating…</span>}
      </div>
      <QueryView
        query={traces}
        isEmpty={(p) => p.items.length === 0}
        empty={applied || status ? 'No trace matches.' : 'No pipelines yet, so no traces.'}
      >
        {(p) => {
          const linked = p.items.some((t) => t.traceUrl || t.logsUrl)
          return (
            <>
              {!linked && (
                <p className="mb-2 text-xs text-slate-500">
                  No trace or log links: set the link templates of the{' '}
                  {onConfigureLinks ? (
                    <button className="underline" onClick={onConfigureLinks}>
                      Trace & log links
                    </button>
                  ) : (
                    'Trace & log links'
                  )}{' '}
                  integration to open each trace in your tracing and log tools.
                </p>
              )}
              <div className="overflow-x-auto rounded-md border border-slate-200 dark:border-slate-800">
                <table className="table" data-testid="traces-table">
                  <thead>
                    <tr>
                      <th>Pipeline</th>
                      <th>Status</th>
                      <th>Trace id</th>
                      <th className="text-right">Duration</th>
                      <th className="text-right">Spans</th>
                      <th>Started</th>
                      <th>Links</th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.items.map((t) => (
                      <tr key={t.pipelineId} data-testid="trace-row" data-id={t.pipelineId}>
                        <td>
                          <Link to={`/pipelines/${t.pipelineId}`} className="hover:underline">
                            <span className="text-blue-600 dark:text-blue-400">#{t.pipelineId}</span> {t.name}
                          </Link>
                        </td>
                        <td>
                          <StatusBadge status={t.status} />
                        </td>
                        <td>
                          <button
                            className="font-mono text-xs text-slate-600 hover:underline dark:text-slate-300"
                            title="Copy the trace id"
                            onClick={() => void copy(t.traceId)}
                          >
                            {t.traceId}
                          </button>
                        </td>
                        <td className="text-right tabular-nums">{formatDuration(t.durationMs)}</td>
                        <td className="text-right tabular-nums">{t.spansCount}</td>
                        <td className="whitespace-nowrap">{formatTime(t.createdAt)}</td>
                        <td className="whitespace-nowrap">
                          <span className="flex gap-3">
                            {t.traceUrl && (
                              <a href={t.traceUrl} target="_blank" rel="noreferrer" className="text-blue-600 hover:underline dark:text-blue-400" data-testid="trace-link">
                                Trace ↗
                              </a>
                            )}
                            {t.logsUrl && (
                              <a href={t.logsUrl} target="_blank" rel="noreferrer" className="text-blue-600 hover:underline dark:text-blue-400" data-testid="logs-link">
                                Logs ↗
                              </a>
                            )}
                            {!t.traceUrl && !t.logsUrl && <span className="text-slate-400">—</span>}
                          </span>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )
        }}
      </QueryView>
      <div className="mt-3 flex items-center justify-between text-sm">
        <span className="text-slate-500">{traces.data ? `${total} trace${total === 1 ? '' : 's'}` : ''}</span>
        <div className="flex items-center gap-2">
          <button className="btn" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            ‹ Prev
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button className="btn" disabled={page >= pages} onClick={() => setPage(page + 1)}>
            Next ›
          </button>
        </div>
      </div>
    </div>
  )
}
