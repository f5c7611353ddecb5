import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { Link, useParams } from 'react-router-dom'
import { ConfirmButton } from '../components/confirm'
import { StatusBadge } from '../components/status'
import { Empty, ErrorState, Loading } from '../components/states'
import { useToast } from '../components/toast'
import { ApiError, api, errorMessage } from '../lib/api'
import { formatTime, span } from '../lib/format'
import { applyPipeline } from '../lib/live'
import { keys, usePipeline } from '../lib/queries'
import { solidClass, statusLabel } from '../lib/status'
import type { Pipeline, Stage } from '../lib/types'

const FINISHED_STAGE = ['Completed', 'Failed', 'Skipped', 'Cancelled']
const SKIPPABLE = ['NotStarted', 'RetryScheduled', 'Failed', 'Pending']

/** Re-render every second while something runs, so open durations tick. */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (!active) return
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [active])
  return now
}

function useAction() {
  const client = useQueryClient()
  const toast = useToast()
  return async (path: string, body: Record<string, unknown>, done: string) => {
    try {
      const result = await api<Pipeline>(`/api/pipelines/${path}`, { method: 'POST', body })
      applyPipeline(client, result)
      // the result has no logs: read the detail again for the action's log line
      void client.invalidateQueries({ queryKey: keys.pipeline(result.id), exact: true })
      toast({ title: done })
    } catch (err) {
      toast({ title: 'Action failed', description: errorMessage(err), variant: 'error' })
    }
  }
}

