import { useState } from 'react'
import type { Pipeline } from '../../lib/types'
import { ConfirmDialog, type ConfirmRequest } from '../confirm'
import { BULK_TEXT, planBulk, planSummary, type BulkKind, type BulkOutcome, type BulkPlan } from './bulk'
import { useBulkAction } from './hooks'

const LISTED = 8

function PlanDescription({ plan }: { plan: BulkPlan }) {
  const t = BULK_TEXT[plan.kind]
  return (
    <span className="block space-y-2" data-testid="bulk-summary" data-targets={plan.targets.length} data-skipped={plan.skipped.length}>
      <span className="block font-medium text-slate-800 dark:text-slate-100">{planSummary(plan)}</span>
      <span className="block">{t.effect}</span>
      <span className="block max-h-48 overflow-auto rounded bg-slate-50 p-2 text-xs dark:bg-slate-950">
        {plan.targets.slice(0, LISTED).map((x) => (
          <span key={x.pipelineId} className="block">
            #{x.pipelineId}: {x.what}
          </span>
        ))}
        {plan.targets.length > LISTED && <span className="block">… and {plan.targets.length - LISTED} more</span>}
        {plan.skipped.slice(0, LISTED).map((s) => (
          <span key={s.pipelineId} className="block text-slate-500">
            #{s.pipelineId}: left as is ({s.reason})
          </span>
        ))}
        {plan.skipped.length > LISTED && <span className="block text-slate-500">… and {plan.skipped.length - LISTED} more left as they are</span>}
      </span>
    </span>
  )
}

interface Props {
  selected: Pipeline[]
  onClear: () => void
  /** after an action: the pipelines it succeeded on (the caller unselects them) */
  onDone: (outcome: BulkOutcome) => void
}

/** What to do with the selected pipelines; every action is confirmed with what it will do. */
export function BulkBar({ selected, onClear, onDone }: Props) {
  const run = useBulkAction()
  const [request, setRequest] = useState<ConfirmRequest | null>(null)
  const ask = (kind: BulkKind) => {
    const plan = planBulk(kind, selected)
    const t = BULK_TEXT[kind]
    setRequest({
      title: `${t.title}?`,
      description: <PlanDescription plan={plan} />,
      confirmLabel: `${t.confirm} (${plan.targets.length})`,
      danger: kind === 'cancel',
      onConfirm: async () => {
        const outcome = await run(plan)
        if (outcome) onDone(outcome)
      },
    })
  }
  const cancellable = planBulk('cancel', selected).targets.length
  const rerunnable = planBulk('rerunFailed', selected).targets.length

  return (
    <div
      data-testid="bulk-bar"
      data-count={selected.length}
      className="mb-3 flex flex-wrap items-center gap-2 rounded-md border border-blue-200 bg-blue-50 px-3 py-2 text-sm dark:border-blue-900 dark:bg-blue-950"
    >
      <span className="font-medium" data-testid="selected-count">
        {selected.length} selected
      </span>
      <button
        className="btn btn-sm"
        data-testid="bulk-cancel"
        disabled={cancellable === 0}
        title={cancellable === 0 ? 'No selected pipeline is unfinished' : undefined}
        onClick={() => ask('cancel')}
      >
        Cancel…
      </button>
      <button
        className="btn btn-sm"
        data-testid="bulk-rerun"
        disabled={rerunnable === 0}
        title={rerunnable === 0 ? 'No selected pipeline has a failed stage to rerun' : undefined}
        onClick={() => ask('rerunFailed')}
      >
        Rerun failed stage…
      </button>
      <button className="ml-auto text-xs text-blue-700 hover:underline dark:text-blue-300" onClick={onClear}>
        Clear selection
      </button>
      <ConfirmDialog request={request} onClose={() => setRequest(null)} />
    </div>
  )
}
