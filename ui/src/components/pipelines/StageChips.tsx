import { formatTime, span } from '../../lib/format'
import { solidClass, statusLabel } from '../../lib/status'
import type { Stage } from '../../lib/types'
import { Tip } from '../status'

function StageTip({ stage: s }: { stage: Stage }) {
  const now = Date.now() // rendered when the tooltip opens
  return (
    <span className="block space-y-0.5" data-testid="stage-tip">
      <span className="block font-semibold">
        {s.name}: {statusLabel(s.status)}
      </span>
      <span className="block opacity-80">{s.stageHandlerName}</span>
      {s.startedAt && (
        <span className="block opacity-80">
          {formatTime(s.startedAt)} · {span(s.startedAt, s.finishedAt, now)}
        </span>
      )}
      {s.attempt > 1 && <span className="block opacity-80">attempt {s.attempt}</span>}
      {s.waitReason && <span className="block text-amber-300 dark:text-amber-700">waiting: {s.waitReason}</span>}
    </span>
  )
}

/** One chip per stage, in order, coloured by status; hovering (or focusing) one tells its story. */
export function StageChips({ stages }: { stages: Stage[] }) {
  return (
    <div className="flex items-center gap-1" data-testid="stage-chips">
      {stages.map((s) => (
        <Tip key={s.id} content={<StageTip stage={s} />}>
          <span
            tabIndex={0}
            role="img"
            aria-label={`${s.name}: ${statusLabel(s.status)}`}
            data-testid="stage-chip"
            data-status={s.status}
            className={`inline-block h-3 w-5 rounded-sm outline-offset-2 ${solidClass(s.status)}`}
          />
        </Tip>
      ))}
    </div>
  )
}
