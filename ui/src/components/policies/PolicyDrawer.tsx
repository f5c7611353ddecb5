import * as Dialog from '@radix-ui/react-dialog'
import { useState, type ReactNode } from 'react'
import { Empty, ErrorState, Loading } from '../states'
import { ApiError } from '../../lib/api'
import { formatTime, relative } from '../../lib/format'
import { useActionRunner } from './actions'
import { PolicyStatusBadge, PolicyTypeLabel } from './badges'
import { AUDIT_PAGE_SIZE, usePolicy, usePolicyAudit, usePolicyInsights } from './hooks'
import {
  ACTION_LABELS,
  EVENT_LABELS,
  RULE_FIELDS,
  TARGET_LISTS,
  canChange,
  diffRows,
  formatRuleValue,
  formatValue,
  isPolicyType,
  normalTargeting,
  ruleSummary,
  statusActions,
  targetsSummary,
  type Insights,
  type Policy,
  type PolicyEvent,
  type TargetList,
} from './model'
import { TargetingPreview } from './TargetingPreview'

export const DRAWER_TABS = ['overview', 'rules', 'targeting', 'audit'] as const
export type DrawerTab = (typeof DRAWER_TABS)[number]

const TAB_LABELS: Record<DrawerTab, string> = {
  overview: 'Overview',
  rules: 'Rules',
  targeting: 'Targeting',
  audit: 'Audit',
}

/** A policy in a side panel: overview with insights, its rule, targeting with preview, audit. */
export function PolicyDrawer({
  policyId,
  isAdmin,
  appName,
  onClose,
  onEdit,
  onOpenPolicy,
}: {
  policyId: number | null
  isAdmin: boolean
  appName: (id: number | null) => string
  onClose: () => void
  onEdit: (policy: Policy) => void
  onOpenPolicy: (id: number) => void
}) {
  return (
    <Dialog.Root open={policyId !== null} onOpenChange={(o) => !o && onClose()}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-40 bg-black/30" />
        <Dialog.Content
          data-testid="policy-drawer"
          data-policy-id={policyId ?? undefined}
          className="fixed inset-y-0 right-0 z-40 flex w-[46rem] max-w-[100vw] flex-col border-l border-slate-200 bg-white shadow-2xl dark:border-slate-800 dark:bg-slate-900"
        >
          {policyId !== null && (
            <DrawerBody
              key={policyId}
              policyId={policyId}
              isAdmin={isAdmin}
              appName={appName}
              onClose={onClose}
              onEdit={onEdit}
              onOpenPolicy={onOpenPolicy}
            />
          )}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  )
}

