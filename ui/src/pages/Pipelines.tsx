import * as Popover from '@radix-ui/react-popover'
import { useEffect, useMemo, useState, type KeyboardEvent } from 'react'
import { Link, useSearchParams } from 'react-router-dom'
import { StageChips, StatusBadge } from '../components/status'
import { Empty, ErrorState, Loading } from '../components/states'
import {
  PAGE_SIZES,
  filtersFromSearch,
  filtersToSearch,
  isContextFilter,
  withFilter,
  type PipelineFilters,
} from '../lib/filters'
import { formatTime } from '../lib/format'
import { usePipelines } from '../lib/queries'
import { statusLabel } from '../lib/status'
import { PIPELINE_STATUSES, type PipelineStatus } from '../lib/types'

export function PipelinesPage() {
  const [params, setParams] = useSearchParams()
  const filters = useMemo(() => filtersFromSearch(params), [params])
  const update = (change: Partial<PipelineFilters>) =>
    setParams(filtersToSearch(withFilter(filters, change)), { replace: true })

  const list = usePipelines(filters)

  // free text applies 300 ms after typing stops
  const [search, setSearch] = useState(filters.search)
  useEffect(() => setSearch(filters.search), [filters.search])
  useEffect(() => {
    if (search.trim() === filters.search) return
    const t = setTimeout(() => update({ search }), 300)
    return () => clearTimeout(t)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search])

  const [ctxText, setCtxText] = useState('')
  const ctxValid = isContextFilter(ctxText.trim())
  const addContext = () => {
    const value = ctxText.trim()
    if (!isContextFilter(value) || filters.context.includes(value)) return
    update({ context: [...filters.context, value] })
    setCtxText('')
  }
  const onCtxKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault()
      addContext()
    }
  }

  const toggleStatus = (s: PipelineStatus) =>
    update({
      statuses: filters.statuses.includes(s)
        ? filters.statuses.filter((x) => x !== s)
        : [...filters.statuses, s],
    })

  const total = list.data?.totalCount ?? 0
  const pages = Math.max(1, Math.ceil(total / filters.pageSize))
  const filtered = filters.search !== '' || filters.statuses.length > 0 || filters.context.length > 0

  return (
    <div>
      <h1 className="mb-4 text-xl font-semibold">Pipelines</h1>
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <input
          type="search"
          placeholder="Search names, keywords, context…"
          aria-label="Search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          className="input w-72"
        />
        <Popover.Root>
          <Popover.Trigger asChild>
            <button className="btn" data-testid="status-filter">
              Status{filters.statuses.length ? `: ${filters.statuses.map(statusLabel).join(', ')}` : ''} ▾
            </button>
          </Popover.Trigger>
          <Popover.Portal>
            <Popover.Content
              align="start"
              sideOffset={4}
              className="z-50 w-48 rounded-md border border-slate-200 bg-white p-2 shadow-lg dark:border-slate-700 dark:bg-slate-900"
            >
              {PIPELINE_STATUSES.map((s) => (
                <label key={s} className="flex cursor-pointer items-center gap-2 rounded px-2 py-1 text-sm hover:bg-slate-100 dark:hover:bg-slate-800">
                  <input
                    type="checkbox"
                    checked={filters.statuses.includes(s)}
                    onChange={() => toggleStatus(s)}
                    data-testid={`status-option-${s}`}
                  />
                  {statusLabel(s)}
                </label>
              ))}
              {filters.statuses.length > 0 && (
                <button className="mt-1 w-full text-left text-xs text-blue-600 dark:text-blue-400" onClick={() => update({ statuses: [] })}>
                  Clear
                </button>
              )}
            </Popover.Content>
          </Popover.Portal>
        </Popover.Root>
        <div className="flex items-center gap-1">
          <input
            placeholder="key:value"
            aria-label="Context filter"
            value={ctxText}
            onChange={(e) => setCtxText(e.target.value)}
            onKeyDown={onCtxKey}
            className="input w-40"
          />
          <button className="btn" disabled={!ctxValid} onClick={addContext}>
            Add
          </button>
        </div>
        {filters.context.map((c) => (
          <span key={c} className="inline-flex items-center gap-1 rounded-full bg-blue-100 px-2 py-0.5 text-xs text-blue-900 dark:bg-blue-950 dark:text-blue-200">
            {c}
            <button aria-label={`Remove ${c}`} onClick={() => update({ context: filters.context.filter((x) => x !== c) })}>
              ✕
            </button>
          </span>
        ))}
        {filtered && (
          <button className="text-xs text-blue-600 underline dark:text-blue-400" onClick={() => setParams(new URLSearchParams(), { replace: true })}>
            Clear filters
          </button>
        )}
        {list.isFetching && !list.isPending && <span className="text-xs text-slate-400">updating…</span>}
      </div>

      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <Empty>{filtered ? 'No pipeline matches these filters.' : 'No pipelines yet. They appear here as applications start them.'}</Empty>
      ) : (
        <div className="overflow-x-auto rounded-md border border-slate-200 dark:border-slate-800">
          <table className="table" data-testid="pipelines-table">
            <thead>
              <tr>
                <th>ID</th>
                <th>Name</th>
                <th>Status</th>
                <th>Created</th>
                <th>Finished</th>
                <th>Stages</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.id} data-testid="pipeline-row" data-id={p.id}>
                  <td className="tabular-nums">
                    <Link to={`/pipelines/${p.id}`} className="text-blue-600 hover:underline dark:text-blue-400">
                      #{p.id}
                    </Link>
                  </td>
                  <td>
                    <Link to={`/pipelines/${p.id}`} className="hover:underline">
                      {p.name}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={p.status} />
                  </td>
                  <td className="whitespace-nowrap">{formatTime(p.createdAt)}</td>
                  <td className="whitespace-nowrap">{formatTime(p.finishedAt)}</td>
                  <td>
                    <StageChips stages={p.stages} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="mt-3 flex items-center justify-between text-sm">
        <span className="text-slate-500" data-testid="total">
          {list.data ? `${total} pipeline${total === 1 ? '' : 's'}` : ''}
        </span>
        <div className="flex items-center gap-2">
          <label className="flex items-center gap-1">
            Rows
            <select
              value={filters.pageSize}
              onChange={(e) => update({ pageSize: Number(e.target.value) })}
              className="input py-1"
              aria-label="Page size"
            >
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button className="btn" disabled={filters.page <= 1} onClick={() => update({ page: filters.page - 1 })}>
            ‹ Prev
          </button>
          <span data-testid="page">
            Page {filters.page} of {pages}
          </span>
          <button className="btn" disabled={filters.page >= pages} onClick={() => update({ page: filters.page + 1 })}>
            Next ›
          </button>
        </div>
      </div>
    </div>
  )
}
