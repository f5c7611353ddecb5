import { useState, type ReactNode } from 'react'
import { Link } from 'react-router-dom'
import { ApiError } from '../../lib/api'
import { formatTime, span } from '../../lib/format'
import { useApplications, usePipeline } from '../../lib/queries'
import type { Pipeline } from '../../lib/types'
import { ConfirmButton } from '../confirm'
import { useIntegrationConfigs } from '../observability/queries'
import { Empty, ErrorState, Loading } from '../states'
import { StatusBadge } from '../status'
import { useNow, usePipelineAction } from './hooks'
import { pipelineLinks } from './links'
import { Field, StageCard, type StageDetail } from './StageCard'
import { StageGraph } from './StageGraph'

const UNFINISHED = ['NotStarted', 'Running']

interface Props {
  pipelineId: number
  /** a side panel stacks everything in one column and leaves the title to its frame */
  compact?: boolean
  /** what sits at the right of the title (the panel's "open as page" and close) */
  aside?: ReactNode
  /** rendered as the title (the panel passes its Dialog.Title) */
  renderTitle?: (text: string) => ReactNode
}

/** One pipeline, live: header, stage graph, stage cards with actions, context, keywords. */
export function PipelineView({ pipelineId, compact, aside, renderTitle }: Props) {
  const q = usePipeline(pipelineId)
  const title = (text: string) => (renderTitle ? renderTitle(text) : <h1 className="text-xl font-semibold">{text}</h1>)

  if (!Number.isInteger(pipelineId) || pipelineId < 1) return <Empty>No such pipeline.</Empty>
  if (q.isPending)
    return (
      <>
        <Heading title={title(`Pipeline #${pipelineId}`)} aside={aside} />
        <Loading />
      </>
    )
  if (q.isError) {
    return (
      <>
        <Heading title={title(`Pipeline #${pipelineId}`)} aside={aside} />
        {q.error instanceof ApiError && q.error.status === 404 ? (
          <Empty>
            Pipeline #{pipelineId} was not found.{' '}
            <Link to="/pipelines" className="underline">
              Back to pipelines
            </Link>
          </Empty>
        ) : (
          <ErrorState error={q.error} onRetry={() => void q.refetch()} />
        )}
      </>
    )
  }
  return <Loaded p={q.data} compact={compact} aside={aside} title={title} />
}

function Heading({ title, aside, children }: { title: ReactNode; aside?: ReactNode; children?: ReactNode }) {
  return (
    <div className="flex flex-wrap items-center gap-3">
      {title}
      {children}
      {aside && <div className="ml-auto flex items-center gap-2">{aside}</div>}
    </div>
  )
}

