import { useSearchParams } from 'react-router-dom'
import { QueryView } from '../components/dashboard/QueryView'
import { DeadLetters } from '../components/observability/DeadLetters'
import { InsightsPanel } from '../components/observability/InsightsPanel'
import { IntegrationCard } from '../components/observability/IntegrationCard'
import { TracesTable } from '../components/observability/TracesTable'
import { useIntegrationConfigs, useIntegrationStatus } from '../components/observability/queries'
import { ErrorState } from '../components/states'
import { useMe } from '../lib/queries'

const TABS = [
  { id: 'integrations', label: 'Integrations' },
  { id: 'traces', label: 'Traces' },
  { id: 'insights', label: 'Insights' },
  { id: 'deadletters', label: 'Dead letters' },
] as const
type Tab = (typeof TABS)[number]['id']

export function ObservabilityPage() {
  const [params, setParams] = useSearchParams()
  const raw = params.get('tab')
  const tab: Tab = TABS.some((t) => t.id === raw) ? (raw as Tab) : 'integrations'
  const me = useMe()
  const go = (t: Tab) => setParams(t === 'integrations' ? {} : { tab: t }, { replace: true })

  return (
    <div className="space-y-4" data-testid="observability">
      <h1 className="text-xl font-semibold">Observability</h1>
      <div role="tablist" aria-label="Observability" className="flex gap-1 border-b border-slate-200 dark:border-slate-800">
        {TABS.map((t) => (
          <button
            key={t.id}
            role="tab"
            aria-selected={tab === t.id}
            data-testid={`tab-${t.id}`}
            onClick={() => go(t.id)}
            className={`-mb-px border-b-2 px-3 py-2 text-sm ${
              tab === t.id
                ? 'border-blue-600 font-medium text-blue-700 dark:text-blue-300'
                : 'border-transparent text-slate-600 hover:text-slate-900 dark:text-slate-400 dark:hover:text-slate-100'
            }`}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        {tab === 'integrations' && <Integrations />}
        {tab === 'traces' && <TracesTable onConfigureLinks={() => go('integrations')} />}
        {tab === 'insights' && <InsightsPanel />}
        {tab === 'deadletters' && <DeadLetters isAdmin={me.data?.role === 'Admin'} />}
      </div>
    </div>
  )
}

function Integrations() {
  const me = useMe()
  const configs = useIntegrationConfigs()
  const status = useIntegrationStatus()
  const isAdmin = me.data?.role === 'Admin'
  return (
    <QueryView query={configs} loading="Loading integrations…">
      {(list) => (
        <>
          {status.isError && <ErrorState error={status.error} onRetry={() => void status.refetch()} />}
          <div className="grid gap-4 md:grid-cols-2" data-testid="integrations">
            {list.map((i) => (
              <IntegrationCard
                key={i.kind}
                integration={i}
                status={status.data?.find((s) => s.kind === i.kind)}
                isAdmin={isAdmin}
              />
            ))}
          </div>
        </>
      )}
    </QueryView>
  )
}