function DrawerBody({
  policyId,
  isAdmin,
  appName,
  onClose,
  onEdit,
  onOpenPolicy,
}: {
  policyId: number
  isAdmin: boolean
  appName: (id: number | null) => string
  onClose: () => void
  onEdit: (policy: Policy) => void
  onOpenPolicy: (id: number) => void
}) {
  const policy = usePolicy(policyId)
  const [tab, setTab] = useState<DrawerTab>('overview')
  const { start, busy, dialog } = useActionRunner((action, result) => {
    if (!result.ok) return // the toast said why; the drawer stays
    if (action === 'delete') onClose()
    if (action === 'duplicate' && result.policy) onOpenPolicy(result.policy.id)
  })

  if (policy.isPending) {
    return (
      <>
        <Dialog.Title className="sr-only">Policy</Dialog.Title>
        <Dialog.Description className="sr-only">Loading the policy</Dialog.Description>
        <Loading what="Loading the policy…" />
      </>
    )
  }
  if (policy.isError) {
    const gone = policy.error instanceof ApiError && policy.error.status === 404
    return (
      <div className="p-4">
        <Dialog.Title className="text-base font-semibold">Policy #{policyId}</Dialog.Title>
        <Dialog.Description className="sr-only">The policy could not be loaded</Dialog.Description>
        {gone ? (
          <Empty>This policy does not exist (it may have been deleted).</Empty>
        ) : (
          <ErrorState error={policy.error} onRetry={() => void policy.refetch()} />
        )}
        <div className="mt-4">
          <Dialog.Close asChild>
            <button className="btn">Close</button>
          </Dialog.Close>
        </div>
      </div>
    )
  }

  const p = policy.data
  const writable = canChange(p, isAdmin)
  return (
    <>
      <header className="border-b border-slate-200 px-5 py-4 dark:border-slate-800">
        <div className="flex items-start justify-between gap-3">
          <div className="min-w-0">
            <Dialog.Title className="truncate text-lg font-semibold" data-testid="drawer-name">
              {p.name}
            </Dialog.Title>
            <Dialog.Description asChild>
              <div className="mt-1 flex flex-wrap items-center gap-2 text-xs text-slate-500">
                <PolicyStatusBadge status={p.status} />
                <PolicyTypeLabel type={p.type} />
                <span>· version {p.version}</span>
                <span>· {appName(p.applicationId)}</span>
              </div>
            </Dialog.Description>
          </div>
          <Dialog.Close asChild>
            <button className="btn btn-sm" aria-label="Close">
              ✕
            </button>
          </Dialog.Close>
        </div>
        {writable ? (
          <div className="mt-3 flex flex-wrap gap-2" data-testid="drawer-actions">
            <button className="btn btn-sm" onClick={() => onEdit(p)} disabled={busy !== null}>
              Edit
            </button>
            {statusActions(p.status).map((a) => (
              <button key={a} className="btn btn-sm" disabled={busy !== null} onClick={() => start(a, p)}>
                {busy === a ? 'Working…' : ACTION_LABELS[a]}
              </button>
            ))}
            <button className="btn btn-sm" disabled={busy !== null} onClick={() => start('duplicate', p)}>
              {busy === 'duplicate' ? 'Working…' : 'Duplicate'}
            </button>
            <button
              className="btn btn-sm text-red-700 dark:text-red-400"
              disabled={busy !== null}
              onClick={() => start('delete', p)}
            >
              Delete
            </button>
          </div>
        ) : (
          <p className="mt-3 text-xs text-slate-500">A global policy: only an Admin can change it.</p>
        )}
        <div role="tablist" aria-label="Policy" className="-mb-4 mt-4 flex gap-1">
          {DRAWER_TABS.map((t) => (
            <button
              key={t}
              role="tab"
              id={`policy-tab-${t}`}
              aria-selected={tab === t}
              aria-controls={`policy-panel-${t}`}
              data-testid={`drawer-tab-${t}`}
              onClick={() => setTab(t)}
              className={`border-b-2 px-3 py-2 text-sm ${
                tab === t
                  ? 'border-blue-600 font-medium text-blue-700 dark:text-blue-300'
                  : 'border-transparent text-slate-600 hover:text-slate-900 dark:text-slate-400 dark:hover:text-slate-100'
              }`}
            >
              {TAB_LABELS[t]}
            </button>
          ))}
        </div>
      </header>
      <div role="tabpanel" id={`policy-panel-${tab}`} aria-labelledby={`policy-tab-${tab}`} className="min-h-0 flex-1 overflow-y-auto px-5 py-4">
        {tab === 'overview' && <OverviewTab policy={p} appName={appName} />}
        {tab === 'rules' && <RulesTab policy={p} />}
        {tab === 'targeting' && <TargetingTab policy={p} appName={appName} />}
        {tab === 'audit' && <AuditTab policyId={p.id} />}
      </div>
      {dialog}
    </>
  )
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt className="text-slate-500">{label}</dt>
      <dd className="min-w-0 break-words">{children}</dd>
    </>
  )
}

// -- overview --------------------------------------------------------------------------------

