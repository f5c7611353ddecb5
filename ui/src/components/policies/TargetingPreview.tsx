import { Link } from 'react-router-dom'
import { Empty, ErrorState, Loading } from '../states'
import { usePolicyPreview } from './hooks'
import type { Targeting } from './model'

/** What a targeting matches among the most recent pipelines (POST /api/policies/preview). */
export function TargetingPreview({
  targeting,
  applicationId,
  appName,
}: {
  targeting: Targeting
  applicationId: number | null
  appName?: (id: number) => string
}) {
  const { preview, current } = usePolicyPreview(targeting, applicationId)
  return (
    <section
      data-testid="targeting-preview"
      data-current={current}
      aria-label="Match preview"
      aria-busy={!current}
      className="rounded-md border border-slate-200 dark:border-slate-800"
    >
      <header className="flex items-center justify-between border-b border-slate-200 px-3 py-2 text-xs font-semibold uppercase tracking-wide text-slate-500 dark:border-slate-800">
        Match preview
        {!current && !preview.isPending && !preview.isError && (
          <span className="font-normal normal-case text-slate-400">updating…</span>
        )}
      </header>
      {preview.isPending ? (
        <Loading what="Matching recent pipelines…" />
      ) : preview.isError ? (
        <ErrorState error={preview.error} onRetry={() => void preview.refetch()} />
      ) : (
        <div className={`p-3 text-sm transition-opacity ${current ? '' : 'opacity-60'}`}>
          <p data-testid="preview-summary" data-matched={preview.data.matchedPipelines}>
            Matches <strong>{preview.data.matchedPipelines}</strong> of the {preview.data.scannedPipelines} most recent
            pipelines{applicationId === null ? '' : ' of this application'} (
            <strong>{preview.data.matchedStages}</strong> stage{preview.data.matchedStages === 1 ? '' : 's'}).
          </p>
          {preview.data.handlers.length > 0 && (
            <p className="mt-1 text-xs text-slate-500">
              Handlers: <span className="font-mono">{preview.data.handlers.join(', ')}</span>
            </p>
          )}
          {preview.data.pipelines.length === 0 ? (
            <Empty>
              {preview.data.scannedPipelines === 0
                ? 'No pipelines have run yet, so there is nothing to match against.'
                : 'No recent pipeline matches this targeting.'}
            </Empty>
          ) : (
            <ul className="mt-2 max-h-64 divide-y divide-slate-100 overflow-y-auto dark:divide-slate-800" data-testid="preview-pipelines">
              {preview.data.pipelines.map((p) => (
                <li key={p.id} className="py-1.5" data-testid="preview-pipeline">
                  <Link to={`/pipelines/${p.id}`} className="text-blue-600 hover:underline dark:text-blue-400">
                    #{p.id} {p.name}
                  </Link>
                  <span className="ml-2 text-xs text-slate-500">
                    {appName ? appName(p.applicationId) : `app ${p.applicationId}`}
                    {p.environment ? ` · env ${p.environment}` : ''}
                  </span>
                  <div className="mt-0.5 flex flex-wrap gap-1">
                    {p.stages.map((s) => (
                      <span key={s.id} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-[11px] dark:bg-slate-800">
                        {s.name} · {s.handler}
                      </span>
                    ))}
                  </div>
                </li>
              ))}
            </ul>
          )}
          {preview.data.matchedPipelines > preview.data.pipelines.length && (
            <p className="mt-1 text-xs text-slate-500">
              Showing the first {preview.data.pipelines.length} of {preview.data.matchedPipelines}.
            </p>
          )}
        </div>
      )}
    </section>
  )
}
