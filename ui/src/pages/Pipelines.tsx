import * as Popover from '@radix-ui/react-popover'
import { useEffect, useMemo, useState, type KeyboardEvent } from 'react'
import { Link, useSearchParams } from 'react-router-dom'
import { BulkBar } from '../components/pipelines/BulkBar'
import { pageSelection } from '../components/pipelines/bulk'
import { useNow, usePipelineList } from '../components/pipelines/hooks'
import { PeriodFilter } from '../components/pipelines/PeriodFilter'
import { PipelinePanel } from '../components/pipelines/PipelinePanel'
import { StageChips } from '../components/pipelines/StageChips'
import { StatusBadge } from '../components/status'
import { Empty, ErrorState, Loading } from '../components/states'
import {
  EMPTY_FILTERS,
  PAGE_SIZES,
  SLIDE_STEP_MS,
  filterSignature,
  filtersFromSearch,
  filtersToSearch,
  isContextFilter,
  isFiltered,
  withFilter,
  type PipelineFilters,
} from '../lib/filters'
import { formatTime } from '../lib/format'
import { statusLabel } from '../lib/status'
import { PIPELINE_STATUSES, type Pipeline, type PipelineStatus } from '../lib/types'

function positiveId(text: string | null): number | null {
  return text && /^\d+$/.test(text) && Number(text) >= 1 ? Number(text) : null
}

export function PipelinesPage() {
  const [params, setParams] = useSearchParams()
  const filters = useMemo(() => filtersFromSearch(params), [params])
  const panelId = positiveId(params.get('pipeline'))

  // the URL: the filters, plus the pipeline open in the side panel
  const search = (f: PipelineFilters, open: number | null) => {
    const next = filtersToSearch(f)
    if (open !== null) next.set('pipeline', String(open))
    return next
  }
  const update = (change: Partial<PipelineFilters>) =>
    setParams(search(withFilter(filters, change), panelId), { replace: true })
  const closePanel = () => setParams(search(filters, null), { replace: true })

  // a sliding window moves in steps while the page is open
  const now = useNow(filters.period.kind === 'sliding', SLIDE_STEP_MS)
  const list = usePipelineList(filters, now)
  const items = useMemo(() => list.data?.items ?? [], [list.data])

  // free text applies 300 ms after typing stops
  const [text, setText] = useState(filters.search)
  useEffect(() => setText(filters.search), [filters.search])
  useEffect(() => {
    if (text.trim() === filters.search) return
    const t = setTimeout(() => update({ search: text }), 300)
    return () => clearTimeout(t)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text])

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
      statuses: filters.statuses.includes(s) ? filters.statuses.filter((x) => x !== s) : [...filters.statuses, s],
    })

  // the selection: pipelines by id, kept across live updates and pages; new filters clear it
  const [selected, setSelected] = useState<Map<number, Pipeline>>(() => new Map())
  const signature = filterSignature(filters)
  const [selectedFor, setSelectedFor] = useState(signature)
  if (selectedFor !== signature) {
    setSelectedFor(signature)
    setSelected(new Map())
  }
  const pageIds = items.map((p) => p.id)
  const selectedIds = useMemo(() => new Set(selected.keys()), [selected])
  const onPage = pageSelection(selectedIds, pageIds)
  // what a bulk action sees: the row as the table shows it now (live), else as it was selected
  const selection = useMemo(() => {
    const byId = new Map(items.map((p) => [p.id, p]))
    return [...selected.values()].map((p) => byId.get(p.id) ?? p)
  }, [items, selected])
  const toggleRow = (p: Pipeline) =>
    setSelected((old) => {
      const next = new Map(old)
      if (next.has(p.id)) next.delete(p.id)
      else next.set(p.id, p)
      return next
    })
  const toggleAll = () =>
    setSelected((old) => {
      const next = new Map(old)
      if (onPage === 'all') for (const p of items) next.delete(p.id)
      else for (const p of items) next.set(p.id, p)
      return next
    })

  const total = list.data?.totalCount ?? 0
  const pages = Math.max(1, Math.ceil(total / filters.pageSize))
  const filtered = isFiltered(filters)

  return (
    <div>
      <h1 className="mb-4 text-xl font-semibold">Pipelines</h1>
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <input
          type="search"
          placeholder="Search names, keywords, context…"
          aria-label="Search"
          value={text}
          onChange={(e) => setText(e.target.value)}
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
        <PeriodFilter period={filters.period} field={filters.timeField} onChange={(change) => update(change)} />
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
          <button
            className="text-xs text-blue-600 underline dark:text-blue-400"
            onClick={() => setParams(search({ ...EMPTY_FILTERS, pageSize: filters.pageSize }, panelId), { replace: true })}
          >
            Clear filters
          </button>
        )}
        {list.isFetching && !list.isPending && <span className="text-xs text-slate-400">updating…</span>}
      </div>

      {selected.size > 0 && (
        <BulkBar
          selected={selection}
          onClear={() => setSelected(new Map())}
          onDone={(outcome) =>
            setSelected((old) => {
              const next = new Map(old)
              for (const id of outcome.succeeded) next.delete(id)
              return next
            })
          }
        />
      )}

      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : items.length === 0 ? (
        <Empty>
          {filtered
            ? 'No pipeline matches these filters.'
            : filters.page > 1
              ? 'This page is empty.'
              : 'No pipelines yet. They appear here as applications start them.'}
        </Empty>
      ) : (
        <div className="overflow-x-auto rounded-md border border-slate-200 dark:border-slate-800">
          <table className="table" data-testid="pipelines-table">
            <thead>
              <tr>
                <th className="w-8">
                  <input
                    type="checkbox"
                    aria-label="Select all on this page"
                    data-testid="select-page"
                    checked={onPage === 'all'}
                    ref={(el) => {
                      if (el) el.indeterminate = onPage === 'some'
                    }}
                    onChange={toggleAll}
                  />
                </th>
                <th>ID</th>
                <th>Name</th>
                <th>Status</th>
                <th>Created</th>
                <th>Finished</th>
                <th>Stages</th>
              </tr>
            </thead>
            <tbody>
              {items.map((p) => {
                const isSelected = selected.has(p.id)
                const to = { search: `?${search(filters, p.id).toString()}` }
                return (
                  <tr
                    key={p.id}
                    data-testid="pipeline-row"
                    data-id={p.id}
                    data-created={p.createdAt}
                    data-selected={isSelected}
                    aria-selected={isSelected}
                    className={
                      p.id === panelId
                        ? 'bg-blue-50 dark:bg-blue-950/40'
                        : isSelected
                          ? 'bg-slate-50 dark:bg-slate-900'
                          : undefined
                    }
                  >
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select pipeline #${p.id}`}
                        data-testid="row-select"
                        checked={isSelected}
                        onChange={() => toggleRow(p)}
                      />
                    </td>
                    <td className="tabular-nums">
                      <Link to={to} data-testid="open-pipeline" className="text-blue-600 hover:underline dark:text-blue-400">
                        #{p.id}
                      </Link>
                    </td>
                    <td>
                      <Link to={to} className="hover:underline">
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
                )
              })}
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

      <PipelinePanel pipelineId={panelId} onClose={closePanel} />
    </div>
  )
}
