import { span } from '../../lib/format'
import { badgeClass, solidClass, statusLabel } from '../../lib/status'
import type { Stage } from '../../lib/types'
import { Tip } from '../status'

/** The stages left to right, each coloured by its status, with its duration; a click shows its card. */
export function StageGraph({ stages, now, onSelect }: { stages: Stage[]; now: number; onSelect?: (id: number) => void }) {
  return (
    <ol className="flex items-stretch gap-1 overflow-x-auto pb-2" data-testid="stage-graph" aria-label="Stages">
      {stages.map((s, i) => (
        <li key={s.id} className="flex shrink-0 items-center gap-1">
          <Tip
            content={
              <span>
                {s.stageHandlerName} · attempt {s.attempt}
                {s.waitReason ? ` · waiting: ${s.waitReason}` : ''}
              </span>
            }
          >
            <button
              type="button"
              onClick={() => onSelect?.(s.id)}
              data-testid="stage-node"
              data-status={s.status}
              className={`flex min-w-36 flex-col rounded-md px-3 py-2 text-left text-sm ring-1 ring-inset ${badgeClass(s.status)}`}
            >
              <span className="flex items-center gap-2">
                <span className={`h-2.5 w-2.5 shrink-0 rounded-full ${solidClass(s.status)}`} />
                <span className="truncate font-medium">{s.name}</span>
              </span>
              <span className="mt-0.5 text-xs opacity-80">
                {statusLabel(s.status)} · <span data-testid="stage-duration">{span(s.startedAt, s.finishedAt, now)}</span>
              </span>
            </button>
          </Tip>
          {i < stages.length - 1 && (
            <span aria-hidden className="px-0.5 text-slate-400">
              →
            </span>
          )}
        </li>
      ))}
    </ol>
  )
}