function Loaded({
  p,
  compact,
  aside,
  title,
}: {
  p: Pipeline
  compact?: boolean
  aside?: ReactNode
  title: (text: string) => ReactNode
}) {
  const running = UNFINISHED.includes(p.status)
  const now = useNow(running)
  const act = usePipelineAction()
  const configs = useIntegrationConfigs()
  const apps = useApplications()
  const appName = apps.data?.find((a) => a.id === p.applicationId)?.name
  const links = pipelineLinks(configs.data, p)
  const busy = p.stages.some((s) => s.status === 'Pending' || s.status === 'Running')
  const [copied, setCopied] = useState(false)
  const show = (id: number) => document.getElementById(`stage-${id}`)?.scrollIntoView({ behavior: 'smooth', block: 'start' })
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(p.traceId)
      setCopied(true)
      setTimeout(() => setCopied(false), 1500)
    } catch {
      // no clipboard (insecure context): the id stays selectable
    }
  }

  return (
    <div className="space-y-5" data-testid="pipeline-detail" data-id={p.id} data-status={p.status}>
      <div>
        <Heading title={title(`#${p.id} ${p.name}`)} aside={aside}>
          <StatusBadge status={p.status} />
        </Heading>
        <dl className="mt-3 grid grid-cols-2 gap-x-6 gap-y-2 text-sm sm:grid-cols-4">
          <Field label="Duration">
            <span data-testid="pipeline-duration">{span(p.startedAt ?? p.createdAt, p.finishedAt, now)}</span>
          </Field>
          <Field label="Created">{formatTime(p.createdAt)}</Field>
          <Field label="Finished">{formatTime(p.finishedAt)}</Field>
          <Field label="Application">{appName ?? `#${p.applicationId}`}</Field>
          <div className="col-span-2 sm:col-span-4">
            <dt className="text-xs uppercase tracking-wide text-slate-500">Trace id</dt>
            <dd className="flex flex-wrap items-center gap-2">
              <code className="select-all text-xs" data-testid="trace-id">
                {p.traceId}
              </code>
              <button type="button" className="text-xs text-blue-600 hover:underline dark:text-blue-400" onClick={() => void copy()}>
                {copied ? 'Copied' : 'Copy'}
              </button>
              {links.map((l) => (
                <a
                  key={l.kind}
                  href={l.href}
                  target="_blank"
                  rel="noreferrer noopener"
                  data-testid="deep-link"
                  data-kind={l.kind}
                  className="btn btn-sm"
                >
                  {l.label} ↗
                </a>
              ))}
              {configs.isSuccess && links.length === 0 && (
                <Link to="/observability" className="text-xs text-slate-500 hover:underline" data-testid="no-deep-links">
                  No link templates: set them in Observability
                </Link>
              )}
            </dd>
          </div>
        </dl>
        {running && (
          <div className="mt-3">
            <ConfirmButton
              title={`Cancel pipeline #${p.id}?`}
              description="Every unfinished stage becomes Cancelled; workers holding its jobs are told on ack."
              confirmLabel="Cancel pipeline"
              danger
              onConfirm={() => act('cancel', { pipelineId: p.id }, `Pipeline #${p.id} cancelled`)}
              trigger={<button className="btn btn-danger btn-sm">Cancel pipeline</button>}
            />
          </div>
        )}
      </div>

      <StageGraph stages={p.stages} now={now} onSelect={show} />

      <div className={compact ? 'space-y-4' : 'grid gap-6 lg:grid-cols-3'}>
        <div className={compact ? 'space-y-4' : 'space-y-4 lg:col-span-2'}>
          {p.stages.map((s) => (
            <StageCard key={s.id} stage={s as StageDetail} now={now} busy={busy} act={act} />
          ))}
        </div>
        <div className="space-y-4">
          <section className="card">
            <h2 className="card-title">Context</h2>
            {p.pipelineContextItems?.length ? (
              <table className="table" data-testid="context-table">
                <thead>
                  <tr>
                    <th>Key</th>
                    <th>Value</th>
                    <th>Type</th>
                  </tr>
                </thead>
                <tbody>
                  {p.pipelineContextItems.map((c) => (
                    <tr key={c.key} data-testid="context-row">
                      <td className="font-medium">{c.key}</td>
                      <td className="break-all">{c.value}</td>
                      <td className="text-slate-500">{c.valueType ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p className="text-sm text-slate-500">No context items.</p>
            )}
          </section>
          <section className="card">
            <h2 className="card-title">Keywords</h2>
            {p.pipelineKeywords?.length ? (
              <div className="flex flex-wrap gap-1" data-testid="keywords">
                {p.pipelineKeywords.map((k) => (
                  <Link
                    key={`${k.key}=${k.value}`}
                    to={`/pipelines?q=${encodeURIComponent(k.value)}`}
                    className="rounded bg-slate-100 px-2 py-0.5 text-xs hover:underline dark:bg-slate-800"
                    title="Search pipelines for this keyword"
                  >
                    {k.key}: {k.value}
                  </Link>
                ))}
              </div>
            ) : (
              <p className="text-sm text-slate-500">No keywords.</p>
            )}
          </section>
        </div>
      </div>
    </div>
  )
}
