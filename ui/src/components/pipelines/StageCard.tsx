import { useEffect, useState } from 'react'
import { formatTime, span } from '../../lib/format'
import type { Stage, StageLog } from '../../lib/types'
import { ConfirmButton } from '../confirm'
import { StatusBadge } from '../status'
import type { PipelineAction } from './hooks'

/** Fields of a stage the shared type does not name (SPEC §4.1). */
export type StageDetail = Stage & { errorCode?: string | null; nextRetryAt?: string | null }

const FINISHED = ['Completed', 'Failed', 'Skipped', 'Cancelled']
const SKIPPABLE = ['NotStarted', 'RetryScheduled', 'Failed', 'Pending']
const ERROR_LEVEL = /error|critical|fatal/i

export type Act = (path: PipelineAction, body: Record<string, unknown>, done: string) => Promise<void>

/**
 * Why the stage failed when its output does not say: the engine's latest "Failed:" (or
 * "RetryScheduled:") line, which carries the worker's error, else the last error-level line.
 */
export function failureReason(logs: readonly StageLog[] | null | undefined): string | null {
  const lines = [...(logs ?? [])].sort((a, b) => a.created.localeCompare(b.created))
  const transition = lines.filter((l) => /^(Failed|RetryScheduled):/.test(l.message))
  if (transition.length) return transition[transition.length - 1]!.message
  const errors = lines.filter((l) => ERROR_LEVEL.test(l.logLevel))
  return errors.length ? errors[errors.length - 1]!.message : null
}

interface Props {
  stage: StageDetail
  now: number
  /** a stage of the pipeline is Pending or Running: nothing can be rerun until it settles */
  busy: boolean
  act: Act
}

export function StageCard({ stage: s, now, busy, act }: Props) {
  const canRerun = FINISHED.includes(s.status) && !busy
  const canSkip = SKIPPABLE.includes(s.status)
  const canRetryNow = s.status === 'RetryScheduled'
  const failed = s.status === 'Failed' || s.status === 'RetryScheduled'
  const reason = failed ? failureReason(s.logs) : null
  // the logs open when the stage runs or fails, and stay open (a rerun's new lines show up)
  const active = failed || s.status === 'Running'
  const [logsOpen, setLogsOpen] = useState(active)
  useEffect(() => {
    if (active) setLogsOpen(true)
  }, [active])
  return (
    <section id={`stage-${s.id}`} className="card scroll-mt-4" data-testid="stage-card" data-status={s.status} data-name={s.name}>
      <div className="flex flex-wrap items-center gap-2">
        <h3 className="font-semibold">{s.name}</h3>
        <StatusBadge status={s.status} />
        <code className="text-xs text-slate-500">{s.stageHandlerName}</code>
        <div className="ml-auto flex flex-wrap gap-1">
          {canRerun && (
            <>
              <ConfirmButton
                title={`Rerun stage "${s.name}"?`}
                description="This stage returns to NotStarted with a fresh attempt counter and runs again; the pipeline reopens and continues after it."
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
              description={`The scheduled retry${s.nextRetryAt ? ` (due ${formatTime(s.nextRetryAt)})` : ''} is dispatched at once instead of waiting.`}
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
        <Field label="Attempt">
          <span data-testid="stage-attempt">{s.attempt}</span>
        </Field>
        {s.nextRetryAt && <Field label="Next retry">{formatTime(s.nextRetryAt)}</Field>}
        {s.errorCode && (
          <Field label="Error code">
            <code className="text-xs text-red-700 dark:text-red-400">{s.errorCode}</code>
          </Field>
        )}
      </dl>
      {s.waitReason && (
        <p
          data-testid="wait-reason"
          className="mt-3 rounded border border-amber-300 bg-amber-50 px-2 py-1 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200"
        >
          Waiting: {s.waitReason}
        </p>
      )}
      {reason && (
        <p
          data-testid="stage-failure-reason"
          className="mt-3 rounded border border-red-300 bg-red-50 px-2 py-1 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200"
        >
          {reason}
        </p>
      )}
      <div className="mt-3 grid gap-3 md:grid-cols-2">
        <Block label="Input" text={s.input} testId="stage-input" />
        <Block label="Output" text={s.output} failed={failed} testId={failed ? 'stage-failure' : 'stage-output'} />
      </div>
      <details className="mt-3" open={logsOpen} onToggle={(e) => setLogsOpen(e.currentTarget.open)}>
        <summary className="cursor-pointer text-sm font-medium">Logs ({s.logs?.length ?? 0})</summary>
        {s.logs?.length ? (
          <ul className="mt-2 max-h-64 overflow-auto rounded bg-slate-50 p-2 font-mono text-xs dark:bg-slate-950" data-testid="stage-logs">
            {[...s.logs]
              .sort((a, b) => a.created.localeCompare(b.created))
              .map((l, i) => (
                <li key={i} data-level={l.logLevel} className={ERROR_LEVEL.test(l.logLevel) ? 'text-red-600 dark:text-red-400' : ''}>
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

export function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <dt className="text-xs uppercase tracking-wide text-slate-500">{label}</dt>
      <dd>{children}</dd>
    </div>
  )
}

function Block({ label, text, failed, testId }: { label: string; text?: string | null; failed?: boolean; testId: string }) {
  return (
    <div>
      <div className="text-xs uppercase tracking-wide text-slate-500">{label}</div>
      {text ? (
        <pre
          data-testid={testId}
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
