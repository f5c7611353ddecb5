import { useEffect, useMemo, useState, type ReactNode } from 'react'
import { useSearchParams } from 'react-router-dom'
import { ErrorState, Loading } from '../components/states'
import { RowActions } from '../components/policies/actions'
import { PolicyStatusBadge, PolicyTypeLabel } from '../components/policies/badges'
import { usePolicies, usePolicyKpis } from '../components/policies/hooks'
import {
  DEFAULT_POLICY_FILTERS,
  POLICY_STATUSES,
  POLICY_TYPES,
  STATUS_LABELS,
  TYPE_LABELS,
  isPolicyStatus,
  isPolicyType,
  nextSort,
  policyFiltersFromSearch,
  policyFiltersToSearch,
  ruleSummary,
  targetsSummary,
  type Policy,
  type PolicyFilters,
  type SortKey,
} from '../components/policies/model'
import { PolicyDrawer } from '../components/policies/PolicyDrawer'
import { PolicyWizard, type WizardMode } from '../components/policies/PolicyWizard'
import { formatTime, relative } from '../lib/format'
import { useApplications, useMe } from '../lib/queries'

export function PoliciesPage() {
  const [params, setParams] = useSearchParams()
  const filters = useMemo(() => policyFiltersFromSearch(params), [params])
  const update = (change: Partial<PolicyFilters>) => {
    const next = { ...filters, ...change }
    // anything but paging starts again at the first page
    if (!('page' in change)) next.page = 1
    setParams(policyFiltersToSearch(next, params), { replace: true })
  }
  const openId = Number(params.get('policy'))
  const drawerId = Number.isInteger(openId) && openId > 0 ? openId : null
  const openPolicy = (id: number | null) => {
    const next = new URLSearchParams(params)
    if (id === null) next.delete('policy')
    else next.set('policy', String(id))
    setParams(next, { replace: id === null })
  }

  const me = useMe()
  const isAdmin = me.data?.role === 'Admin'
  const apps = useApplications()
  const appName = (id: number | null) =>
    id === null ? 'Global' : (apps.data?.find((a) => a.id === id)?.name ?? `application ${id}`)

  const list = usePolicies(filters)
  const [wizard, setWizard] = useState<WizardMode | null>(null)

  // free text applies 300 ms after typing stops
  const [search, setSearch] = useState(filters.search)
  useEffect(() => setSearch(filters.search), [filters.search])
  useEffect(() => {
    if (search.trim() === filters.search) return
    const t = setTimeout(() => update({ search: search.trim() }), 300)
    return () => clearTimeout(t)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search])

  const filtered = filters.search !== '' || filters.type !== '' || filters.status !== '' || filters.applicationId !== null
  const total = list.data?.totalCount ?? 0
  const pages = Math.max(1, Math.ceil(total / filters.pageSize))

  return (
    <div data-testid="policies-page">
      <div className="mb-4 flex items-center justify-between">
        <h1 className="text-xl font-semibold">Policies</h1>
        <button className="btn btn-primary" data-testid="new-policy" onClick={() => setWizard({ kind: 'create' })}>
          + New policy
        </button>
      </div>

      <Kpis onShowStatus={(status) => update({ status })} />

      <div className="mb-3 flex flex-wrap items-center gap-2">
        <input
          type="search"
          placeholder="Search policy names…"
          aria-label="Search policies"
          name="policySearch"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          className="input w-64"
        />
        <select
          aria-label="Type"
          name="typeFilter"
          className="input"
          value={filters.type}
          onChange={(e) => update({ type: isPolicyType(e.target.value) ? e.target.value : '' })}
        >
          <option value="">All types</option>
          {POLICY_TYPES.map((t) => (
            <option key={t} value={t}>
              {TYPE_LABELS[t]}
            </option>
          ))}
        </select>
        <select
          aria-label="Status"
          name="statusFilter"
          className="input"
          value={filters.status}
          onChange={(e) => update({ status: isPolicyStatus(e.target.value) ? e.target.value : '' })}
        >
          <option value="">All statuses</option>
          {POLICY_STATUSES.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABELS[s]}
            </option>
          ))}
        </select>
        {(apps.data?.length ?? 0) > 1 && (
          <select
            aria-label="Application"
            name="applicationFilter"
            className="input"
            value={filters.applicationId ?? ''}
            onChange={(e) => update({ applicationId: e.target.value ? Number(e.target.value) : null })}
          >
            <option value="">All applications (and global)</option>
            {apps.data?.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        )}
        {filtered && (
          <button
            className="text-xs text-blue-600 underline dark:text-blue-400"
            onClick={() => {
              setSearch('')
              update({ ...DEFAULT_POLICY_FILTERS, sortBy: filters.sortBy, sortDir: filters.sortDir })
            }}
          >
            Clear filters
          </button>
        )}
        {list.isFetching && !list.isPending && <span className="text-xs text-slate-400">updating…</span>}
      </div>

      {list.isPending ? (
        <Loading what="Loading policies…" />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <div data-testid="empty" className="rounded-md border border-dashed border-slate-300 p-8 text-center text-sm text-slate-500 dark:border-slate-700">
          {filtered ? (
            'No policy matches these filters.'
          ) : (
            <>
              <p>No policies yet. A policy rate-limits, retries, times out or breaks the circuit on the stages it targets.</p>
              <button className="btn btn-primary mt-3" onClick={() => setWizard({ kind: 'create' })}>
                Create the first policy
              </button>
            </>
          )}
        </div>
      ) : (
        <div className="overflow-x-auto rounded-md border border-slate-200 dark:border-slate-800">
          <table className="table" data-testid="policies-table">
            <thead>
              <tr>
                <SortHeader label="Name" sortKey="name" filters={filters} onSort={(k) => update(nextSort(filters, k))} />
                <SortHeader label="Type" sortKey="type" filters={filters} onSort={(k) => update(nextSort(filters, k))} />
                <th>Status</th>
                <th>Targets</th>
                <th className="whitespace-nowrap text-right">Triggers 24h</th>
                <th className="whitespace-nowrap">Last triggered</th>
                <SortHeader label="Updated" sortKey="updatedAt" filters={filters} onSort={(k) => update(nextSort(filters, k))} />
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <PolicyRow
                  key={p.id}
                  policy={p}
                  isAdmin={isAdmin}
                  appName={appName(p.applicationId)}
                  selected={p.id === drawerId}
                  onOpen={() => openPolicy(p.id)}
                  onEdit={() => setWizard({ kind: 'edit', policy: p })}
                  onOpenPolicy={openPolicy}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="mt-3 flex items-center justify-between text-sm">
        <span className="text-slate-500" data-testid="total">
          {list.data ? `${total} polic${total === 1 ? 'y' : 'ies'}${filtered ? ' match' : ''}` : ''}
        </span>
        {pages > 1 && (
          <div className="flex items-center gap-2">
            <button className="btn" disabled={filters.page <= 1} onClick={() => update({ page: filters.page - 1 })}>
              ‹ Prev
            </button>
            <span>
              Page {filters.page} of {pages}
            </span>
            <button className="btn" disabled={filters.page >= pages} onClick={() => update({ page: filters.page + 1 })}>
              Next ›
            </button>
          </div>
        )}
      </div>

      <PolicyDrawer
        policyId={drawerId}
        isAdmin={isAdmin}
        appName={(id) => (id === null ? 'Global (every application)' : appName(id))}
        onClose={() => openPolicy(null)}
        onEdit={(p) => setWizard({ kind: 'edit', policy: p })}
        onOpenPolicy={openPolicy}
      />
      <PolicyWizard mode={wizard} onClose={() => setWizard(null)} />
    </div>
  )
}

function SortHeader({
  label,
  sortKey,
  filters,
  onSort,
}: {
  label: string
  sortKey: SortKey
  filters: PolicyFilters
  onSort: (key: SortKey) => void
}) {
  const active = filters.sortBy === sortKey
  return (
    <th className="whitespace-nowrap" aria-sort={active ? (filters.sortDir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button
        className="inline-flex items-center gap-1 uppercase hover:text-slate-800 dark:hover:text-slate-200"
        data-testid={`sort-${sortKey}`}
        onClick={() => onSort(sortKey)}
      >
        {label}
        <span aria-hidden className={active ? '' : 'opacity-30'}>
          {active && filters.sortDir === 'asc' ? '▲' : '▼'}
        </span>
      </button>
    </th>
  )
}

function PolicyRow({
  policy: p,
  isAdmin,
  appName,
  selected,
  onOpen,
  onEdit,
  onOpenPolicy,
}: {
  policy: Policy
  isAdmin: boolean
  appName: string
  selected: boolean
  onOpen: () => void
  onEdit: () => void
  onOpenPolicy: (id: number) => void
}) {
  return (
    <tr
      data-testid="policy-row"
      data-id={p.id}
      data-name={p.name}
      data-status={p.status}
      className={selected ? 'bg-blue-50 dark:bg-blue-950/40' : undefined}
    >
      <td>
        <button className="text-left font-medium text-blue-600 hover:underline dark:text-blue-400" onClick={onOpen} data-testid="policy-open">
          {p.name}
        </button>
        <div className="text-xs text-slate-500">{appName}</div>
      </td>
      <td>
        <PolicyTypeLabel type={p.type} />
        <div className="max-w-56 truncate text-xs text-slate-500" title={ruleSummary(p.type, p.rule)}>
          {ruleSummary(p.type, p.rule)}
        </div>
      </td>
      <td>
        <PolicyStatusBadge status={p.status} />
      </td>
      <td className="max-w-64 truncate text-xs" title={targetsSummary(p.targeting)}>
        {targetsSummary(p.targeting)}
      </td>
      <td className="text-right tabular-nums">{p.triggers24h}</td>
      <td className="whitespace-nowrap" title={formatTime(p.lastTriggeredAt)}>
        {p.lastTriggeredAt ? relative(p.lastTriggeredAt) : 'Never'}
      </td>
      <td className="whitespace-nowrap text-xs">
        <div>{p.updatedBy ?? '—'}</div>
        <div className="text-slate-500" title={formatTime(p.updatedAt)}>
          {relative(p.updatedAt)} · v{p.version}
        </div>
      </td>
      <td className="text-right">
        <RowActions
          policy={p}
          isAdmin={isAdmin}
          onOpen={onOpen}
          onEdit={onEdit}
          onDone={(action, result) => {
            if (action === 'duplicate' && result.ok && result.policy) onOpenPolicy(result.policy.id)
          }}
        />
      </td>
    </tr>
  )
}

// -- KPIs ------------------------------------------------------------------------------------

function Kpis({ onShowStatus }: { onShowStatus: (status: PolicyFilters['status']) => void }) {
  const kpis = usePolicyKpis()
  if (kpis.isError) {
    return (
      <div className="mb-4">
        <ErrorState error={kpis.error} onRetry={() => void kpis.refetch()} />
      </div>
    )
  }
  const k = kpis.data
  const v = (n: number | undefined) => (n === undefined ? '…' : n)
  return (
    <div className="mb-4 grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6" data-testid="policy-kpis">
      <Kpi label="Policies" value={v(k?.total)} testId="kpi-total" />
      <Kpi label="Active" value={v(k?.byStatus.active)} testId="kpi-active" onClick={() => onShowStatus('active')} tone="text-green-700 dark:text-green-400" />
      <Kpi label="Paused" value={v(k?.byStatus.paused)} testId="kpi-paused" onClick={() => onShowStatus('paused')} tone="text-amber-700 dark:text-amber-400" />
      <Kpi label="Disabled" value={v(k?.byStatus.disabled)} testId="kpi-disabled" onClick={() => onShowStatus('disabled')} />
      <Kpi
        label="Triggers (24 h)"
        value={v(k?.triggers24h)}
        testId="kpi-triggers"
        note={k ? `${k.triggeredPolicies} polic${k.triggeredPolicies === 1 ? 'y' : 'ies'} triggered${k.covered < k.total ? ` (of the ${k.covered} most recently updated)` : ''}` : undefined}
      />
      <Kpi
        label="Most triggered (24 h)"
        value={k ? (k.top ? k.top.name : '—') : '…'}
        testId="kpi-top"
        note={k?.top ? `${k.top.triggers24h} triggers` : k ? 'nothing triggered' : undefined}
        small
      />
    </div>
  )
}

function Kpi({
  label,
  value,
  note,
  testId,
  onClick,
  tone,
  small,
}: {
  label: string
  value: ReactNode
  note?: string
  testId: string
  onClick?: () => void
  tone?: string
  small?: boolean
}) {
  const body = (
    <>
      <div className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</div>
      <div className={`mt-1 truncate font-semibold tabular-nums ${small ? 'text-base' : 'text-2xl'} ${tone ?? ''}`} data-testid={testId}>
        {value}
      </div>
      {note && <div className="mt-0.5 truncate text-xs text-slate-500">{note}</div>}
    </>
  )
  return onClick ? (
    <button className="card flex flex-col justify-start text-left hover:border-blue-400" onClick={onClick} title={`Show ${label.toLowerCase()} policies`}>
      {body}
    </button>
  ) : (
    <div className="card">{body}</div>
  )
}