export function PipelineDetailPage() {
  const { id } = useParams()
  const pipelineId = Number(id)
  const q = usePipeline(pipelineId)
  const running = q.data?.status === 'Running' || q.data?.status === 'NotStarted'
  const now = useNow(running)
  const act = useAction()

  if (!Number.isInteger(pipelineId) || pipelineId < 1) return <Empty>No such pipeline.</Empty>
  if (q.isPending) return <Loading />
  if (q.isError) {
    if (q.error instanceof ApiError && q.error.status === 404) {
      return (
        <Empty>
          Pipeline #{pipelineId} was not found. <Link to="/pipelines" className="underline">Back to pipelines</Link>
        </Empty>
      )
    }
    return <ErrorState error={q.error} onRetry={() => void q.refetch()} />
  }
  const p = q.data
  const busyStage = p.stages.some((s) => s.status === 'Pending' || s.status === 'Running')

  return (
    <div className="space-y-6" data-testid="pipeline-detail">
      <div>
        <Link to="/pipelines" className="text-sm text-blue-600 hover:underline dark:text-blue-400">
          ‹ Pipelines
        </Link>
        <div className="mt-2 flex flex-wrap items-center gap-3">
          <h1 className="text-xl font-semibold">
            #{p.id} {p.name}
          </h1>
          <StatusBadge status={p.status} />
          <div className="ml-auto">
            {running && (
              <ConfirmButton
                title={`Cancel pipeline #${p.id}?`}
                description="Every unfinished stage becomes Cancelled; workers holding its jobs are told on ack."
                confirmLabel="Cancel pipeline"
                danger
                onConfirm={() => act('cancel', { pipelineId: p.id }, `Pipeline #${p.id} cancelled`)}
                trigger={<button className="btn btn-danger">Cancel pipeline</button>}
              />
            )}
          </div>
        </div>
        <dl className="mt-3 grid grid-cols-2 gap-x-6 gap-y-1 text-sm sm:grid-cols-4">
          <Field label="Duration">{span(p.startedAt ?? p.createdAt, p.finishedAt, now)}</Field>
          <Field label="Created">{formatTime(p.createdAt)}</Field>
          <Field label="Finished">{formatTime(p.finishedAt)}</Field>
          <Field label="Trace id">
            <code className="text-xs" data-testid="trace-id">{p.traceId}</code>
          </Field>
        </dl>
      </div>

      <StageGraph stages={p.stages} now={now} />

      <div className="grid gap-6 lg:grid-cols-3">
        <div className="space-y-4 lg:col-span-2">
          {p.stages.map((s) => (
            <StageCard key={s.id} stage={s} now={now} busyStage={busyStage} act={act} />
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
                    <tr key={c.key}>
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
              <div className="flex flex-wrap gap-1">
                {p.pipelineKeywords.map((k) => (
                  <span key={`${k.key}=${k.value}`} className="rounded bg-slate-100 px-2 py-0.5 text-xs dark:bg-slate-800">
                    {k.key}: {k.value}
                  </span>
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

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
      <dd>{children}</dd>
    </div>
  )
}

function StageGraph({ stages, now }: { stages: Stage[]; now: number }) {
  return (
    <ol className="flex flex-wrap items-center gap-2" data-testid="stage-graph">
      {stages.map((s, i) => (
        <li key={s.id} className="flex items-center gap-2">
          <a
            href={`#stage-${s.id}`}
            data-status={s.status}
            className="flex min-w-32 flex-col rounded-md border border-slate-200 bg-white px-3 py-2 text-sm shadow-sm dark:border-slate-700 dark:bg-slate-900"
          >
            <span className="flex items-center gap-2">
              <span className={`h-2.5 w-2.5 rounded-full ${solidClass(s.status)}`} />
              <span className="font-medium">{s.name}</span>
            </span>
            <span className="text-xs text-slate-500">
              {statusLabel(s.status)} · {span(s.startedAt, s.finishedAt, now)}
            </span>
          </a>
          {i < stages.length - 1 && <span className="text-slate-400">→</span>}
        </li>
      ))}
    </ol>
  )
}

interface CardProps {
  stage: Stage
  now: number
  busyStage: boolean
  act: (path: string, body: Record<string, unknown>, done: string) => Promise<void>
}

function StageCard({ stage: s, now, busyStage, act }: CardProps) {
  const canRerun = FINISHED_STAGE.includes(s.status) && !busyStage
  const canSkip = SKIPPABLE.includes(s.status)
  const canRetryNow = s.status === 'RetryScheduled'
  const failed = s.status === 'Failed'
  return (
    <section id={`stage-${s.id}`} className="card" data-testid="stage-card" data-status={s.status}>
      <div className="flex flex-wrap items-center gap-2">
        <h2 className="font-semibold">{s.name}</h2>
        <StatusBadge status={s.status} />
        <code className="text-xs text-slate-500">{s.stageHandlerName}</code>
        <div className="ml-auto flex flex-wrap gap-1">
          {canRerun && (
            <>
              <ConfirmButton
                title={`Rerun stage "${s.name}"?`}
                description="This stage returns to NotStarted with a fresh attempt counter and runs again; the pipeline reopens."
                confirmLabel="Rerun stage"
                onConfirm={() => act('rerunStage', { stageId: s.id, rerunAllNextStages: false }, `Stage "${s.name}" rerun`)}
                trigger={<button className="btn btn-sm">Rerun</button>}
              />
              <ConfirmButton
                title={`Rerun "${s.name}" and the stages after it?`}
                description="This stage and every later one return to NotStarted and run again in order."
                confirmLabel="Rerun from here"
                onConfirm={() => act('rerunStage', { stageId: s.id, rerunAllNextStages: true }, `Stages from "${s.name}" rerun`)}
                trigger={<button className="btn btn-sm">Rerun from here</button>}
              />
            </>
          )}
          {canRetryNow && (
            <ConfirmButton
              title={`Retry "${s.name}" now?`}
              description="The scheduled retry is dispatched at once instead of waiting."
              confirmLabel="Retry now"
              onConfirm={() => act('retryNow', { stageId: s.id }, `Stage "${s.name}" dispatched`)}
              trigger={<button className="btn btn-sm">Retry now</button>}
            />
          )}
          {canSkip && (
            <ConfirmButton
              title={`Skip stage "${s.name}"?`}
              description="The stage becomes Skipped and the pipeline continues with the next one."
              confirmLabel="Skip stage"
              danger
              onConfirm={() => act('skipStage', { stageId: s.id }, `Stage "${s.name}" skipped`)}
              trigger={<button className="btn btn-sm">Skip</button>}
            />
          )}
        </div>
      </div>
      {s.description && <p className="mt-1 text-sm text-slate-600 dark:text-slate-300">{s.description}</p>}
      <dl className="mt-3 grid grid-cols-2 gap-x-6 gap-y-1 text-sm sm:grid-cols-4">
        <Field label="Started">{formatTime(s.startedAt)}</Field>
        <Field label="Finished">{formatTime(s.finishedAt)}</Field>
        <Field label="Duration">{span(s.startedAt, s.finishedAt, now)}</Field>
        <Field label="Attempt">{s.attempt}</Field>
      </dl>
      {s.waitReason && <p className="mt-2 text-sm text-amber-700 dark:text-amber-400">Waiting: {s.waitReason}</p>}
      <div className="mt-3 grid gap-3 md:grid-cols-2">
        <Block label="Input" text={s.input} />
        <Block label="Output" text={s.output} failed={failed} />
      </div>
      <details className="mt-3" open={failed}>
        <summary className="cursor-pointer text-sm font-medium">Logs ({s.logs?.length ?? 0})</summary>
        {s.logs?.length ? (
          <ul className="mt-2 max-h-64 overflow-auto rounded bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950" data-testid="stage-logs">
            {[...s.logs]
              .sort((a, b) => a.created.localeCompare(b.created))
              .map((l, i) => (
                <li key={i} className={/error|critical|fatal/i.test(l.logLevel) ? 'text-red-600 dark:text-red-400' : ''}>
                  <span className="text-slate-500">{formatTime(l.created)}</span> [{l.logLevel}] {l.message}
                </li>
              ))}
          </ul>
        ) : (
          <p className="mt-2 text-sm text-slate-500">No log lines.</p>
        )}
      </details>
    </section>
  )
}

function Block({ label, text, failed }: { label: string; text?: string | null; failed?: boolean }) {
  return (
    <div>
      <div className="text-xs uppercase tracking-wide text-slate-500">{label}</div>
      {text ? (
        <pre
          data-testid={failed ? 'stage-failure' : undefined}
          className={`mt-1 max-h-48 overflow-auto whitespace-pre-wrap break-all rounded p-2 text-xs ${
            failed
              ? 'border border-red-300 bg-red-50 text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200'
              : 'bg-slate-50 dark:bg-slate-950'
          }`}
        >
          {pretty(text)}
        </pre>
      ) : (
        <p className="mt-1 text-sm text-slate-500">—</p>
      )}
    </div>
  )
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}