const RANGES = [
  { value: '1h', label: 'Last hour' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
]

function OverviewTab({ policy: p, appName }: { policy: Policy; appName: (id: number | null) => string }) {
  return (
    <div className="space-y-5">
      <dl className="grid grid-cols-[9rem_1fr] gap-x-3 gap-y-2 text-sm" data-testid="policy-overview">
        <Row label="Type">
          <PolicyTypeLabel type={p.type} />
        </Row>
        <Row label="Status">
          <PolicyStatusBadge status={p.status} />
        </Row>
        <Row label="Rule">{ruleSummary(p.type, p.rule)}</Row>
        <Row label="Applies to">{targetsSummary(p.targeting)}</Row>
        <Row label="Application">{appName(p.applicationId)}</Row>
        <Row label="Triggers (24 h)">
          <span className="tabular-nums">{p.triggers24h}</span>
        </Row>
        <Row label="Last triggered">
          <span title={formatTime(p.lastTriggeredAt)}>{p.lastTriggeredAt ? relative(p.lastTriggeredAt) : 'Never'}</span>
        </Row>
        <Row label="Created">
          {formatTime(p.createdAt)}
          {p.createdBy ? ` by ${p.createdBy}` : ''}
        </Row>
        <Row label="Updated">
          {formatTime(p.updatedAt)}
          {p.updatedBy ? ` by ${p.updatedBy}` : ''} (version {p.version})
        </Row>
      </dl>
      <InsightsPanel policyId={p.id} />
    </div>
  )
}

function InsightsPanel({ policyId }: { policyId: number }) {
  const [range, setRange] = useState('24h')
  const insights = usePolicyInsights(policyId, range)
  return (
    <section className="card" data-testid="policy-insights">
      <div className="mb-2 flex items-center justify-between">
        <h3 className="card-title mb-0">Triggers</h3>
        <select aria-label="Insights range" className="input py-1 text-xs" value={range} onChange={(e) => setRange(e.target.value)}>
          {RANGES.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </select>
      </div>
      {insights.isPending ? (
        <Loading />
      ) : insights.isError ? (
        <ErrorState error={insights.error} onRetry={() => void insights.refetch()} />
      ) : (
        <InsightsView data={insights.data} />
      )}
    </section>
  )
}

function InsightsView({ data }: { data: Insights }) {
  const max = Math.max(1, ...data.series.map((b) => b.count))
  return (
    <div>
      <p className="text-sm">
        <strong className="tabular-nums" data-testid="insights-total">
          {data.total}
        </strong>{' '}
        trigger{data.total === 1 ? '' : 's'} in this range
        {data.lastTriggeredAt ? ` · last ${relative(data.lastTriggeredAt)}` : ''}
      </p>
      {data.total === 0 ? (
        <Empty>This policy has not been applied in this range.</Empty>
      ) : (
        <>
          <div className="mt-3 flex h-24 items-end gap-px" aria-label="Triggers over time" role="img">
            {data.series.map((b) => (
              <div
                key={b.start}
                title={`${formatTime(b.start)}: ${b.count}`}
                className="flex-1 rounded-t-sm bg-blue-500/80"
                style={{ height: `${(b.count / max) * 100}%`, minHeight: b.count ? 2 : 0 }}
              />
            ))}
          </div>
          <div className="mt-1 flex justify-between text-[11px] text-slate-500">
            <span>{formatTime(data.from)}</span>
            <span>{formatTime(data.to)}</span>
          </div>
          <div className="mt-3 grid grid-cols-2 gap-4 text-sm">
            <TopList title="By stage" rows={data.byStage.map((s) => [s.stageName, s.count])} />
            <TopList title="By handler" rows={data.byHandler.map((h) => [h.handler, h.count])} />
          </div>
        </>
      )}
    </div>
  )
}

function TopList({ title, rows }: { title: string; rows: [string, number][] }) {
  return (
    <div>
      <div className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">{title}</div>
      <ul className="space-y-0.5">
        {rows.slice(0, 8).map(([name, n]) => (
          <li key={name} className="flex justify-between gap-2">
            <span className="truncate font-mono text-xs">{name}</span>
            <span className="tabular-nums text-xs">{n}</span>
          </li>
        ))}
      </ul>
    </div>
  )
}

// -- rules -----------------------------------------------------------------------------------

function RulesTab({ policy: p }: { policy: Policy }) {
  const fields = isPolicyType(p.type) ? RULE_FIELDS[p.type] : []
  const known = new Set(fields.map((f) => f.key))
  const extra = Object.keys(p.rule ?? {}).filter((k) => !known.has(k))
  return (
    <div className="space-y-3">
      <p className="text-sm">{ruleSummary(p.type, p.rule)}</p>
      <table className="table" data-testid="policy-rules">
        <thead>
          <tr>
            <th>Field</th>
            <th>Value</th>
            <th>Meaning</th>
          </tr>
        </thead>
        <tbody>
          {fields
            .filter((f) => !(f.key === 'keyField' && p.rule.keyBy !== 'custom'))
            .map((f) => (
              <tr key={f.key} data-field={f.key}>
                <td className="whitespace-nowrap font-medium">{f.label}</td>
                <td className="whitespace-nowrap font-mono text-xs">
                  {formatRuleValue(p.rule[f.key])}
                  {f.unit && p.rule[f.key] !== undefined ? ` ${f.unit}` : ''}
                </td>
                <td className="text-xs text-slate-500">{f.help}</td>
              </tr>
            ))}
          {extra.map((k) => (
            <tr key={k}>
              <td className="font-medium">{k}</td>
              <td className="font-mono text-xs">{formatRuleValue(p.rule[k])}</td>
              <td />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

// -- targeting -------------------------------------------------------------------------------

const LIST_LABELS: Record<TargetList, string> = {
  pipelines: 'Pipelines',
  stages: 'Stages',
  handlers: 'Handlers',
  tagsInclude: 'Tags (all required)',
  tagsExclude: 'Tags (excluded)',
}

function TargetingTab({ policy: p, appName }: { policy: Policy; appName: (id: number | null) => string }) {
  const t = normalTargeting(p.targeting)
  return (
    <div className="space-y-4">
      <dl className="grid grid-cols-[9rem_1fr] gap-x-3 gap-y-2 text-sm" data-testid="policy-targeting">
        {TARGET_LISTS.map((k) => (
          <Row key={k} label={LIST_LABELS[k]}>
            {t[k].length ? (
              <span className="flex flex-wrap gap-1">
                {t[k].map((v) => (
                  <span key={v} className="rounded-full bg-blue-100 px-2 py-0.5 font-mono text-xs text-blue-900 dark:bg-blue-950 dark:text-blue-200">
                    {v}
                  </span>
                ))}
              </span>
            ) : (
              <span className="text-slate-400">any</span>
            )}
          </Row>
        ))}
        <Row label="Environment">{t.environment}</Row>
      </dl>
      <TargetingPreview targeting={t} applicationId={p.applicationId} appName={(id) => appName(id)} />
    </div>
  )
}

// -- audit -----------------------------------------------------------------------------------

function AuditTab({ policyId }: { policyId: number }) {
  const [page, setPage] = useState(1)
  const audit = usePolicyAudit(policyId, page)
  if (audit.isPending) return <Loading />
  if (audit.isError) return <ErrorState error={audit.error} onRetry={() => void audit.refetch()} />
  const pages = Math.max(1, Math.ceil(audit.data.totalCount / AUDIT_PAGE_SIZE))
  return (
    <div>
      {audit.data.items.length === 0 ? (
        <Empty>No changes recorded.</Empty>
      ) : (
        <ol className="space-y-3" data-testid="policy-audit">
          {audit.data.items.map((e) => (
            <AuditEntry key={e.id} event={e} />
          ))}
        </ol>
      )}
      {pages > 1 && (
        <div className="mt-3 flex items-center justify-end gap-2 text-sm">
          <button className="btn btn-sm" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            ‹ Newer
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button className="btn btn-sm" disabled={page >= pages} onClick={() => setPage(page + 1)}>
            Older ›
          </button>
        </div>
      )}
    </div>
  )
}

function AuditEntry({ event: e }: { event: PolicyEvent }) {
  const rows = diffRows(e.details)
  const source = e.details?.sourcePolicyId
  const hasBefore = rows.some((r) => r.before !== undefined)
  const hasAfter = rows.some((r) => r.after !== undefined)
  return (
    <li className="rounded-md border border-slate-200 p-3 dark:border-slate-800" data-testid="audit-entry" data-kind={e.kind} data-version={e.version}>
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <span className="font-medium">{EVENT_LABELS[e.kind] ?? e.kind}</span>
        <span className="rounded bg-slate-100 px-1.5 text-xs dark:bg-slate-800">v{e.version}</span>
        <span className="text-slate-500">by {e.actor ?? 'unknown'}</span>
        <span className="ml-auto text-xs text-slate-500" title={formatTime(e.createdAt)}>
          {relative(e.createdAt)}
        </span>
      </div>
      {typeof source === 'number' && (
        <p className="mt-1 text-xs text-slate-500">
          Copied from policy #{source}
          {typeof e.details?.sourceVersion === 'number' ? ` (version ${e.details.sourceVersion})` : ''}.
        </p>
      )}
      {rows.length > 0 && (
        <table className="mt-2 w-full table-fixed text-xs" data-testid="audit-diff">
          <thead>
            <tr className="text-left text-slate-500">
              <th className="w-1/4 py-1 font-medium">Field</th>
              {hasBefore && <th className="py-1 font-medium">Before</th>}
              {hasAfter && <th className="py-1 font-medium">After</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.field} className="border-t border-slate-100 align-top dark:border-slate-800">
                <td className="py-1 pr-2 font-mono">{r.field}</td>
                {hasBefore && (
                  <td className="break-all py-1 pr-2 font-mono text-red-700 dark:text-red-400">
                    {r.before === undefined ? '' : formatValue(r.before)}
                  </td>
                )}
                {hasAfter && (
                  <td className="break-all py-1 font-mono text-green-700 dark:text-green-400">
                    {r.after === undefined ? '' : formatValue(r.after)}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </li>
  )
}
